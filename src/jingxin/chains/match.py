"""产业精准合作: in-province sellers for a buyer's purchases from outside the province.

For each (buyer, goods keyword) that a chain member bought from outside the province in the
window, the candidates are in-province enterprises that invoiced the same keyword (goods
similarity 1) or another keyword of the same segment (similarity 0.5) to anyone in the window.
Each candidate is scored (weights are the project's assumption, `WEIGHTS`):

* goods similarity (货物相似度): 1 same keyword, 0.5 same segment;
* capacity (供货能力): the candidate's sales of those goods, as its percentile among the
  candidates of the same keyword;
* distance (距离): 1 same county, 0.6 same city, 0.2 elsewhere in the province;
* 亩均 class (亩均等级) of the newest industrial evaluation run, A 1 … D 0, unknown 0.5.

All in Ibis (one query for every buyer at once), ranked per (buyer, keyword); the top `TOP`
are the recommendations, each with its evidence. For a seller, the reverse view lists the
buyers whose outside purchases it could serve.
"""

from __future__ import annotations

import ibis
import pandas as pd

from jingxin.chains import compute
from jingxin.chains.compute import Window, window
from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.warehouse import Warehouse

WEIGHTS = {"similarity": 0.40, "capacity": 0.25, "distance": 0.25, "class": 0.10}
DISTANCE = {"county": 1.0, "city": 0.6, "province": 0.2}
CLASS_VALUE = {"A": 1.0, "B": 0.67, "C": 0.33, "D": 0.0}
TOP = 5


def _classes(wh: Warehouse, year: int) -> ibis.Table | None:
    """亩均 class of each enterprise from the newest enterprise run up to `year`, if any."""
    if not wh.has_table("eval_runs") or not wh.has_table("eval_results"):
        return None
    from jingxin.evaluation.service import runs

    found = [r for r in runs(wh, EVERYTHING) if int(r.get("year") or 0) <= year]
    if not found:
        return None
    t = wh.table("eval_results")
    t = t.filter(t.run_id == found[0]["run_id"])
    return t.select(c_code=t.credit_code, mu_class=t["class"])


def candidates(wh: Warehouse, win: Window, scope: Scope = EVERYTHING) -> ibis.Table:
    """Every (buyer, keyword) outside need × in-province candidate, scored, with rank."""
    lines = compute.purchases(wh, win, EVERYTHING)
    outside = lines.filter(~lines.in_province)
    needs = outside.group_by(
        ["buyer_code", "buyer_name", "buyer_county", "chain_id", "segment_id", "keyword"]
    ).aggregate(
        need_amount=outside.amount.sum().cast("float64"), outside_suppliers=outside.seller_code.nunique()
    )
    needs = scope.restrict(needs, county_column="buyer_county", code_column="buyer_code")
    # In-province sellers of chain goods (any buyer), from the same invoices.
    g = compute.goods_table(wh, win)
    inv = compute._invoices(wh, win)
    sold = inv.join(g, inv.goods == g.goods)
    reg = compute._registry(wh)
    sold = sold.join(reg, sold.seller_code == reg.credit_code)
    supply = sold.group_by(
        s_code=sold.seller_code,
        s_name=sold.name,
        s_county=sold.county_code,
        s_chain=sold.chain_id,
        s_segment=sold.segment_id,
        s_keyword=sold.keyword,
    ).aggregate(sales=sold.amount.sum().cast("float64"), customers=sold.buyer_code.nunique())
    pct = supply.mutate(capacity=ibis.percent_rank().over(group_by=supply.s_keyword, order_by=supply.sales))
    j = needs.join(pct, (needs.chain_id == pct.s_chain) & (needs.segment_id == pct.s_segment))
    j = j.filter(j.s_code != j.buyer_code)
    similarity = (j.s_keyword == j.keyword).ifelse(1.0, 0.5)
    distance = (j.s_county == j.buyer_county).ifelse(
        DISTANCE["county"],
        (j.s_county.substr(0, 4) == j.buyer_county.substr(0, 4)).ifelse(
            DISTANCE["city"], DISTANCE["province"]
        ),
    )
    j = j.mutate(similarity=similarity, distance=distance)
    classes = _classes(wh, win.end.year)
    if classes is not None:
        j = j.left_join(classes, j.s_code == classes.c_code).drop("c_code")
        cls_value = ibis.cases(*[(j.mu_class == k, v) for k, v in CLASS_VALUE.items()], else_=0.5)
    else:
        j = j.mutate(mu_class=ibis.null("string"))
        cls_value = ibis.literal(0.5)
    j = j.mutate(class_value=cls_value)
    # One row per (buyer, keyword, seller): the best of its keywords in the segment.
    j = j.mutate(
        score=WEIGHTS["similarity"] * j.similarity
        + WEIGHTS["capacity"] * j.capacity.fill_null(1.0)
        + WEIGHTS["distance"] * j.distance
        + WEIGHTS["class"] * j.class_value
    )
    best = ibis.row_number().over(group_by=[j.buyer_code, j.keyword, j.s_code], order_by=ibis.desc(j.score))
    j = j.mutate(_k=best).filter(lambda t: t._k == 0).drop("_k")
    rank = (
        ibis.row_number().over(group_by=[j.buyer_code, j.keyword], order_by=[ibis.desc(j.score), j.s_code])
        + 1
    )
    return j.mutate(rank=rank)


