"""Pages and API of the 亩均 evaluation (亩均评价).

Pages: /evaluation (results: year and system, filters, sort, search, HTMX table, Excel),
/evaluation/enterprises/{code} (企业画像), /evaluation/mine (an enterprise user's own profile),
/ranking (区县排名 and 领跑者). The home dashboard (jingxin.web.home) uses the same functions.

API under /api/v1: /evaluation/runs, /evaluation/results, /evaluation/results.xlsx,
/evaluation/enterprises/{code}, /evaluation/ranking, /evaluation/leaders, /dashboard and
/geo/{code}.

Pages and API call the same functions (`evaluation.service`, `evaluation.dashboard`,
`evaluation.explain`) with the user's Scope; routes never filter. Anything outside the scope
answers 404, never 403, so a probe cannot tell "exists elsewhere" from "does not exist".
Sensitive fields (税收) go through `audit.mask` for roles without clearance, and every view of
them by a cleared user, and every export, is written to the audit log.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from jingxin import reference
from jingxin.accounts.models import User
from jingxin.core import audit
from jingxin.core.audit import MASK
from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation import dashboard, service
from jingxin.evaluation.dashboard import MAP_MEASURES, NotInScope, RegionView, RunChoice
from jingxin.evaluation.explain import Explanation, explain, fmt, points
from jingxin.evaluation.runs import run_system
from jingxin.evaluation.service import ResultFilters
from jingxin.web.deps import (
    CurrentActor,
    CurrentScope,
    CurrentUser,
    DbSession,
    WarehouseReader,
    require_roles,
)
from jingxin.web.pagination import Pager
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.response_cache import shared_response
from jingxin.web.schemas import Message
from jingxin.web.templating import is_htmx, render

REGION_ROLES = frozenset({*ANALYSTS, Role.ADMIN})
"""Who sees regional figures (dashboard, map, ranking) and may export lists."""
LIST_ROLES = frozenset({*REGION_ROLES, Role.SERVICE_STAFF})
"""Who browses the results list (service staff: the enterprises assigned to them)."""
EVAL_ROLES = frozenset({*LIST_ROLES, Role.ENTERPRISE})
"""Who sees some evaluation result (an enterprise: its own)."""

PER_PAGE = 30
SENSITIVE_RESULT_FIELDS = ("tax_paid", "tax_per_mu")
CLASS_COLOURS = {"A+": "#1d6b3f", "A": "#2f7d4f", "B": "#1e4f91", "C": "#d08c1a", "D": "#b8332b"}

ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": Message}, 403: {"model": Message}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {**ERRORS, 404: {"model": Message}}

pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["亩均评价"])

Year = Annotated[int | None, Query(ge=2000, le=2100, description="数据年度，缺省为最新年度")]
SystemId = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="评价体系，如 zhejiang_industry_above（规上）、zhejiang_industry_below（规下）",
    ),
]
RunId = Annotated[str | None, Query(max_length=100, description="评价批次号；给出时优先于年度和体系")]
DivisionCode = Annotated[str | None, Query(pattern=r"^(\d{6})?$", description="6位区划代码（空为不限）")]
ClassName = Annotated[
    str | None, Query(pattern=r"^(A\+|[ABCD])?$", description="分类：A+、A、B、C、D（空为不限）")
]
IndustryDivision = Annotated[
    str | None, Query(pattern=r"^(\d{2})?$", description="行业大类（2位代码，空为不限）")
]
Scale = Annotated[
    Literal["above", "below", ""] | None, Query(description="above 规上，below 规下（空为不限）")
]
SearchText = Annotated[str | None, Query(max_length=60, description="企业名称或统一社会信用代码（部分）")]
SortKey = Literal[
    "-total_score",
    "total_score",
    "rank_in_county",
    "-rank_in_county",
    "name",
    "credit_code",
    "county_code",
    "industry_code",
    "-land_mu",
    "land_mu",
    "-value_added_per_mu",
    "-score_change",
    "score_change",
    "class",
]
CreditCode = Annotated[
    str, PathParam(min_length=18, max_length=18, pattern=r"^[0-9A-Z]{18}$", description="统一社会信用代码")
]
RankBy = Literal["tax_per_mu", "value_added_per_mu", "mean_score", "a_share"]
RANK_LABELS: dict[str, str] = {
    "tax_per_mu": "亩均税收",
    "value_added_per_mu": "亩均增加值",
    "mean_score": "平均得分",
    "a_share": "A类占比",
}
SORT_LABELS: dict[str, str] = {
    "-total_score": "综合得分（高→低）",
    "total_score": "综合得分（低→高）",
    "rank_in_county": "县内排名",
    "-value_added_per_mu": "亩均增加值（高→低）",
    "-land_mu": "用地面积（大→小）",
    "-score_change": "得分提高最多",
    "score_change": "得分下降最多",
    "name": "企业名称",
    "credit_code": "统一社会信用代码",
}


# ---- response models ----------------------------------------------------------------------
class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class RunOut(_Out):
    """An evaluation run (评价批次)."""

    run_id: str
    system: str
    system_version: str | None = None
    title: str
    level: str | None = None
    year: int
    scope: str | None = Field(None, description="评价范围的区划代码")
    config_hash: str | None = None
    created_at: datetime | None = None
    enterprise_count: int | None = None
    unit_count: int | None = None


MaskedNumber = float | str | None
"""A sensitive figure: the number for cleared roles, "****" otherwise."""


class ResultOut(_Out):
    """One enterprise's result in a run. Sensitive fields are "****" without clearance."""

    credit_code: str
    name: str | None = None
    county_code: str | None = None
    county_name: str | None = None
    city_code: str | None = None
    industry_code: str | None = None
    division_code: str | None = None
    above_scale: bool | None = None
    unit_id: str | None = None
    member_count: int | None = None
    land_mu: float | None = None
    tax_paid: MaskedNumber = Field(None, description="实缴税收（万元），敏感字段")
    tax_per_mu: MaskedNumber = Field(None, description="亩均税收（万元/亩），敏感字段")
    value_added: float | None = None
    value_added_per_mu: float | None = None
    total_score: float | None = None
    rank_in_county: int | None = None
    county_count: int | None = None
    rank_in_industry: int | None = None
    industry_count: int | None = None
    cls: str | None = Field(None, alias="class", description="分类")
    veto_reason: str | None = None
    prev_score: float | None = None
    prev_class: str | None = None
    score_change: float | None = None
    class_change: int | None = None
    consecutive_d_years: int | None = None
    land_tax_relief_pct: float | None = None
    power_surcharge_yuan_per_kwh: float | None = None
    energy_quota_change_pct: float | None = None
    priority_land: bool | None = None
    priority_funds: bool | None = None


