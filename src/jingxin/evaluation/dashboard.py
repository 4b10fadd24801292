"""What the dashboard, the results page and the enterprise profile need beyond `service.py`
(首页看板、评价结果查询、企业画像的数据访问).

Like `service.py`, every function takes the user's `Scope` and reads through `scope.restrict`
(or `Scope.allows_*` for a single region), so pages and API routes never filter on their own.
A region, county filter or map boundary outside the scope raises `NotInScope`, which the
routes turn into 404: the answer is the same whether the object exists elsewhere or not, so a
county analyst cannot probe for other counties' enterprises.

Aggregates are sums over sums (合计口径) over the lead row of each merged parcel unit, as in
`service.class_counts`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import ibis
import pyarrow as pa

from jingxin.core.cache import cached_read, cached_table
from jingxin.core.scope import Scope
from jingxin.core.visibility import FULL, Visibility
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation import service
from jingxin.evaluation.runs import run_system
from jingxin.evaluation.service import ResultFilters
from jingxin.evaluation.stored import stored_scores

PROVINCE = "330000"
PREFERRED_SYSTEM = "zhejiang_industry_above"

RESULT_SORTS: tuple[str, ...] = (*service.SORTABLE, "value_added_per_mu")
"""Columns the results list may be sorted by (亩均税收 is left out: ordering by a masked figure
would reveal it to roles without clearance)."""

MapMeasure = Literal["tax_per_mu", "value_added_per_mu", "a_share", "enterprises"]
MAP_MEASURES: dict[str, tuple[str, str]] = {
    # measure -> (Chinese name, unit)
    "tax_per_mu": ("亩均税收", "万元/亩"),
    "value_added_per_mu": ("亩均增加值", "万元/亩"),
    "a_share": ("A类占比", "%"),
    "enterprises": ("参评企业数", "家"),
}


class NotInScope(LookupError):
    """The object does not exist or lies outside the user's scope (answered as 404)."""


def _records(wh: Warehouse, expr: ibis.Table) -> list[dict[str, Any]]:
    rows = wh.to_pyarrow(expr).to_pylist()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, float) and value != value:
                row[key] = None
    return rows


def class_key(cls: str) -> str:
    """The column suffix `service.class_counts` uses for a class (A+ → Aplus)."""
    return cls.replace("+", "plus")


# ---- runs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunChoice:
    """The run a page shows and what the year and system selectors offer.

    Only enterprise-level runs (企业评价) are offered; park runs appear in the leader lists.
    """

    run: dict[str, Any] | None
    year: int | None
    system: str | None
    years: list[int] = field(default_factory=list)
    systems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def run_id(self) -> str | None:
        return self.run["run_id"] if self.run else None


@cached_read
def enterprise_runs(wh: Warehouse, scope: Scope) -> list[dict[str, Any]]:
    """Enterprise-level runs visible in `scope`, newest first."""
    return [r for r in service.runs(wh, scope) if r["level"] != "park"]


def choose_run(wh: Warehouse, scope: Scope, year: int | None = None, system: str | None = None) -> RunChoice:
    """The newest visible run of `system` for `year`; missing choices default to the newest
    year and to 规上 (the provincial headline system) when it has a run that year."""
    visible = enterprise_runs(wh, scope)
    if not visible:
        return RunChoice(None, year, system)
    years = sorted({int(r["year"]) for r in visible}, reverse=True)
    titles: dict[str, str] = {}
    for r in visible:
        titles.setdefault(r["system"], r["title"])
    systems = sorted(titles.items(), key=lambda kv: (kv[0] != PREFERRED_SYSTEM, kv[0]))
    if year is None:
        with_system = [int(r["year"]) for r in visible if system is None or r["system"] == system]
        year = max(with_system) if with_system else years[0]
    if system is None:
        in_year = {r["system"] for r in visible if int(r["year"]) == year}
        system = next((s for s, _ in systems if s in in_year), systems[0][0])
    run = next((r for r in visible if int(r["year"]) == year and r["system"] == system), None)
    return RunChoice(run, year, system, years, systems)


