"""Screening N enterprises against every cultivation ladder, with a column per criterion (the
trace) and per rung: the platform's Ibis expression on DuckDB against a pandas baseline.

The facts table (one row per enterprise, every metric of `cultivation.config.METRICS`) is drawn
at random so that N can reach a million without the generator; both sides read the same frame,
and the results are checked equal before timing is reported.

    .venv/bin/python bench/bench_projects.py --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import time

import ibis
import numpy as np
import pandas as pd

from jingxin.cultivation.config import Criterion, load_ladders
from jingxin.cultivation.screen import OPS, screen_expr


def facts(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    scope = rng.choice(np.array(["无", "全省", "全国", "全球"]), n, p=[0.6, 0.2, 0.15, 0.05])
    rank = rng.integers(1, 40, n).astype(float)
    return pd.DataFrame(
        {
            "credit_code": [f"E{i:017d}" for i in range(n)],
            "name": "企业",
            "county_code": rng.choice(np.array(["330102", "330106", "330302", "330782"]), n),
            "years_operating": rng.uniform(0, 40, n),
            "revenue": rng.lognormal(9, 1.5, n),
            "rd_share": rng.uniform(0, 8, n),
            "profit_growth": rng.normal(3, 12, n),
            "debt_ratio": rng.uniform(10, 95, n),
            "main_products": rng.integers(1, 7, n).astype(float),
            "main_product_share": rng.uniform(20, 100, n),
            "global_rank": np.where(scope == "全球", rank, np.nan),
            "national_rank": np.where(scope == "全国", rank, np.nan),
            "smart_level": rng.integers(0, 6, n).astype(float),
            "in_chain": (rng.random(n) < 0.3).astype(float),
        }
    )


def pandas_screen(df: pd.DataFrame, cfg) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    out = df.copy()
    passed: dict[str, pd.Series] = {}

    def cond(c: Criterion) -> pd.Series:
        if c.any_of:
            result = cond(c.any_of[0])
            for other in c.any_of[1:]:
                result = result | cond(other)
            return result
        value = passed[c.metric[5:]].astype(float) if c.metric.startswith("rung:") else df[c.metric]
        return OPS[c.op](value, c.value).fillna(False).astype(bool)

    for _ladder, rung in cfg.rungs():
        parts = []
        for c in rung.criteria:
            out[f"{rung.id}__{c.id}"] = parts_c = cond(c)
            parts.append(parts_c)
        all_of = parts[0]
        for p in parts[1:]:
            all_of = all_of & p
        out[rung.id] = passed[rung.id] = all_of
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    cfg = load_ladders()
    rungs = [r.id for _n, r in cfg.rungs()]
    print(
        "| enterprises | criterion and rung columns | DuckDB (Ibis) wall / CPU s | pandas wall / CPU s "
        "| DuckDB / pandas (CPU) |"
    )
    print("|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        df = facts(n)
        con = ibis.duckdb.connect()
        t = con.create_table("facts", df)
        expr = screen_expr(t, cfg)
        start, cpu = time.perf_counter(), time.process_time()
        got = con.execute(expr)
        duck, duck_cpu = time.perf_counter() - start, time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        base = pandas_screen(df, cfg)
        pand, pand_cpu = time.perf_counter() - start, time.process_time() - cpu
        got = got.sort_values("credit_code").reset_index(drop=True)
        for r in rungs:
            assert (got[r].astype(bool).to_numpy() == base[r].to_numpy()).all(), r
        columns = sum(len(r.criteria) for _n, r in cfg.rungs()) + len(rungs)
        print(
            f"| {n:,} | {columns} | {duck:.2f} / {duck_cpu:.2f} | {pand:.2f} / {pand_cpu:.2f} "
            f"| {duck_cpu / pand_cpu:.1f} |"
        )
        con.disconnect()


if __name__ == "__main__":
    main()