class ResultPageOut(_Out):
    run: RunOut
    items: list[ResultOut]
    total: int = Field(ge=0)
    page: int = Field(ge=1)
    page_size: int = Field(ge=1)


class IndicatorLineOut(_Out):
    """One indicator of the score breakdown: value, reference, weight, score, points lost."""

    indicator: str
    name: str
    unit: str
    value: MaskedNumber
    reference: float | None
    weight: float
    score: MaskedNumber
    lost: MaskedNumber
    missing: bool
    text: str


class LiftOptionOut(_Out):
    indicator: str
    name: str
    unit: str
    value: float
    needed_value: float
    relative_change: float
    text: str


class ExplanationOut(_Out):
    """The plain-language explanation (评价结果解读) and the smallest change that lifts a class."""

    summary: str
    total_score: float
    cls: str = Field(alias="class")
    class_label: str
    indicators: list[IndicatorLineOut]
    notes: list[str]
    target_class: str | None = None
    gap: float | None = None
    options: list[LiftOptionOut] = []
    advice: str = ""


class MasterOut(_Out):
    credit_code: str
    name: str | None = None
    county_code: str | None = None
    county_name: str | None = None
    city_name: str | None = None
    industry_code: str | None = None
    industry_name: str | None = None
    founded_on: date | None = None
    status: str | None = None


class ParcelOut(_Out):
    parcel_id: str | None = None
    area_mu: float | None = None
    land_use: str | None = None
    acquisition: str | None = None


class HistoryOut(_Out):
    run_id: str
    year: int
    system: str
    title: str
    total_score: float | None = None
    cls: str | None = Field(None, alias="class")
    rank_in_county: int | None = None
    county_count: int | None = None
    rank_in_industry: int | None = None
    industry_count: int | None = None
    score_change: float | None = None
    class_change: int | None = None


class IndicatorYearOut(_Out):
    run_id: str
    year: int
    indicator: str
    name: str
    unit: str
    value: MaskedNumber
    score: MaskedNumber
    weight: float | None = None


class PolicyLineOut(_Out):
    item: str
    effect: str
    applies: bool


class ProfileOut(_Out):
    """企业画像: master data, land, the chosen run's result and explanation, history, policies."""

    credit_code: str
    master: MasterOut | None
    land: list[ParcelOut]
    run: RunOut | None
    result: ResultOut | None
    explanation: ExplanationOut | None
    history: list[HistoryOut]
    indicators: list[IndicatorYearOut]
    policies: list[PolicyLineOut]
    masked: bool = Field(description="敏感字段是否已按角色遮蔽")


