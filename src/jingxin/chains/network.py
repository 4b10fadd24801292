"""Chain owners (链主) and changes over time, from the same invoice flows as `compute`.

* **链主** (chain-owner enterprises): for each chain, its members ranked by size and by their
  position in the chain's trade network. Size is the member's invoiced sales in the window
  (all goods, 万元); position is its degree in the chain's purchases: the chain members it
  sells chain goods to plus the suppliers it buys chain goods from. Score = 0.6 × size
  percentile + 0.4 × degree percentile within the chain (weights: project assumption); the
  top `TOP_OWNERS` are shown with their local suppliers (in-province suppliers and the share
  of their chain purchases bought in the province). The network is the whole province's (a
  county analyst sees the owners located in its county, with their province-wide position).
* **Changes over time**: the local supporting rate by chain and month, and each segment's
  outside share and supplier concentration by month with the weak-link flags of `compute`.
"""

from __future__ import annotations

import ibis
import pandas as pd

from jingxin.chains import compute
from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.warehouse import Warehouse

TOP_OWNERS = 3
OWNER_WEIGHTS = {"size": 0.6, "degree": 0.4}  # project assumption


def chain_owners(
    wh: Warehouse, month: str, scope: Scope, top: int = TOP_OWNERS, months: int = 12
) -> pd.DataFrame:
    """The top chain owners of every chain located in `scope`, with score and evidence."""
    win = compute.window(month, months)
    p = compute.purchases(wh, win, EVERYTHING)
    mem = compute.membership(wh, win).select("credit_code", "chain_id").distinct()
    reg = compute._registry(wh)
    inv = compute._invoices(wh, win)
    sales = inv.group_by(s_code=inv.seller_code).aggregate(sales=inv.amount.sum().cast("float64"))
    sold = p.group_by(o_code=p.seller_code, o_chain=p.chain_id).aggregate(buyers=p.buyer_code.nunique())
    zero = ibis.literal(0.0)
    bought = p.group_by(i_code=p.buyer_code, i_chain=p.chain_id).aggregate(
        suppliers=p.seller_code.nunique(),
        local_suppliers=p.in_province.ifelse(p.seller_code, ibis.null("string")).nunique(),
        purchases=p.amount.sum().cast("float64"),
        local_purchases=p.in_province.ifelse(p.amount, zero).sum().cast("float64"),
    )
    j = mem.join(reg, mem.credit_code == reg.credit_code)
    j = j.left_join(sales, j.credit_code == sales.s_code)
    j = j.left_join(sold, (j.credit_code == sold.o_code) & (j.chain_id == sold.o_chain))
    j = j.left_join(bought, (j.credit_code == bought.i_code) & (j.chain_id == bought.i_chain))
    j = j.select(
        "credit_code",
        "name",
        "county_code",
        "chain_id",
        sales=j.sales.fill_null(0.0),
        buyers=j.buyers.fill_null(0),
        suppliers=j.suppliers.fill_null(0),
        local_suppliers=j.local_suppliers.fill_null(0),
        purchases=j.purchases.fill_null(0.0),
        local_purchases=j.local_purchases.fill_null(0.0),
    )
    j = j.mutate(degree=j.buyers + j.suppliers)
    j = j.filter(j.sales > 0)
    w_size = ibis.window(group_by="chain_id", order_by="sales")
    w_deg = ibis.window(group_by="chain_id", order_by="degree")
    j = j.mutate(
        size_pct=ibis.percent_rank().over(w_size).cast("float64"),
        degree_pct=ibis.percent_rank().over(w_deg).cast("float64"),
    )
    j = j.mutate(score=OWNER_WEIGHTS["size"] * j.size_pct + OWNER_WEIGHTS["degree"] * j.degree_pct)
    w_rank = ibis.window(
        group_by="chain_id", order_by=[ibis.desc("score"), ibis.desc("sales"), "credit_code"]
    )
    j = j.mutate(rank=ibis.row_number().over(w_rank) + 1)
    j = j.filter(j["rank"] <= top)
    j = scope.restrict(j, county_column="county_code", code_column="credit_code")
    df = wh.execute(j.order_by(["chain_id", "rank"]))
    df["local_rate"] = (df.local_purchases / df.purchases).where(df.purchases > 0)
    df["place"] = df.county_code.map(compute.division_name)
    return df


def trend(wh: Warehouse, month: str, scope: Scope, months: int = 12) -> dict[str, pd.DataFrame]:
    """Month by month over the `months` ending with `month`: local rates by chain, and by
    segment with outside share, HHI and the weak-link flags."""
    win = compute.window(month, months)
    t = compute.purchases(wh, win, scope)
    by_chain = wh.execute(compute._rates(t, ["chain_id", "month"]).order_by(["chain_id", "month"]))
    keys = ["chain_id", "segment_id", "month"]
    by_sup = t.group_by([*keys, "seller_code"]).aggregate(amount=t.amount.sum().cast("float64"))
    tot = by_sup.group_by(keys).aggregate(total=by_sup.amount.sum())
    s = by_sup.join(tot, keys)
    conc = s.group_by(keys).aggregate(hhi=((s.amount / s.total) ** 2).sum())
    seg = wh.execute(compute._rates(t, keys).join(conc, keys).order_by(keys))
    seg["outside"] = 1.0 - seg["province"]
    seg["weak_outside"] = seg["outside"] >= compute.WEAK_OUTSIDE
    seg["weak_concentrated"] = seg["hhi"] >= compute.WEAK_HHI
    for df in (by_chain, seg):
        df["month"] = pd.to_datetime(df["month"]).dt.strftime("%Y-%m")
    return {"chains": by_chain, "segments": seg}
