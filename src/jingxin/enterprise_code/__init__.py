"""The enterprise code (企业码): each enterprise's own page behind a QR code."""
