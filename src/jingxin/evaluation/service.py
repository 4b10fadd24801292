"""What the web app, the API and other scenarios call (评价结果服务).

Every function takes a `Scope` and reads through `scope.restrict`, so a county analyst sees
its county, an enterprise user its own row, whatever page or route asks. Aggregates over areas
are sums over sums (合计口径): a county's 亩均税收 is Σ tax ÷ Σ land of its evaluated units, each
merged parcel unit counted once (its lead row, `is_lead`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

import ibis
import pyarrow as pa

from jingxin.core.cache import cached_read
from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.config import System
from jingxin.evaluation.population import industry_filter
from jingxin.evaluation.runs import load_run, run_system
from jingxin.evaluation.stored import stored_scores

SORTABLE = (
    "total_score",
    "rank_in_county",
    "rank_in_industry",
    "credit_code",
    "name",
    "county_code",
    "industry_code",
    "land_mu",
    "class",
    "score_change",
)


# ---- helpers ---------------------------------------------------------------------------------
def _records(wh: Warehouse, expr: ibis.Table) -> list[dict[str, Any]]:
    """Rows as dicts with JSON-friendly values (NaN → None)."""
    rows = wh.to_pyarrow(expr).to_pylist()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, float) and value != value:
                row[key] = None
    return rows


@lru_cache(maxsize=1)
def _division_rows() -> pa.Table:
    from jingxin.reference import cities, counties

    city_names = {c.code: c.name for c in cities()}
    items = sorted(counties(), key=lambda d: d.code)
    return pa.table(
        {
            "county_code": [d.code for d in items],
            "county_name": [d.name for d in items],
            "city_code": [d.parent_code for d in items],
            "city_name": [city_names.get(d.parent_code or "", "") for d in items],
        }
    )


def division_table() -> ibis.Table:
    """The 90 counties with their names and cities (reference data as a memtable)."""
    return ibis.memtable(_division_rows())


def results(wh: Warehouse, run_id: str, scope: Scope = EVERYTHING) -> ibis.Table:
    """`eval_results` of one run inside `scope`."""
    t = wh.table("eval_results")
    return scope.restrict(t.filter(t.run_id == run_id))


def park_results(wh: Warehouse, run_id: str, scope: Scope = EVERYTHING) -> ibis.Table:
    """`eval_park_results` of one park run inside `scope` (parks follow their county)."""
    t = wh.table("eval_park_results")
    t = t.filter(t.run_id == run_id)
    return t.limit(0) if scope.pinned else scope.restrict(t, code_column=None)


# ---- runs ------------------------------------------------------------------------------------
_RUN_COLUMNS = (
    "run_id",
    "system",
    "system_version",
    "title",
    "level",
    "year",
    "scope",
    "config_hash",
    "created_at",
    "enterprise_count",
    "unit_count",
    "backend",
    "seconds",
)


@cached_read
def runs(
    wh: Warehouse, scope: Scope = EVERYTHING, *, system: str | None = None, year: int | None = None
) -> list[dict[str, Any]]:
    """Stored runs, newest first; a restricted scope sees the runs with results it may see.

    The counts (参评企业数, 评价单元数) are those inside the scope: a county analyst or an
    enterprise learns nothing about the size of the rest of the province from a run's
    metadata. `created_at` is an aware UTC time (stored naive in UTC)."""
    if not wh.has_table("eval_runs"):
        return []
    t = wh.table("eval_runs")
    if system:
        t = t.filter(t.system == system)
    if year is not None:
        t = t.filter(t.year == year)
    if not scope.covers_province:
        res = scope.restrict(wh.table("eval_results"))
        counts = res.group_by("run_id").aggregate(
            enterprise_count=res.count().cast("int64"),
            unit_count=res.count(where=res.is_lead).cast("int64"),
        )
        if wh.has_table("eval_park_results") and not scope.pinned:
            p = scope.restrict(wh.table("eval_park_results"), code_column=None)
            parks = p.group_by("run_id").aggregate(
                enterprise_count=p.member_count.sum().cast("int64"), unit_count=p.count().cast("int64")
            )
            counts = counts.union(parks)
        t = t.drop("enterprise_count", "unit_count").join(counts, "run_id")
    rows = _records(wh, t.select(*_RUN_COLUMNS).order_by([ibis.desc("created_at"), ibis.desc("run_id")]))
    for row in rows:
        created = row.get("created_at")
        if isinstance(created, datetime) and created.tzinfo is None:
            row["created_at"] = created.replace(tzinfo=UTC)
    return rows


def latest_run(wh: Warehouse, year: int, system: str, scope: Scope = EVERYTHING) -> dict[str, Any] | None:
    """The newest run of `system` for `year` visible in `scope`, or None."""
    found = runs(wh, scope, system=system, year=year)
    return found[0] if found else None


# ---- lists and profiles ------------------------------------------------------------------------
@dataclass(frozen=True)
class ResultFilters:
    """Filters of `list_results` (all optional)."""

    cls: str | None = None
    county_code: str | None = None
    division_code: str | None = None
    industry_prefix: str | None = None
    above_scale: bool | None = None
    name_contains: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    vetoed: bool | None = None


def filtered_results(
    wh: Warehouse,
    run_id: str,
    scope: Scope = EVERYTHING,
    filters: ResultFilters | None = None,
    text: str = "",
) -> ibis.Table:
    """A run's results in `scope` that pass `filters` and the search `text` (part of the name
    or of the credit code), with 亩均税收 and 亩均增加值: the one definition of "the rows on
    screen" that the list, its Excel download and its summary share."""
    f = filters or ResultFilters()
    t = results(wh, run_id, scope)
    t = t.mutate(
        tax_per_mu=t.tax_paid / t.land_mu.nullif(0),
        value_added_per_mu=t.value_added / t.land_mu.nullif(0),
    )
    conds = []
    if f.cls:
        conds.append(t["class"] == f.cls)
    if f.county_code:
        conds.append(t.county_code == f.county_code)
    if f.division_code:
        conds.append(t.division_code == f.division_code)
    if f.industry_prefix:
        conds.append(t.industry_code.startswith(f.industry_prefix))
    if f.above_scale is not None:
        conds.append(t.above_scale == f.above_scale)
    if f.name_contains:
        conds.append(t.name.contains(f.name_contains))
    if f.min_score is not None:
        conds.append(t.total_score >= f.min_score)
    if f.max_score is not None:
        conds.append(t.total_score <= f.max_score)
    if f.vetoed is not None:
        conds.append(t.veto_reason.notnull() if f.vetoed else t.veto_reason.isnull())
    if text:
        conds.append(t.name.contains(text) | t.credit_code.contains(text.upper()))
    return t.filter(*conds) if conds else t


