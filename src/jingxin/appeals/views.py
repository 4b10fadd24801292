"""Pages and API of appeals (诉求直办).

Pages: /appeals (an enterprise's or service worker's appeals and the form to file one; a
phone-sized layout), /appeals/supervision (officials and department users: overdue and
low-rated appeals by department and county, statistics by category; .xlsx download),
/appeals/{id}/attachments/{aid} (a file of a visible appeal, audited). Acting on an appeal
(accept, ask for material, answer, rate, reopen) is the workflow page /work/{id}.

API: GET/POST /api/v1/appeals, GET /api/v1/appeals/overdue, /low-rated, /stats.
Everything goes through `jingxin.appeals.service` with the logged-in user: the scope rule
(region, enterprise, department) is applied there.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel
from starlette.datastructures import UploadFile as StarletteUpload

from jingxin.accounts import sessions as account_sessions
from jingxin.appeals import service
from jingxin.appeals.attachments import MEDIA_TYPES, AttachmentError
from jingxin.appeals.config import WORKFLOW, load_routing
from jingxin.appeals.xlsx import XLSX_TYPE, workbook
from jingxin.arrears.service import ArrearsError
from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.db import utcnow
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.config import load_workflow
from jingxin.core.workflow.schemas import WorkItemOut, item_out
from jingxin.web.deps import CurrentActor, CurrentUser, CurrentWebSession, DbSession, require_roles
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import Message
from jingxin.web.templating import render

FILERS = frozenset({Role.ENTERPRISE, Role.SERVICE_STAFF})
SUPERVISORS = frozenset({Role.ADMIN, Role.LIAISON, *ANALYSTS})


class Problem(BaseModel):
    """A refused form: a message with the fields at fault, or the list of malformed parameters."""

    detail: str | list[dict[str, Any]]
    fields: dict[str, str] | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Message},
    403: {"model": Message},
    404: {"model": Message},
    422: {"model": Problem},
}
ARREAR_FIELDS = (
    "debtor_name",
    "debtor_kind",
    "debtor_code",
    "contract_no",
    "signed_on",
    "delivered_on",
    "contract_days",
    "amount",
    "disputed",
)

pages = APIRouter(prefix="/appeals", include_in_schema=False)
api = APIRouter(prefix="/appeals", tags=["诉求直办"])
Filer = Annotated[Any, Depends(require_roles(*FILERS))]
Supervisor = Annotated[Any, Depends(require_roles(*SUPERVISORS))]
ItemId = Annotated[int, PathParam(ge=1, le=2**62)]


def store(request: Request) -> Path:
    """Where attachments are kept: under the platform home (`JINGXIN_HOME`)."""
    return Path(request.app.state.settings.home) / "attachments"


async def _submit(request: Request, db: Any, user: Any, form: Any) -> Any:
    uploads = []
    for f in form.getlist("files"):
        if isinstance(f, StarletteUpload) and f.filename:
            uploads.append((f.filename, await f.read()))
    arrear = None
    if form.get("category") == service.ARREARS_CATEGORY and form.get("debtor_name"):
        arrear = {k: form.get(k) for k in ARREAR_FIELDS}
    return service.submit(
        db,
        user,
        title=str(form.get("title") or ""),
        content=str(form.get("content") or ""),
        category=str(form.get("category") or "") or None,
        credit_code=str(form.get("credit_code") or "") or None,
        division_code=str(form.get("division_code") or "") or None,
        uploads=uploads,
        store=store(request),
        arrear=arrear,
        key=str(form.get("key") or "") or None,
    )


def _problems(exc: Exception) -> dict[str, str]:
    if isinstance(exc, wf.FieldProblems | ArrearsError):
        return dict(exc.problems)
    return {"files": str(exc)}


# ---- API ------------------------------------------------------------------------------------


@api.get("", response_model=list[WorkItemOut], responses=ERRORS)
def list_api(db: DbSession, user: CurrentUser, state: str | None = None) -> list[WorkItemOut]:
    """Appeals in the user's scope, newest first (an enterprise: its own)."""
    now = utcnow()
    return [item_out(i, user, now) for i in service.list_appeals(db, user, state=state, limit=200)[0]]


@api.post("", response_model=WorkItemOut, status_code=201, responses=ERRORS)
async def submit_api(
    request: Request,
    db: DbSession,
    user: Filer,
    title: Annotated[str, Form(max_length=200)],
    content: Annotated[str, Form(max_length=5000)],
    category: Annotated[str | None, Form()] = None,
    files: Annotated[list[UploadFile] | None, File(description="附件（pdf、jpg、png、docx、xlsx）")] = None,
) -> Any:
    """File an appeal (multipart form). A 清欠 appeal may carry debtor_name, debtor_kind,
    contract_no, signed_on, delivered_on, contract_days, amount, disputed: it opens a ledger entry."""
    form = await request.form()
    try:
        item = await _submit(request, db, user, form)
    except (wf.FieldProblems, ArrearsError, AttachmentError) as exc:
        return JSONResponse({"detail": str(exc), "fields": _problems(exc)}, status_code=422)
    except wf.WorkflowError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return item_out(item, user, utcnow())


