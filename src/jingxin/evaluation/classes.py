"""Ranks and classes (排名与分类), vetoes (一票否决).

Ranks are row numbers ordered by total (desc), then the total without caps (desc: among equal
capped totals the one further above the cap ranks first), then unit id, so they are a
permutation and the same on every backend; totals are rounded (compute.ROUND_DIGITS) before ordering so float
noise cannot swap two enterprises between DuckDB and Spark.

Share-based classes (温岭: A top 20 %, B 20–80 %, C 80–95 %, D bottom 5 %, within industry in a
county): with n units in a group and cumulative share c_k of the classes up to k, the units ranked
1 … round(n·c_k/100) are in class k or better, round half up. Each class therefore holds its
share within one unit, and the published counts come out exact for round group sizes
(100 enterprises → 20/60/15/5).

A group too small for its shares (5 % of fewer than 11 units rounds to no D) is pooled first
(`config.Pooling`): small groups of a county are ranked together, and a county's pool still too
small joins the city's. Tenants without land of their own (无自有用地的租户) are ranked on lists
of their own. `class_group` names the group a unit's class was decided in and `class_key`
identifies it (units with one key were ranked together: class cut-offs are per key).
"""

from __future__ import annotations

import ibis
import numpy as np
import pyarrow as pa

from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.compute import Params, Scored, class_key
from jingxin.evaluation.config import GROUP_COLUMNS, GROUP_NAMES, System
from jingxin.evaluation.config_classes import POOL_NAMES, ClassRule
from jingxin.evaluation.population import optional_input
from jingxin.evaluation.staging import memtable

TENANT_SUFFIX = "（无自有用地租户）"
_POOL_COLUMNS = {"county": ("county_code",), "city": ("city_code",), "province": ()}


def class_index(cls: ibis.StringValue, rule: ClassRule) -> ibis.IntegerValue:
    """Position of a class, best first (A+ 0, A 1, ...); NULL for no class."""
    return ibis.cases(*[(cls == c, i) for i, c in enumerate(rule.all_classes)], else_=ibis.null("int64"))


def _cut(n: ibis.Value, share_pct: ibis.Value) -> ibis.Value:
    """round(n × share / 100), half up, in a way every backend computes identically."""
    return (n * share_pct / 100 + 0.5).floor()


def _key(table: ibis.Table, cols: tuple[str, ...], tag: str) -> ibis.StringValue:
    """One string key from group columns (NULL kept apart from every code), tagged by level."""
    parts: list[ibis.StringValue] = [ibis.literal(tag)]
    for col in cols:
        parts.append(table[col].cast("string").fill_null("~"))
    key = parts[0]
    for part in parts[1:]:
        key = key.concat("|", part)
    return key


def class_groups(narrow: ibis.Table, rule: ClassRule) -> ibis.Table:
    """`narrow` with `class_key` (the group a unit's class is decided in) and `class_group`
    (its name): the rule's group, small groups pooled (`config.Pooling`), tenants apart."""
    tenant = narrow.tenant.fill_null(False)
    prefix = ibis.ifelse(tenant, "t|", "o|")
    t = narrow.mutate(
        class_key=prefix.concat(_key(narrow, GROUP_COLUMNS[rule.group], "g")),
        class_group=ibis.literal(GROUP_NAMES[rule.group]),
    )
    for level in rule.pool_levels:
        size = t.unit_id.count().over(ibis.window(group_by="class_key"))
        small = size < rule.pooling.min_size
        t = t.mutate(
            class_key=ibis.ifelse(
                small, prefix.concat(_key(t, _POOL_COLUMNS[level], f"p{level}")), t.class_key
            ),
            class_group=ibis.ifelse(small, POOL_NAMES[level], t.class_group),
        )
    return t.mutate(class_group=ibis.ifelse(tenant, t.class_group.concat(TENANT_SUFFIX), t.class_group))