def sort_keys(t: ibis.Table, sort: str) -> list[Any]:
    """The order of a list: `sort` (a column, '-' for descending), ties by credit code (once:
    sorting by the credit code itself needs no tie-break)."""
    column = sort.lstrip("-")
    key = ibis.desc(t[column]) if sort.startswith("-") else t[column]
    return [key] if column == "credit_code" else [key, t.credit_code]


def list_results(
    wh: Warehouse,
    run_id: str,
    scope: Scope = EVERYTHING,
    filters: ResultFilters | Mapping[str, Any] | None = None,
    sort: str = "-total_score",
    page: int = 1,
    page_size: int = 50,
) -> dict[str, Any]:
    """One page of results: {"total", "page", "page_size", "rows"}. `sort` is a column of
    SORTABLE, with a leading '-' for descending; ties break on the credit code."""
    f = filters if isinstance(filters, ResultFilters) else ResultFilters(**dict(filters or {}))
    t = filtered_results(wh, run_id, scope, f).drop("tax_per_mu", "value_added_per_mu")
    column = sort.lstrip("-")
    if column not in SORTABLE:
        raise ValueError(f"不能按 {column!r} 排序；可用：{', '.join(SORTABLE)}")
    page, page_size = max(1, int(page)), min(max(1, int(page_size)), 500)
    total = int(wh.execute(t.count()))
    rows = _records(wh, t.order_by(sort_keys(t, sort)).limit(page_size, offset=(page - 1) * page_size))
    return {"total": total, "page": page, "page_size": page_size, "rows": rows}


def scores(wh: Warehouse, run_id: str, credit_code: str, scope: Scope = EVERYTHING) -> list[dict[str, Any]]:
    """Per-indicator rows of one enterprise in one run (empty outside the scope)."""
    visible = results(wh, run_id, scope).filter(ibis._.credit_code == credit_code).select("credit_code")
    s = stored_scores(wh, run_id, credit_code).semi_join(visible, "credit_code")
    system = run_system(wh, run_id)
    order = {ind.id: k for k, ind in enumerate(system.indicators)}
    rows = _records(wh, s.drop("run_id"))
    for row in rows:
        ind = system.indicator(row["indicator"])
        row.update(name=ind.name, unit=ind.unit, direction=ind.direction)
    return sorted(rows, key=lambda r: order[r["indicator"]])