@api.get("/overdue", responses=ERRORS)
def overdue_api(db: DbSession, user: Supervisor) -> dict[str, Any]:
    """Open appeals past a deadline, and counts by department and county."""
    return asdict(service.overdue(db, user))


@api.get("/low-rated", responses=ERRORS)
def low_rated_api(db: DbSession, user: Supervisor) -> dict[str, Any]:
    return asdict(service.low_rated(db, user))


@api.get("/stats", responses=ERRORS)
def stats_api(db: DbSession, user: Supervisor) -> list[dict[str, Any]]:
    return [asdict(s) for s in service.stats_by_category(db, user)]


# ---- pages ----------------------------------------------------------------------------------


def _list_context(db: Any, user: Any) -> dict[str, Any]:
    now = utcnow()
    definition = load_workflow(WORKFLOW)
    return {
        "page_title": "企业诉求",
        "items": [item_out(i, user, now) for i in service.list_appeals(db, user, limit=100)[0]],
        "categories": definition.fields["category"].choices,
        "can_file": user.role_enum in FILERS,
        "limits": load_routing().attachments,
        "problems": {},
        "values": {},
    }


@pages.get("")
def appeals_page(request: Request, db: DbSession, user: CurrentUser) -> Response:
    return render(request, "appeals/index.html", _list_context(db, user))


@pages.post("")
async def appeals_submit(request: Request, db: DbSession, user: Filer, ws: CurrentWebSession) -> Response:
    form = await request.form()
    try:
        item = await _submit(request, db, user, form)
    except (wf.FieldProblems, ArrearsError, AttachmentError) as exc:
        db.rollback()
        context = _list_context(db, user)
        context.update(problems=_problems(exc), values={k: v for k, v in form.items() if isinstance(v, str)})
        return render(request, "appeals/index.html", context, status_code=422)
    except wf.WorkflowError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    account_sessions.add_flash(db, ws, f"诉求已提交（#{item.id}），已分办至{item.fields.get('department')}。")
    return RedirectResponse(f"/work/{item.id}", status_code=303)


@pages.get("/supervision")
def supervision_page(request: Request, db: DbSession, user: Supervisor) -> Response:
    return render(
        request,
        "appeals/supervision.html",
        {
            "page_title": "诉求督办",
            "overdue": service.overdue(db, user),
            "low": service.low_rated(db, user),
            "stats": service.stats_by_category(db, user),
        },
    )


@pages.get("/supervision.xlsx")
def supervision_xlsx(db: DbSession, user: Supervisor, actor: CurrentActor) -> Response:
    from jingxin.core import audit

    over, low, stats = (
        service.overdue(db, user),
        service.low_rated(db, user),
        service.stats_by_category(db, user),
    )
    data = workbook(
        [
            (
                "超期诉求",
                [
                    "编号",
                    "诉求",
                    "企业信用代码",
                    "区县",
                    "承办部门",
                    "类别",
                    "时限",
                    "到期时间",
                    "办理层级",
                    "状态",
                ],
                [
                    [
                        r.id,
                        r.title,
                        r.credit_code,
                        r.county_name,
                        r.department,
                        r.category,
                        r.clock,
                        r.due_at.isoformat(),
                        r.level,
                        r.state,
                    ]
                    for r in over.rows
                ],
            ),
            (
                "低评价诉求",
                ["编号", "诉求", "企业信用代码", "区县", "承办部门", "评价", "重新办理次数", "状态"],
                [
                    [r.id, r.title, r.credit_code, r.county_name, r.department, r.rating, r.reopened, r.state]
                    for r in low.rows
                ],
            ),
            (
                "分类统计",
                ["类别", "合计", "办理中", "已办结", "超时", "重新办理", "满意", "不满意"],
                [
                    [s.label, s.total, s.open, s.closed, s.late, s.reopened, s.satisfied, s.dissatisfied]
                    for s in stats
                ],
            ),
        ]
    )
    audit.record(
        db, actor, audit.Action.EXPORT, "appeals_supervision", None, {"rows": len(over.rows) + len(low.rows)}
    )
    db.commit()
    return Response(
        data,
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": "attachment; filename*=UTF-8''appeals-supervision.xlsx"},
    )


@pages.get("/{item_id}/attachments/{attachment_id}")
def attachment(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    actor: CurrentActor,
    item_id: ItemId,
    attachment_id: ItemId,
) -> Response:
    try:
        found, path = service.open_attachment(db, user, item_id, attachment_id, store(request), actor)
    except wf.WorkflowError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return FileResponse(
        path,
        media_type=MEDIA_TYPES.get(found.kind, "application/octet-stream"),
        filename=found.filename,
        content_disposition_type="attachment",
    )


scenario = WebScenario(
    name="appeals",
    pages=pages,
    api=api,
    nav=(
        NavItem("appeals", "企业诉求", "/appeals", roles=FILERS, order=30, icon="✉", match="/appeals"),
        NavItem(
            "appeals-supervision", "诉求督办", "/appeals/supervision", roles=SUPERVISORS, order=31, icon="⚑"
        ),
    ),
    templates=Path(__file__).parent / "templates",
)
