"""A small generated province with the county figures and park reports, ingested, for tests,
the browser test and bench (the enterprise files are the smallest the generator makes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

YEARS = "2020-2021"


def build_places_province(
    home: Path, enterprises: int = 120, seed: int = 16, mu_parks: bool = False
) -> tuple[str, dict[str, Any]]:
    """Generate (annual files plus --places, no defects) and ingest into `home/warehouse.duckdb`;
    return the warehouse URL and the manifest. `mu_parks` also runs the parks' 亩均 evaluation
    (`zhejiang_parks`) of every year: the input of the manufacturing parks' stars (a few hundred
    enterprises are needed before the 经开区 and 高新区 have members)."""
    from jingxin.core.warehouse import open_warehouse
    from jingxin.ingest.directory import ingest_directory
    from jingxin.synth.generator import generate_province

    folder = home / "province"
    manifest = generate_province(folder, enterprises, YEARS, seed, 0.0, annual_only=True, places=True)
    url = f"duckdb:///{home / 'warehouse.duckdb'}"
    wh = open_warehouse(url)
    try:
        ingest_directory(wh, folder, loaded_by="places-test")
        if mu_parks:
            from jingxin.evaluation.runs import run_evaluation

            for year in manifest.parameters["years"]:
                run_evaluation(wh, "zhejiang_parks", int(year))
    finally:
        wh.close()
    return url, json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
