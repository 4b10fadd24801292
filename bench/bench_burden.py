"""Benchmark of the cost-burden indicators (减负降本) on DuckDB.

A province of n enterprises over 2020–2021 is written with `jingxin.evaluation.sample.province`
plus a monthly 快报 table (revenue and profit per enterprise and month, drawn here); the 亩均
evaluation of both years is stored; then the yearly indicators by county and industry, the
monthly cost per 100 yuan and the policy relief summary are timed for the whole province and
for one county (best of three).

    .venv/bin/python bench/bench_burden.py --sizes 100000

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from jingxin.burden import service
from jingxin.core.db import Database, upgrade
from jingxin.core.scope import Scope
from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province


def monthly_table(registry: pa.Table, seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    codes = registry.column("credit_code").to_numpy(zero_copy_only=False)
    n = len(codes)
    months = np.array([np.datetime64(f"2021-{m:02d}-01") for m in range(1, 13)])
    revenue = np.round(rng.lognormal(6, 1, (n, 12)), 2)
    profit = np.round(revenue * rng.normal(0.06, 0.04, (n, 12)), 2)
    return pa.table(
        {
            "credit_code": np.repeat(codes, 12),
            "month": np.tile(months, n).astype("datetime64[D]"),
            "output_value": revenue.ravel(),
            "revenue": revenue.ravel(),
            "export_value": np.zeros(n * 12),
            "profit": profit.ravel(),
        }
    )


def timed(fn: Any) -> float:
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return round(best, 3)


def run(n: int, folder: Path) -> dict[str, Any]:
    wh = open_warehouse(f"duckdb:///{folder / 'wh.duckdb'}")
    url = f"sqlite:///{folder / 'p.sqlite'}"
    upgrade(url)
    database = Database(url)
    try:
        tables = province(n, years=(2020, 2021), seed=1)
        tables["monthly"] = monthly_table(tables["registry"])
        load_facts(wh, tables)
        for year in (2020, 2021):
            run_evaluation(wh, "zhejiang_industry_above", year)
        out: dict[str, Any] = {"enterprises": n}
        for who, scope in {"province": Scope(division="330000"), "county": Scope(division="330106")}.items():
            with database.session() as db:
                out[who] = {
                    "indicators_s": timed(lambda s=scope: service.indicators(wh, s, 2021)),
                    "groups": len(service.indicators(wh, scope, 2021)),
                    "monthly_s": timed(lambda s=scope: service.monthly(wh, s, 2021)),
                    "policies_s": timed(lambda s=scope, d=db: service.policies(wh, d, s, 2021)),
                }
        return out
    finally:
        wh.close()
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    args = parser.parse_args()
    results = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run(n, Path(tmp)))
    print(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
