"""Test helper: a small generated province, ingested, for the monitoring tests and demos."""

from __future__ import annotations

import json
from pathlib import Path

from jingxin.core.warehouse import Warehouse, open_warehouse
from jingxin.ingest.directory import ingest_directory
from jingxin.synth.generator import generate_province

ENTERPRISES = 2000
SEED = 11
DAILY_DAYS = 420  # daily power from January 2020: the 2021 festival has last year's to compare with


def build(folder: Path) -> tuple[Warehouse, dict]:
    out = folder / "province"
    generate_province(out, ENTERPRISES, "2019-2021", SEED, defects=0.0, daily_days=DAILY_DAYS)
    wh = open_warehouse(f"duckdb:///{folder / 'wh.duckdb'}")
    outcomes = ingest_directory(wh, out)
    assert all(o.error is None for o in outcomes), [o.error for o in outcomes if o.error]
    return wh, json.loads((out / "manifest.json").read_text(encoding="utf-8"))