class CountyRankOut(_Out):
    rank: int | None = None
    county_code: str
    county_name: str | None = None
    city_code: str | None = None
    city_name: str | None = None
    enterprises: int | None = None
    units: int | None = None
    land_mu: float | None = None
    tax_per_mu: float | None = None
    value_added_per_mu: float | None = None
    mean_score: float | None = None
    a_share: float | None = None
    classes: dict[str, int] = {}


class RankingOut(_Out):
    run: RunOut
    by: str
    items: list[CountyRankOut]


class LeaderOut(_Out):
    leader_rank: int
    credit_code: str
    name: str | None = None
    county_code: str | None = None
    county_name: str | None = None
    industry_code: str | None = None
    total_score: float | None = None
    cls: str | None = Field(None, alias="class")
    land_mu: float | None = None
    value_added: float | None = None


class LeaderGroupOut(_Out):
    industry: str
    items: list[LeaderOut]


class ParkOut(_Out):
    park_id: str
    park_name: str | None = None
    kind: str | None = None
    county_code: str | None = None
    total_score: float | None = None
    cls: str | None = Field(None, alias="class")
    rank_in_province: int | None = None
    tax_per_mu: float | None = None
    value_added_per_mu: float | None = None


class LeadersOut(_Out):
    run: RunOut
    industries: list[LeaderGroupOut]
    parks: list[ParkOut]


class RegionOut(_Out):
    code: str
    name: str
    level: str
    parent: str | None = None
    children: str | None = Field(None, description="地图显示的下级：city 或 county；区县为空")


class RegionValueOut(_Out):
    code: str
    name: str
    enterprises: int
    tax_per_mu: float | None = None
    value_added_per_mu: float | None = None
    a_share: float | None = None


class YearPointOut(_Out):
    year: int
    run_id: str
    enterprises: int
    units: int | None = None
    land_mu: float | None = None
    tax_per_mu: float | None = None
    value_added_per_mu: float | None = None
    classes: dict[str, int]


class HeadlineOut(_Out):
    year: int
    enterprises: int
    units: int | None = None
    land_mu: float | None = None
    tax_per_mu: float | None = None
    value_added_per_mu: float | None = None
    prev_year: int | None = None
    prev_tax_per_mu: float | None = None
    prev_value_added_per_mu: float | None = None
    tax_per_mu_change: float | None = Field(None, description="较上年变化（比率，0.05 即 5%）")
    value_added_per_mu_change: float | None = None


class ClassCountOut(_Out):
    cls: str = Field(alias="class")
    label: str
    count: int
    share: float | None = None


class DashboardOut(_Out):
    """The home dashboard of a region: headline, classes, map values, trend."""

    region: RegionOut
    run: RunOut | None
    headline: HeadlineOut | None
    classes: list[ClassCountOut]
    regions: list[RegionValueOut]
    trend: list[YearPointOut]
    geo_url: str


class GeoProperties(_Out):
    code: str
    name: str


class GeoFeature(_Out):
    type: Literal["Feature"]
    properties: GeoProperties
    geometry: dict[str, Any]


class GeoCollection(_Out):
    """GeoJSON of the divisions under a region (properties: code, name)."""

    type: Literal["FeatureCollection"]
    features: list[GeoFeature]


# ---- shared helpers -----------------------------------------------------------------------
def _not_found(message: str = "评价结果不存在或不在您的数据范围内") -> HTTPException:
    return HTTPException(status_code=404, detail=message)


def _division_name(code: str | None) -> str:
    if not code:
        return ""
    try:
        return reference.division(code).name
    except KeyError:
        return code


def _choose(
    wh: Warehouse, scope: Scope, year: int | None, system: str | None, run_id: str | None = None
) -> RunChoice:
    """The run a request asks for (by id, or by year and system), checked against the scope."""
    if run_id:
        try:
            info = service.run_info(wh, run_id, scope)
        except KeyError:
            raise _not_found("评价批次不存在或不在您的数据范围内") from None
        choice = dashboard.choose_run(wh, scope, int(info["year"]), info["system"])
        return RunChoice(info, int(info["year"]), info["system"], choice.years, choice.systems)
    return dashboard.choose_run(wh, scope, year, system)


def _run_or_404(choice: RunChoice) -> dict[str, Any]:
    if choice.run is None:
        raise _not_found("没有符合条件的评价结果")
    return choice.run


def _masked_row(row: dict[str, Any], clearance: bool) -> dict[str, Any]:
    row = audit.mask_fields(row, clearance)
    row["county_name"] = _division_name(row.get("county_code"))
    return row


def _with_per_mu(row: dict[str, Any]) -> dict[str, Any]:
    """One result row with its 亩均税收 and 亩均增加值 (the list query computes them in SQL)."""
    land = row.get("land_mu") or 0.0
    out = dict(row)
    for key, base in (("tax_per_mu", "tax_paid"), ("value_added_per_mu", "value_added")):
        out[key] = row[base] / land if land and row.get(base) is not None else None
    return out