def enterprise_profile(wh: Warehouse, credit_code: str, scope: Scope = EVERYTHING) -> dict[str, Any] | None:
    """An enterprise's evaluation history (latest run per system and year) and latest scores;
    None when it has none or is outside the scope."""
    if not wh.has_table("eval_results"):
        return None
    t = scope.restrict(wh.table("eval_results"))
    t = t.filter(t.credit_code == credit_code).join(
        wh.table("eval_runs").select("run_id", "system", "title", "year", "created_at"), "run_id"
    )
    rn = ibis.row_number().over(
        group_by=["system", "year"], order_by=[ibis.desc(t.created_at), ibis.desc(t.run_id)]
    )
    t = t.mutate(__rn=rn).filter(ibis._.__rn == 0).drop("__rn")
    history = _records(wh, t.order_by(["year", "system"]))
    if not history:
        return None
    latest = history[-1]
    return {
        "credit_code": credit_code,
        "name": latest["name"],
        "county_code": latest["county_code"],
        "industry_code": latest["industry_code"],
        "history": history,
        "latest": latest,
        "scores": scores(wh, latest["run_id"], credit_code, scope),
    }


# ---- aggregates ----------------------------------------------------------------------------------
def _class_columns(t: ibis.Table, system: System) -> dict[str, ibis.Value]:
    return {f"class_{c.replace('+', 'plus')}": (t["class"] == c).sum() for c in system.classes.all_classes}


@cached_read
def class_counts(
    wh: Warehouse,
    run_id: str,
    scope: Scope = EVERYTHING,
    by: Literal["county", "city", "province"] = "county",
    filters: ResultFilters | None = None,
    text: str = "",
) -> list[dict[str, Any]]:
    """Per county (or city, or the whole scope): enterprises, counts by class, and 亩均税收 and
    亩均增加值 as sum over sum (万元/亩); of the rows that pass `filters` and `text` (see
    `filtered_results`) when given."""
    system = run_system(wh, run_id)
    t = filtered_results(wh, run_id, scope, filters, text).drop("tax_per_mu", "value_added_per_mu")
    keys = {"county": ["county_code"], "city": ["city_code"], "province": []}[by]
    lead = t.filter(t.is_lead)
    counts = (
        t.group_by(keys).aggregate(enterprises=t.count(), **_class_columns(t, system))
        if keys
        else (t.aggregate(enterprises=t.count(), **_class_columns(t, system)))
    )
    money_metrics = {
        "units": lead.count(),
        "land_mu": lead.land_mu.sum(),
        "tax_paid": lead.tax_paid.sum(),
        "value_added": lead.value_added.sum(),
        "mean_score": lead.total_score.mean(),
    }
    money = lead.group_by(keys).aggregate(**money_metrics) if keys else lead.aggregate(**money_metrics)
    out = counts.join(money, keys) if keys else counts.cross_join(money)
    out = out.mutate(
        tax_per_mu=out.tax_paid / out.land_mu.nullif(0),
        value_added_per_mu=out.value_added / out.land_mu.nullif(0),
    )
    if by == "county":
        names = division_table().select("county_code", "county_name")
        out = out.left_join(names, out.county_code == names.county_code).drop("county_code_right")
    elif by == "city":
        names = division_table().select("city_code", "city_name").distinct()
        out = out.left_join(names, out.city_code == names.city_code).drop("city_code_right")
    return _records(wh, out.order_by(keys) if keys else out)


RankMeasure = Literal["tax_per_mu", "value_added_per_mu", "mean_score", "a_share"]


@cached_read
def county_ranking(
    wh: Warehouse, run_id: str, scope: Scope = EVERYTHING, by: RankMeasure = "tax_per_mu"
) -> list[dict[str, Any]]:
    """The counties in scope (all 90 for the province, those without results last) ranked by
    亩均税收, 亩均增加值, mean score or share of class A."""
    system = run_system(wh, run_id)
    top = system.classes.order[0]
    t = results(wh, run_id, scope)
    lead = t.filter(t.is_lead)
    per = lead.group_by("county_code").aggregate(
        units=lead.count(),
        land_mu=lead.land_mu.sum(),
        tax_paid=lead.tax_paid.sum(),
        value_added=lead.value_added.sum(),
        mean_score=lead.total_score.mean(),
    )
    counts = t.group_by("county_code").aggregate(
        enterprises=t.count(), a_count=(t["class"].isin([top, "A+"])).sum(), **_class_columns(t, system)
    )
    per = per.join(counts, "county_code")
    per = per.mutate(
        tax_per_mu=per.tax_paid / per.land_mu.nullif(0),
        value_added_per_mu=per.value_added / per.land_mu.nullif(0),
        a_share=per.a_count / per.enterprises.nullif(0),
    )
    counties = division_table()
    counties = counties.limit(0) if scope.pinned else scope.restrict(counties, code_column=None)
    out = counties.left_join(per, counties.county_code == per.county_code).drop("county_code_right")
    measure = out[by]
    rank = ibis.row_number().over(order_by=[measure.isnull(), ibis.desc(measure), out.county_code]) + 1
    out = out.mutate(rank=ibis.ifelse(measure.isnull(), ibis.null("int64"), rank.cast("int64")))
    return _records(wh, out.order_by([out.rank.isnull(), "rank", "county_code"]))


