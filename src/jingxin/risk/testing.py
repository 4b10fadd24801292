"""A small generated province with the risk sources, ingested, for tests and the browser test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

YEARS = "2019-2021"


def build_risk_province(home: Path, enterprises: int = 700, seed: int = 11) -> tuple[str, dict[str, Any]]:
    """Generate (annual files and risk sources only) and ingest into `home/warehouse.duckdb`;
    return the warehouse URL and the manifest."""
    from jingxin.core.warehouse import open_warehouse
    from jingxin.ingest.directory import ingest_directory
    from jingxin.synth.generator import generate_province

    folder = home / "province"
    generate_province(folder, enterprises, YEARS, seed, 0.01, annual_only=True, risk=True)
    url = f"duckdb:///{home / 'warehouse.duckdb'}"
    wh = open_warehouse(url)
    try:
        ingest_directory(wh, folder, loaded_by="risk-test")
    finally:
        wh.close()
    return url, json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


try:  # a pytest plugin too: one province per test session (tests of the risk scenario share it)
    import pytest

    @pytest.fixture(scope="session")
    def risk_province(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
        home = tmp_path_factory.mktemp("risk-province")
        url, manifest = build_risk_province(home)
        return {"url": url, "manifest": manifest, "home": home, "path": home / "warehouse.duckdb"}

except ImportError:  # pragma: no cover - pytest is a dev dependency
    pass
