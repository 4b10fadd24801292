"""5G base stations "一件事": one application per site, exclusion-zone checks, one joint
survey, parallel approvals by departments, construction and power-on (docs/fiveg.md)."""
