"""Ranks and classes (排名与分类), vetoes (一票否决).

Ranks are row numbers ordered by total (desc) and then unit id, so they are a permutation and
the same on every backend; totals are rounded (compute.ROUND_DIGITS) before ordering so float
noise cannot swap two enterprises between DuckDB and Spark.

Share-based classes (温岭: A top 20 %, B 20–80 %, C 80–95 %, D bottom 5 %, within industry in a
county): with n units in a group and cumulative share c_k of the classes up to k, the units ranked
1 … round(n·c_k/100) are in class k or better, round half up. Each class therefore holds its
share within one unit, and the published counts come out exact for round group sizes
(100 enterprises → 20/60/15/5).
"""

from __future__ import annotations

import ibis
import numpy as np

from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.compute import Params, Scored, class_key
from jingxin.evaluation.config import GROUP_COLUMNS, ClassRule, System
from jingxin.evaluation.population import optional_input


def class_index(cls: ibis.StringValue, rule: ClassRule) -> ibis.IntegerValue:
    """Position of a class, best first (A+ 0, A 1, ...); NULL for no class."""
    return ibis.cases(*[(cls == c, i) for i, c in enumerate(rule.all_classes)], else_=ibis.null("int64"))


def _cut(n: ibis.Value, share_pct: ibis.Value) -> ibis.Value:
    """round(n × share / 100), half up, in a way every backend computes identically."""
    return (n * share_pct / 100 + 0.5).floor()


def rank_and_classify(scored: Scored) -> ibis.Table:
    """Add ranks in county and industry, the class group's rank and size, and `score_class`.

    The windows run over a narrow projection (unit id, group keys, total) joined back by unit
    id: a window over the wide scored table would sort every indicator column along.
    """
    t = scored.table
    system, params = scored.system, scored.params
    industry_keys = ["kind"] if system.population.level == "park" else ["county_code", "division_code"]
    keys = list(GROUP_COLUMNS[system.classes.group])
    narrow = t.select("unit_id", "total", *sorted({"county_code", *industry_keys, *keys}))
    order = [ibis.desc(narrow.total), narrow.unit_id]
    ranks = narrow.select(
        __unit=narrow.unit_id,
        rank_in_county=ibis.row_number().over(group_by=["county_code"], order_by=order) + 1,
        county_count=narrow.unit_id.count().over(ibis.window(group_by=["county_code"])),
        rank_in_industry=ibis.row_number().over(group_by=industry_keys, order_by=order) + 1,
        industry_count=narrow.unit_id.count().over(ibis.window(group_by=industry_keys)),
    )
    # the class group is usually the county or the industry in the county: reuse that window
    if keys == ["county_code"]:
        ranks = ranks.mutate(class_rank=ranks.rank_in_county, class_n=ranks.county_count)
    elif keys == industry_keys:
        ranks = ranks.mutate(class_rank=ranks.rank_in_industry, class_n=ranks.industry_count)
    else:
        more = narrow.select(
            __unit2=narrow.unit_id,
            class_rank=ibis.row_number().over(group_by=keys, order_by=order) + 1,
            class_n=narrow.unit_id.count().over(ibis.window(group_by=keys)),
        )
        ranks = ranks.join(more, ranks.__unit == more.__unit2).drop("__unit2")
    t = t.join(ranks, t.unit_id == ranks.__unit).drop("__unit")
    return t.mutate(score_class=_class_expr(t, system, params))


