"""Refreshing a month of monitoring indicators at scale: DuckDB and PySpark (local) through the
same Ibis expressions, with a pandas baseline of the same computation.

Facts are built directly with NumPy (registry, monthly 快报, monthly power, 3 years of daily
power): N enterprises × 1,096 days of daily power (100,000 → ~110 million rows). Timed:

1. monthly indicators of one month (`jingxin.monitoring.indicators.compute`: sums by province,
   city, county, industry, chain and cluster over 36 months, and 企业增减面);
2. daily power of that month and the same lunar-aligned period last year summed by county and
   day (`power.daily_totals`), the input of 复产率 and the index.

pandas does the same groupbys on the same rows held in memory (its load time is reported apart).

    .venv/bin/python bench/bench_monitoring.py --enterprises 100000            # full scale
    .venv/bin/python bench/bench_monitoring.py --enterprises 20000 --spark     # what ran here
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from jingxin.core.warehouse import open_warehouse, publish_parquet
from jingxin.evaluation.sample import credit_codes, load_facts
from jingxin.monitoring.indicators import compute
from jingxin.monitoring.power import aligned_last_year, daily_totals
from jingxin.reference import counties, industries

YEAR, MONTH = 2021, 10


def build(n: int, seed: int = 1) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    county_list = np.array(sorted(c.code for c in counties()))
    county = rng.choice(county_list, n)
    codes = credit_codes(county)
    classes = np.array([i.code for i in industries() if i.level == "class" and i.section == "C"])
    industry = rng.choice(classes, n)
    size = rng.lognormal(7, 1.2, n)  # 万元 a month
    months = pd.date_range("2019-01-01", "2021-12-01", freq="MS").date
    m = len(months)
    growth = rng.normal(0.06, 0.1, n)
    t = np.arange(m) / 12
    rev = size[:, None] * np.exp(growth[:, None] * t[None, :]) * rng.lognormal(0, 0.07, (n, m))
    monthly = pa.table(
        {
            "credit_code": np.repeat(codes, m),
            "month": np.tile(months, n),
            "output_value": (rev * 1.02).ravel(),
            "revenue": rev.ravel(),
            "profit": (rev * 0.07).ravel(),
            "export_value": (rev * 0.2).ravel(),
        }
    )
    power_m = pa.table(
        {"credit_code": np.repeat(codes, m), "month": np.tile(months, n), "kwh": (rev * 800).ravel()}
    )
    days = pd.date_range("2019-01-01", "2021-12-31", freq="D").date
    d = len(days)
    base = size * 800 / 30
    chunks = []
    for start in range(0, n, 20_000):
        stop = min(n, start + 20_000)
        k = base[start:stop, None] * rng.lognormal(0, 0.08, (stop - start, d)).astype(np.float32)
        chunks.append(
            pa.table(
                {
                    "credit_code": np.repeat(codes[start:stop], d),
                    "day": np.tile(days, stop - start),
                    "kwh": k.ravel(),
                }
            )
        )
    daily = pa.concat_tables(chunks)
    registry = pa.table(
        {
            "credit_code": codes,
            "name": codes,
            "county_code": county,
            "industry_code": industry,
            "status": np.full(n, "存续"),
        }
    )
    return {"registry": registry, "monthly": monthly, "power_monthly": power_m, "power_daily": daily}


def pandas_baseline(frames: dict[str, pd.DataFrame]) -> float:
    """The same sums with pandas (province, city, county, industry; 36 months; growth counts;
    county × day of the month and last year's aligned days)."""
    t0 = time.perf_counter()
    reg = frames["registry"][["credit_code", "county_code", "industry_code"]]
    levels = {
        "province": pd.Series("330000", index=reg.index),
        "city": reg.county_code.str[:4] + "00",
        "county": reg.county_code,
        "industry": reg.industry_code.str[:2],
    }
    for table, cols in (
        ("monthly", ["output_value", "revenue", "profit", "export_value"]),
        ("power_monthly", ["kwh"]),
    ):
        f = frames[table].merge(reg, on="credit_code")
        for name, key in levels.items():
            f.assign(
                g=key.reindex(f.index)
                if name == "province"
                else (
                    f.county_code.str[:4] + "00"
                    if name == "city"
                    else (f.county_code if name == "county" else f.industry_code.str[:2])
                )
            ).groupby(["g", "month"])[cols].sum()
        cur = f[pd.to_datetime(f.month).dt.year == YEAR]
        last = f[pd.to_datetime(f.month).dt.year == YEAR - 1]
        a = cur[pd.to_datetime(cur.month).dt.month <= MONTH].groupby("credit_code")[cols[0]].sum()
        b = last[pd.to_datetime(last.month).dt.month <= MONTH].groupby("credit_code")[cols[0]].sum()
        (a > b).groupby(reg.set_index("credit_code").county_code.reindex(a.index)).sum()
    d = frames["power_daily"]
    first = dt.date(YEAR, MONTH, 1)
    end = dt.date(YEAR, MONTH + 1, 1) - dt.timedelta(days=1)
    lo, hi = aligned_last_year(first) - dt.timedelta(days=7), end
    sel = d[
        (d.day >= lo) & (d.day <= hi)
        | ((d.day >= aligned_last_year(first) - dt.timedelta(days=7)) & (d.day <= aligned_last_year(end)))
    ]
    sel.merge(reg, on="credit_code").groupby(["county_code", "day"]).kwh.sum()
    return time.perf_counter() - t0


def ibis_run(wh) -> float:
    t0 = time.perf_counter()
    compute(wh, YEAR, MONTH, history=8)
    first = dt.date(YEAR, MONTH, 1)
    end = dt.date(YEAR, MONTH + 1, 1) - dt.timedelta(days=1)
    wh.execute(daily_totals(wh, first - dt.timedelta(days=7), end))
    wh.execute(daily_totals(wh, aligned_last_year(first) - dt.timedelta(days=7), aligned_last_year(end)))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--enterprises", type=int, default=100_000)
    ap.add_argument("--spark", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out: dict[str, object] = {"enterprises": args.enterprises}
    t0 = time.perf_counter()
    facts = build(args.enterprises)
    out["daily_rows"] = facts["power_daily"].num_rows
    out["build_s"] = round(time.perf_counter() - t0, 1)
    with tempfile.TemporaryDirectory() as tmp:
        wh = open_warehouse(f"duckdb:///{tmp}/wh.duckdb")
        t0 = time.perf_counter()
        load_facts(wh, facts)
        out["duckdb_load_s"] = round(time.perf_counter() - t0, 1)
        out["duckdb_s"] = round(ibis_run(wh), 1)
        t0 = time.perf_counter()
        frames = {k: v.to_pandas() for k, v in facts.items()}
        out["pandas_load_s"] = round(time.perf_counter() - t0, 1)
        del facts
        out["pandas_s"] = round(pandas_baseline(frames), 1)
        del frames
        if args.spark:
            folder = Path(tmp) / "parquet"
            publish_parquet(wh, folder, ["registry", "monthly", "power_monthly", "power_daily", "batches"])
            wh.close()
            spark = open_warehouse(f"spark://{folder}")
            out["spark_s"] = round(ibis_run(spark), 1)
        else:
            wh.close()
    out["duckdb_vs_pandas"] = round(out["pandas_s"] / out["duckdb_s"], 2)
    if "spark_s" in out:
        out["spark_vs_pandas"] = round(out["pandas_s"] / out["spark_s"], 2)
    print(json.dumps(out, ensure_ascii=False))
    if args.out:
        args.out.write_text(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
