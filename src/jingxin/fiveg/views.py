"""Pages of 5G 一件事: the applications list and filing form (operator), one application with
its survey, parallel approvals, build and power-on, and progress by county. Data through
`Scope`: an operator sees its own applications, a county its region, a department liaison
the approvals routed to its department."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.datastructures import UploadFile as StarletteUpload

from jingxin import reference
from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.db import utcnow
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.config import load_workflow
from jingxin.fiveg import service, stationmap, survey
from jingxin.reference.geo import boundaries
from jingxin.web.deps import CurrentScope, CurrentUser, DbSession, require_roles
from jingxin.web.params import RowId
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.templating import render

ROLES = frozenset({*ANALYSTS, Role.ADMIN, Role.OPERATOR, Role.LIAISON})
MAP_ROLES = frozenset({*ANALYSTS, Role.ADMIN, Role.OPERATOR})  # a liaison's scope holds no station
pages = APIRouter(prefix="/fiveg", include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])
Region = Annotated[str | None, Query(pattern=r"^\d{6}$", description="地图的上级区划")]


def _fail(exc: Exception) -> HTTPException:
    if isinstance(exc, wf.WorkflowError):
        return HTTPException(exc.status, str(exc))
    return HTTPException(422, str(exc))


@pages.get("")
def index(request: Request, db: DbSession, user: CurrentUser, scope: CurrentScope) -> Response:
    apps, total = wf.list_items(db, scope, workflow=service.APPLICATION, limit=200)
    mine = wf.list_items(db, scope, workflow=service.APPROVAL, open_only=True, limit=200)[0]
    now = utcnow()
    progress = service.progress(db, scope, now) if not scope.pinned else []
    return render(
        request,
        "fiveg/index.html",
        {
            "page_title": "5G基站建设一件事",
            "apps": apps,
            "total": total,
            "approvals": mine,
            "states": load_workflow(service.APPLICATION).states,
            "cfg": service.settings(),
            "progress": [
                p for p in progress if p.built or p.by_stage or scope.division not in (None, "330000")
            ],
            "times": service.approval_times(db, scope) if not scope.pinned else {},
            "names": {d.code: d.name for d in reference.divisions()},
            "counties": [c for c in reference.counties()],
            "is_operator": user.role == Role.OPERATOR,
            "surveys": survey.schedule_rows(db, scope, now) if scope.department is None else [],
            "may_map": user.role in MAP_ROLES,
            "now": now,
        },
    )


@pages.get("/map", dependencies=[Depends(require_roles(*MAP_ROLES))])
def map_page(
    request: Request, db: DbSession, user: CurrentUser, scope: CurrentScope, region: Region = None
) -> Response:
    parent = region or (scope.division if not scope.pinned and scope.division else "330000")
    try:
        config = stationmap.map_config(db, scope, parent, utcnow())
    except stationmap.NotInScope:
        raise HTTPException(404, "该区划不存在或不在您的数据范围内") from None
    return render(
        request,
        "fiveg/map.html",
        {
            "page_title": "5G基站分布图",
            "map_config": config,
            "parent": reference.division(parent),
            "is_operator": user.role == Role.OPERATOR,
        },
    )


@pages.get("/map/geo/{code}", dependencies=[Depends(require_roles(*MAP_ROLES))])
def map_geo(code: str, scope: CurrentScope) -> Response:
    """Boundaries under `code` for the station map (the same simplified GeoJSON as the other
    maps), for the divisions `stationmap.may_map` allows the user."""
    if len(code) != 6 or not code.isdigit() or not stationmap.may_map(scope, code):
        raise HTTPException(404, "该区划不存在或不在您的数据范围内")
    return JSONResponse(boundaries(code), headers={"Cache-Control": "private, max-age=86400"})


@pages.post("")
async def file(request: Request, db: DbSession, user: CurrentUser) -> Response:
    form = await request.form()
    try:
        item = service.file_application(
            db,
            user,
            county=str(form.get("county", "")),
            site_name=str(form.get("site_name", "")),
            site_type=str(form.get("site_type", "")),
            power=str(form.get("power", "")),
            lon=form.get("lon"),
            lat=form.get("lat"),
        )
        upload = form.get("attachment")
        if isinstance(upload, StarletteUpload) and upload.filename:
            service.attach(db, user, item.id, upload.filename, await upload.read())
    except (service.FiveGError, wf.WorkflowError) as exc:
        db.rollback()
        raise _fail(exc) from None
    return RedirectResponse(f"/fiveg/{item.id}", status_code=303)


@pages.get("/approvals/{approval_id}")
def approval_page(approval_id: RowId, db: DbSession, scope: CurrentScope) -> Response:
    try:
        branch = wf.get_item(db, scope, approval_id)
    except wf.ItemNotFound as exc:
        raise _fail(exc) from None
    return RedirectResponse(f"/fiveg/{branch.fields.get('parent')}?approval={branch.id}", status_code=303)


@pages.post("/approvals/{approval_id}")
async def decide(request: Request, approval_id: RowId, db: DbSession, user: CurrentUser) -> Response:
    form = await request.form()
    try:
        branch = service.decide(
            db, user, approval_id, form.get("decision") == "approve", str(form.get("opinion", ""))
        )
    except wf.WorkflowError as exc:
        raise _fail(exc) from None
    return RedirectResponse(f"/fiveg?decided={branch.id}", status_code=303)


@pages.get("/{item_id}")
def detail(
    request: Request, item_id: RowId, db: DbSession, user: CurrentUser, scope: CurrentScope
) -> Response:
    try:
        item = wf.get_item(db, scope, item_id)
    except wf.ItemNotFound as exc:
        raise _fail(exc) from None
    if item.workflow != service.APPLICATION:
        raise HTTPException(404, "不是5G基站申请")
    branches = (
        service.approvals_of(db, scope, item.id) if not scope.pinned or user.role == Role.OPERATOR else []
    )
    return render(
        request,
        "fiveg/detail.html",
        {
            "page_title": f"5G基站申请 #{item.id}",
            "item": item,
            "steps": item.steps,
            "branches": branches,
            "actions": wf.allowed_transitions(item, user),
            "states": load_workflow(service.APPLICATION).states,
            "approval_states": load_workflow(service.APPROVAL).states,
            "now": utcnow(),
            "attachments": service.attachments(db, scope, item.id),
            "window": survey.window(item) if item.state in ("filed", "survey_scheduled") else None,
            "parties": survey.parties(item),
            "cfg": service.settings(),
            "names": {d.code: d.name for d in reference.divisions()},
        },
    )


@pages.post("/{item_id}/{action}")
async def act(request: Request, item_id: RowId, action: str, db: DbSession, user: CurrentUser) -> Response:
    form = await request.form()
    value: Any = str(form.get("value", "")).strip()
    try:
        if action in ("schedule_survey", "reschedule_survey"):
            value = str(form.get("survey_on", "")).strip()
            survey.schedule(
                db,
                user,
                item_id,
                date.fromisoformat(value),
                place=str(form.get("survey_place", "")),
                reason=str(form.get("survey_note", "")) if action == "reschedule_survey" else "",
            )
        elif action == "record_survey":
            service.record_survey(db, user, item_id, value)
        elif action == "report_built":
            service.report_built(db, user, item_id, date.fromisoformat(value))
        elif action == "report_powered":
            service.report_powered(db, user, item_id, date.fromisoformat(value))
        else:
            raise HTTPException(404, "没有这一操作")
    except ValueError as exc:
        db.rollback()
        if isinstance(exc, wf.WorkflowError | service.FiveGError):
            raise _fail(exc) from None
        raise HTTPException(422, f"请填写正确的日期（YYYY-MM-DD）：{value[:20]}") from None
    return RedirectResponse(f"/fiveg/{item_id}", status_code=303)


def overdue(clock: Any, now: datetime) -> bool:
    return (
        clock is not None and clock.status == "running" and clock.due_at is not None and clock.due_at <= now
    )


scenario = WebScenario(
    name="fiveg",
    pages=pages,
    nav=(NavItem("fiveg", "5G基站", "/fiveg", roles=ROLES, order=62, icon="⌁"),),
    templates=Path(__file__).parent / "templates",
)
