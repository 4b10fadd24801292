"""Pages of the 亩均 evaluation (亩均评价页面).

/evaluation (results: year and system, filters, sort, search, HTMX table, Excel of the rows on
screen), /evaluation/export.xlsx, /evaluation/enterprises/{code} (企业画像), /evaluation/mine
(an enterprise user's own profile), /ranking (区县排名 and 领跑者).

Pages call `presenters` with the user's Scope and Visibility; routes never filter. Anything
outside the scope answers 404. Every view of sensitive figures by a cleared user, and every
download, is written to the audit log.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse, RedirectResponse

from jingxin.core import audit
from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.scope import Scope
from jingxin.core.visibility import Visibility, visibility_for
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation import charts, dashboard
from jingxin.evaluation import presenters as p
from jingxin.evaluation.params import (
    ClassName,
    CreditCode,
    DivisionCode,
    IndustryDivision,
    Page,
    RankBy,
    RunId,
    Scale,
    SearchText,
    SortKey,
    SystemId,
    Year,
    result_filters,
)
from jingxin.web.deps import (
    CurrentActor,
    CurrentScope,
    CurrentUser,
    DbSession,
    WarehouseReader,
    require_roles,
)
from jingxin.web.pagination import Pager
from jingxin.web.response_cache import shared_response
from jingxin.web.templating import is_htmx, render

REGION_ROLES = frozenset({*ANALYSTS, Role.ADMIN})
"""Who sees regional figures (dashboard, map, ranking) and may export lists."""
LIST_ROLES = frozenset({*REGION_ROLES, Role.SERVICE_STAFF})
"""Who browses the results list (service staff: the enterprises assigned to them)."""
EVAL_ROLES = frozenset({*LIST_ROLES, Role.ENTERPRISE})
"""Who sees some evaluation result (an enterprise: its own)."""

PER_PAGE = 30

pages = APIRouter(include_in_schema=False)


def vis_of(user: Any) -> Visibility:
    return visibility_for(user.role_enum)


def audit_sensitive(
    db: DbSession, actor: CurrentActor, user: Any, object_type: str, object_id: str, fields: list[str]
) -> None:
    """Log that a cleared user saw sensitive fields (nothing is logged for masked views)."""
    if user.clearance and fields:
        audit.record_sensitive_view(db, actor, object_type, object_id, fields)


def list_query(
    vis: Visibility,
    county: str | None,
    division: str | None,
    cls: str | None,
    scale: str | None,
    q: str | None,
    sort: str | None,
) -> p.ListQuery:
    return p.ListQuery(result_filters(county, division, cls, scale), q, sort or p.default_sort(vis))


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
    sort: SortKey = None,
    page: Page = 1,
) -> Response:
    """评价结果: the results of one run in the user's scope (the table alone for HTMX)."""
    if user.role_enum is Role.ENTERPRISE:
        return RedirectResponse("/evaluation/mine", status_code=303)
    vis = vis_of(user)
    choice = dashboard.choose_run(wh, scope, year, system)
    query = list_query(vis, county, division, cls, scale, q, sort)
    regional = user.role_enum in REGION_ROLES
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
        "sort": query.sort,
        "sort_labels": p.sort_labels(vis),
        "regional": regional,
        "masked": vis.masked,
    }
    if choice.run is not None:
        run_id = choice.run["run_id"]
        found = p.find(wh, run_id, scope, vis, query, page, PER_PAGE)
        context.update(
            rows=found["rows"],
            pager=Pager.build(request, found["page"], PER_PAGE, found["total"]),
            labels=p.class_labels(wh, run_id),
            run=choice.run,
            export_query=query.download_query(choice) if regional else "",
        )
        if found["rows"]:
            audit_sensitive(db, actor, user, "eval_results", run_id, list(p.SENSITIVE_RESULT_FIELDS))
    if is_htmx(request):
        return render(request, "evaluation/_results_table.html", context)
    if choice.run is not None:
        context.update(
            counties=dashboard.counties_in_scope(scope),
            divisions=dashboard.result_divisions(wh, choice.run["run_id"], scope),
        )
    return render(request, "evaluation/results.html", context)


