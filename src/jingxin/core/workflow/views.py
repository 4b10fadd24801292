"""Work items (待办事项) of every declared workflow: pages and `/api/v1/work-items`.

Pages: /work (the user's open work), /work/{id} (a case: fields, clocks, history, and a form for
each step the user may take). API: GET /api/v1/work-items, GET /api/v1/work-items/{id},
GET /api/v1/work-items/{id}/history, POST /api/v1/work-items/{id}/actions/{transition},
POST /api/v1/workflows/{workflow}/items. All through `jingxin.core.workflow.service` with the
logged-in user, so scope and roles are checked there and a case outside scope answers 404.
After a step, pending e-mail is sent in the background (the sweep sends what is left).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, RedirectResponse

from jingxin.accounts import sessions as account_sessions
from jingxin.core.db import utcnow
from jingxin.core.notify.service import deliver_pending
from jingxin.core.workflow import service
from jingxin.core.workflow.config import WorkflowConfigError, load_workflow
from jingxin.core.workflow.schemas import ActIn, StartIn, StepOut, WorkItemOut, item_out, step_out
from jingxin.web.deps import CurrentActor, CurrentUser, CurrentWebSession, DbSession
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import Message
from jingxin.web.templating import render

MAX_ID = 2**62
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Message},
    403: {"model": Message},
    404: {"model": Message},
    409: {"model": Message},
    422: {"model": Message},
}

pages = APIRouter(prefix="/work", include_in_schema=False)
api = APIRouter(tags=["流程办理"])

ItemId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="事项编号")]
Name = Annotated[str, PathParam(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


def _send_mail(request: Request) -> None:
    with request.app.state.db.session() as db:
        deliver_pending(db)


def _problem(exc: service.WorkflowError) -> HTTPException:
    return HTTPException(status_code=exc.status, detail=str(exc))


def _refuse_managed(workflow: str) -> None:
    """Steps of a workflow managed by its own page (`managed_by`) are taken there only."""
    managed = load_workflow(workflow).managed_by
    if managed:
        raise HTTPException(status_code=409, detail=f"此类事项请在 {managed} 页面办理")


# ---- API ------------------------------------------------------------------------------------


@api.get("/work-items", response_model=list[WorkItemOut], responses=ERRORS)
def my_work(db: DbSession, user: CurrentUser) -> list[WorkItemOut]:
    """Open cases the logged-in user can act on now (待办), oldest first."""
    now = utcnow()
    return [item_out(i, user, now) for i in service.work_items(db, user)]


@api.get("/work-items/{item_id}", response_model=WorkItemOut, responses=ERRORS)
def get_item(db: DbSession, user: CurrentUser, item_id: ItemId) -> WorkItemOut:
    try:
        return item_out(service.get_item(db, user.scope, item_id), user, utcnow())
    except service.WorkflowError as exc:
        raise _problem(exc) from None


@api.get("/work-items/{item_id}/history", response_model=list[StepOut], responses=ERRORS)
def get_history(db: DbSession, user: CurrentUser, item_id: ItemId) -> list[StepOut]:
    """Every step of the case: who, when, what, why (append-only)."""
    try:
        return [step_out(s) for s in service.history(db, user.scope, item_id)]
    except service.WorkflowError as exc:
        raise _problem(exc) from None


@api.post("/work-items/{item_id}/actions/{transition}", response_model=WorkItemOut, responses=ERRORS)
def take_action(
    request: Request,
    background: BackgroundTasks,
    db: DbSession,
    user: CurrentUser,
    actor: CurrentActor,
    item_id: ItemId,
    transition: Name,
    body: ActIn,
) -> Any:
    try:
        _refuse_managed(service.get_item(db, user.scope, item_id).workflow)
        item = service.act(
            db,
            item_id,
            transition,
            user,
            fields=body.fields,
            comment=body.comment,
            expected_version=body.version,
            actor=actor,
        )
    except service.FieldProblems as exc:
        return JSONResponse({"detail": str(exc), "fields": exc.problems}, status_code=422)
    except service.WorkflowError as exc:
        raise _problem(exc) from None
    background.add_task(_send_mail, request)
    return item_out(item, user, utcnow())


@api.post("/workflows/{workflow}/items", response_model=WorkItemOut, status_code=201, responses=ERRORS)
def start_item(
    request: Request,
    background: BackgroundTasks,
    db: DbSession,
    user: CurrentUser,
    actor: CurrentActor,
    workflow: Name,
    body: StartIn,
) -> Any:
    """Open a case. An enterprise user files for itself (division and credit code are its own)."""
    try:
        load_workflow(workflow)
    except WorkflowConfigError:
        raise HTTPException(status_code=404, detail="流程不存在") from None
    _refuse_managed(workflow)
    division = body.division_code or user.division_code
    credit = body.credit_code or user.credit_code
    try:
        item = service.start_item(
            db,
            workflow,
            user,
            division_code=division,
            credit_code=credit,
            fields=body.fields,
            comment=body.comment,
            key=body.key,
            actor=actor,
        )
    except service.FieldProblems as exc:
        return JSONResponse({"detail": str(exc), "fields": exc.problems}, status_code=422)
    except service.WorkflowError as exc:
        raise _problem(exc) from None
    background.add_task(_send_mail, request)
    return item_out(item, user, utcnow())


# ---- pages ----------------------------------------------------------------------------------


@pages.get("")
def work_page(request: Request, db: DbSession, user: CurrentUser) -> Response:
    now = utcnow()
    items = [item_out(i, user, now) for i in service.work_items(db, user)]
    return render(request, "workflow/work.html", {"page_title": "待办事项", "items": items})


def _item_context(db: DbSession, user: Any, item_id: int) -> dict[str, Any]:
    item = service.get_item(db, user.scope, item_id)
    definition = load_workflow(item.workflow)
    return {
        "page_title": f"{definition.title} #{item.id}",
        "item": item_out(item, user, utcnow()),
        "steps": service.history(db, user.scope, item_id),
        "definition": definition,
        "problems": {},
        "failed": None,
    }


@pages.get("/{item_id}")
def item_page(request: Request, db: DbSession, user: CurrentUser, item_id: ItemId) -> Response:
    try:
        context = _item_context(db, user, item_id)
    except service.WorkflowError as exc:
        raise _problem(exc) from None
    return render(request, "workflow/item.html", context)


@pages.post("/{item_id}/act/{transition}")
async def item_act(
    request: Request,
    background: BackgroundTasks,
    db: DbSession,
    user: CurrentUser,
    ws: CurrentWebSession,
    actor: CurrentActor,
    item_id: ItemId,
    transition: Name,
) -> Response:
    form = await request.form()
    fields = {k[2:]: v for k, v in form.items() if k.startswith("f.") and isinstance(v, str)}
    comment = form.get("comment")
    version = form.get("version")
    try:
        _refuse_managed(service.get_item(db, user.scope, item_id).workflow)
        service.act(
            db,
            item_id,
            transition,
            user,
            fields=fields,
            comment=comment if isinstance(comment, str) else "",
            expected_version=int(version) if isinstance(version, str) and version.isdigit() else None,
            actor=actor,
        )
    except service.FieldProblems as exc:
        try:
            context = _item_context(db, user, item_id)
        except service.WorkflowError as again:
            raise _problem(again) from None
        context.update(problems=exc.problems, failed=transition, values=fields)
        return render(request, "workflow/item.html", context, status_code=422)
    except service.WorkflowError as exc:
        raise _problem(exc) from None
    background.add_task(_send_mail, request)
    account_sessions.add_flash(db, ws, "已办理。")
    return RedirectResponse(f"/work/{item_id}", status_code=303)


scenario = WebScenario(
    name="workflow",
    pages=pages,
    api=api,
    nav=(NavItem("work", "待办事项", "/work", order=14, icon="☑"),),
    templates=Path(__file__).parent / "templates",
)
