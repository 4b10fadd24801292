"""Stored monitoring results: one refresh per month (按月刷新) in two warehouse tables.

`monitor_indicators` holds the indicator table of a month, `monitor_warnings` its warnings.
A refresh of a month replaces that month's rows in one transaction, so readers see either the
old month or the new one. A Spark warehouse (append-only) is refused: refresh on DuckDB or
PostgreSQL and publish.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.datatypes as dt_
import pandas as pd
import pyarrow as pa

from jingxin.core.warehouse import Warehouse

INDICATORS = ibis.schema(
    {
        "month": dt_.date,
        "level": dt_.string,
        "code": dt_.string,
        "measure": dt_.string,
        "value": dt_.float64,
        "value_month": dt_.float64,
        "value_month_ly": dt_.float64,
        "yoy_month": dt_.float64,
        "value_ytd": dt_.float64,
        "value_ytd_ly": dt_.float64,
        "yoy_ytd": dt_.float64,
        "enterprises": dt_.int64,
        "compared": dt_.int64,
        "growing": dt_.int64,
        "shrinking": dt_.int64,
        "growing_share": dt_.float64,
        "shrinking_share": dt_.float64,
        "refreshed_at": dt_.timestamp,
    }
)
WARNINGS = ibis.schema(
    {
        "warning_id": dt_.string,
        "month": dt_.date,
        "kind": dt_.string,
        "level": dt_.string,
        "code": dt_.string,
        "name": dt_.string,
        "county_code": dt_.string,
        "industry_code": dt_.string,
        "measure": dt_.string,
        "colour": dt_.string,
        "rules": dt_.string,
        "reason": dt_.string,
        "value": dt_.float64,
        "available_on": dt_.date,
        "case_id": dt_.int64,
        "refreshed_at": dt_.timestamp,
    }
)
SCHEMAS = {"monitor_indicators": INDICATORS, "monitor_warnings": WARNINGS}


def _arrow(df: pd.DataFrame, schema: ibis.Schema) -> pa.Table:
    target = schema.to_pyarrow()
    cols = {}
    for f in target:
        values = df[f.name] if f.name in df.columns else pd.Series([None] * len(df))
        values = values.astype(object).where(values.notna(), None)
        cols[f.name] = pa.array(values.tolist(), type=f.type)
    return pa.table(cols, schema=target)


def save_month(wh: Warehouse, month: dt.date, indicators: pd.DataFrame, warnings: pd.DataFrame) -> None:
    if wh.kind == "spark":
        raise ValueError("Spark 仓库只读：请在 DuckDB 或 PostgreSQL 上刷新监测结果后发布")
    wh.ensure_schema(SCHEMAS)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    indicators = indicators.assign(refreshed_at=now)
    warnings = warnings.assign(refreshed_at=now)
    with wh.transaction():
        for name in SCHEMAS:
            wh.sql(f"DELETE FROM {name} WHERE month = ?", [month])
        if len(indicators):
            wh.insert_arrow("monitor_indicators", _arrow(indicators, INDICATORS))
        if len(warnings):
            wh.insert_arrow("monitor_warnings", _arrow(warnings, WARNINGS))


def has_results(wh: Warehouse) -> bool:
    return all(wh.has_table(n) for n in SCHEMAS)


def months(wh: Warehouse) -> list[dt.date]:
    if not has_results(wh):
        return []
    t = wh.table("monitor_indicators")
    df = wh.execute(t.select("month").distinct().order_by(ibis.desc("month")))
    return [pd.Timestamp(m).date() for m in df["month"]]


def indicators(wh: Warehouse, month: dt.date | None = None, level: str | None = None) -> pd.DataFrame:
    t = wh.table("monitor_indicators")
    if month is not None:
        t = t.filter(t.month == month)
    if level is not None:
        t = t.filter(t.level == level)
    df = wh.execute(t)
    df["month"] = pd.to_datetime(df["month"]).dt.date
    return df


def warnings(wh: Warehouse, month: dt.date | None = None) -> pd.DataFrame:
    t = wh.table("monitor_warnings")
    if month is not None:
        t = t.filter(t.month == month)
    df = wh.execute(t.order_by([ibis.desc("month"), "kind", "level", "code", "measure"]))
    for c in ("month", "available_on"):
        df[c] = pd.to_datetime(df[c]).dt.date
    return df
