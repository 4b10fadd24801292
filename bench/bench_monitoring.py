"""Refreshing a month of monitoring indicators at scale: DuckDB and PySpark (local) through the
same Ibis expressions, with a pandas baseline of the same computation.

The facts are the bench's own (not the generator's, which is too slow for 110 million daily
rows): registry, 36 months of 快报 and monthly power built with NumPy, and 3 years of daily power
(N enterprises × 1,096 days; 100,000 → 109.6 million rows) made by DuckDB straight into the
warehouse (`daily_sql`). Timed, through the same Ibis expressions on DuckDB and PySpark local:

1. monthly indicators of one month (`jingxin.monitoring.indicators.compute`: sums by province,
   city, county, industry, chain and cluster over 36 months, and 企业增减面);
2. daily power of that month and the same lunar-aligned period last year summed by county and
   day (`power.daily_totals`), the input of 复产率 and the index;
3. the nowcast's daily series: every day of the three years summed by county
   (`nowcast.daily.county_totals`, one scan of all daily rows), then regions' month-to-date growth.

The Spark warehouse is the DuckDB one published as Parquet (timed). pandas does the same
group-bys on the same rows held in memory (daily rows read from that Parquet with the credit
code as a category; load time reported apart); the three-year daily totals are checked equal.

    .venv/bin/python bench/bench_monitoring.py --enterprises 100000 --spark --out m.json  # full scale
    .venv/bin/python bench/bench_monitoring.py --enterprises 2000 --spark                   # quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from jingxin.core.warehouse import open_warehouse, publish_parquet
from jingxin.evaluation.sample import credit_codes, load_facts
from jingxin.monitoring.indicators import compute
from jingxin.monitoring.power import aligned_last_year, daily_totals
from jingxin.nowcast import daily as nowcast_daily
from jingxin.nowcast import data as nowcast_data
from jingxin.reference import counties, industries

YEAR, MONTH = 2021, 10


DAYS = ("2019-01-01", "2021-12-31")  # 1,096 days
MEMORY_LIMIT = "8GB"  # DuckDB's, set on the bench's warehouse (the machine is shared)


def build(n: int, seed: int = 1) -> tuple[dict[str, pa.Table], pa.Table]:
    """Registry, 36 months of 快报 and monthly power (NumPy), and each enterprise's daily base
    load and trend (the daily rows themselves are made by DuckDB, see `daily_sql`)."""
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
    registry = pa.table(
        {
            "credit_code": codes,
            "name": codes,
            "county_code": county,
            "industry_code": industry,
            "status": np.full(n, "存续"),
        }
    )
    empty_daily = pa.table(
        {
            "credit_code": pa.array([], pa.string()),
            "day": pa.array([], pa.date32()),
            "kwh": pa.array([], pa.float64()),
        }
    )
    base = pa.table(
        {"i": np.arange(n, dtype=np.int64), "credit_code": codes, "base": size * 800 / 30, "g": growth}
    )
    facts = {"registry": registry, "monthly": monthly, "power_monthly": power_m, "power_daily": empty_daily}
    return facts, base


def daily_sql(batch: int) -> str:
    """Daily power of every enterprise and day, made inside DuckDB (the bench's own assumption,
    not the generator's): base load × its yearly trend × 0.85 on weekends × lognormal noise
    (σ 0.08, Box–Muller on two hashes of enterprise and day, so the rows are reproducible)."""
    return f"""
    INSERT INTO power_daily
    SELECT {batch} AS batch_id, b.i * 2000 + d.k + 2 AS source_row, b.credit_code, d.day::DATE AS day,
      round(b.base * exp(b.g * d.k / 365.0) * (CASE WHEN dayofweek(d.day) IN (0, 6) THEN 0.85 ELSE 1 END)
        * exp(0.08 * sqrt(-2 * ln((hash(b.i, d.k, 1) % 1000003 + 1) / 1000004.0))
                   * cos(2 * pi() * (hash(b.i, d.k, 2) % 1000003) / 1000003.0))) AS kwh
    FROM _daily_base b
    CROSS JOIN (SELECT range AS day, row_number() OVER (ORDER BY range) - 1 AS k
                FROM range(DATE '{DAYS[0]}', DATE '{DAYS[1]}' + INTERVAL 1 DAY, INTERVAL 1 DAY)) d
    """


def load_daily(wh, base: pa.Table, batch: int) -> int:  # noqa: ANN001
    """Write the daily rows into the DuckDB warehouse's `power_daily` (batch `batch`)."""
    con = wh.con.con
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")  # the machine is shared
    con.register("_daily_base", base)
    con.execute(daily_sql(batch))
    con.unregister("_daily_base")
    rows = con.execute("SELECT count(*) FROM power_daily").fetchone()[0]
    con.execute("UPDATE batches SET row_count = ?, accepted = ? WHERE batch_id = ?", [rows, rows, batch])
    return int(rows)


def _month_bounds() -> tuple[dt.date, dt.date, dt.date, dt.date]:
    first = dt.date(YEAR, MONTH, 1)
    end = dt.date(YEAR, MONTH + 1, 1) - dt.timedelta(days=1)
    return (
        first - dt.timedelta(days=7),
        end,
        aligned_last_year(first) - dt.timedelta(days=7),
        aligned_last_year(end),
    )


def read_daily_pandas(path: Path) -> pd.DataFrame:
    """The daily rows as pandas holds them best: credit code as a category, day as datetime64."""
    table = pq.read_table(path, columns=["credit_code", "day", "kwh"], read_dictionary=["credit_code"])
    return table.to_pandas(date_as_object=False)


def pandas_baseline(frames: dict[str, pd.DataFrame], daily: pd.DataFrame) -> dict[str, float]:
    """The same sums with pandas: (1) province, city, county, industry over 36 months and the
    growth counts; (2) county × day of the month and of last year's aligned days; (3) county ×
    day over all three years (the nowcast's daily series). Returns seconds by part."""
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    reg = frames["registry"][["credit_code", "county_code", "industry_code"]]
    for table, cols in (
        ("monthly", ["output_value", "revenue", "profit", "export_value"]),
        ("power_monthly", ["kwh"]),
    ):
        f = frames[table].merge(reg, on="credit_code")
        keys = {
            "province": pd.Series("330000", index=f.index),
            "city": f.county_code.str[:4] + "00",
            "county": f.county_code,
            "industry": f.industry_code.str[:2],
        }
        for key in keys.values():
            f.assign(g=key).groupby(["g", "month"])[cols].sum()
        month = pd.to_datetime(f.month)
        cur = f[(month.dt.year == YEAR) & (month.dt.month <= MONTH)].groupby("credit_code")[cols[0]].sum()
        last = (
            f[(month.dt.year == YEAR - 1) & (month.dt.month <= MONTH)].groupby("credit_code")[cols[0]].sum()
        )
        both = cur.index.intersection(last.index)
        (cur[both] > last[both]).groupby(reg.set_index("credit_code").county_code.reindex(both)).sum()
    out["indicators_s"] = time.perf_counter() - t0
    # county of each daily row through the category codes (no string join over 110M rows)
    t0 = time.perf_counter()
    county_of = reg.set_index("credit_code").county_code
    cats = daily.credit_code.cat.categories
    county = pd.Categorical(county_of.reindex(cats).to_numpy())
    row_county = pd.Categorical.from_codes(
        county.codes[daily.credit_code.cat.codes.to_numpy()], county.categories
    )
    lo, hi, lo_last, hi_last = (pd.Timestamp(d) for d in _month_bounds())
    for a, b in ((lo, hi), (lo_last, hi_last)):
        mask = (daily.day >= a) & (daily.day <= b)
        daily.kwh[mask].groupby([row_county[mask.to_numpy()], daily.day[mask]], observed=True).sum()
    out["daily_month_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    totals = daily.kwh.groupby([row_county, daily.day], observed=True).sum()
    out["daily_series_s"] = time.perf_counter() - t0
    out["daily_series_total_kwh"] = float(totals.sum())
    return out


def ibis_run(wh) -> dict[str, float]:  # noqa: ANN001
    """The refresh through Ibis on `wh`: seconds by part (as in `pandas_baseline`)."""
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    compute(wh, YEAR, MONTH, history=8)
    out["indicators_s"] = time.perf_counter() - t0
    lo, hi, lo_last, hi_last = _month_bounds()
    t0 = time.perf_counter()
    wh.execute(daily_totals(wh, lo, hi))
    wh.execute(daily_totals(wh, lo_last, hi_last))
    out["daily_month_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    county = wh.execute(nowcast_daily.county_totals(wh, nowcast_data._industrial(wh)))
    out["daily_series_s"] = time.perf_counter() - t0
    out["daily_series_total_kwh"] = float(county["kwh"].sum())
    t0 = time.perf_counter()
    daily = nowcast_daily.region_totals(county, nowcast_data.regions())
    daily.monthly()
    daily.growth(pd.Period(f"{YEAR}-{MONTH:02d}", "M"), dt.date(YEAR, MONTH, 19))
    out["daily_growth_s"] = time.perf_counter() - t0
    return out


def _total(parts: dict[str, float]) -> float:
    return sum(v for k, v in parts.items() if k.endswith("_s") and k != "daily_growth_s")


def _rounded(parts: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 1) if k.endswith("_s") else v for k, v in parts.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--enterprises", type=int, default=100_000)
    ap.add_argument("--spark", action="store_true")
    ap.add_argument("--no-pandas", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--tmp", type=Path, default=None, help="folder for the DuckDB file and Parquet")
    args = ap.parse_args()
    out: dict[str, object] = {"enterprises": args.enterprises}
    t0 = time.perf_counter()
    facts, base = build(args.enterprises)
    out["build_s"] = round(time.perf_counter() - t0, 1)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        wh = open_warehouse(f"duckdb:///{tmp}/wh.duckdb")
        t0 = time.perf_counter()
        batches = load_facts(wh, facts)
        out["daily_rows"] = load_daily(wh, base, batches["power_daily"])
        out["duckdb_load_s"] = round(time.perf_counter() - t0, 1)
        duck = ibis_run(wh)
        out["duckdb"] = _rounded(duck)
        out["duckdb_s"] = round(_total(duck), 1)
        folder = Path(tmp) / "parquet"
        t0 = time.perf_counter()
        publish_parquet(wh, folder, ["registry", "monthly", "power_monthly", "power_daily", "batches"])
        out["publish_parquet_s"] = round(time.perf_counter() - t0, 1)
        wh.close()
        if not args.no_pandas:
            t0 = time.perf_counter()
            frames = {k: v.to_pandas() for k, v in facts.items() if k != "power_daily"}
            daily = read_daily_pandas(next(folder.glob("**/power_daily/*.parquet")))
            out["pandas_load_s"] = round(time.perf_counter() - t0, 1)
            pand = pandas_baseline(frames, daily)
            out["pandas"] = _rounded(pand)
            out["pandas_s"] = round(_total(pand), 1)
            del frames, daily
            check = abs(pand["daily_series_total_kwh"] - duck["daily_series_total_kwh"])
            out["same_daily_total"] = bool(check <= 1e-6 * duck["daily_series_total_kwh"])
        del facts
        if args.spark:
            spark = open_warehouse(f"spark://{folder}")
            sp = ibis_run(spark)
            out["spark"] = _rounded(sp)
            out["spark_s"] = round(_total(sp), 1)
            out["same_daily_total_spark"] = bool(
                abs(sp["daily_series_total_kwh"] - duck["daily_series_total_kwh"])
                <= 1e-6 * duck["daily_series_total_kwh"]
            )
            spark.close()
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if "pandas_s" in out:
        out["duckdb_vs_pandas"] = round(out["pandas_s"] / out["duckdb_s"], 2)
        if "spark_s" in out:
            out["spark_vs_pandas"] = round(out["pandas_s"] / out["spark_s"], 2)
    print(json.dumps(out, ensure_ascii=False))
    if args.out:
        args.out.write_text(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
