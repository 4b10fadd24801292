"""A generated province with the projects and cultivation sources, ingested, for the tests of
projects and cultivation (one per test session) and the browser test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

YEARS = "2019-2021"


def build_projects_province(home: Path, enterprises: int = 1400, seed: int = 3) -> tuple[str, dict[str, Any]]:
    """Generate (annual files plus the projects sources) and ingest into `home/warehouse.duckdb`;
    return the warehouse URL and the manifest."""
    from jingxin.core.warehouse import open_warehouse
    from jingxin.ingest.directory import ingest_directory
    from jingxin.synth.generator import generate_province

    folder = home / "province"
    generate_province(folder, enterprises, YEARS, seed, 0.01, annual_only=True, projects=True)
    url = f"duckdb:///{home / 'warehouse.duckdb'}"
    wh = open_warehouse(url)
    try:
        ingest_directory(wh, folder, loaded_by="projects-test")
    finally:
        wh.close()
    return url, json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


try:  # a pytest plugin too
    import pytest

    @pytest.fixture(scope="session")
    def projects_province(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
        home = tmp_path_factory.mktemp("projects-province")
        url, manifest = build_projects_province(home)
        return {"url": url, "manifest": manifest, "home": home, "path": home / "warehouse.duckdb"}

except ImportError:  # pragma: no cover - pytest is a dev dependency
    pass
