"""What pages, API and exports show (产业链): cached per data version and scope.

Every function takes the reader's `Scope`; the analysis restricts purchases to buyers inside it
(a county analyst sees its county's buyers and where they buy from), and matching lists only
buyers inside it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from jingxin.chains import compute, distress, match, network
from jingxin.chains.definitions import SEGMENT_LABEL, definitions
from jingxin.core.cache import cached_read
from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse

RING = {"county": "本县", "city": "本市其他县", "province": "省内其他市", "outside": "省外"}


@cached_read
def latest_month(wh: Warehouse) -> str | None:
    if not wh.has_table("invoices"):
        return None
    t = compute._current(wh, "invoices")
    value = wh.execute(t.month.max())
    return None if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m}"


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in r.items()}
        for r in df.to_dict("records")
    ]


@cached_read
def overview(wh: Warehouse, month: str, scope: Scope) -> dict[str, Any]:
    """Local rates by chain and by segment, and the flows ring → segment of every chain."""
    defs = definitions()
    by_chain = compute.local_rates(wh, month, scope, "chain")
    by_seg = compute.local_rates(wh, month, scope, "segment")
    names = {c.id: c.name for c in defs.chains}
    seg_names = {(c.id, s.id): s.name for c in defs.chains for s in c.segments}
    by_chain["chain_name"] = by_chain.chain_id.map(names)
    by_seg["chain_name"] = by_seg.chain_id.map(names)
    by_seg["segment_name"] = [
        seg_names.get((c, s), s) for c, s in zip(by_seg.chain_id, by_seg.segment_id, strict=True)
    ]
    by_seg["position"] = by_seg.segment_id.map(SEGMENT_LABEL)
    return {"month": month, "chains": _records(by_chain), "segments": _records(by_seg)}


def sankey(segments: list[dict[str, Any]], chain_id: str) -> dict[str, Any]:
    """ECharts Sankey option: supplier location → the segment bought, amounts in 万元."""
    rows = [r for r in segments if r["chain_id"] == chain_id]
    nodes, links = [], []
    for label in RING.values():
        nodes.append({"name": label})
    for r in rows:
        target = f"{r['position']}·{r['segment_name']}"
        nodes.append({"name": target})
        amounts = {
            "county": r["county_amount"],
            "city": r["city_amount"] - r["county_amount"],
            "province": r["province_amount"] - r["city_amount"],
            "outside": r["amount"] - r["province_amount"],
        }
        for key, value in amounts.items():
            if value > 0.005:
                links.append({"source": RING[key], "target": target, "value": round(float(value), 2)})
    used = {x for link in links for x in (link["source"], link["target"])}
    return {
        "tooltip": {"trigger": "item"},
        "series": [
            {
                "type": "sankey",
                "left": 20,
                "right": 160,
                "nodeAlign": "left",
                "data": [n for n in nodes if n["name"] in used],
                "links": links,
                "label": {"fontSize": 13},
                "lineStyle": {"color": "gradient", "opacity": 0.45},
            }
        ],
    }


@cached_read
def weak(wh: Warehouse, month: str, scope: Scope) -> dict[str, Any]:
    defs = definitions()
    names = {c.id: c.name for c in defs.chains}
    seg_names = {(c.id, s.id): s.name for c in defs.chains for s in c.segments}
    w = compute.weak_links(wh, month, scope)
    w["chain_name"] = w.chain_id.map(names)
    w["segment_name"] = [seg_names.get((c, s), s) for c, s in zip(w.chain_id, w.segment_id, strict=True)]
    single = compute.single_supplier(wh, month, scope)
    single["chain_name"] = single.chain_id.map(names)
    single["supplier_place"] = single.supplier_county.map(compute.division_name)
    seg_distress = distress.segment_distress(wh, month, scope)
    if seg_distress is not None:
        w = w.merge(seg_distress, on=["chain_id", "segment_id"], how="left")
        w["weak_distress"] = w["weak_distress"].fillna(False).astype(bool)
        # Which suppliers are distressed is shown only for suppliers inside the reader's scope.
        w["distressed"] = [
            [
                {"code": c, "name": n, "county": d, "place": compute.division_name(d), "amount": a}
                for c, d, n, a in (items if isinstance(items, list) else [])
                if scope.allows_enterprise(c, d)
            ]
            for items in w["distressed"]
        ]
        bad = set(distress.grades(wh, month)["credit_code"])  # type: ignore[index]
        single["supplier_distressed"] = [
            code in bad and scope.allows_enterprise(code, county)
            for code, county in zip(single.supplier, single.supplier_county, strict=True)
        ]
    else:
        w["weak_distress"] = False
        w["distressed"] = [[] for _ in range(len(w))]
        single["supplier_distressed"] = False
    return {
        "month": month,
        "segments": _records(w),
        "single": _records(single),
        "distress_available": seg_distress is not None,
        "thresholds": {
            "outside": compute.WEAK_OUTSIDE,
            "hhi": compute.WEAK_HHI,
            "distress": distress.WEAK_DISTRESS,
        },
    }


@cached_read
def owners(wh: Warehouse, month: str, scope: Scope) -> list[dict[str, Any]]:
    """链主 of every chain located in the reader's region (see `network.chain_owners`)."""
    return _records(network.chain_owners(wh, month, scope))


