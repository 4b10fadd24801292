"""Benchmark: fitting and running the nowcast for the province, its 11 cities and 90 counties.

    .venv/bin/python bench/bench_nowcast.py --warehouse duckdb:///path/warehouse.duckdb --month 2021-06

The warehouse must hold a generated province (`jingxin generate … --years 2018-2021` then
`jingxin ingest-dir`; with `--daily-days 1550` and the daily file ingested, daily power enters).
Reports the time to read the inputs (Ibis over the warehouse, daily power's county × day sums
included) and to fit the dynamic factor model, the benchmarks and the news for every region,
which inputs entered, and peak memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import time

from jingxin.core.warehouse import open_warehouse
from jingxin.nowcast.data import load_inputs, regions
from jingxin.nowcast.runs import run_nowcast


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--month", default="2021-06")
    ap.add_argument("--as-of", default=None)
    args = ap.parse_args()
    wh = open_warehouse(args.warehouse)
    t0, c0 = time.perf_counter(), time.process_time()
    inputs = load_inputs(wh)
    t1, c1 = time.perf_counter(), time.process_time()
    codes = [c for c, _n, _p in regions()]
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    run_id = run_nowcast(wh, args.month, codes, as_of=as_of, inputs=inputs, created_by="bench")
    t2, c2 = time.perf_counter(), time.process_time()
    failed = wh.execute(wh.table("nowcast_runs").filter(lambda r: r.run_id == run_id).failed).iloc[0]
    print(
        json.dumps(
            {
                "regions": len(codes),
                "inputs": sorted(inputs.growth),
                "daily_power_days": len(inputs.daily.totals) if inputs.daily is not None else 0,
                "failed_regions": len([x for x in failed.split("\n") if x]),
                "read_inputs_s": round(t1 - t0, 2),
                "read_inputs_cpu_s": round(c1 - c0, 2),
                "fit_and_run_s": round(t2 - t1, 2),
                "fit_and_run_cpu_s": round(c2 - c1, 2),
                "per_region_s": round((t2 - t1) / len(codes), 3),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
