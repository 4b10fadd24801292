"""Benchmark of policy matching with traces (DuckDB) against a plain pandas implementation.

Facts for n enterprises are drawn at random into a DuckDB table shaped like
`jingxin.policies.facts.fact_table` (every fact plus the batch each source came from). The
engine then matches every enterprise against every policy of the catalogue in one query
(`matching.match_all`) and materialises the result WITH the trace: per policy every condition's
true/false, eligibility and amount, and every fact read with its batch — everything `trace`
needs to explain any decision. The pandas baseline computes the same eight policies by hand,
vectorised (conditions, eligibility, amounts), from an in-memory frame, without traces of
facts and batches. Eligible counts and amounts are compared policy by policy.

    .venv/bin/python bench/bench_policies.py --sizes 100000 1000000

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

DAY = dt.date(2022, 6, 1)


def draw(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cls = rng.choice(np.array(["A", "B", "C", "D", None], dtype=object), n, p=[0.15, 0.45, 0.25, 0.05, 0.10])
    revenue = np.round(rng.lognormal(8.0, 1.2, n), 2)
    has_support = rng.random(n) < 0.15
    return pd.DataFrame(
        {
            "credit_code": [f"91330106{i:09d}X" for i in range(n)],
            "name": "企业",
            "county_code": rng.choice(np.array(["330106", "330102", "330108", "330302", "330212"]), n),
            "city_code": "330100",
            "industry_code": "3512",
            "manufacturing": rng.random(n) < 0.85,
            "area_mu": np.round(rng.lognormal(3.0, 1.0, n), 2),
            "above_scale": rng.random(n) < 0.45,
            "upgraded": rng.random(n) < 0.02,
            "revenue": revenue,
            "rd_expense": np.round(revenue * rng.uniform(0, 0.06, n), 2),
            "employees": rng.integers(5, 2000, n).astype(float),
            "tax_paid": np.round(revenue * 0.05, 2),
            "kwh": np.round(rng.lognormal(13.0, 1.0, n), 1),
            "mu_class": cls,
            "consecutive_d_years": np.where(cls == "D", rng.integers(1, 5, n), 0).astype(float),
            "rank_in_industry": rng.integers(1, 200, n).astype(float),
            "tech_investment": np.where(
                has_support & (rng.random(n) < 0.7), np.round(rng.lognormal(6.0, 1.0, n), 2), np.nan
            ),
            "first_set_premium": np.where(
                has_support & (rng.random(n) < 0.03), np.round(rng.lognormal(3.4, 0.7, n), 2), np.nan
            ),
            "specialized_level": np.where(
                has_support,
                rng.choice(np.array(["无", "省级专精特新", "国家级专精特新小巨人"]), n, p=[0.8, 0.18, 0.02]),
                None,
            ),
            **{
                f"{s}__batch": str(b)
                for b, s in enumerate(["registry", "land", "statistics", "tax", "power_monthly"], 1)
            },
            "evaluation__batch": "run:2021-zhejiang_industry_above-abc123",
            "support__batch": "100",
        }
    )


def pandas_baseline(df: pd.DataFrame) -> dict[str, tuple[int, float]]:
    """The eight policies by hand (parameters as in force on DAY)."""
    out: dict[str, tuple[int, float]] = {}
    m, c = df.manufacturing, df.mu_class

    def put(pid: str, ok: pd.Series, amount: pd.Series) -> None:
        ok = ok.fillna(False).astype(bool)
        out[pid] = (int(ok.sum()), round(float(amount.where(ok).round(2).sum()), 2))

    put(
        "land_tax_relief",
        m & c.isin(["A", "B"]) & (df.area_mu > 0),
        df.area_mu * 666.67 * 6 * np.where(c == "A", 1.0, 0.8),
    )
    put(
        "power_surcharge_d",
        (c == "D") & (df.kwh > 0),
        -(df.kwh * np.where(df.consecutive_d_years >= 3, 0.4, 0.3)),
    )
    put("upgrade_reward", m & df.upgraded, pd.Series(150000.0, index=df.index))
    put(
        "tech_upgrade_subsidy",
        m & (df.tech_investment >= 500) & (c != "D") & c.notna(),
        np.minimum(df.tech_investment * 10000 * 0.1, 5_000_000),
    )
    put(
        "first_set_insurance",
        df.first_set_premium > 0,
        np.minimum(df.first_set_premium * 10000 * 0.8, 3_000_000),
    )
    intensity = df.rd_expense / df.revenue.replace(0, np.nan)
    put(
        "rd_reward", df.above_scale & (intensity >= 0.03), np.minimum(df.rd_expense * 10000 * 0.05, 1_000_000)
    )
    put(
        "specialized_reward",
        df.specialized_level.isin(["省级专精特新", "国家级专精特新小巨人"]),
        pd.Series(
            np.where(df.specialized_level == "国家级专精特新小巨人", 1_000_000.0, 300_000.0), index=df.index
        ),
    )
    put("leader_reward", m & (c == "A") & (df.rank_in_industry <= 10), pd.Series(200000.0, index=df.index))
    return out


def run(n: int, folder: Path) -> dict[str, Any]:
    import duckdb
    import ibis

    from jingxin.policies.config import load_catalogue
    from jingxin.policies.matching import match_all, prefixed

    df = draw(n)
    t0 = time.perf_counter()
    base = pandas_baseline(df)
    pandas_s = time.perf_counter() - t0

    path = folder / f"facts_{n}.duckdb"
    con = duckdb.connect(str(path))
    con.register("df", pa.Table.from_pandas(df, preserve_index=False))
    con.execute("create or replace table facts as select * from df")
    con.close()
    ib = ibis.duckdb.connect(str(path))
    policies = list(load_catalogue().values())
    t0 = time.perf_counter()
    expr = match_all(ib.table("facts"), policies, DAY)
    result = ib.to_pyarrow(expr)
    engine_s = time.perf_counter() - t0
    got = {}
    for p in policies:
        ok = np.asarray(result[prefixed(p.id, "eligible")].to_numpy(zero_copy_only=False), dtype=bool)
        amt = result[prefixed(p.id, "amount")].to_pandas()
        got[p.id] = (int(ok.sum()), round(float(amt.sum()), 2))
    agree = {
        pid: (
            got[pid][0] == base[pid][0]
            and abs(got[pid][1] - base[pid][1]) <= max(1.0, abs(base[pid][1]) * 1e-9)
        )
        for pid in base
    }
    ib.disconnect()
    path.unlink(missing_ok=True)
    return {
        "enterprises": n,
        "policies": len(policies),
        "engine_seconds": round(engine_s, 3),
        "pandas_seconds": round(pandas_s, 3),
        "ratio_engine_over_pandas": round(engine_s / pandas_s, 2),
        "trace_columns": result.num_columns,
        "result_mb": round(result.nbytes / 2**20, 1),
        "agree": agree,
        "eligible": {k: v[0] for k, v in got.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run(n, Path(tmp)) for n in args.sizes]
    print(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "load_average": os.getloadavg(),
                "runs": runs,
            },
            ensure_ascii=False,
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
