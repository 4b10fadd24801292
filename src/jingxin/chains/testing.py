"""A small generated province with chain-structured invoices (`--chains`), ingested, for the
chains tests, the browser test and demos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ENTERPRISES = 1000
SEED = 11
YEAR = "2021"


def build_chains_province(
    home: Path, enterprises: int = ENTERPRISES, seed: int = SEED, defects: float = 0.0
) -> tuple[str, dict[str, Any], Path]:
    """Generate one year with `--chains` and ingest it into `home/warehouse.duckdb`; return the
    warehouse URL, the manifest and the folder of generated files."""
    from jingxin.core.warehouse import open_warehouse
    from jingxin.ingest.directory import ingest_directory
    from jingxin.synth.generator import generate_province

    folder = home / "province"
    generate_province(folder, enterprises, YEAR, seed, defects, daily_days=5, chains=True)
    url = f"duckdb:///{home / 'warehouse.duckdb'}"
    wh = open_warehouse(url)
    try:
        outcomes = ingest_directory(wh, folder, loaded_by="chains-test")
        errors = [o.error for o in outcomes if o.error]
        if errors:
            raise RuntimeError(f"ingest failed: {errors}")
    finally:
        wh.close()
    return url, json.loads((folder / "manifest.json").read_text(encoding="utf-8")), folder


try:  # a pytest plugin too: one province per test session, shared by the chains test modules
    import pytest

    @pytest.fixture(scope="session")
    def chains_province(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
        home = tmp_path_factory.mktemp("chains-province")
        url, manifest, folder = build_chains_province(home)
        return {"url": url, "manifest": manifest, "folder": folder, "home": home}

except ImportError:  # pragma: no cover - pytest is a dev dependency
    pass
