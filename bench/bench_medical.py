"""Benchmark of the dispatch optimiser (调度优化) on a surge over 90 counties × 50 items.

The instance comes from `jingxin.synth.medical.dispatch_instance` (the project's assumptions:
35% of county-item pairs short by 100–1000 units, a quarter of them priority 1; spare stock in
a quarter of the counties and at the province and the 11 cities; one supplier per item; road
hours from the division's places, within 8 hours). Solved by HiGHS with whole units (MIP) and
as a linear programme, both lexicographic (shortfall by priority, then cost). Reports the
solver's status, gap, wall and CPU seconds, shortfall by priority and whether any priority-1
need that spare stock within reach could cover was left short.

    .venv/bin/python bench/bench_medical.py --seeds 1 2 3

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from jingxin.medical import dispatch
from jingxin.synth.medical import dispatch_instance


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--time-limit", type=float, default=120.0)
    args = parser.parse_args()
    runs = []
    for seed in args.seeds:
        inst, p1 = dispatch_instance(seed, args.items)
        for integer in (True, False):
            cpu = time.process_time()
            r = dispatch.solve(inst, integer=integer, time_limit=args.time_limit)
            cpu = time.process_time() - cpu
            reachable_p1_short = [
                k
                for k in p1
                if r.short.get(k, 0) > 0
                and any(
                    inst.avail.get((s, k[1]), 0) > 0
                    for s, _ in inst.avail
                    if (s, k[0]) in inst.hours and inst.hours[(s, k[0])] <= inst.max_hours
                )
            ]
            runs.append(
                {
                    "seed": seed,
                    "model": "MIP" if integer else "LP",
                    "needs": len(inst.need),
                    "variables": r.variables,
                    "status": r.status,
                    "gap": r.gap,
                    "wall_s": round(r.seconds, 2),
                    "cpu_s": round(cpu, 2),
                    "shortfall_by_priority": r.shortfall,
                    "cost": round(r.cost, 1),
                    "lines": len(r.lines),
                    "p1_short_where_stock_within_reach": len(reachable_p1_short),
                }
            )
    print(
        json.dumps(
            {
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load": os.getloadavg(),
                },
                "runs": runs,
            },
            ensure_ascii=False,
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