def _audit_sensitive(
    db: DbSession, actor: CurrentActor, user: User, object_type: str, object_id: str, fields: list[str]
) -> None:
    """Log that a cleared user saw sensitive fields (nothing is logged for masked views)."""
    if user.clearance and fields:
        audit.record_sensitive_view(db, actor, object_type, object_id, fields)


def _class_labels(wh: Warehouse, run_id: str) -> dict[str, str]:
    rule = run_system(wh, run_id).classes
    return {c: rule.label(c) for c in rule.all_classes}


def _filters(county: str | None, division: str | None, cls: str | None, scale: str | None) -> ResultFilters:
    return ResultFilters(
        cls=cls or None,
        county_code=county or None,
        division_code=division or None,
        above_scale=None if not scale else scale == "above",
    )


# ---- explanation and policies -------------------------------------------------------------
def explanation_view(exp: Explanation | None, clearance: bool) -> dict[str, Any] | None:
    """The explanation as a dict, with sensitive indicators (亩均税收) masked without clearance:
    their value, score and sentence are hidden, and lift options through them are dropped
    (the sentence would state the figure)."""
    if exp is None:
        return None
    data = exp.to_dict()
    data["class"] = data.pop("cls")
    if clearance:
        return data
    for line in data["indicators"]:
        if audit.is_sensitive(line["indicator"]):
            line.update(
                value=MASK, score=MASK, lost=MASK, text=f"{line['name']}涉及税收数据，您的角色无权查看。"
            )
    hidden = [o for o in data["options"] if audit.is_sensitive(o["indicator"])]
    if hidden:
        data["options"] = [o for o in data["options"] if not audit.is_sensitive(o["indicator"])]
        if any(o["text"] in data["advice"] for o in hidden):
            advice = f"距{data['target_class']}类还差{points(data['gap'])}分。"
            if data["options"]:
                advice += f"在其他指标不变的情况下，可{data['options'][0]['text']}。"
            data["advice"] = advice
    return data


def policy_lines(row: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The differentiated policies (差别化政策) a result brings, one line per policy."""
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


# ---- profile ------------------------------------------------------------------------------
def build_profile(
    wh: Warehouse, scope: Scope, credit_code: str, clearance: bool, run_id: str | None = None
) -> dict[str, Any] | None:
    """Everything the 企业画像 shows, masked for the user's clearance; None when the enterprise
    has neither a registry row nor a result inside the scope."""
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
        exp = explain(wh, chosen, credit_code, scope)
    years = {h["run_id"]: int(h["year"]) for h in history}
    indicators = []
    names: dict[str, tuple[str, str]] = {}
    if result is not None:
        system = run_system(wh, result["run_id"])
        names = {i.id: (i.name, i.unit) for i in system.indicators}
        same_system = [h["run_id"] for h in history if h["system"] == result["system"]]
        for row in dashboard.indicator_history(wh, credit_code, scope, same_system):
            name, unit = names.get(row["indicator"], (row["indicator"], ""))
            sensitive = audit.is_sensitive(row["indicator"]) and not clearance
            indicators.append(
                {
                    "run_id": row["run_id"],
                    "year": years[row["run_id"]],
                    "indicator": row["indicator"],
                    "name": name,
                    "unit": unit,
                    "value": MASK if sensitive else row["value"],
                    "score": MASK if sensitive else row["score"],
                    "weight": row["weight"],
                }
            )
        order = list(names)
        indicators.sort(
            key=lambda r: (order.index(r["indicator"]) if r["indicator"] in order else 99, r["year"])
        )
    return {
        "credit_code": credit_code,
        "master": master,
        "land": dashboard.enterprise_land(wh, credit_code, scope),
        "run": run,
        "result": _masked_row(_with_per_mu(result), clearance) if result else None,
        "explanation": explanation_view(exp, clearance),
        "history": history,
        "indicators": indicators,
        "indicator_names": names,
        "policies": policy_lines(result),
        "masked": not clearance,
    }


def _indicator_table(profile: dict[str, Any]) -> tuple[list[int], list[dict[str, Any]]]:
    """Indicators over the years as rows of {name, unit, by_year: {year: value}}."""
    years = sorted({r["year"] for r in profile["indicators"]})
    rows: dict[str, dict[str, Any]] = {}
    for r in profile["indicators"]:
        row = rows.setdefault(
            r["indicator"], {"indicator": r["indicator"], "name": r["name"], "unit": r["unit"], "by_year": {}}
        )
        row["by_year"][r["year"]] = r
    return years, list(rows.values())


def _score_chart(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    if len(history) < 2:
        return None
    return {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 8, "right": 24, "top": 32, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [f"{h['year']}年" for h in history]},
        "yAxis": {"type": "value", "scale": True},
        "series": [
            {
                "type": "line",
                "name": "综合得分",
                "data": [
                    round(h["total_score"], 1) if h["total_score"] is not None else None for h in history
                ],
                "label": {"show": True, "formatter": "{c}"},
                "itemStyle": {"color": "#1e4f91"},
            }
        ],
    }


# ---- dashboard data (shared with the home page) -------------------------------------------
def dashboard_data(
    wh: Warehouse, scope: Scope, region_code: str | None, year: int | None, system: str | None
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
    labels = _class_labels(wh, run_id)
    now = next((p for p in points_ if p["year"] == choice.year), None)
    counts: dict[str, int] = now["classes"] if now else {}
    total = now["enterprises"] if now else 0
    data.update(
        headline=dashboard.headline(points_, choice.year),
        trend=points_,
        regions=dashboard.map_values(wh, run_id, region),
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


def _classes_chart(classes: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not any(c["count"] for c in classes):
        return None
    return {
        "tooltip": {"trigger": "item", "formatter": "{b}：{c}家（{d}%）"},
        "legend": {"bottom": 0},
        "series": [
            {
                "type": "pie",
                "radius": ["42%", "68%"],
                "center": ["50%", "45%"],
                "label": {"formatter": "{b}\n{c}家"},
                "data": [
                    {
                        "name": f"{c['class']}类 {c['label']}",
                        "value": c["count"],
                        "itemStyle": {"color": CLASS_COLOURS.get(c["class"], "#888")},
                    }
                    for c in classes
                    if c["count"]
                ],
            }
        ],
    }


def _trend_chart(trend: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Both per-mu figures on one axis from zero (same unit), so the bars compare honestly."""
    if not trend:
        return None

    def series(key: str, name: str, colour: str) -> dict[str, Any]:
        return {
            "type": "bar",
            "name": name,
            "barMaxWidth": 32,
            "data": [None if p[key] is None else round(p[key], 2) for p in trend],
            "itemStyle": {"color": colour},
            "label": {"show": True, "position": "top", "fontSize": 11},
        }

    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 8, "top": 40, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [f"{p['year']}年" for p in trend]},
        "yAxis": {"type": "value", "name": "万元/亩"},
        "series": [
            series("tax_per_mu", "亩均税收", "#1e4f91"),
            series("value_added_per_mu", "亩均增加值", "#d08c1a"),
        ],
    }


