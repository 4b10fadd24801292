"""Pages and API of the county index (县域制造业高质量发展评价).

Pages: /places (a year's ranking by evaluation group with rank intervals and 天工鼎, the
province map of cities then a city's counties), /places/county/{code} (scorecard with radar,
indicators against the group, strengths and weaknesses, trend), /places/export.xlsx.
API: /api/v1/places/county-index, /api/v1/places/county/{code}. Analysts and admins only; what
each sees is restricted by `jingxin.places.service` through the user's `Scope`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from jingxin.core import audit
from jingxin.core.auth import ANALYSTS, Role
from jingxin.places import charts
from jingxin.places.service import (
    NoCountyData,
    county_index,
    county_years,
    group_summary,
    scorecard,
    summary_json,
    visible_rows,
)
from jingxin.web.deps import CurrentActor, CurrentScope, DbSession, WarehouseReader, require_roles
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import ProblemOut
from jingxin.web.templating import render

ROLES = frozenset({Role.ADMIN, *ANALYSTS})
ROLE_CHECK = [Depends(require_roles(*ROLES))]
pages = APIRouter(prefix="/places", include_in_schema=False, dependencies=ROLE_CHECK)
# Domain refusals answer 422 with one Chinese sentence; malformed parameters with FastAPI's list.
api = APIRouter(
    prefix="/places", tags=["县域评价"], dependencies=ROLE_CHECK, responses={422: {"model": ProblemOut}}
)

Year = Annotated[int | None, Query(ge=1990, le=2100, description="评价年度；默认最新")]
Code = Annotated[str, Query(pattern=r"^\d{6}$")]


def _index(wh: Any, year: int | None) -> Any:
    try:
        years = county_years(wh)
    except Exception:  # noqa: BLE001 - the table is empty before the first county-stats batch
        years = []
    if not years:
        raise HTTPException(status_code=404, detail="仓库中还没有县（市、区）年度指标（数据源 county-stats）")
    y = year or years[-1]
    if y not in years:
        raise HTTPException(status_code=404, detail=f"没有 {y} 年的县（市、区）年度指标；可选 {years}")
    try:
        return county_index(wh, y), years
    except (NoCountyData, ValueError) as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


@pages.get("")
def ranking_page(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    year: Year = None,
    group: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,32}$")] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
) -> Response:
    ci, years = _index(wh, year)
    rows = visible_rows(ci, scope)
    codes = [g.code for g in ci.groups if (rows["group"] == g.code).any()]
    current = group if group in codes else (codes[0] if codes else None)
    names = {i.code: i.name for i in ci.config.indicators}
    shown = rows[rows["group"] == current].to_dict(orient="records") if current else []
    map_region = (
        region if region and scope.allows_division(region) else ("330000" if scope.covers_province else None)
    )
    if map_region is None and scope.division and len(scope.prefix) == 4:
        map_region = scope.division  # a city analyst: the city's counties (a county has no map)
    return render(
        request,
        "places/index.html",
        {
            "page_title": "县域制造业高质量发展评价",
            "ci": ci,
            "years": years,
            "groups": ci.groups,
            "summary": {s["code"]: s for s in group_summary(ci)},
            "current": current,
            "codes": codes,
            "rows": shown,
            "indicator_names": names,
            "pillars": ci.config.groups,
            "map_config": charts.map_config(ci, scope, map_region) if map_region else None,
        },
    )


@pages.get("/county/{code}")
def scorecard_page(request: Request, wh: WarehouseReader, scope: CurrentScope, code: str) -> Response:
    _index(wh, None)
    try:
        card = scorecard(wh, scope, code)
    except LookupError:
        raise HTTPException(status_code=404, detail="区划不存在或不在您的数据范围内") from None
    radar = [charts.radar(g) for g in card["groups"]]
    return render(
        request,
        "places/county.html",
        {
            "page_title": f"{card['name']}制造业高质量发展评价",
            "card": card,
            "radars": radar,
            "trend": charts.trend(card),
        },
    )


@pages.get("/export.xlsx")
def export_page(
    db: DbSession, wh: WarehouseReader, scope: CurrentScope, actor: CurrentActor, year: Year = None
) -> Response:
    from jingxin.places.export import county_workbook

    ci, _ = _index(wh, year)
    body = county_workbook(ci, scope)
    audit.record(
        db, actor, "export", "county_index", str(ci.year), {"scope": scope.division or "330000"}, commit=True
    )
    name = f"县域制造业高质量发展评价_{ci.year}.xlsx"
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@api.get("/county-index")
def county_index_api(wh: WarehouseReader, scope: CurrentScope, year: Year = None) -> dict[str, Any]:
    """The year's index: method and its fingerprint, each group's summary, the rows in scope
    (scores by 质量/效率/动力变革, rank, rank interval, the indicator moving the rank most, 天工鼎)."""
    ci, _ = _index(wh, year)
    return summary_json(ci, scope)


@api.get("/county/{code}")
def scorecard_api(wh: WarehouseReader, scope: CurrentScope, code: str) -> dict[str, Any]:
    """One county's (or city's) scorecard; 404 outside the user's scope."""
    _index(wh, None)
    try:
        return scorecard(wh, scope, code)
    except LookupError:
        raise HTTPException(status_code=404, detail="区划不存在或不在您的数据范围内") from None


scenario = WebScenario(
    name="places",
    pages=pages,
    api=api,
    nav=(NavItem("places", "县域评价", "/places", roles=ROLES, order=26, icon="▲"),),
    templates=Path(__file__).parent / "templates",
)