@cached_read
def trend(wh: Warehouse, month: str, scope: Scope) -> dict[str, Any]:
    """Month-by-month local rates by chain and segment weak-link measures (`network.trend`)."""
    t = network.trend(wh, month, scope)
    return {"month": month, "chains": _records(t["chains"]), "segments": _records(t["segments"])}


@cached_read
def buyers_with_outside_needs(
    wh: Warehouse, month: str, scope: Scope, limit: int = 30
) -> list[dict[str, Any]]:
    t = compute.purchases(wh, compute.window(month), scope)
    o = t.filter(~t.in_province)
    agg = o.group_by(["buyer_code", "buyer_name", "buyer_county"]).aggregate(
        outside=o.amount.sum().cast("float64"), goods=o.keyword.nunique()
    )
    return _records(wh.execute(agg.order_by([agg.outside.desc(), agg.buyer_code]).limit(limit)))


@cached_read
def recommendations(wh: Warehouse, buyer: str, month: str, scope: Scope) -> list[dict[str, Any]]:
    df = match.recommend(wh, buyer, month, scope)
    if df.empty:
        return []
    df["s_place"] = df.s_county.map(compute.division_name)
    return _records(df)


def chain_name(chain_id: str) -> str:
    try:
        return definitions().chain(chain_id).name
    except KeyError:
        return chain_id


@cached_read
def chain_monitoring(wh: Warehouse, month: str, scope: Scope) -> list[dict[str, Any]]:
    """链长制 monthly monitoring: output, growth, share against the target (see `plans.monitoring`)."""
    from jingxin.chains import plans

    return _records(plans.monitoring(wh, month, scope))


@cached_read
def cluster_overview(wh: Warehouse, month: str, scope: Scope) -> dict[str, Any]:
    """The 415 clusters ranked, with output by city and by month (see `clusters.indicators`)."""
    from jingxin.chains import clusters

    r = clusters.indicators(wh, month, scope)
    return {
        "month": month,
        "period": r["period"],
        "clusters": _records(r["clusters"]),
        "by_city": _records(r["by_city"]),
        "by_county": _records(r["by_county"]),
        "by_month": _records(r["by_month"]),
    }


@cached_read
def invoice_months(wh: Warehouse) -> list[str]:
    """Months with invoices in the warehouse, newest first (the pages' month selector)."""
    if not wh.has_table("invoices"):
        return []
    t = compute._current(wh, "invoices")
    df = wh.execute(t.select("month").distinct())
    return sorted({f"{pd.Timestamp(m):%Y-%m}" for m in df["month"].dropna()}, reverse=True)


@cached_read
def cluster_members(wh: Warehouse, month: str, scope: Scope, cluster_id: str) -> list[dict[str, Any]]:
    from jingxin.chains import clusters

    df = clusters.members(wh, month, scope, cluster_id)
    df["place"] = df.county_code.map(compute.division_name)
    return _records(
        df[["credit_code", "name", "county_code", "place", "industry_code", "basis", "evidence", "share"]]
    )