def dashboard_context(data: dict[str, Any], measure: str) -> dict[str, Any]:
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
    return {
        "classes_chart": _classes_chart(data["classes"]),
        "trend_chart": _trend_chart(data["trend"]),
        "map_config": {
            "geo_url": data["geo_url"],
            "map_name": f"region-{region['code']}",
            "measure": measure if measure in MAP_MEASURES else "tax_per_mu",
            "measures": {k: {"name": n, "unit": u} for k, (n, u) in MAP_MEASURES.items()},
            "regions": data["regions"],
            "drill": drill,
        },
        "measures": MAP_MEASURES,
        "query": query,
        "regions_sorted": sorted(
            data["regions"], key=lambda g: (g["tax_per_mu"] is None, -(g["tax_per_mu"] or 0.0))
        ),
    }


# ---- pages --------------------------------------------------------------------------------
def _results_context(
    request: Request,
    wh: Warehouse,
    scope: Scope,
    user: User,
    choice: RunChoice,
    filters: ResultFilters,
    q: str | None,
    sort: str,
    page: int,
) -> dict[str, Any]:
    run = choice.run
    assert run is not None
    found = dashboard.find_results(
        wh, run["run_id"], scope, filters, q, sort=sort, page=page, page_size=PER_PAGE
    )
    return {
        "rows": [_masked_row(r, user.clearance) for r in found["rows"]],
        "pager": Pager.build(request, found["page"], PER_PAGE, found["total"]),
        "labels": _class_labels(wh, run["run_id"]),
        "run": run,
    }


