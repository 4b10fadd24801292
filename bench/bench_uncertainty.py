"""Benchmark of the uncertainty analysis of the 亩均 evaluation (不确定性分析基准).

Builds a synthetic province with `jingxin.evaluation.sample.province` (every enterprise 规上, so
that about `--enterprises` are evaluated by `zhejiang_industry_above`), stores one evaluation run
in an in-memory DuckDB warehouse, then times `UncertaintyAnalysis` on that run: reading the
nominal result and one score matrix per scoring alternative (fetch), and the Monte Carlo draws.
Prints one JSON object: enterprises, draws, seconds per phase, draws/s, peak resident memory
(resource.getrusage, KiB on Linux) and the machine's load average (other work slows it down).

    .venv/bin/python bench/bench_uncertainty.py [--enterprises 100000] [--draws 1000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time

from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province
from jingxin.evaluation.uncertainty import UncertaintyAnalysis

EVALUATED_SHARE = 0.81
"""Share of a sample province (all 规上) that the 规上 system evaluates: manufacturing (85 %),
less closed and not-yet-producing firms."""


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=100_000, help="evaluated enterprises (about)")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--system", default="zhejiang_industry_above")
    parser.add_argument("--method", action="append", default=None, help="e.g. nominal=0.5 (repeatable)")
    parser.add_argument("--warehouse", default="duckdb:///:memory:")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    n_province = math.ceil(args.enterprises / EVALUATED_SHARE)
    wh = open_warehouse(args.warehouse)
    load_facts(wh, province(n_province, years=(2021,), seed=2021, above_share=1.0))
    built = time.perf_counter()
    run = run_evaluation(wh, args.system, 2021, history="none")
    evaluated = time.perf_counter()
    rss_before = peak_rss_mb()

    analysis = UncertaintyAnalysis(wh, run.run_id)
    result = analysis.run(args.draws, args.spread, args.method, args.seed)
    wh.close()
    seconds = result.seconds
    analysis_seconds = seconds["total"]
    out = {
        "system": args.system,
        "province_enterprises": n_province,
        "enterprises": len(result.enterprises),
        "units": int(len(analysis.unit_id)),
        "draws": result.draws,
        "spread": result.spread,
        "methods": {m["name"]: m["draws"] for m in result.methods},
        "seconds": {
            "build_province": round(built - started, 2),
            "evaluate_run": round(evaluated - built, 2),
            "fetch": seconds["fetch"],
            "draws": seconds["draws"],
            "summarise": seconds["summarise"],
            "analysis_total": analysis_seconds,
        },
        "draws_per_s": seconds["draws_per_s"],
        "draws_per_s_including_fetch": round(result.draws / analysis_seconds, 1),
        "not_robust": result.not_robust,
        "nominal_mismatches": result.nominal_mismatches,
        "peak_rss_mb_before_analysis": rss_before,
        "peak_rss_mb": peak_rss_mb(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