def key_industries(system: System, key: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """Key industries for the leader lists: name → industry code prefixes (chains by default)."""
    if key is not None:
        return {name: list(codes) for name, codes in key.items()}
    from jingxin.reference import chains

    conf = system.leaders
    out = {name: list(codes) for name, codes in conf.industries.items()}
    for chain in chains():
        if conf.chains == "all" or chain.id in conf.chains:
            out.setdefault(chain.name, list(chain.industry_codes))
    return out


@cached_read
def leaders(
    wh: Warehouse,
    run_id: str,
    scope: Scope = EVERYTHING,
    key: Mapping[str, Sequence[str]] | None = None,
    top_n: int | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """亩均效益领跑者: the top N enterprises (by total score) of each key industry in scope.

    An enterprise may lead in several chains. `key` maps a name to industry code prefixes
    (e.g. {"智能电气": ["382", "383"]}); by default the system's `leaders` (the ten chains).
    """
    system = run_system(wh, run_id)
    n = top_n or system.leaders.top_n
    t = results(wh, run_id, scope)
    parts = []
    for name, codes in key_industries(system, key).items():
        digits = [c for c in codes if c.isdigit()]
        if not digits:
            continue
        part = t.filter(industry_filter(t.industry_code, digits)).mutate(key_industry=ibis.literal(name))
        parts.append(part)
    if not parts:
        return {}
    u = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    rn = (
        ibis.row_number().over(group_by="key_industry", order_by=[ibis.desc(u.total_score), u.credit_code])
        + 1
    )
    u = u.mutate(leader_rank=rn).filter(ibis._.leader_rank <= n)
    cols = [
        "key_industry",
        "leader_rank",
        "credit_code",
        "name",
        "county_code",
        "industry_code",
        "total_score",
        "class",
        "land_mu",
        "tax_paid",
        "value_added",
    ]
    rows = _records(wh, u.select(*cols).order_by(["key_industry", "leader_rank"]))
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in key_industries(system, key)}
    for row in rows:
        out[row["key_industry"]].append(row)
    return out


@cached_read
def leading_parks(
    wh: Warehouse,
    year: int,
    scope: Scope = EVERYTHING,
    *,
    system: str = "zhejiang_parks",
    kind: str | None = None,
    top_n: int = 10,
) -> list[dict[str, Any]]:
    """Leading development zones and parks (领跑园区) of the latest park run for `year`."""
    if not wh.has_table("eval_park_results") or scope.pinned:
        return []
    run = latest_run(wh, year, system, scope)
    if run is None:
        return []
    t = park_results(wh, run["run_id"], scope)
    if kind:
        t = t.filter(t.kind == kind)
    t = t.mutate(
        tax_per_mu=t.tax_paid / t.land_mu.nullif(0), value_added_per_mu=t.value_added / t.land_mu.nullif(0)
    )
    return _records(wh, t.order_by([ibis.desc(t.total_score), t.park_id]).limit(top_n))


@cached_read
def run_info(wh: Warehouse, run_id: str, scope: Scope = EVERYTHING) -> dict[str, Any]:
    """A run's metadata with class labels; KeyError when unknown or not visible in `scope`."""
    run = load_run(wh, run_id)
    if not scope.covers_province:
        # the scoped row: visible at all, and with the counts inside the scope
        found = [r for r in runs(wh, scope, year=run["year"]) if r["run_id"] == run_id]
        if not found:
            raise KeyError(f"没有评价批次 {run_id}")
        run = found[0]
    elif isinstance(run.get("created_at"), datetime) and run["created_at"].tzinfo is None:
        run = {**run, "created_at": run["created_at"].replace(tzinfo=UTC)}
    system = run_system(wh, run_id)
    return {
        **{k: run[k] for k in _RUN_COLUMNS},
        "classes": {c: system.classes.label(c) for c in system.classes.all_classes},
    }
