"""What the evaluation pages and API show, built once for both (页面与接口共用的数据组装).

Each function takes the user's `Scope` (which rows) and `Visibility` (which figures, see
`jingxin.core.visibility`) and calls `service`, `dashboard` and `explain`; pages render the
result, the API returns it. Nothing here filters rows on its own, and every figure a role may
not see is withheld here or below, never in a template.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import HTTPException

from jingxin import reference
from jingxin.core.audit import MASK
from jingxin.core.scope import Scope
from jingxin.core.visibility import Visibility
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation import charts, dashboard, service
from jingxin.evaluation.dashboard import MAP_MEASURES, RegionView, RunChoice
from jingxin.evaluation.explain import explain, fmt, withheld_indicators
from jingxin.evaluation.export import ExportQuery
from jingxin.evaluation.params import RANK_LABELS, SORT_LABELS, describe_filters
from jingxin.evaluation.runs import run_system
from jingxin.evaluation.service import ResultFilters

SENSITIVE_RESULT_FIELDS = ("tax_paid", "tax_per_mu")
"""The sensitive fields a result shows (recorded in the audit log when a cleared user sees them)."""


def not_found(message: str = "评价结果不存在或不在您的数据范围内") -> HTTPException:
    return HTTPException(status_code=404, detail=message)


def bad_request(message: str) -> HTTPException:
    return HTTPException(status_code=400, detail=message)


def division_name(code: str | None) -> str:
    if not code:
        return ""
    try:
        return reference.division(code).name
    except KeyError:
        return code


def choose(
    wh: Warehouse, scope: Scope, year: int | None, system: str | None, run_id: str | None = None
) -> RunChoice:
    """The run a request asks for (by id, or by year and system), checked against the scope."""
    if run_id:
        try:
            info = service.run_info(wh, run_id, scope)
        except KeyError:
            raise not_found("评价批次不存在或不在您的数据范围内") from None
        choice = dashboard.choose_run(wh, scope, int(info["year"]), info["system"])
        return RunChoice(info, int(info["year"]), info["system"], choice.years, choice.systems)
    return dashboard.choose_run(wh, scope, year, system)


def run_or_404(choice: RunChoice) -> dict[str, Any]:
    if choice.run is None:
        raise not_found("没有符合条件的评价结果")
    return choice.run


def class_labels(wh: Warehouse, run_id: str) -> dict[str, str]:
    rule = run_system(wh, run_id).classes
    return {c: rule.label(c) for c in rule.all_classes}


def result_row(row: dict[str, Any], vis: Visibility) -> dict[str, Any]:
    """One result row as shown: withheld figures masked, the county's name added."""
    out = vis.row(row)
    out["county_name"] = division_name(row.get("county_code"))
    return out


def _with_per_mu(row: dict[str, Any]) -> dict[str, Any]:
    """One result row with its 亩均税收 and 亩均增加值 (the list query computes them in SQL)."""
    land = row.get("land_mu") or 0.0
    out = dict(row)
    for key, base in (("tax_per_mu", "tax_paid"), ("value_added_per_mu", "value_added")):
        out[key] = row[base] / land if land and row.get(base) is not None else None
    return out


# ---- results list ------------------------------------------------------------------------------
def sort_labels(vis: Visibility) -> dict[str, str]:
    """The orders the results page offers this user (none by a figure they may not see)."""
    return {k: v for k, v in SORT_LABELS.items() if vis.sort_allowed(k)}


def default_sort(vis: Visibility) -> str:
    return "-total_score" if vis.sort_allowed("-total_score") else "class"


@dataclass(frozen=True)
class ListQuery:
    """The question of a results list (and of its download): filters, search, order."""

    filters: ResultFilters
    q: str | None
    sort: str

    def download_query(self, choice: RunChoice) -> str:
        """The query string of the list's Excel download: the same rows as on screen."""
        f = self.filters
        pairs = {
            "year": choice.year,
            "system": choice.system,
            "county": f.county_code,
            "division": f.division_code,
            "cls": f.cls,
            "scale": None if f.above_scale is None else ("above" if f.above_scale else "below"),
            "q": self.q or None,
            "sort": self.sort,
        }
        return urlencode({k: v for k, v in pairs.items() if v is not None and v != ""})


def find(
    wh: Warehouse, run_id: str, scope: Scope, vis: Visibility, query: ListQuery, page: int, page_size: int
) -> dict[str, Any]:
    """One page of results as shown (404 for a county outside the scope, 400 for an order by
    a withheld figure)."""
    try:
        found = dashboard.find_results(
            wh, run_id, scope, query.filters, query.q, query.sort, page, page_size, visibility=vis
        )
    except dashboard.NotInScope:
        raise not_found("所选区县不在您的数据范围内") from None
    except dashboard.SortNotAllowed as exc:
        raise bad_request(str(exc)) from None
    found["rows"] = [result_row(r, vis) for r in found["rows"]]
    return found


