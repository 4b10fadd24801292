"""Running the platform in a bureau (运维): metrics, structured logs, backup and restore,
single sign-on (OpenID Connect) and the self-hosted API documentation."""