def rank_and_classify(scored: Scored, within: str = "") -> ibis.Table:
    """Add ranks in county and industry, the class group's rank and size, and `score_class`.

    The windows run over a narrow projection (unit id, group keys, total) joined back by unit
    id: a window over the wide scored table would sort every indicator column along. Tenants
    without land of their own are ranked apart from the land holders everywhere. With `within`
    (a division prefix), another county's units are left out unless their class group holds
    units of the division: the division's ranks and classes are the same, with less to sort.
    """
    t = scored.table
    system, params = scored.system, scored.params
    industry_keys = ["kind"] if system.population.level == "park" else ["county_code", "division_code"]
    keys = list(GROUP_COLUMNS[system.classes.group])
    cols = sorted({"county_code", "city_code", "tenant", *industry_keys, *keys})
    narrow = t.select("unit_id", "total", "tiebreak", *cols)
    narrow = class_groups(narrow.mutate(tenant=narrow.tenant.fill_null(False)), system.classes)
    if within and system.population.level != "park":
        # Only units of counties under `within` (a division prefix) are wanted: ranks in county
        # and industry are partitioned by county, so another county's unit matters only in a
        # class group it shares with them (a small group pooled with the city's).
        wanted = narrow.filter(narrow.county_code.startswith(within)).class_key
        narrow = narrow.filter(narrow.class_key.isin(wanted))
    order = [ibis.desc(narrow.total), ibis.desc(narrow.tiebreak), narrow.unit_id]
    county_w = ["tenant", "county_code"]
    industry_w = ["tenant", *industry_keys]
    ranks = narrow.select(
        "class_group",
        "class_key",
        __unit=narrow.unit_id,
        rank_in_county=ibis.row_number().over(group_by=county_w, order_by=order) + 1,
        county_count=narrow.unit_id.count().over(ibis.window(group_by=county_w)),
        rank_in_industry=ibis.row_number().over(group_by=industry_w, order_by=order) + 1,
        industry_count=narrow.unit_id.count().over(ibis.window(group_by=industry_w)),
        class_rank=ibis.row_number().over(group_by="class_key", order_by=order) + 1,
        class_n=narrow.unit_id.count().over(ibis.window(group_by="class_key")),
    )
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
        mem = memtable(
            pa.table(
                {
                    "credit_code": [v.credit_code for v in rows],
                    "cls": [v.class_ for v in rows],
                    "reason": [v.reason for v in rows],
                },
                schema=pa.schema(
                    [("credit_code", pa.string()), ("cls", pa.string()), ("reason", pa.string())]
                ),
            )
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
    totals: np.ndarray, groups: np.ndarray, unit_id: np.ndarray, tiebreak: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(rank within group, group size) per unit, ordered by total desc, tie-break desc, unit id."""
    n = len(totals)
    second = -np.asarray(tiebreak, dtype=float) if tiebreak is not None else np.zeros(n)
    order = np.lexsort((unit_id, second, -totals, groups))
    g = groups[order]
    starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1] if n else np.array([], dtype=int)
    sizes = np.diff(np.r_[starts, n])
    rank, size = np.empty(n, dtype=int), np.empty(n, dtype=int)
    rank[order] = np.arange(n) - np.repeat(starts, sizes) + 1
    size[order] = np.repeat(sizes, sizes)
    return rank, size


def pooled_labels(
    rule: ClassRule,
    county_code: np.ndarray,
    division_code: np.ndarray | None = None,
    kind: np.ndarray | None = None,
    tenant: np.ndarray | None = None,
) -> np.ndarray:
    """The class group of every unit as a string label, as `class_groups` decides it (for
    re-scoring in NumPy: `classes_from_totals`, the uncertainty analysis)."""
    import pandas as pd

    n = len(county_code)
    county = pd.Series(county_code, dtype=object).fillna("~").astype(str)
    columns = {
        "county_code": county,
        "city_code": county.str[:4] + "00",
        "division_code": pd.Series(division_code if division_code is not None else [None] * n, dtype=object)
        .fillna("~")
        .astype(str),
        "kind": pd.Series(kind if kind is not None else [None] * n, dtype=object).fillna("~").astype(str),
    }
    flag = np.zeros(n, dtype=bool) if tenant is None else np.asarray(tenant, dtype=bool)
    prefix = pd.Series(np.where(flag, "t|", "o|"), dtype=object)

    def key(cols: tuple[str, ...], tag: str) -> pd.Series:
        out = prefix + tag
        for col in cols:
            out = out + "|" + columns[col]
        return out

    labels = key(GROUP_COLUMNS[rule.group], "g")
    for level in rule.pool_levels:
        size = labels.map(labels.value_counts())
        small = (size < rule.pooling.min_size).to_numpy()
        labels = labels.where(~small, key(_POOL_COLUMNS[level], f"p{level}"))
    return labels.to_numpy(dtype=object)


def classes_from_totals(
    totals: np.ndarray,
    groups: np.ndarray,
    unit_id: np.ndarray,
    rule: ClassRule,
    tiebreak: np.ndarray | None = None,
) -> np.ndarray:
    """The share or threshold classes for given totals, in NumPy (for repeated re-scoring,
    e.g. Monte Carlo over weights). Same ordering and rounding as `rank_and_classify`;
    county overrides of the rule are not applied here. `groups` holds one label per unit
    (`pooled_labels`, or e.g. county code + division code for an unpooled county_industry)."""
    rounded = np.round(np.asarray(totals, dtype=float), 6)
    rank, size = _group_ranks(rounded, np.asarray(groups), np.asarray(unit_id), tiebreak)
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