def export_query(query: ListQuery, vis: Visibility) -> ExportQuery:
    if not vis.sort_allowed(query.sort):
        raise bad_request("您的角色无权查看该排序字段，不能按其排序")
    return ExportQuery(
        filters=query.filters,
        text=(query.q or "").strip(),
        sort=query.sort,
        visibility=vis,
        described=describe_filters(query.filters, query.q, division_name),
    )


# ---- explanation and policies --------------------------------------------------------------------
def policy_lines(row: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The differentiated policies (差别化政策) a result brings, one line per policy; they follow
    from the class alone, so every role that sees the class sees them."""
    if row is None:
        return []
    relief = row.get("land_tax_relief_pct")
    surcharge = row.get("power_surcharge_yuan_per_kwh")
    quota = row.get("energy_quota_change_pct")
    years = row.get("consecutive_d_years") or 0
    priority = [name for name, key in (("用地", "priority_land"), ("资金", "priority_funds")) if row.get(key)]
    if quota and quota < 0:
        quota_text = f"用能指标调减{fmt(abs(quota))}%"
    elif quota and quota > 0:
        quota_text = f"用能指标增加{fmt(quota)}%"
    else:
        quota_text = "不调整"
    return [
        {
            "item": "城镇土地使用税减免",
            "effect": f"减免{fmt(relief)}%" if relief else "不享受减免",
            "applies": bool(relief),
        },
        {
            "item": "差别化电价",
            "effect": (
                f"每千瓦时加价{fmt(surcharge)}元（已连续{years}年评为{row.get('class')}类）"
                if surcharge
                else "不加价"
            ),
            "applies": bool(surcharge),
        },
        {"item": "用能指标", "effect": quota_text, "applies": bool(quota)},
        {
            "item": "要素优先保障",
            "effect": ("在" + "、".join(priority) + "等要素配置上优先保障") if priority else "无",
            "applies": bool(priority),
        },
    ]


# ---- profile -------------------------------------------------------------------------------------
def build_profile(
    wh: Warehouse, scope: Scope, credit_code: str, vis: Visibility, run_id: str | None = None
) -> dict[str, Any] | None:
    """Everything the 企业画像 shows, for the user's visibility; None when the enterprise has
    neither a registry row nor a result inside the scope."""
    master = dashboard.enterprise_master(wh, credit_code, scope)
    profile = service.enterprise_profile(wh, credit_code, scope)
    if master is None and profile is None:
        return None
    history = profile["history"] if profile else []
    run_ids = [h["run_id"] for h in history]
    if run_id is not None and run_id not in run_ids:
        return None
    chosen = run_id or (profile["latest"]["run_id"] if profile else None)
    result = next((h for h in history if h["run_id"] == chosen), None)
    run = None
    exp = None
    if chosen is not None:
        run = service.run_info(wh, chosen, scope)
        exp = explain(wh, chosen, credit_code, scope, vis)
    years = {h["run_id"]: int(h["year"]) for h in history}
    indicators = []
    names: dict[str, tuple[str, str]] = {}
    if result is not None:
        system = run_system(wh, result["run_id"])
        names = {i.id: (i.name, i.unit) for i in system.indicators}
        hidden = withheld_indicators(system, vis)
        same_system = [h["run_id"] for h in history if h["system"] == result["system"]]
        for row in dashboard.indicator_history(wh, credit_code, scope, same_system):
            name, unit = names.get(row["indicator"], (row["indicator"], ""))
            withheld = row["indicator"] in hidden
            indicators.append(
                {
                    "run_id": row["run_id"],
                    "year": years[row["run_id"]],
                    "indicator": row["indicator"],
                    "name": name,
                    "unit": unit,
                    "value": MASK if withheld else row["value"],
                    "score": MASK if withheld else row["score"],
                    "weight": row["weight"],
                }
            )
        order = list(names)
        indicators.sort(
            key=lambda r: (order.index(r["indicator"]) if r["indicator"] in order else 99, r["year"])
        )
    explanation = None
    if exp is not None:
        explanation = exp.to_dict()
        explanation["class"] = explanation.pop("cls")
    return {
        "credit_code": credit_code,
        "master": master,
        "land": dashboard.enterprise_land(wh, credit_code, scope),
        "run": run,
        "result": result_row(_with_per_mu(result), vis) if result else None,
        "explanation": explanation,
        "history": [vis.row(h) for h in history],
        "indicators": indicators,
        "indicator_names": names,
        "policies": policy_lines(result),
        "masked": vis.masked,
    }


def indicator_table(profile: dict[str, Any]) -> tuple[list[int], list[dict[str, Any]]]:
    """Indicators over the years as rows of {name, unit, by_year: {year: value}}."""
    years = sorted({r["year"] for r in profile["indicators"]})
    rows: dict[str, dict[str, Any]] = {}
    for r in profile["indicators"]:
        row = rows.setdefault(
            r["indicator"], {"indicator": r["indicator"], "name": r["name"], "unit": r["unit"], "by_year": {}}
        )
        row["by_year"][r["year"]] = r
    return years, list(rows.values())


# ---- ranking and leaders -------------------------------------------------------------------------
def default_measure(vis: Visibility) -> str:
    return "tax_per_mu" if vis.measure_allowed("tax_per_mu") else "value_added_per_mu"


def ranking(wh: Warehouse, run_id: str, scope: Scope, vis: Visibility, by: str) -> list[dict[str, Any]]:
    """The counties in scope ranked by `by` (400 when `by` is a figure the user may not see)."""
    if not vis.measure_allowed(by):
        raise bad_request(f"您的角色无权查看{RANK_LABELS.get(by, by)}，不能按其排名")
    labels = class_labels(wh, run_id)
    rows = []
    for row in service.county_ranking(wh, run_id, scope, by=by):  # type: ignore[arg-type]
        row = vis.region(row)
        row["classes"] = {c: int(row.get(f"class_{dashboard.class_key(c)}") or 0) for c in labels}
        rows.append(row)
    return rows


def leaders(
    wh: Warehouse, run_id: str, scope: Scope, vis: Visibility, top_n: int | None = None
) -> dict[str, list[dict[str, Any]]]:
    """亩均效益领跑者 per key industry; none for a role that may not see the totals they are
    ranked by (a leader list is an order by total score)."""
    if vis.withholds("leader_rank"):
        return {}
    groups = service.leaders(wh, run_id, scope, top_n=top_n)
    return {
        name: [{**row, "county_name": division_name(row.get("county_code"))} for row in items]
        for name, items in groups.items()
    }


def leading_parks(wh: Warehouse, year: int, scope: Scope, vis: Visibility) -> list[dict[str, Any]]:
    if vis.withholds("rank_in_province"):
        return []
    return service.leading_parks(wh, year, scope)


# ---- dashboard (shared with the home page) -------------------------------------------------------
def dashboard_data(
    wh: Warehouse,
    scope: Scope,
    region_code: str | None,
    year: int | None,
    system: str | None,
    vis: Visibility,
) -> dict[str, Any]:
    """The home dashboard of a region inside the scope (NotInScope when it is not)."""
    region: RegionView = dashboard.region_view(scope, region_code)
    choice = dashboard.choose_run(wh, region.scope, year, system)
    data: dict[str, Any] = {
        "region": {
            "code": region.code,
            "name": region.name,
            "level": region.level,
            "parent": region.parent,
            "children": region.children,
        },
        "choice": choice,
        "run": choice.run,
        "headline": None,
        "classes": [],
        "regions": [],
        "trend": [],
        "geo_url": f"/api/v1/geo/{region.code}",
    }
    if choice.run is None or choice.system is None or choice.year is None:
        return data
    run_id = choice.run["run_id"]
    points_ = dashboard.trend(wh, region.scope, choice.system)
    labels = class_labels(wh, run_id)
    now = next((p for p in points_ if p["year"] == choice.year), None)
    counts: dict[str, int] = now["classes"] if now else {}
    total = now["enterprises"] if now else 0
    headline = dashboard.headline(points_, choice.year)
    data.update(
        headline=vis.region(headline) if headline else None,
        trend=[vis.region(p) for p in points_],
        regions=[vis.region(r) for r in dashboard.map_values(wh, run_id, region)],
        classes=[
            {
                "class": c,
                "label": label,
                "count": counts.get(c, 0),
                "share": counts.get(c, 0) / total if total else None,
            }
            for c, label in labels.items()
        ],
    )
    return data


def dashboard_context(data: dict[str, Any], measure: str, vis: Visibility) -> dict[str, Any]:
    """What the dashboard template needs beyond the data: charts and the map's settings."""
    choice: RunChoice = data["choice"]
    region = data["region"]
    query = {k: v for k, v in (("year", choice.year), ("system", choice.system)) if v is not None}
    suffix = ("&" + urlencode(query)) if query else ""
    drill = (
        {"level": "city", "url": "/?region={code}" + suffix}
        if region["children"] == "city"
        else {"level": "county", "url": "/evaluation?county={code}" + suffix}
    )
    measures = {k: v for k, v in MAP_MEASURES.items() if vis.measure_allowed(k)}
    default = "tax_per_mu" if "tax_per_mu" in measures else "value_added_per_mu"
    order = default

    def key(g: dict[str, Any]) -> tuple[bool, float]:
        value = g.get(order)
        return (not isinstance(value, (int, float)), -(value if isinstance(value, (int, float)) else 0.0))

    return {
        "classes_chart": charts.classes_chart(data["classes"]),
        "trend_chart": charts.trend_chart(data["trend"]),
        "map_config": {
            "geo_url": data["geo_url"],
            "map_name": f"region-{region['code']}",
            "measure": measure if measure in measures else default,
            "measures": {k: {"name": n, "unit": u} for k, (n, u) in measures.items()},
            "regions": data["regions"],
            "drill": drill,
        },
        "measures": measures,
        "query": query,
        "regions_sorted": sorted(data["regions"], key=key),
    }