def _class_expr(t: ibis.Table, system: System, params: Params) -> ibis.StringValue:
    rule = system.classes
    last = rule.order[-1]
    by_share = by_threshold = None
    switch = params.get(t, "cls_thr")
    methods = {rule.method}
    if "cls_thr" in params.overridden:
        methods = {"shares", "thresholds"}
    if "shares" in methods:
        cases = [
            (t.class_rank <= _cut(t.class_n, params.get(t, f"cum_{class_key(c)}")), c)
            for c in rule.order[:-1]
        ]
        by_share = ibis.cases(*cases, else_=last) if cases else ibis.literal(last)
    if "thresholds" in methods:
        cases = [(t.total >= params.get(t, f"thr_{class_key(c)}"), c) for c in rule.order[:-1]]
        by_threshold = ibis.cases(*cases, else_=last) if cases else ibis.literal(last)
    if by_share is not None and by_threshold is not None:
        cls = ibis.ifelse(switch == 1.0, by_threshold, by_share)
    else:
        cls = by_share if by_share is not None else by_threshold
    assert cls is not None
    top = rule.order[0]
    if rule.a_plus is not None:
        if rule.a_plus.share is not None:
            plus = t.class_rank <= _cut(t.class_n, ibis.literal(rule.a_plus.share))
        else:
            plus = t.total >= rule.a_plus.threshold
        cls = ibis.ifelse((cls == top) & plus, "A+", cls)
    return cls


def vetoes_for(wh: Warehouse, system: System, year: int) -> ibis.Table:
    """Vetoes in force for `year` from the `vetoes` table and the YAML: credit_code →
    veto_class (the worst one if several) and veto_reason (all reasons, joined by '；')."""
    rows = [v for v in system.all_vetoes() if v.year in (None, year)]
    table = optional_input(wh, "vetoes")
    table = table.filter(table.year == year).select("credit_code", cls=table["class"], reason=table.reason)
    if rows:
        mem = ibis.memtable(
            {
                "credit_code": [v.credit_code for v in rows],
                "cls": [v.class_ for v in rows],
                "reason": [v.reason for v in rows],
            },
            schema={"credit_code": "string", "cls": "string", "reason": "string"},
        )
        table = table.union(mem)
    rule = system.classes
    table = table.mutate(idx=class_index(table.cls, rule))
    agg = table.group_by("credit_code").aggregate(
        worst=table.idx.max(), veto_reason=table.reason.group_concat("；")
    )
    names = rule.all_classes
    return agg.select(
        "credit_code",
        "veto_reason",
        veto_class=ibis.cases(*[(agg.worst == i, c) for i, c in enumerate(names)], else_=ibis.null("string")),
    )


def _group_ranks(
    totals: np.ndarray, groups: np.ndarray, unit_id: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(rank within group, group size) per unit, ordered by total desc then unit id."""
    n = len(totals)
    order = np.lexsort((unit_id, -totals, groups))
    g = groups[order]
    starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1] if n else np.array([], dtype=int)
    sizes = np.diff(np.r_[starts, n])
    rank, size = np.empty(n, dtype=int), np.empty(n, dtype=int)
    rank[order] = np.arange(n) - np.repeat(starts, sizes) + 1
    size[order] = np.repeat(sizes, sizes)
    return rank, size


def classes_from_totals(
    totals: np.ndarray, groups: np.ndarray, unit_id: np.ndarray, rule: ClassRule
) -> np.ndarray:
    """The share or threshold classes for given totals, in NumPy (for repeated re-scoring,
    e.g. Monte Carlo over weights). Same ordering and rounding as `rank_and_classify`;
    county overrides of the rule are not applied here. `groups` holds one label per unit
    (e.g. county code + division code for the group county_industry)."""
    rounded = np.round(np.asarray(totals, dtype=float), 6)
    rank, size = _group_ranks(rounded, np.asarray(groups), np.asarray(unit_id))
    out = np.full(len(rounded), rule.order[-1], dtype=object)
    if rule.method == "thresholds":
        for cls in reversed(rule.order[:-1]):
            out[rounded >= rule.thresholds[cls]] = cls
    else:
        for cls, cum in reversed(list(rule.cumulative_shares().items())[:-1]):
            out[rank <= np.floor(size * cum / 100 + 0.5)] = cls
    if rule.a_plus is not None:
        if rule.a_plus.threshold is not None:
            plus = rounded >= rule.a_plus.threshold
        else:
            plus = rank <= np.floor(size * float(rule.a_plus.share or 0) / 100 + 0.5)
        out[(out == rule.order[0]) & plus] = "A+"
    return out
