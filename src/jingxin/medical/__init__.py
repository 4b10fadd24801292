"""医疗应急物资: catalogue, three-level reserves, the append-only ledger, days of supply,
warnings, key suppliers and dispatch optimisation (docs/medical.md)."""
