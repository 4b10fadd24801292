"""Stored monthly chain results (`jingxin chains refresh --month`): changes over time beyond
the window the pages compute on request.

A refresh of month M computes, on M's invoices alone (a one-month window):

* `chain_monthly`: per (chain, segment, buyer county) the purchase amount and the amounts
  bought in the county, the city and the province, with line, buyer and supplier counts. The
  amounts add up, so any region's (and the province's) 本地配套率 of any month is a sum of rows;
* `chain_weak_monthly`: per (chain, segment) for the whole province the outside share, the
  supplier concentration (HHI), the share bought from distressed suppliers (where risk grades
  exist) and the weak-link flags of `compute` and `distress`.

The month's rows are replaced in one transaction, so a reader sees the old month or the new
one, never half. A Spark warehouse is read-only here (as for monitoring): refresh on DuckDB or
PostgreSQL and publish.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt_
import pandas as pd
import pyarrow as pa

from jingxin.chains import compute, distress
from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.warehouse import Warehouse

RATES = ibis.schema(
    {
        "month": dt_.date,
        "chain_id": dt_.string,
        "segment_id": dt_.string,
        "buyer_county": dt_.string,
        "amount": dt_.float64,
        "county_amount": dt_.float64,
        "city_amount": dt_.float64,
        "province_amount": dt_.float64,
        "lines": dt_.int64,
        "buyers": dt_.int64,
        "suppliers": dt_.int64,
        "refreshed_at": dt_.timestamp,
    }
)
WEAK = ibis.schema(
    {
        "month": dt_.date,
        "chain_id": dt_.string,
        "segment_id": dt_.string,
        "amount": dt_.float64,
        "outside": dt_.float64,
        "hhi": dt_.float64,
        "top_share": dt_.float64,
        "suppliers": dt_.int64,
        "distressed_share": dt_.float64,
        "weak_outside": dt_.boolean,
        "weak_concentrated": dt_.boolean,
        "weak_distress": dt_.boolean,
        "refreshed_at": dt_.timestamp,
    }
)
SCHEMAS = {"chain_monthly": RATES, "chain_weak_monthly": WEAK}


@dataclass
class RefreshReport:
    month: str
    rows: int
    segments: int
    weak: int
    distress_checked: bool

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _arrow(df: pd.DataFrame, schema: ibis.Schema) -> pa.Table:
    target = schema.to_pyarrow()
    cols = {}
    for f in target:
        values = df[f.name] if f.name in df.columns else pd.Series([None] * len(df))
        values = values.astype(object).where(values.notna(), None)
        cols[f.name] = pa.array(values.tolist(), type=f.type)
    return pa.table(cols, schema=target)


def refresh(wh: Warehouse, month: str) -> RefreshReport:
    """Compute and store month `month` (YYYY-MM) of the chain results."""
    if wh.kind == "spark":
        raise compute.ChainsError("Spark 仓库只读：请在 DuckDB 或 PostgreSQL 上刷新产业链月度结果后发布")
    win = compute.window(month, 1)
    t = compute.purchases(wh, win, EVERYTHING)
    rates = wh.execute(compute._rates(t, ["chain_id", "segment_id", "buyer_county"]))
    weak = compute.weak_links(wh, month, EVERYTHING, months=1)
    seg = distress.segment_distress(wh, month, EVERYTHING, months=1)
    if seg is not None:
        weak = weak.merge(seg.drop(columns=["distressed"]), on=["chain_id", "segment_id"], how="left")
        weak["weak_distress"] = weak["weak_distress"].fillna(False).astype(bool)
    else:
        weak["distressed_share"], weak["weak_distress"] = None, None
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rates = rates.assign(month=win.end, refreshed_at=now)
    weak = weak.assign(month=win.end, refreshed_at=now)
    wh.ensure_schema(SCHEMAS)
    with wh.transaction():
        for name in SCHEMAS:
            wh.sql(f"DELETE FROM {name} WHERE month = ?", [win.end])
        if len(rates):
            wh.insert_arrow("chain_monthly", _arrow(rates, RATES))
        if len(weak):
            wh.insert_arrow("chain_weak_monthly", _arrow(weak, WEAK))
    flagged = (
        weak["weak_outside"] | weak["weak_concentrated"] | weak["weak_distress"].fillna(False).astype(bool)
    )
    return RefreshReport(f"{win.end:%Y-%m}", len(rates), len(weak), int(flagged.sum()), seg is not None)


def months(wh: Warehouse) -> list[str]:
    """Months refreshed so far, oldest first."""
    if not wh.has_table("chain_monthly"):
        return []
    t = wh.table("chain_monthly")
    df = wh.execute(t.select("month").distinct().order_by("month"))
    return [f"{pd.Timestamp(m):%Y-%m}" for m in df["month"]]


def history(wh: Warehouse, scope: Scope, chain_id: str | None = None) -> dict[str, list[dict]]:
    """Stored months: 本地配套率 by chain and month for buyers in `scope`, and (for a reader of
    the whole province) each segment's weak-link measures by month."""
    if not wh.has_table("chain_monthly"):
        raise compute.ChainsError(
            "还没有保存的产业链月度结果：请先运行 jingxin chains refresh --month YYYY-MM"
        )
    t = wh.table("chain_monthly")
    t = scope.restrict(t, county_column="buyer_county", code_column=None)
    if chain_id:
        t = t.filter(t.chain_id == chain_id)
    agg = t.group_by(["chain_id", "month"]).aggregate(
        amount=t.amount.sum(),
        county_amount=t.county_amount.sum(),
        city_amount=t.city_amount.sum(),
        province_amount=t.province_amount.sum(),
    )
    rates = wh.execute(agg.order_by(["chain_id", "month"]))
    for ring in ("county", "city", "province"):
        rates[ring] = (rates[f"{ring}_amount"] / rates["amount"]).where(rates["amount"] > 0)
    rates["month"] = pd.to_datetime(rates["month"]).dt.strftime("%Y-%m")
    weak = pd.DataFrame()
    if scope.covers_province and wh.has_table("chain_weak_monthly"):
        w = wh.table("chain_weak_monthly")
        if chain_id:
            w = w.filter(w.chain_id == chain_id)
        weak = wh.execute(w.drop("refreshed_at").order_by(["chain_id", "segment_id", "month"]))
        weak["month"] = pd.to_datetime(weak["month"]).dt.strftime("%Y-%m")
    records = [
        {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in r.items()}
        for r in rates.to_dict("records")
    ]
    weak_records = [
        {k: (None if (isinstance(v, float) and pd.isna(v)) or v is pd.NA else v) for k, v in r.items()}
        for r in weak.to_dict("records")
    ]
    return {"rates": records, "weak": weak_records}
