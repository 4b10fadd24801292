"""Pages and API of the manufacturing parks' stars (制造业园区高质量发展星级评价).

Pages: /manufacturing-parks (a year's 经开区 and 高新区 in scope with group scores, score, stars,
the map: the province's cities, a click shows a city's counties), /manufacturing-parks/{park_id}
(the park's indicators against the province's manufacturing parks, radar, group scores),
/manufacturing-parks/export.xlsx. API: /api/v1/parks/manufacturing,
/api/v1/parks/manufacturing/{park_id}. Analysts and admins; what each sees is cut by
`jingxin.parks.manufacturing` through the user's `Scope` (a park outside it answers 404).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi import Path as FastPath

from jingxin.core import audit
from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.scope import Scope
from jingxin.parks.manufacturing import (
    NoManufacturingRun,
    load_manufacturing_config,
    manufacturing_stars,
    manufacturing_years,
    park_detail,
    province_stars,
    region_summary,
    visible_stars,
)
from jingxin.reference import divisions
from jingxin.web.deps import CurrentActor, CurrentScope, DbSession, WarehouseReader, require_roles
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import ProblemOut
from jingxin.web.templating import render

ROLES = frozenset({Role.ADMIN, *ANALYSTS})
ROLE_CHECK = [Depends(require_roles(*ROLES))]
pages = APIRouter(prefix="/manufacturing-parks", include_in_schema=False, dependencies=ROLE_CHECK)
api = APIRouter(
    prefix="/parks", tags=["制造业园区"], dependencies=ROLE_CHECK, responses={422: {"model": ProblemOut}}
)
Year = Annotated[int | None, Query(ge=1990, le=2100, description="评价年度；默认最新")]
ParkId = Annotated[str, FastPath(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="园区编号")]
Region = Annotated[str | None, Query(pattern=r"^\d{6}$", description="地图区域：设区市代码")]
STAR = "★"


def _year(wh: Any, year: int | None) -> tuple[int, list[int]]:
    years = manufacturing_years(wh)
    if not years:
        raise HTTPException(
            status_code=404, detail="还没有园区亩均评价（zhejiang_parks）；请先运行园区亩均评价"
        )
    y = year or years[-1]
    if y not in years:
        raise HTTPException(status_code=404, detail=f"{y} 年没有园区亩均评价；可选 {years}")
    return y, years


def _stars(wh: Any, year: int | None) -> tuple[Any, Any, str, int, list[int]]:
    y, years = _year(wh, year)
    try:
        table, result, run_id = province_stars(wh, y)
    except NoManufacturingRun as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return table, result, run_id, y, years


def map_config(table: Any, scope: Scope, region: str, year: int) -> dict[str, Any]:
    """The region map of evaluation.js: the province by city, a city by county; a click on a
    city shows its counties, on a county lists its parks."""
    county_level = region != "330000"
    return {
        "geo_url": f"/api/v1/geo/{region}",
        "map_name": f"mfg-parks-{region}",
        "measure": "score",
        "measures": {
            "score": {"name": "平均得分", "unit": "分"},
            "parks": {"name": "参评园区", "unit": "个", "decimals": 0},
            "three_plus": {"name": "三星及以上", "unit": "个", "decimals": 0},
        },
        "regions": region_summary(table, scope, region),
        "drill": {
            "url": f"/manufacturing-parks?year={year}&county={{code}}"
            if county_level
            else f"/manufacturing-parks?year={year}&region={{code}}"
        },
    }


@pages.get("")
def list_page(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    year: Year = None,
    region: Region = None,
    county: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    star: Annotated[int | None, Query(ge=0, le=5)] = None,
) -> Response:
    table, _, run_id, y, years = _stars(wh, year)
    cfg = load_manufacturing_config()
    rows = visible_stars(table, scope)
    stars = {s: int((rows["star"] == s).sum()) for s in range(5, -1, -1)} if not rows.empty else {}
    shown = rows
    if county and not rows.empty:
        shown = shown[shown["county_code"] == county]
    if star is not None and not rows.empty:
        shown = shown[shown["star"] == star]
    map_region = (
        region if region and scope.allows_division(region) else ("330000" if scope.covers_province else None)
    )
    if map_region is None and scope.division and len(scope.prefix) == 4:
        map_region = scope.division  # a city analyst: the city's counties; a county has no map
    names = {d.code: d.name for d in divisions()}
    return render(
        request,
        "parks/manufacturing.html",
        {
            "page_title": "制造业园区星级评价",
            "year": y,
            "years": years,
            "run_id": run_id,
            "cfg": cfg,
            "rows": shown,
            "total": len(rows),
            "province_total": len(table),
            "stars": stars,
            "star": star,
            "county": county,
            "county_name": names.get(county or "", ""),
            "names": names,
            "star_mark": STAR,
            "map_config": map_config(table, scope, map_region, y) if map_region and not table.empty else None,
        },
    )


def _radar(detail: dict[str, Any]) -> dict[str, Any]:
    inds = detail["indicators"]
    return {
        "tooltip": {},
        "legend": {"data": ["本园区", "全省制造业园区平均"], "bottom": 0},
        "radar": {
            "indicator": [{"name": i["name"], "max": 100} for i in inds],
            "radius": "55%",
            "axisName": {"fontSize": 10},
        },
        "series": [
            {
                "type": "radar",
                "data": [
                    {
                        "name": "本园区",
                        "value": [round(i["normalised"] or 0, 1) for i in inds],
                        "areaStyle": {"opacity": 0.2},
                    },
                    {
                        "name": "全省制造业园区平均",
                        "value": [round(i["normalised_mean"] or 0, 1) for i in inds],
                    },
                ],
            }
        ],
    }


@pages.get("/export.xlsx")
def export_page(
    db: DbSession, wh: WarehouseReader, scope: CurrentScope, actor: CurrentActor, year: Year = None
) -> Response:
    from jingxin.parks.export import manufacturing_workbook

    table, result, run_id, y, _ = _stars(wh, year)
    body = manufacturing_workbook(visible_stars(table, scope), result, load_manufacturing_config(), y, run_id)
    audit.record(
        db,
        actor,
        "export",
        "manufacturing_park_stars",
        str(y),
        {"scope": scope.division or "330000"},
        commit=True,
    )
    name = f"制造业园区星级评价_{y}.xlsx"
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@pages.get("/{park_id}")
def detail_page(
    request: Request, wh: WarehouseReader, scope: CurrentScope, park_id: ParkId, year: Year = None
) -> Response:
    _, _, _, y, _ = _stars(wh, year)
    try:
        detail = park_detail(wh, y, scope, park_id)
    except LookupError:
        raise HTTPException(status_code=404, detail="园区不存在或不在您的数据范围内") from None
    return render(
        request,
        "parks/manufacturing_park.html",
        {
            "page_title": f"{detail['park_name']} 星级评价",
            "d": detail,
            "radar": _radar(detail),
            "star_mark": STAR,
            "group_names": {g.code: g.name for g in load_manufacturing_config().groups},
        },
    )


@api.get("/manufacturing")
def manufacturing_api(wh: WarehouseReader, scope: CurrentScope, year: Year = None) -> dict[str, Any]:
    """制造业园区星级评价 of the year (经开区, 高新区), the parks' 亩均 run as one input."""
    y, _ = _year(wh, year)
    try:
        return manufacturing_stars(wh, y, scope)
    except NoManufacturingRun as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@api.get("/manufacturing/{park_id}")
def manufacturing_park_api(
    wh: WarehouseReader, scope: CurrentScope, park_id: ParkId, year: Year = None
) -> dict[str, Any]:
    """One manufacturing park's stars, group scores and indicators against the province's
    manufacturing parks; 404 outside the user's scope."""
    _, _, _, y, _ = _stars(wh, year)
    try:
        return park_detail(wh, y, scope, park_id)
    except LookupError:
        raise HTTPException(status_code=404, detail="园区不存在或不在您的数据范围内") from None


scenario = WebScenario(
    name="manufacturing_parks",
    pages=pages,
    api=api,
    nav=(
        NavItem("manufacturing_parks", "制造业园区", "/manufacturing-parks", roles=ROLES, order=28, icon="◆"),
    ),
    templates=None,  # parks/templates, registered by jingxin.parks.views
)
