"""Benchmark of the uncertainty analysis of the 亩均 evaluation (不确定性分析基准).

Builds a synthetic province with `jingxin.evaluation.sample.province` (every enterprise 规上, so
that about `--enterprises` are evaluated by `zhejiang_industry_above`), stores one evaluation run
in an in-memory DuckDB warehouse, then times `UncertaintyAnalysis` on that run: reading the
nominal result and one score matrix per scoring alternative (fetch), and the Monte Carlo draws.
Prints one JSON object: enterprises, draws, seconds per phase, draws/s, peak resident memory
(resource.getrusage, KiB on Linux) and the machine's load average (other work slows it down).

Beside it, in the same run, a plain pandas implementation of the same draws (`pandas_draws`):
the same random numbers, each draw's totals as column arithmetic, ranks by
`groupby().rank()`, classes by the same cut-offs, starting from the score matrices the
analysis read (no warehouse work). It reports its time, the ratio to the engine's draws, and
the largest difference in any enterprise's class probability between the two.

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

import numpy as np
import pandas as pd

from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province
from jingxin.evaluation.uncertainty import (
    UncertaintyAnalysis,
    UncertaintyResult,
    _normalise_methods,
    probability_column,
    variant_system,
)

EVALUATED_SHARE = 0.81
"""Share of a sample province (all 规上) that the 规上 system evaluates: manufacturing (85 %),
less closed and not-yet-producing firms."""


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def pandas_draws(
    analysis: UncertaintyAnalysis, draws: int, spread: float, methods: list[str] | None, seed: int
) -> tuple[float, np.ndarray]:
    """The Monte Carlo written plainly: one pandas pass per draw. Returns the seconds and the
    class probabilities per unit (unit-id order, classes best first)."""
    choices = _normalise_methods(methods, analysis.system)
    variants = [analysis.scores_for(variant_system(analysis.system, c)) for c in choices]
    ranker = analysis.ranker
    n, m, n_cls = len(analysis.unit_id), len(analysis.indicators), len(analysis.classes)
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    probs = np.array([c.probability for c in choices])
    method_of_draw = rng.choice(len(choices), size=draws, p=probs / probs.sum())
    factors = 1.0 + rng.uniform(-spread, spread, size=(draws, m)) if spread > 0 else np.ones((draws, m))
    frames = []
    for v in variants:  # one frame per scoring method, units in ranking order
        frame = pd.DataFrame({"group": ranker.group, "deduction": v.deduction})
        for j in range(m):
            frame[f"u{j}"] = v.u[:, j]
            frame[f"w{j}"] = v.weights[:, j]
            frame[f"kept{j}"] = v.available[:, j] | (not v.reweight[j])
        frames.append(frame)
    reweights = any(v.reweight.any() for v in variants)
    cut = pd.DataFrame(ranker.share_cut)
    thresholds = pd.DataFrame(ranker.thresholds)
    by_threshold = pd.Series(ranker.by_threshold)
    offset = 1 if (ranker.plus_cut is not None or ranker.plus_threshold is not None) else 0
    counts = np.zeros((n, n_cls), dtype=np.int64)
    for d in range(draws):
        frame, f = frames[method_of_draw[d]], factors[d]
        weight = pd.DataFrame({j: frame[f"w{j}"] * f[j] for j in range(m)})
        kept_weight = pd.DataFrame({j: weight[j].where(frame[f"kept{j}"], 0.0) for j in range(m)})
        points = sum(kept_weight[j] * frame[f"u{j}"] for j in range(m))
        if reweights:
            points = points * (weight.sum(axis=1) / kept_weight.sum(axis=1)).fillna(0.0)
        nominal_sum = sum(frame[f"w{j}"] for j in range(m))
        points = points * (nominal_sum / weight.sum(axis=1)).where(weight.sum(axis=1) > 0, 1.0)
        total = ((points - frame["deduction"]) * 1e6).round() / 1e6
        rank = total.groupby(frame["group"]).rank(method="first", ascending=False)
        cls = pd.Series(offset, index=total.index)
        for c in cut.columns:
            cls += (total < thresholds[c]).where(by_threshold, rank > cut[c]).astype(int)
        if offset:
            plus = rank <= ranker.plus_cut if ranker.plus_cut is not None else total >= ranker.plus_threshold
            cls = cls.where(~((cls == offset) & plus), 0)
        counts[np.arange(n), cls.to_numpy()] += 1
    seconds = time.perf_counter() - started
    return seconds, (counts / draws)[analysis.inverse]


def largest_difference(
    analysis: UncertaintyAnalysis, result: UncertaintyResult, unit_probs: np.ndarray
) -> float:
    """The largest difference in a class probability, over enterprises without a veto."""
    table = result.enterprises[~result.enterprises["vetoed"]]
    where = pd.Index(pd.Series(analysis.unit_id, dtype=object)).get_indexer(table["unit_id"].astype(object))
    engine = table[[probability_column(c) for c in analysis.classes]].to_numpy()
    return float(np.abs(engine - unit_probs[where]).max()) if len(table) else 0.0


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
    baseline_seconds, baseline_probs = pandas_draws(analysis, args.draws, args.spread, args.method, args.seed)
    difference = largest_difference(analysis, result, baseline_probs)
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
        "pandas_baseline": {
            "draws_seconds": round(baseline_seconds, 2),
            "pandas_over_engine_draws": round(baseline_seconds / max(seconds["draws"], 1e-9), 2),
            "pandas_over_engine_analysis": round(baseline_seconds / max(analysis_seconds, 1e-9), 2),
            "largest_probability_difference": difference,
        },
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
