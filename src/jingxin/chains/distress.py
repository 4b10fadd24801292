"""Suppliers in distress (供方风险) for the weak links, read from the risk grading.

The risk scenario grades enterprises month by month (`jingxin.risk.service.score_month`); this
module only reads those grades (never changes them) and says which chain suppliers are in
distress: graded 重点关注 (key concern) or 已经出险 (risk materialised). Without risk data in
the warehouse, or for a month the grading does not cover, there is nothing to read and the
weak links are shown without this test (the page says so).

A segment is a weak link by distress when at least `WEAK_DISTRESS` of its purchases in the
window come from distressed suppliers (project assumption). Aggregates (counts, shares) are
shown to every reader of the chain pages; which supplier is distressed is shown only for
suppliers inside the reader's scope, and those views are audited as 查看风险分级.
"""

from __future__ import annotations

import logging

import ibis
import pandas as pd

from jingxin.chains import compute
from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse

WEAK_DISTRESS = 0.10  # project assumption: a tenth of a segment's purchases from distressed suppliers
log = logging.getLogger("jingxin.chains")


def grades(wh: Warehouse, month: str) -> pd.DataFrame | None:
    """(credit_code, grade, category) of the distressed enterprises of `month`; None when the
    risk grading has nothing for that month."""
    if not wh.has_table("insured"):
        return None
    from jingxin.risk.service import MATERIALISED, RiskError, score_month

    try:
        result = score_month(wh, month)
    except (RiskError, ValueError) as exc:  # no risk data for the month, or too little to grade
        log.info("chains: no risk grades for %s (%s)", month, exc)
        return None
    from jingxin.risk.config import KEY

    t = result.table
    bad = t[(t["grade"] == KEY) | (t["category"] == MATERIALISED)]
    return bad[["credit_code", "grade", "category"]].drop_duplicates("credit_code").reset_index(drop=True)


def segment_distress(wh: Warehouse, month: str, scope: Scope, months: int = 12) -> pd.DataFrame | None:
    """Per (chain, segment): distressed suppliers (count, and a list of (code, county, name,
    amount) largest first) and the share of purchases bought from them."""
    bad = grades(wh, month)
    if bad is None:
        return None
    t = compute.purchases(wh, compute.window(month, months), scope)
    flag = ibis.memtable(pd.DataFrame({"d_code": bad.credit_code.astype("string")}))
    t = t.left_join(flag, t.seller_code == flag.d_code)
    zero = ibis.literal(0.0)
    keys = ["chain_id", "segment_id"]
    agg = t.group_by(keys).aggregate(
        distressed_suppliers=t.d_code.nunique(),
        distressed_amount=t.d_code.notnull().ifelse(t.amount, zero).sum().cast("float64"),
        total=t.amount.sum().cast("float64"),
    )
    df = wh.execute(agg)
    df["distressed_share"] = (df.distressed_amount / df.total).where(df.total > 0)
    df["weak_distress"] = df.distressed_share >= WEAK_DISTRESS
    d = t.filter(t.d_code.notnull())
    who = wh.execute(
        d.group_by([*keys, "seller_code", "seller_county", "seller_name"]).aggregate(
            amount=d.amount.sum().cast("float64")
        )
    )
    who = who.sort_values("amount", ascending=False)
    lists = {
        k: list(zip(g.seller_code, g.seller_county, g.seller_name.fillna(""), g.amount, strict=True))
        for k, g in who.groupby(keys)
    }
    df["distressed"] = [lists.get((c, s), []) for c, s in zip(df.chain_id, df.segment_id, strict=True)]
    return df[[*keys, "distressed_suppliers", "distressed_share", "weak_distress", "distressed"]]