@pages.get("/evaluation/export.xlsx", dependencies=[Depends(require_roles(*REGION_ROLES))])
def results_export_page(
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
    sort: SortKey = None,
) -> Response:
    """The Excel workbook of the list on screen (same run, filters, search and order), only
    rows inside the scope and figures the user may see; audited."""
    vis = vis_of(user)
    run = p.run_or_404(dashboard.choose_run(wh, scope, year, system))
    query = list_query(vis, county, division, cls, scale, q, sort)
    return export_response(wh, scope, db, actor, run, p.export_query(query, vis))


class TemporaryFileResponse(FileResponse):
    """A file alone in a temporary folder, sent from disk in chunks; the folder is removed when
    the response is over, whether sent in full or cut off (a client gone mid-download), which a
    background task alone would skip."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            shutil.rmtree(Path(self.path).parent, ignore_errors=True)


def export_response(
    wh: Warehouse, scope: Scope, db: DbSession, actor: CurrentActor, run: dict[str, Any], query: Any
) -> Response:
    """The workbook as a download, recorded in the audit log with its rows and filters. It is
    written to a temporary file and streamed from there, so no request holds it in memory."""
    try:
        path, rows = dashboard.export_workbook(wh, run["run_id"], scope, query)
    except dashboard.NotInScope:
        raise p.not_found("所选区县不在您的数据范围内") from None
    region = p.division_name(scope.division) if scope.division else "全省"
    name = f"{run['year']}年度{run['title']}（{region}）.xlsx"
    try:
        audit.record(
            db,
            actor,
            audit.Action.EXPORT,
            "eval_run",
            run["run_id"],
            {
                "format": "xlsx",
                "rows": rows,
                "scope": scope.division or "330000",
                "file_name": name,
                "filters": dict(query.described),
            },
            commit=True,
        )
    except BaseException:
        shutil.rmtree(path.parent, ignore_errors=True)
        raise
    return TemporaryFileResponse(
        path,
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
    profile = p.build_profile(wh, scope, credit_code, vis_of(user), run)
    if profile is None:
        if run is None and scope.credit_code == credit_code:
            # The enterprise's own page before any data about it has arrived.
            return render(
                request,
                "evaluation/enterprise.html",
                {"page_title": "本企业评价", "profile": None, "own": True},
            )
        raise p.not_found("企业不存在或不在您的数据范围内")
    if profile["result"] is not None:
        audit_sensitive(db, actor, user, "enterprise", credit_code, list(p.SENSITIVE_RESULT_FIELDS))
    years, table = p.indicator_table(profile)
    name = (profile["master"] or {}).get("name") or (profile["result"] or {}).get("name") or credit_code
    return render(
        request,
        "evaluation/enterprise.html",
        {
            "page_title": name,
            "profile": profile,
            "indicator_years": years,
            "indicator_rows": table,
            "score_chart": charts.score_chart(profile["history"]),
            "own": scope.credit_code == credit_code,
        },
    )


@pages.get("/ranking", dependencies=[Depends(require_roles(*REGION_ROLES))])
@shared_response()
def ranking_page(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    user: CurrentUser,
    db: DbSession,
    actor: CurrentActor,
    year: Year = None,
    system: SystemId = None,
    by: RankBy = None,
) -> Response:
    """区县排名 and 领跑者 of the chosen run, inside the scope."""
    vis = vis_of(user)
    by = by or p.default_measure(vis)
    choice = dashboard.choose_run(wh, scope, year, system)
    rank_labels = {k: v for k, v in p.RANK_LABELS.items() if vis.measure_allowed(k)}
    context: dict[str, Any] = {
        "page_title": "区县排名",
        "choice": choice,
        "by": by,
        "rank_labels": rank_labels,
    }
    if choice.run is not None:
        run_id = choice.run["run_id"]
        rows = p.ranking(wh, run_id, scope, vis, by)
        ranked = [r for r in rows if r["rank"] is not None]
        context.update(
            rows=rows,
            labels=p.class_labels(wh, run_id),
            ranking_chart=charts.ranking_chart(ranked[:20], by, p.RANK_LABELS[by]),
            ranking_count=len(ranked[:20]),
            leaders=p.leaders(wh, run_id, scope, vis),
            parks=p.leading_parks(wh, int(choice.run["year"]), scope, vis),
            show_tax=vis.measure_allowed("tax_per_mu"),
            show_mean=vis.measure_allowed("mean_score"),
        )
        # county 亩均税收 is a sum of enterprises' tax (one enterprise in a county is itself)
        audit_sensitive(db, actor, user, "county_ranking", run_id, ["tax_per_mu"])
    return render(request, "evaluation/ranking.html", context)