@pages.get("/evaluation", dependencies=[Depends(require_roles(*EVAL_ROLES))])
@shared_response()
def results_page(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    user: CurrentUser,
    db: DbSession,
    actor: CurrentActor,
    year: Year = None,
    system: SystemId = None,
    county: DivisionCode = None,
    division: IndustryDivision = None,
    cls: ClassName = None,
    scale: Scale = None,
    q: SearchText = None,
    sort: SortKey = "-total_score",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    """评价结果: the results of one run in the user's scope (the table alone for HTMX)."""
    if user.role_enum is Role.ENTERPRISE:
        return RedirectResponse("/evaluation/mine", status_code=303)
    choice = dashboard.choose_run(wh, scope, year, system)
    filters = _filters(county, division, cls, scale)
    context: dict[str, Any] = {
        "page_title": "亩均评价",
        "choice": choice,
        "filters": {
            "county": county or "",
            "division": division or "",
            "cls": cls or "",
            "scale": scale or "",
        },
        "q": q or "",
        "sort": sort,
        "sort_labels": SORT_LABELS,
        "regional": user.role_enum in REGION_ROLES,
    }
    if choice.run is not None:
        try:
            context.update(_results_context(request, wh, scope, user, choice, filters, q, sort, page))
        except NotInScope:
            raise _not_found("所选区县不在您的数据范围内") from None
        if user.clearance and context["rows"]:
            _audit_sensitive(
                db, actor, user, "eval_results", choice.run["run_id"], list(SENSITIVE_RESULT_FIELDS)
            )
    if is_htmx(request):
        return render(request, "evaluation/_results_table.html", context)
    if choice.run is not None:
        context.update(
            counties=dashboard.counties_in_scope(scope),
            divisions=dashboard.result_divisions(wh, choice.run["run_id"], scope),
            export_query=urlencode({"year": choice.year, "system": choice.system}),
        )
    return render(request, "evaluation/results.html", context)


@pages.get("/evaluation/export.xlsx", dependencies=[Depends(require_roles(*REGION_ROLES))])
def results_export_page(
    wh: WarehouseReader,
    scope: CurrentScope,
    db: DbSession,
    actor: CurrentActor,
    year: Year = None,
    system: SystemId = None,
) -> Response:
    """The Excel workbook of the chosen run, only rows inside the scope; audited."""
    return _export(wh, scope, db, actor, _run_or_404(dashboard.choose_run(wh, scope, year, system)))


def _export(wh: Warehouse, scope: Scope, db: DbSession, actor: CurrentActor, run: dict[str, Any]) -> Response:
    body, rows = dashboard.export_workbook(wh, run["run_id"], scope)
    region = _division_name(scope.division) if scope.division else "全省"
    name = f"{run['year']}年度{run['title']}（{region}）.xlsx"
    audit.record(
        db,
        actor,
        audit.Action.EXPORT,
        "eval_run",
        run["run_id"],
        {"format": "xlsx", "rows": rows, "scope": scope.division or "330000", "file_name": name},
        commit=True,
    )
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="evaluation-{run["year"]}.xlsx"; '
            f"filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )


@pages.get("/evaluation/mine", dependencies=[Depends(require_roles(*EVAL_ROLES))])
def my_profile(user: CurrentUser) -> Response:
    """An enterprise user's entry (本企业评价): its own profile; others go to the list."""
    if user.role_enum is Role.ENTERPRISE and user.credit_code:
        return RedirectResponse(f"/evaluation/enterprises/{user.credit_code}", status_code=303)
    return RedirectResponse("/evaluation", status_code=303)


@pages.get("/evaluation/enterprises/{credit_code}", dependencies=[Depends(require_roles(*EVAL_ROLES))])
def profile_page(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    user: CurrentUser,
    db: DbSession,
    actor: CurrentActor,
    credit_code: CreditCode,
    run: RunId = None,
) -> Response:
    """企业画像 of one enterprise in scope (404 otherwise)."""
    profile = build_profile(wh, scope, credit_code, user.clearance, run)
    if profile is None:
        if run is None and scope.credit_code == credit_code:
            # The enterprise's own page before any data about it has arrived.
            return render(
                request,
                "evaluation/enterprise.html",
                {"page_title": "本企业评价", "profile": None, "own": True},
            )
        raise _not_found("企业不存在或不在您的数据范围内")
    if profile["result"] is not None:
        _audit_sensitive(db, actor, user, "enterprise", credit_code, list(SENSITIVE_RESULT_FIELDS))
    years, table = _indicator_table(profile)
    name = (profile["master"] or {}).get("name") or (profile["result"] or {}).get("name") or credit_code
    return render(
        request,
        "evaluation/enterprise.html",
        {
            "page_title": name,
            "profile": profile,
            "indicator_years": years,
            "indicator_rows": table,
            "score_chart": _score_chart(profile["history"]),
            "own": scope.credit_code == credit_code,
        },
    )


@pages.get("/ranking", dependencies=[Depends(require_roles(*REGION_ROLES))])
@shared_response()
def ranking_page(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    year: Year = None,
    system: SystemId = None,
    by: RankBy = "tax_per_mu",
) -> Response:
    """区县排名 and 领跑者 of the chosen run, inside the scope."""
    choice = dashboard.choose_run(wh, scope, year, system)
    context: dict[str, Any] = {
        "page_title": "区县排名",
        "choice": choice,
        "by": by,
        "rank_labels": RANK_LABELS,
    }
    if choice.run is not None:
        run_id = choice.run["run_id"]
        rows = service.county_ranking(wh, run_id, scope, by=by)
        labels = _class_labels(wh, run_id)
        for row in rows:
            row["classes"] = {c: row.get(f"class_{dashboard.class_key(c)}") for c in labels}
        ranked = [r for r in rows if r["rank"] is not None]
        context.update(
            rows=rows,
            labels=labels,
            ranking_chart=_ranking_chart(ranked[:20], by),
            ranking_count=len(ranked[:20]),
            leaders=service.leaders(wh, run_id, scope),
            parks=service.leading_parks(wh, int(choice.run["year"]), scope),
        )
    return render(request, "evaluation/ranking.html", context)


def _ranking_chart(rows: list[dict[str, Any]], by: str) -> dict[str, Any] | None:
    if not rows:
        return None
    scale = 100 if by == "a_share" else 1
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "grid": {"left": 8, "right": 40, "top": 8, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "value"},
        "yAxis": {"type": "category", "inverse": True, "data": [r["county_name"] for r in rows]},
        "series": [
            {
                "type": "bar",
                "name": RANK_LABELS[by],
                "data": [None if r[by] is None else round(r[by] * scale, 2) for r in rows],
                "itemStyle": {"color": "#1e4f91"},
                "label": {"show": True, "position": "right"},
            }
        ],
    }