@cached_read
def latest_runs_by_year(wh: Warehouse, scope: Scope, system: str) -> dict[int, dict[str, Any]]:
    """year → the newest visible run of `system` that year."""
    out: dict[int, dict[str, Any]] = {}
    for r in service.runs(wh, scope, system=system):  # newest first
        out.setdefault(int(r["year"]), r)
    return dict(sorted(out.items()))


# ---- regions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegionView:
    """A region the dashboard looks at and the narrower scope that covers exactly it."""

    code: str
    name: str
    level: str  # province | city | county
    scope: Scope
    parent: str | None  # the region one level up, when the user may see it
    children: str | None  # city | county: what the map shows; None for a county

    @property
    def map_level(self) -> str:
        return self.children or "county"


def region_view(scope: Scope, code: str | None = None) -> RegionView:
    """The region `code` (default: the user's own division) if the user may see all of it.

    Enterprise users and service staff see enterprises, not regions: NotInScope for them.
    """
    from jingxin.reference import division

    if scope.pinned:
        raise NotInScope("企业与驻企服务员账号没有区域汇总")
    code = code or scope.division or PROVINCE
    if not scope.allows_division(code):
        raise NotInScope(f"区划 {code} 不在数据范围内")
    try:
        region = division(code)
    except KeyError:
        raise NotInScope(f"没有区划 {code}") from None
    if region.level == "province":
        children: str | None = "city"
    elif region.level == "city":
        children = "county"
    else:
        children = None
    parent = region.parent_code if region.parent_code and scope.allows_division(region.parent_code) else None
    return RegionView(region.code, region.name, region.level, Scope(division=region.code), parent, children)


def counties_in_scope(scope: Scope) -> list[Any]:
    """The counties (reference divisions) a user may filter by, in code order."""
    from jingxin.reference import counties

    return [c for c in counties() if scope.allows_division(c.code)]


