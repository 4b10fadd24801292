"""JSON API of the 亩均 evaluation under /api/v1 (亩均评价接口).

/evaluation/runs, /evaluation/results, /evaluation/results.xlsx, /evaluation/enterprises/{code},
/evaluation/ranking, /evaluation/leaders, /dashboard and /geo/{code}. The same `presenters` as
the pages, with the user's Scope (rows) and Visibility (figures); anything outside the scope
answers 404, a malformed parameter 422 naming it in Chinese (as every route does, see
`web/errors.py`), and an order by a figure the role may not see 400.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from jingxin.evaluation import dashboard, service
from jingxin.evaluation import presenters as p
from jingxin.evaluation.pages import (
    EVAL_ROLES,
    REGION_ROLES,
    audit_sensitive,
    export_response,
    list_query,
    vis_of,
)
from jingxin.evaluation.params import (
    ClassName,
    CreditCode,
    DivisionCode,
    GeoCode,
    IndustryDivision,
    Page,
    PageSize,
    RankBy,
    RunId,
    Scale,
    SearchText,
    SortKey,
    SystemId,
    TopN,
    Year,
)
from jingxin.evaluation.schemas import (
    DashboardOut,
    GeoCollection,
    LeadersOut,
    ProfileOut,
    RankingOut,
    ResultPageOut,
    RunOut,
)
from jingxin.web.deps import (
    CurrentActor,
    CurrentScope,
    CurrentUser,
    DbSession,
    WarehouseReader,
    require_roles,
)
from jingxin.web.response_cache import shared_response
from jingxin.web.schemas import Message

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Message, "description": "无权按该指标排序或查看（说明见 detail）"},
    401: {"model": Message},
    403: {"model": Message},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {**ERRORS, 404: {"model": Message}}

api = APIRouter(tags=["亩均评价"])


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
    """Stored runs with results the user may see, newest first; counts are those inside the
    user's scope, `created_at` carries its time zone."""
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
    sort: SortKey = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    """One page of results of a run (by `run_id`, or the newest of `year` and `system`).
    A county outside the scope answers 404; an order by a figure the user may not see, 400."""
    vis = vis_of(user)
    run = p.run_or_404(p.choose(wh, scope, year, system, run_id))
    found = p.find(
        wh, run["run_id"], scope, vis, list_query(vis, county, division, cls, scale, q, sort), page, page_size
    )
    if found["rows"]:
        audit_sensitive(db, actor, user, "eval_results", run["run_id"], list(p.SENSITIVE_RESULT_FIELDS))
    return {
        "run": run,
        "items": found["rows"],
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
    sort: SortKey = None,
) -> Response:
    """The Excel workbook (汇总, 全部企业, one sheet per class) of the rows inside the scope
    that pass the same filters as `/evaluation/results`. Every download is audited."""
    vis = vis_of(user)
    run = p.run_or_404(p.choose(wh, scope, year, system, run_id))
    query = list_query(vis, county, division, cls, scale, q, sort)
    return export_response(wh, scope, db, actor, run, p.export_query(query, vis))


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
    profile = p.build_profile(wh, scope, credit_code, vis_of(user), run_id)
    if profile is None:
        raise p.not_found("企业不存在或不在您的数据范围内")
    if profile["result"] is not None:
        audit_sensitive(db, actor, user, "enterprise", credit_code, list(p.SENSITIVE_RESULT_FIELDS))
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
    user: CurrentUser,
    db: DbSession,
    actor: CurrentActor,
    year: Year = None,
    system: SystemId = None,
    run_id: RunId = None,
    by: RankBy = None,
) -> dict[str, Any]:
    """The counties in scope ranked by 亩均税收, 亩均增加值, mean score or share of class A
    (counties without results last, unranked)."""
    vis = vis_of(user)
    by = by or p.default_measure(vis)
    run = p.run_or_404(p.choose(wh, scope, year, system, run_id))
    rows = p.ranking(wh, run["run_id"], scope, vis, by)
    audit_sensitive(db, actor, user, "county_ranking", run["run_id"], ["tax_per_mu"])
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
    user: CurrentUser,
    year: Year = None,
    system: SystemId = None,
    run_id: RunId = None,
    top_n: TopN = None,
) -> dict[str, Any]:
    """Top enterprises per key industry (the flagship chains by default) and leading parks."""
    vis = vis_of(user)
    run = p.run_or_404(p.choose(wh, scope, year, system, run_id))
    groups = p.leaders(wh, run["run_id"], scope, vis, top_n)
    return {
        "run": run,
        "industries": [{"industry": name, "items": items} for name, items in groups.items()],
        "parks": p.leading_parks(wh, int(run["year"]), scope, vis),
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
    user: CurrentUser,
    db: DbSession,
    actor: CurrentActor,
    region: DivisionCode = None,
    year: Year = None,
    system: SystemId = None,
) -> dict[str, Any]:
    """Headline 亩均税收 and 亩均增加值 with the change on last year, classes, values for the
    map (cities of the province, counties of a city) and the trend over the years."""
    try:
        data = p.dashboard_data(wh, scope, region, year, system, vis_of(user))
    except dashboard.NotInScope:
        raise p.not_found("区划不存在或不在您的数据范围内") from None
    data.pop("choice")
    if data["run"] is not None:
        audit_sensitive(db, actor, user, "dashboard", data["region"]["code"], ["tax_per_mu"])
    return data


@api.get(
    "/geo/{code}",
    response_model=GeoCollection,
    responses={**NOT_FOUND, 304: {"description": "未变化（ETag）"}},
    summary="行政区划边界（GeoJSON）",
    tags=["亩均评价"],
    dependencies=[Depends(require_roles(*REGION_ROLES))],
)
def api_geo(request: Request, scope: CurrentScope, code: GeoCode) -> Response:
    """Boundaries for the map, simplified, served from memory with an ETag; only regions the
    user may see (a city analyst: their city's counties)."""
    try:
        body, etag = dashboard.geo_json(scope, code)
    except dashboard.NotInScope:
        raise p.not_found("区划不存在或不在您的数据范围内") from None
    headers = {"ETag": f'"{etag}"', "Cache-Control": "private, max-age=86400"}
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