# ---- API ----------------------------------------------------------------------------------
@api.get(
    "/evaluation/runs",
    response_model=list[RunOut],
    responses=ERRORS,
    summary="评价批次",
    dependencies=[Depends(require_roles(*EVAL_ROLES))],
)
@shared_response(list[RunOut])
def api_runs(
    wh: WarehouseReader, scope: CurrentScope, year: Year = None, system: SystemId = None
) -> list[Any]:
    """Stored runs with results the user may see, newest first."""
    return service.runs(wh, scope, system=system, year=year)


@api.get(
    "/evaluation/results",
    response_model=ResultPageOut,
    responses=NOT_FOUND,
    summary="评价结果列表",
    dependencies=[Depends(require_roles(*EVAL_ROLES))],
)
@shared_response(ResultPageOut)
def api_results(
    wh: WarehouseReader,
    scope: CurrentScope,
    user: CurrentUser,
    db: DbSession,
    actor: CurrentActor,
    year: Year = None,
    system: SystemId = None,
    run_id: RunId = None,
    county: DivisionCode = None,
    division: IndustryDivision = None,
    cls: ClassName = None,
    scale: Scale = None,
    q: SearchText = None,
    sort: SortKey = "-total_score",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """One page of results of a run (by `run_id`, or the newest of `year` and `system`).
    A county outside the scope answers 404."""
    run = _run_or_404(_choose(wh, scope, year, system, run_id))
    try:
        found = dashboard.find_results(
            wh, run["run_id"], scope, _filters(county, division, cls, scale), q, sort, page, page_size
        )
    except NotInScope:
        raise _not_found("所选区县不在您的数据范围内") from None
    if found["rows"]:
        _audit_sensitive(db, actor, user, "eval_results", run["run_id"], list(SENSITIVE_RESULT_FIELDS))
    return {
        "run": run,
        "items": [_masked_row(r, user.clearance) for r in found["rows"]],
        "total": found["total"],
        "page": found["page"],
        "page_size": found["page_size"],
    }


@api.get(
    "/evaluation/results.xlsx",
    response_class=Response,
    responses={
        **NOT_FOUND,
        200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}},
    },
    summary="下载评价结果（Excel）",
    dependencies=[Depends(require_roles(*REGION_ROLES))],
)
def api_results_xlsx(
    wh: WarehouseReader,
    scope: CurrentScope,
    db: DbSession,
    actor: CurrentActor,
    year: Year = None,
    system: SystemId = None,
    run_id: RunId = None,
) -> Response:
    """The Excel workbook (汇总, 全部企业, one sheet per class) of the rows inside the scope.
    Every download is written to the audit log."""
    return _export(wh, scope, db, actor, _run_or_404(_choose(wh, scope, year, system, run_id)))


@api.get(
    "/evaluation/enterprises/{credit_code}",
    response_model=ProfileOut,
    responses=NOT_FOUND,
    summary="企业画像",
    dependencies=[Depends(require_roles(*EVAL_ROLES))],
)
def api_profile(
    wh: WarehouseReader,
    scope: CurrentScope,
    user: CurrentUser,
    db: DbSession,
    actor: CurrentActor,
    credit_code: CreditCode,
    run_id: RunId = None,
) -> dict[str, Any]:
    """Master data, land, the result and explanation of a run (default: the latest), history,
    indicators over the years and policy consequences. 404 outside the scope."""
    profile = build_profile(wh, scope, credit_code, user.clearance, run_id)
    if profile is None:
        raise _not_found("企业不存在或不在您的数据范围内")
    if profile["result"] is not None:
        _audit_sensitive(db, actor, user, "enterprise", credit_code, list(SENSITIVE_RESULT_FIELDS))
    return profile


