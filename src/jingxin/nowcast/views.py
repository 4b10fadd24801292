"""The nowcast in the web app (现时预测): a page per region, its Excel download and the API.

Only analysts and admins see it (regional aggregates), each inside their scope through
`nowcast.service.allowed_regions` (`core/scope.py`); a region outside the scope is a 404, as
elsewhere. Runs are made by the `nowcast.run` job (作业 page, schedule, or `jingxin nowcast`).
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from jingxin.core import audit
from jingxin.core.auth import ANALYSTS, Role
from jingxin.nowcast import charts, service
from jingxin.nowcast.data import regions
from jingxin.nowcast.export import workbook
from jingxin.nowcast.models import NowcastError
from jingxin.nowcast.schemas import NowcastOut, RunOut
from jingxin.web.deps import CurrentActor, CurrentScope, DbSession, WarehouseReader, require_roles
from jingxin.web.params import MonthQuery
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import Message
from jingxin.web.templating import render

ROLES = frozenset({*ANALYSTS, Role.ADMIN})
ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": Message}, 403: {"model": Message}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {**ERRORS, 404: {"model": Message}}
RunId = Annotated[
    str | None, Query(max_length=40, pattern=r"^\d{4}-\d{2}-[0-9a-f]{10}$", description="预测批次编号")
]
Region = Annotated[str | None, Query(pattern=r"^\d{6}$", description="区划代码（省、市或县）")]

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/nowcast", tags=["现时预测"])


def _view(
    wh: Any, scope: Any, run: str | None, region: str | None, month: str | None = None
) -> dict[str, Any] | None:
    """The run's view for the region, or None when there is no run yet; 404 outside the scope."""
    try:
        code = service.allowed_regions(scope, region)[0]
        if run is None:
            latest = service.latest_run(wh, scope, month, code)
            if latest is None:
                return None
            run = latest["run_id"]
        return service.run_view(wh, scope, run, code)
    except (PermissionError, NowcastError, KeyError):
        raise HTTPException(404, "没有该地区的现时预测，或不在您的数据范围内") from None


@pages.get("/nowcast", dependencies=[Depends(require_roles(*ROLES))])
def nowcast_page(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    run: RunId = None,
    region: Region = None,
    month: MonthQuery = None,
) -> Response:
    """现时预测: the chosen (or latest) run for a region, its chart, news and the run list."""
    view = _view(wh, scope, run, region, month)
    codes = set(service.allowed_regions(scope))
    context: dict[str, Any] = {
        "page_title": "现时预测",
        "view": view,
        "regions": [(c, n) for c, n, _ in regions() if c in codes],
        "runs": service.list_runs(wh, scope, limit=20),
    }
    if view is not None:
        context.update(
            nowcast_chart=charts.nowcast_chart(view),
            news_chart=charts.news_chart(view),
            news_total=sum(i["impact"] for i in view["news"]),
        )
    return render(request, "nowcast/index.html", context)


@pages.get("/nowcast/export.xlsx", dependencies=[Depends(require_roles(*ROLES))])
def nowcast_export(
    wh: WarehouseReader,
    scope: CurrentScope,
    db: DbSession,
    actor: CurrentActor,
    run: RunId = None,
    region: Region = None,
) -> Response:
    """The shown nowcast as a workbook; recorded in the audit log."""
    view = _view(wh, scope, run, region)
    if view is None:
        raise HTTPException(404, "尚无现时预测")
    audit.record(
        db,
        actor,
        audit.Action.EXPORT,
        "nowcast_run",
        view["run_id"],
        {"format": "xlsx", "region": view["region_code"]},
        commit=True,
    )
    name = f"现时预测_{view['region_name']}_{view['target_month']}.xlsx"
    return Response(
        workbook(view),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f"attachment; filename=\"nowcast.xlsx\"; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )


@api.get(
    "/runs", dependencies=[Depends(require_roles(*ROLES))], response_model=list[RunOut], responses=ERRORS
)
def api_runs(wh: WarehouseReader, scope: CurrentScope) -> list[dict[str, Any]]:
    """Recent nowcast runs holding a region in your scope."""
    return service.list_runs(wh, scope)


@api.get(
    "/latest", dependencies=[Depends(require_roles(*ROLES))], response_model=NowcastOut, responses=NOT_FOUND
)
def api_latest(
    wh: WarehouseReader, scope: CurrentScope, region: Region = None, month: MonthQuery = None
) -> dict[str, Any]:
    """The latest nowcast of a region (default: your widest): estimates, intervals, news."""
    view = _view(wh, scope, None, region, month)
    if view is None:
        raise HTTPException(404, "尚无现时预测")
    return view


@api.get(
    "/runs/{run_id}",
    dependencies=[Depends(require_roles(*ROLES))],
    response_model=NowcastOut,
    responses=NOT_FOUND,
)
def api_run(
    wh: WarehouseReader,
    scope: CurrentScope,
    run_id: Annotated[str, Path(max_length=40, description="预测批次编号")],
    region: Region = None,
) -> dict[str, Any]:
    """One run for one region: estimates by model for the month and quarter, news, history."""
    view = _view(wh, scope, run_id, region)
    assert view is not None
    return view


scenario = WebScenario(
    name="nowcast",
    pages=pages,
    api=api,
    nav=(NavItem("nowcast", "现时预测", "/nowcast", roles=ROLES, order=35, icon="◔"),),
    templates=FilePath(__file__).parent / "templates",
)