def evidence(r) -> str:
    where = {1.0: "同区县", 0.6: "同市"}.get(round(float(r.distance), 1), "省内其他市")
    goods = (
        f"同类货物「{r.s_keyword}」"
        if r.similarity == 1.0
        else f"同环节货物「{r.s_keyword}」（需求为「{r.keyword}」）"
    )
    cls = f"亩均 {r.mu_class} 类" if isinstance(r.mu_class, str) and r.mu_class else "亩均等级未评"
    return f"{goods}近期开票 {r.sales:,.2f} 万元（{int(r.customers)} 家购方）；{where}；{cls}"


def recommend(
    wh: Warehouse, buyer: str, month: str, scope: Scope, top: int = TOP, months: int = 12
) -> pd.DataFrame:
    """Top candidates for each outside purchase of one buyer (empty when out of scope)."""
    c = candidates(wh, window(month, months), scope)
    df = wh.execute(
        c.filter((c.buyer_code == buyer.strip().upper()) & (c.rank <= top)).order_by(["keyword", "rank"])
    )
    if not df.empty:
        df["evidence"] = [evidence(r) for r in df.itertuples()]
    return df


def buyers_for(
    wh: Warehouse, seller: str, month: str, scope: Scope, top: int = TOP, months: int = 12
) -> pd.DataFrame:
    """For a supplier: the buyers whose outside purchases it ranks in their top `top` for."""
    c = candidates(wh, window(month, months), scope)
    return wh.execute(
        c.filter((c.s_code == seller.strip().upper()) & (c.rank <= top)).order_by(ibis.desc("need_amount"))
    )


def evaluate(wh: Warehouse, switches: list[dict], cutoff: str, months: int = 6, top: int = TOP) -> dict:
    """Held-back trade: recommendations made with the invoices up to `cutoff`; a switch (an
    outside purchase that moved to an in-province seller after the cutoff) is *servable* when
    its new seller invoiced goods of the segment before the cutoff, and *hit* when that seller
    is in the buyer's top `top` for the keyword. Baseline: the expected hit rate of ranking the
    same candidates at random (min(top, n) / n)."""
    c = candidates(wh, window(cutoff, months), EVERYTHING)
    df = wh.execute(c.select("buyer_code", "keyword", "s_code", "rank"))
    n_cand = df.groupby(["buyer_code", "keyword"]).size()
    rank = {(r.buyer_code, r.keyword, r.s_code): int(r.rank) for r in df.itertuples()}
    servable = hits = 0
    baseline = 0.0
    for s in switches:
        key = (s["buyer"], s["keyword"], s["new_supplier"])
        if key not in rank:
            continue
        servable += 1
        hits += rank[key] <= top
        n = int(n_cand[(s["buyer"], s["keyword"])])
        baseline += min(top, n) / n
    return {
        "cutoff": cutoff,
        "history_months": months,
        "top": top,
        "switches": len(switches),
        "servable": servable,
        "hits": hits,
        "hit_rate": round(hits / servable, 4) if servable else None,
        "random_baseline": round(baseline / servable, 4) if servable else None,
    }
