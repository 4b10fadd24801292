"""Benchmark of the what-if engine (情景推演) beside the stored run and the pandas baseline.

For each size a province is generated (`evaluation.sample.province`, 2020–2021), loaded into a
DuckDB file, and the 2020 run stored. Then, on the same data and in one process:

- `stored run`: `run_evaluation` of 2021 end to end (the engine's fixed cost included);
- `pandas`: the pandas baseline of `bench/bench_evaluation.py` (in memory, no writes);
- `what-if`: for the largest county, the engine built once (facts staged, statement compiled:
  `build`), the official parameters once, then `--runs` recomputations with a changed weight
  and changed class shares (`run`: write the parameter table, refill the scored table, run the
  final statement, fetch), and the same through `service.run_scenario` with the comparison
  (`request`: what the browser waits for, less HTTP).

    .venv/bin/python bench/bench_whatif.py --sizes 5000 100000

Prints one JSON line per size. The hand-written DuckDB SQL reference asked for in issue 11 is
not part of this benchmark (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_evaluation import YEARS, pandas_evaluate  # noqa: E402

from jingxin.core.warehouse import open_warehouse  # noqa: E402
from jingxin.evaluation.config import load_system  # noqa: E402
from jingxin.evaluation.runs import run_evaluation  # noqa: E402
from jingxin.evaluation.sample import load_facts, province  # noqa: E402
from jingxin.evaluation.whatif.engine import engine_for, forget_engines  # noqa: E402
from jingxin.evaluation.whatif.scenario import Scenario, apply  # noqa: E402
from jingxin.evaluation.whatif.service import run_scenario  # noqa: E402

SYSTEM = "zhejiang_industry_above"
SCENARIO = Scenario(weights={"tax_per_mu": 35}, shares={"A": 20, "B": 62, "C": 10, "D": 8})


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def bench_size(n: int, runs: int, seed: int) -> dict[str, Any]:
    system = load_system(SYSTEM)
    facts = province(n, years=YEARS, seed=seed)
    frames = {}
    for batch, (name, table) in enumerate(facts.items(), start=1):
        frame = table.to_pandas()
        frame["batch_id"], frame["source_row"] = batch, np.arange(2, len(frame) + 2)
        frames[name] = frame
    frames["power_monthly"]["month"] = pd.to_datetime(frames["power_monthly"]["month"])
    out: dict[str, Any] = {"enterprises": n, "load_average_start": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        wh = open_warehouse(f"duckdb:///{Path(tmp) / 'wh.duckdb'}")
        load_facts(wh, facts)
        run_evaluation(wh, system, YEARS[0])
        t, c = time.perf_counter(), _cpu()
        summary = run_evaluation(wh, system, YEARS[1])
        out["stored_run_seconds"] = round(time.perf_counter() - t, 3)
        out["stored_run_cpu"] = round(_cpu() - c, 3)
        out["evaluated"] = summary.enterprise_count
        prev = pandas_evaluate(frames, system, YEARS[0], None)
        t = time.perf_counter()
        pandas_evaluate(frames, system, YEARS[1], prev)
        out["pandas_seconds"] = round(time.perf_counter() - t, 3)
        res = wh.table("eval_results")
        mine = res.filter(res.run_id == summary.run_id)
        counts = wh.execute(mine.group_by("county_code").aggregate(k=mine.count()))
        county = str(counts.sort_values("k").iloc[-1].county_code)
        out["county"], out["county_enterprises"] = county, int(counts.k.max())
        t, c = time.perf_counter(), _cpu()
        engine = engine_for(wh, system, YEARS[1], county)
        out["whatif_build_seconds"] = round(time.perf_counter() - t, 3)
        out["whatif_build_cpu"] = round(_cpu() - c, 3)
        engine.official()
        changed = apply(system, county, YEARS[1], SCENARIO)
        walls, cpus = [], []
        for _ in range(runs):
            t, c = time.perf_counter(), _cpu()
            engine.run(changed)
            walls.append(time.perf_counter() - t)
            cpus.append(_cpu() - c)
        out["whatif_run_seconds_median"] = round(statistics.median(walls), 4)
        out["whatif_run_cpu_median"] = round(statistics.median(cpus), 4)
        t = time.perf_counter()
        answer = run_scenario(wh, SYSTEM, YEARS[1], county, SCENARIO)
        out["whatif_request_seconds"] = round(time.perf_counter() - t, 3)
        out["whatif_moved"] = answer["moved"]
        out["load_average_end"] = os.getloadavg()
        forget_engines(wh)  # drop the staged facts before the connection closes
        wh.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 100_000])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps({"machine": {"platform": platform.platform(), "cpus": os.cpu_count()}}))
    for n in args.sizes:
        print(json.dumps(bench_size(n, args.runs, args.seed), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