@lru_cache(maxsize=128)
def _geo_payload(code: str) -> tuple[bytes, str]:
    from jingxin.reference.geo import boundaries

    body = json.dumps(boundaries(code), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return body, hashlib.sha256(body).hexdigest()[:24]


def geo_json(scope: Scope, code: str) -> tuple[bytes, str]:
    """The boundaries under region `code` (cities of the province, counties of a city, or the
    county itself) as GeoJSON bytes and an ETag; serialised once per code and kept, since the
    boundaries never change while the server runs."""
    region_view(scope, code)
    return _geo_payload(code)


# ---- dashboard -------------------------------------------------------------------------------
@cached_read
def trend(wh: Warehouse, scope: Scope, system: str) -> list[dict[str, Any]]:
    """Per year (newest run of `system` each year): enterprises, counts by class, land, tax,
    value added and the per-mu figures as sums over sums, in one query."""
    chosen = latest_runs_by_year(wh, scope, system)
    if not chosen:
        return []
    newest = chosen[max(chosen)]
    classes = run_system(wh, newest["run_id"]).classes.all_classes
    runs = wh.table("eval_runs")
    runs = runs.filter(runs.run_id.isin([r["run_id"] for r in chosen.values()])).select("run_id", "year")
    t = scope.restrict(wh.table("eval_results")).join(runs, "run_id")
    lead = t.filter(t.is_lead)
    money = lead.group_by("year").aggregate(
        units=lead.count(),
        land_mu=lead.land_mu.sum(),
        tax_paid=lead.tax_paid.sum(),
        value_added=lead.value_added.sum(),
    )
    counts = t.group_by("year").aggregate(
        enterprises=t.count(), **{f"class_{class_key(c)}": (t["class"] == c).sum() for c in classes}
    )
    out = counts.join(money, "year")
    out = out.mutate(
        tax_per_mu=out.tax_paid / out.land_mu.nullif(0),
        value_added_per_mu=out.value_added / out.land_mu.nullif(0),
    )
    rows = _records(wh, out.order_by("year"))
    for row in rows:
        row["year"] = int(row["year"])
        row["run_id"] = chosen[row["year"]]["run_id"]
        row["classes"] = {c: int(row.pop(f"class_{class_key(c)}") or 0) for c in classes}
    return rows


def _change(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or before == 0:
        return None
    return now / before - 1


def headline(points: Sequence[dict[str, Any]], year: int) -> dict[str, Any] | None:
    """亩均税收 and 亩均增加值 of `year` with the change on the year before (None if absent)."""
    by_year = {p["year"]: p for p in points}
    now = by_year.get(year)
    if now is None:
        return None
    before = by_year.get(year - 1)
    return {
        "year": year,
        "enterprises": now["enterprises"],
        "units": now["units"],
        "land_mu": now["land_mu"],
        "tax_per_mu": now["tax_per_mu"],
        "value_added_per_mu": now["value_added_per_mu"],
        "prev_year": year - 1 if before else None,
        "prev_tax_per_mu": before["tax_per_mu"] if before else None,
        "prev_value_added_per_mu": before["value_added_per_mu"] if before else None,
        "tax_per_mu_change": _change(now["tax_per_mu"], before["tax_per_mu"]) if before else None,
        "value_added_per_mu_change": (
            _change(now["value_added_per_mu"], before["value_added_per_mu"]) if before else None
        ),
    }


@cached_read
def map_values(wh: Warehouse, run_id: str, region: RegionView) -> list[dict[str, Any]]:
    """Per city (province view) or county (city or county view) inside `region`: the four map
    measures (亩均税收, 亩均增加值, A类占比, 企业数)."""
    system = run_system(wh, run_id)
    top = [c for c in system.classes.all_classes if c in ("A+", system.classes.order[0])]
    by: Literal["city", "county"] = "city" if region.children == "city" else "county"
    rows = service.class_counts(wh, run_id, region.scope, by=by)
    out = []
    for row in rows:
        enterprises = int(row["enterprises"] or 0)
        a_count = sum(int(row.get(f"class_{class_key(c)}") or 0) for c in top)
        out.append(
            {
                "code": row[f"{by}_code"],
                "name": row.get(f"{by}_name") or row[f"{by}_code"],
                "enterprises": enterprises,
                "tax_per_mu": row["tax_per_mu"],
                "value_added_per_mu": row["value_added_per_mu"],
                "a_share": a_count / enterprises if enterprises else None,
            }
        )
    return out


# ---- results list ----------------------------------------------------------------------------
class SortNotAllowed(ValueError):
    """The list cannot be ordered by that column for this user (answered as 400)."""


def find_results(
    wh: Warehouse,
    run_id: str,
    scope: Scope,
    filters: ResultFilters | None = None,
    q: str | None = None,
    sort: str = "-total_score",
    page: int = 1,
    page_size: int = 50,
    visibility: Visibility = FULL,
) -> dict[str, Any]:
    """One page of a run's results, like `service.list_results`, plus a search that matches
    the name or the credit code (企业名称或统一社会信用代码) and the per-mu figures of each row.

    A county filter outside the scope raises NotInScope rather than answering an empty page,
    so the page says "not yours" instead of "nothing there". An order by a figure the user
    may not see raises SortNotAllowed: the order would reveal it. The whole ordered result set
    of a question is kept in memory (`ordered_results`), so turning pages costs a slice.
    """
    f = filters or ResultFilters()
    if f.county_code and not scope.allows_division(f.county_code):
        raise NotInScope(f"区县 {f.county_code} 不在数据范围内")
    column = sort.lstrip("-")
    if column not in RESULT_SORTS:
        raise SortNotAllowed(f"不能按 {column!r} 排序")
    if not visibility.sort_allowed(sort):
        raise SortNotAllowed(f"您的角色无权查看{SORT_NAMES.get(column, column)}，不能按其排序")
    ordered = ordered_results(wh, run_id, scope, f, (q or "").strip(), sort)
    page, page_size = max(1, int(page)), min(max(1, int(page_size)), 500)
    rows = ordered.slice((page - 1) * page_size, page_size).to_pylist()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, float) and value != value:
                row[key] = None
    return {"total": ordered.num_rows, "page": page, "page_size": page_size, "rows": rows}


SORT_NAMES = {
    "total_score": "综合得分",
    "rank_in_county": "县内排名",
    "rank_in_industry": "县内行业排名",
    "score_change": "得分变化",
}


@cached_table
def ordered_results(
    wh: Warehouse, run_id: str, scope: Scope, f: ResultFilters, text: str, sort: str
) -> pa.Table:
    """Every result row of a run in `scope` that passes the filters and the search, in the
    order asked for (ties by credit code), with 亩均税收 and 亩均增加值."""
    t = service.filtered_results(wh, run_id, scope, f, text)
    return wh.to_pyarrow(t.order_by(service.sort_keys(t, sort)))


@cached_read
def result_divisions(wh: Warehouse, run_id: str, scope: Scope) -> list[tuple[str, str]]:
    """The industry divisions (行业大类) present among a run's results in scope, with names."""
    from jingxin.reference import industry

    t = service.results(wh, run_id, scope)
    codes = sorted(
        str(c) for c in wh.to_pyarrow(t.select("division_code").distinct())["division_code"].to_pylist() if c
    )
    out = []
    for code in codes:
        try:
            out.append((code, industry(code).name))
        except KeyError:
            out.append((code, code))
    return out


def export_workbook(wh: Warehouse, run_id: str, scope: Scope, query: Any = None) -> tuple[Path, int]:
    """The Excel workbook of a run (`export.export_xlsx`) restricted to `scope` and to the
    rows and figures of `query` (an `export.ExportQuery`: the list's filters, search, order
    and the viewer's visibility), and the number of enterprise rows in it (for the audit log).

    The workbook is streamed to a file in a new temporary folder (`path.parent`), never held
    in memory; the caller sends it and removes that folder (`pages.export_response` does)."""
    from jingxin.evaluation.export import ExportQuery, export_xlsx

    q = query or ExportQuery()
    if q.filters.county_code and not scope.allows_division(q.filters.county_code):
        raise NotInScope(f"区县 {q.filters.county_code} 不在数据范围内")
    rows = int(wh.execute(service.filtered_results(wh, run_id, scope, q.filters, q.text).count()))
    folder = Path(tempfile.mkdtemp(prefix="jingxin-export-"))
    try:
        return export_xlsx(wh, run_id, folder / "export.xlsx", scope, q), rows
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


# ---- enterprise profile ----------------------------------------------------------------------
def enterprise_master(wh: Warehouse, credit_code: str, scope: Scope) -> dict[str, Any] | None:
    """The registry row (主体信息) of an enterprise in scope, with division and industry names;
    None when unknown or outside the scope."""
    from jingxin.reference import division, industry

    reg = scope.restrict(wh.current("registry"))
    reg = reg.filter(reg.credit_code == credit_code)
    rows = _records(
        wh,
        reg.select("credit_code", "name", "county_code", "industry_code", "founded_on", "status", "batch_id")
        .order_by(ibis.desc("batch_id"))
        .limit(1),
    )
    if not rows:
        return None
    row = rows[0]
    row.pop("batch_id", None)
    county = city = None
    try:
        county = division(row["county_code"])
        city = division(county.parent_code) if county.parent_code else None
    except KeyError:
        pass
    row["county_name"] = county.name if county else row["county_code"]
    row["city_name"] = city.name if city else ""
    try:
        row["industry_name"] = industry(row["industry_code"]).name
    except KeyError:
        row["industry_name"] = ""
    return row


def enterprise_land(wh: Warehouse, credit_code: str, scope: Scope) -> list[dict[str, Any]]:
    """The land rows (用地) of an enterprise in scope; each holds the area it uses (its share
    of a shared parcel)."""
    land = scope.restrict(wh.current("land"), county_column=None, registry=wh.current("registry"))
    land = land.filter(land.credit_code == credit_code)
    return _records(wh, land.select("parcel_id", "area_mu", "land_use", "acquisition").order_by("parcel_id"))


def indicator_history(
    wh: Warehouse, credit_code: str, scope: Scope, run_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Per run of `run_ids` and indicator: the enterprise's value, reference, weight and score
    (only runs whose result for it lies in the scope)."""
    if not run_ids or not wh.has_table("eval_scores"):
        return []
    ids = list(run_ids)
    visible = scope.restrict(wh.table("eval_results"))
    visible = visible.filter(visible.run_id.isin(ids) & (visible.credit_code == credit_code)).select("run_id")
    s = stored_scores(wh, ids, credit_code).semi_join(visible, "run_id")
    return _records(wh, s.select("run_id", "indicator", "value", "reference", "weight", "score", "missing"))
