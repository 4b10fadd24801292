"""Pages and API of the "415" clusters (先进制造业集群): ranked indicators and their map
(`cluster_map`), output by city and month, each cluster's members with the evidence of their
membership. Region scope through `CurrentScope` (a county analyst sees its county's members and
output); `?region=` narrows the page to a division inside that scope (the map's drill-down)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from jingxin import reference
from jingxin.chains import cluster_map, service
from jingxin.chains.compute import ChainsError
from jingxin.core.scope import Scope
from jingxin.web.deps import CurrentScope, WarehouseReader
from jingxin.web.params import MonthQuery
from jingxin.web.templating import render

pages = APIRouter()
api = APIRouter()

ClusterId = Annotated[str, Path(max_length=64, pattern=r"^[a-z_]+$")]
RegionQuery = Annotated[
    str | None, Query(pattern=r"^33\d{4}$", description="区划代码（省、市或区县）；默认本人范围")
]


def _region(scope: Scope, region: str | None) -> tuple[Scope, str | None]:
    """The reader's scope narrowed to `region`, and the map's division (None: no map, for a
    reader who sees enterprises rather than a region). Narrowing only: a division outside the
    scope is refused by `Scope.allows_division`, the platform's rule."""
    own = scope.division or "330000"
    if region is None or region == own:
        return scope, (None if scope.pinned else own)
    try:
        reference.division(region)
    except (KeyError, ValueError):
        raise HTTPException(status_code=404, detail=f"没有区划 {region}") from None
    if scope.pinned or not scope.allows_division(region):
        raise HTTPException(status_code=404, detail="区划不存在或不在您的数据范围内")
    return replace(scope, division=None if region == "330000" else region), region


def _month(wh: Any, month: str | None) -> str:
    found = month or service.latest_month(wh)
    if not found:
        raise HTTPException(status_code=404, detail="仓库中还没有增值税发票流向数据，请先导入税务发票文件")
    return found


def _guard(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except ChainsError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


def _charts(data: dict[str, Any], cluster_id: str) -> dict[str, Any]:
    cities = [r for r in data["by_city"] if r["cluster_id"] == cluster_id]
    months = [r for r in data["by_month"] if r["cluster_id"] == cluster_id]
    return {
        "city_chart": {
            "tooltip": {"trigger": "axis"},
            "grid": {"left": 90, "right": 20, "top": 10, "bottom": 30},
            "xAxis": {"type": "value", "name": "万元"},
            "yAxis": {"type": "category", "inverse": True, "data": [r["city_name"] for r in cities]},
            "series": [{"type": "bar", "data": [round(r["output"], 2) for r in cities]}],
        },
        "month_chart": {
            "tooltip": {"trigger": "axis"},
            "grid": {"left": 80, "right": 20, "top": 20, "bottom": 30},
            "xAxis": {"type": "category", "data": [r["month"] for r in months]},
            "yAxis": {"type": "value", "name": "万元"},
            "series": [{"type": "line", "data": [round(r["output"], 2) for r in months]}],
        },
    }


@pages.get("/clusters")
def clusters_page(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    month: MonthQuery = None,
    region: RegionQuery = None,
) -> Response:
    m = _month(wh, month)
    view, code = _region(scope, region)
    data = _guard(service.cluster_overview, wh, m, view)
    own = scope.division or "330000"
    return render(
        request,
        "chains/clusters.html",
        {
            **data,
            "months": service.invoice_months(wh),
            "region": reference.division(code) if code else None,
            "parent": reference.division(code).parent_code if code and code != own else None,
            "map_config": cluster_map.map_config(data, code, m) if code else None,
            "map_home_share": cluster_map.HOME_SHARE,
        },
    )


@pages.get("/clusters/{cluster_id}")
def cluster_page(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    cluster_id: ClusterId,
    month: MonthQuery = None,
) -> Response:
    m = _month(wh, month)
    data = _guard(service.cluster_overview, wh, m, scope)
    row = next((c for c in data["clusters"] if c["cluster_id"] == cluster_id), None)
    if row is None:
        raise HTTPException(status_code=404, detail=f"未知集群 {cluster_id}")
    members = _guard(service.cluster_members, wh, m, scope, cluster_id)
    definition = reference.cluster(cluster_id)
    return render(
        request,
        "chains/cluster.html",
        {
            "month": m,
            "period": data["period"],
            "c": row,
            "members": members,
            "definition": definition,
            **_charts(data, cluster_id),
        },
    )


@api.get("/clusters")
def clusters_api(wh: WarehouseReader, scope: CurrentScope, month: MonthQuery = None) -> dict[str, Any]:
    """The 415 clusters ranked by output (January to the month), with members, growth, 亩均税收,
    class-A share and promotion body; output by city and by month."""
    return _guard(service.cluster_overview, wh, _month(wh, month), scope)


@api.get("/clusters/{cluster_id}/members")
def cluster_members_api(
    wh: WarehouseReader, scope: CurrentScope, cluster_id: ClusterId, month: MonthQuery = None
) -> list[dict[str, Any]]:
    """Members of one cluster in the reader's region, with the basis and evidence of membership."""
    return _guard(service.cluster_members, wh, _month(wh, month), scope, cluster_id)