@api.get(
    "/evaluation/ranking",
    response_model=RankingOut,
    responses=NOT_FOUND,
    summary="区县排名",
    dependencies=[Depends(require_roles(*REGION_ROLES))],
)
@shared_response(RankingOut)
def api_ranking(
    wh: WarehouseReader,
    scope: CurrentScope,
    year: Year = None,
    system: SystemId = None,
    run_id: RunId = None,
    by: RankBy = "tax_per_mu",
) -> dict[str, Any]:
    """The counties in scope ranked by 亩均税收, 亩均增加值, mean score or share of class A
    (counties without results last, unranked)."""
    run = _run_or_404(_choose(wh, scope, year, system, run_id))
    labels = _class_labels(wh, run["run_id"])
    rows = service.county_ranking(wh, run["run_id"], scope, by=by)
    for row in rows:
        row["classes"] = {c: int(row.get(f"class_{dashboard.class_key(c)}") or 0) for c in labels}
    return {"run": run, "by": by, "items": rows}


@api.get(
    "/evaluation/leaders",
    response_model=LeadersOut,
    responses=NOT_FOUND,
    summary="亩均效益领跑者",
    dependencies=[Depends(require_roles(*REGION_ROLES))],
)
@shared_response(LeadersOut)
def api_leaders(
    wh: WarehouseReader,
    scope: CurrentScope,
    year: Year = None,
    system: SystemId = None,
    run_id: RunId = None,
    top_n: Annotated[int | None, Query(ge=1, le=100, description="每个重点产业的前N名")] = None,
) -> dict[str, Any]:
    """Top enterprises per key industry (the flagship chains by default) and leading parks."""
    run = _run_or_404(_choose(wh, scope, year, system, run_id))
    groups = service.leaders(wh, run["run_id"], scope, top_n=top_n)
    for items in groups.values():
        for row in items:
            row["county_name"] = _division_name(row.get("county_code"))
    return {
        "run": run,
        "industries": [{"industry": name, "items": items} for name, items in groups.items()],
        "parks": service.leading_parks(wh, int(run["year"]), scope),
    }


@api.get(
    "/dashboard",
    response_model=DashboardOut,
    responses=NOT_FOUND,
    summary="首页看板",
    tags=["亩均评价"],
    dependencies=[Depends(require_roles(*REGION_ROLES))],
)
@shared_response(DashboardOut)
def api_dashboard(
    wh: WarehouseReader,
    scope: CurrentScope,
    region: DivisionCode = None,
    year: Year = None,
    system: SystemId = None,
) -> dict[str, Any]:
    """Headline 亩均税收 and 亩均增加值 with the change on last year, classes, values for the
    map (cities of the province, counties of a city) and the trend over the years."""
    try:
        data = dashboard_data(wh, scope, region, year, system)
    except NotInScope:
        raise _not_found("区划不存在或不在您的数据范围内") from None
    data.pop("choice")
    return data


@api.get(
    "/geo/{code}",
    response_model=GeoCollection,
    responses={**NOT_FOUND, 304: {"description": "未变化（ETag）"}},
    summary="行政区划边界（GeoJSON）",
    tags=["亩均评价"],
    dependencies=[Depends(require_roles(*REGION_ROLES))],
)
def api_geo(
    request: Request,
    scope: CurrentScope,
    code: Annotated[
        str, PathParam(pattern=r"^\d{6}$", description="330000 全省各市；市代码 该市各区县；区县代码 该区县")
    ],
) -> Response:
    """Boundaries for the map, simplified, served from memory with an ETag; only regions the
    user may see (a city analyst: their city's counties)."""
    try:
        body, etag = dashboard.geo_json(scope, code)
    except NotInScope:
        raise _not_found("区划不存在或不在您的数据范围内") from None
    headers = {"ETag": f'"{etag}"', "Cache-Control": "private, max-age=86400"}
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


scenario = WebScenario(
    name="evaluation",
    pages=pages,
    api=api,
    nav=(
        NavItem("evaluation", "亩均评价", "/evaluation", roles=LIST_ROLES, order=20, icon="▤"),
        NavItem(
            "my-evaluation",
            "本企业评价",
            "/evaluation/mine",
            roles=frozenset({Role.ENTERPRISE}),
            order=20,
            icon="▤",
            match="/evaluation",
        ),
        NavItem("ranking", "区县排名", "/ranking", roles=REGION_ROLES, order=22, icon="≡"),
    ),
    templates=Path(__file__).parent / "templates",
)
