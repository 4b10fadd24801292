"""Pages and API of jobs and schedules (作业、定时任务).

Pages: /jobs (own jobs, every job for an admin, progress bars refreshed by HTMX while a job is
active), /jobs/{id} (progress, log, result or error, 重试, result files to download from
/jobs/{id}/files/{name}, audited), /jobs/schedules (admin: rules,
next run, switch on/off, edit) and /jobs/schedules/{id} (its runs).
API under /api/v1/jobs: submit, list, read, retry, upload a file for a job, kinds, schedules,
worker processes. The CLI hands its work over through this API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse

from jingxin.accounts import sessions as account_sessions
from jingxin.accounts.models import User
from jingxin.core import audit
from jingxin.core.auth import Role
from jingxin.core.jobs import all_kinds, schedules, service
from jingxin.core.jobs.config import get_job_settings
from jingxin.core.jobs.models import STATUS_LABELS, Job, JobSchedule
from jingxin.core.jobs.registry import JobRefused
from jingxin.core.jobs.results import result_file, result_files
from jingxin.core.jobs.uploads import UploadError, save_upload
from jingxin.jobs.schemas import (
    JobDetailOut,
    JobKindOut,
    JobLogOut,
    JobOut,
    JobSubmit,
    ScheduleIn,
    ScheduleOut,
    UploadOut,
    WorkerOut,
)
from jingxin.web.deps import CurrentActor, CurrentUser, CurrentWebSession, DbSession, require_roles
from jingxin.web.pagination import Pager
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import Message, Page, ProblemOut
from jingxin.web.templating import is_htmx, render

PER_PAGE = 30
MAX_ID = 2**62
ADMIN_ONLY = [Depends(require_roles(Role.ADMIN))]
ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": Message}, 403: {"model": Message}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {**ERRORS, 404: {"model": Message}}

pages = APIRouter(prefix="/jobs", include_in_schema=False)
api = APIRouter(prefix="/jobs", tags=["作业"])

JobId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="作业编号")]
ScheduleId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="定时任务编号")]


def _job_or_404(db: DbSession, user: User, job_id: int) -> Job:
    try:
        return service.get_job(db, job_id, user.id, user.is_admin)
    except service.JobNotFound:
        raise HTTPException(status_code=404, detail="作业不存在或不是您的作业") from None


def submit_for(
    request: Request, db: DbSession, user: User, actor: audit.Actor, data: JobSubmit
) -> tuple[Job, bool]:
    """Record and enqueue a job for `user` (their role and scope), auditing uploads."""
    try:
        job, created = service.submit(
            db,
            data.kind,
            data.params,
            owner_name=user.username,
            owner_id=user.id,
            role=user.role_enum,
            scope=user.scope,
            request_key=data.request_key,
        )
    except JobRefused as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    if created:
        if job.kind == "ingest":
            files = [f"{f['source']}:{f['file_name']}" for f in job.params.get("files", [])]
            audit.record(db, actor, audit.Action.UPLOAD, "job", job.id, {"files": files[:50]}, commit=True)
        request.app.state.jobs.enqueue(job.id)
    return job, created


# ---- pages --------------------------------------------------------------------------------


def _list_context(request: Request, db: DbSession, user: User, status: str, page: int) -> dict[str, Any]:
    jobs, total = service.list_jobs(
        db, user.id, user.is_admin, status=status or None, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    return {
        "page_title": "作业",
        "jobs": jobs,
        "pager": Pager.build(request, page, PER_PAGE, total),
        "status": status,
        "statuses": list(STATUS_LABELS.items()),
        "polling": any(j.active for j in jobs),
        "show_owner": user.is_admin,
        "query": request.url.query,
    }


@pages.get("/schedules", dependencies=ADMIN_ONLY)
def schedules_page(request: Request, db: DbSession) -> Response:
    rows = [(s, schedules.describe(s), schedules.next_due(s)) for s in schedules.list_schedules(db)]
    kinds = [k for k in all_kinds() if k.scheduled]
    return render(
        request,
        "jobs/schedules.html",
        {"page_title": "定时任务", "rows": rows, "rules": schedules.RULES, "kinds": kinds},
    )


def _form_params(text: str) -> dict[str, Any] | None:
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise schedules.ScheduleError(f"作业参数须为 JSON 对象：{exc.msg}（第 {exc.colno} 列）") from None
    if not isinstance(value, dict):
        raise schedules.ScheduleError('作业参数须为 JSON 对象，如 {"keep_days": 90}')
    return value


@pages.post("/schedules", dependencies=ADMIN_ONLY)
def schedule_save_page(
    db: DbSession,
    ws: CurrentWebSession,
    user: CurrentUser,
    actor: CurrentActor,
    schedule_id: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
    name: Annotated[str, Form(max_length=64)] = "",
    title: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=64)] = "",
    rule: Annotated[str, Form(max_length=32)] = "daily",
    day: Annotated[str, Form(max_length=4)] = "",
    at: Annotated[str, Form(max_length=5)] = "02:00",
    enabled: Annotated[str, Form(max_length=8)] = "",
    params: Annotated[str, Form(max_length=20000)] = "",
) -> Response:
    """Create or change a schedule from the admin form."""
    try:
        _save(
            db,
            user,
            actor,
            schedule_id,
            name=name or None,
            title=title or None,
            kind=kind or None,
            data=ScheduleIn.model_construct(
                rule=rule,
                day=int(day) if day.strip().isdigit() else None,
                at=at,
                enabled=bool(enabled),
                params=_form_params(params),
            ),
        )
    except (schedules.ScheduleError, JobRefused) as exc:
        db.rollback()
        account_sessions.add_flash(db, ws, f"未保存：{exc}", "error")
        return RedirectResponse("/jobs/schedules", status_code=303)
    account_sessions.add_flash(db, ws, "定时任务已保存。", "success")
    return RedirectResponse("/jobs/schedules", status_code=303)


def _save(
    db: DbSession,
    user: User,
    actor: audit.Actor,
    schedule_id: int | None,
    data: ScheduleIn,
    name: str | None = None,
    title: str | None = None,
    kind: str | None = None,
) -> JobSchedule:
    with service.writing(db):
        return _save_locked(db, user, actor, schedule_id, data, name, title, kind)


def _save_locked(
    db: DbSession,
    user: User,
    actor: audit.Actor,
    schedule_id: int | None,
    data: ScheduleIn,
    name: str | None,
    title: str | None,
    kind: str | None,
) -> JobSchedule:
    s, changes = schedules.save_schedule(
        db,
        by=user.username,
        schedule_id=schedule_id,
        name=name,
        title=title,
        kind=kind,
        params=data.params,
        rule=data.rule,
        day=data.day,
        at=data.at,
        enabled=data.enabled,
    )
    audit.record(db, actor, audit.Action.CONFIG_CHANGE, "job_schedule", s.name, {"changes": changes})
    db.commit()
    return s


@pages.get("/schedules/{schedule_id}", dependencies=ADMIN_ONLY)
def schedule_page(request: Request, db: DbSession, schedule_id: ScheduleId) -> Response:
    try:
        s = schedules.get_schedule(db, schedule_id)
    except schedules.ScheduleError:
        raise HTTPException(status_code=404, detail="定时任务不存在") from None
    return render(
        request,
        "jobs/schedule.html",
        {
            "page_title": f"定时任务 {s.title}",
            "s": s,
            "description": schedules.describe(s),
            "next_due": schedules.next_due(s),
            "runs": schedules.runs(db, s.id),
        },
    )


@pages.get("")
def jobs_page(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    status: Annotated[str, Query(max_length=16)] = "",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    context = _list_context(request, db, user, status, page)
    if is_htmx(request):
        return render(request, "jobs/_table.html", context)
    if user.is_admin:
        context["workers"] = service.live_workers(db, get_job_settings().job_stale_after)
    return render(request, "jobs/index.html", context)


@pages.get("/{job_id}")
def job_page(request: Request, db: DbSession, user: CurrentUser, job_id: JobId) -> Response:
    job = _job_or_404(db, user, job_id)
    context = {
        "page_title": f"作业 {job.id}",
        "job": job,
        "files": result_files(request.app.state.settings, job.id),
        "logs": service.job_logs(db, job.id),
        "result_json": json.dumps(job.result, ensure_ascii=False, indent=2, default=str)
        if job.result
        else "",
    }
    if is_htmx(request):
        return render(request, "jobs/_job.html", context)
    return render(request, "jobs/job.html", context)


@pages.get("/{job_id}/files/{file_name}")
def job_file_download(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    actor: CurrentActor,
    job_id: JobId,
    file_name: Annotated[str, PathParam(max_length=200)],
) -> Response:
    """A result file of the job, for its owner and admins; every download is audited."""
    job = _job_or_404(db, user, job_id)
    path = result_file(request.app.state.settings, job.id, file_name)
    if path is None:
        raise HTTPException(status_code=404, detail="结果文件不存在（可能已被清理）")
    audit.record(
        db,
        actor,
        audit.Action.DOWNLOAD,
        "job_result",
        f"{job.id}/{file_name}"[:128],
        {"kind": job.kind},
        commit=True,
    )
    return FileResponse(
        path,
        filename=file_name,
        media_type="application/zip" if file_name.endswith(".zip") else "application/octet-stream",
        headers={"Cache-Control": "no-store"},
    )


@pages.post("/{job_id}/retry")
def job_retry_page(
    request: Request, db: DbSession, ws: CurrentWebSession, user: CurrentUser, job_id: JobId
) -> Response:
    try:
        job = service.retry(db, job_id, user.username, user.id, user.is_admin)
    except service.JobNotFound:
        raise HTTPException(status_code=404, detail="作业不存在或不是您的作业") from None
    except JobRefused as exc:
        account_sessions.add_flash(db, ws, str(exc), "error")
        return RedirectResponse(f"/jobs/{job_id}", status_code=303)
    request.app.state.jobs.enqueue(job.id)
    account_sessions.add_flash(db, ws, "作业已重新排队。", "success")
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


# ---- API ----------------------------------------------------------------------------------


@api.get("/kinds", response_model=list[JobKindOut], responses=ERRORS, summary="可启动的作业类型")
def api_kinds(user: CurrentUser) -> list[JobKindOut]:
    return [
        JobKindOut(name=k.name, title=k.title, params_schema=k.params.model_json_schema())
        for k in all_kinds()
        if user.role_enum in k.roles
    ]


@api.post(
    "/uploads",
    response_model=UploadOut,
    status_code=201,
    responses={**ERRORS, 422: {"model": ProblemOut}},
    summary="上传作业附件",
)
def api_upload(
    request: Request,
    user: CurrentUser,
    file: Annotated[UploadFile, File(description="作业要读取的文件（如部门报送的 .xlsx、.csv）")],
) -> UploadOut:
    """Keep a file for a job to read; the answer's `upload` goes into the job's parameters
    (e.g. `ingest`: `{"files": [{"source": "tax", "upload": "...", "file_name": "..."}]}`)."""
    from jingxin.datahub.service import ALLOWED_SUFFIXES, safe_file_name

    if user.role_enum not in (Role.ADMIN, Role.LIAISON):
        raise HTTPException(status_code=403, detail="您的角色无权上传数据文件")
    name = safe_file_name(file.filename)
    if not name.lower().endswith(ALLOWED_SUFFIXES):
        raise HTTPException(status_code=422, detail=f"文件 {name} 的格式不受支持：请提交 .xlsx 或 .csv 文件")
    try:
        upload, size = save_upload(request.app.state.settings, file.file, name)
    except UploadError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return UploadOut(upload=upload, file_name=name, size=size)


@api.post(
    "",
    response_model=JobOut,
    status_code=202,
    responses={
        **ERRORS,
        200: {"model": JobOut, "description": "同一请求编号此前已提交"},
        422: {"model": ProblemOut},
    },
    summary="提交作业",
)
def api_submit(
    request: Request,
    response: Response,
    db: DbSession,
    user: CurrentUser,
    actor: CurrentActor,
    data: JobSubmit,
) -> Job:
    """Start a job as the logged-in user, with their scope; follow it at GET /api/v1/jobs/{id}."""
    job, created = submit_for(request, db, user, actor, data)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return job


@api.get("", response_model=Page[JobOut], responses=ERRORS, summary="作业列表")
def api_jobs(
    db: DbSession,
    user: CurrentUser,
    status: Annotated[str | None, Query(max_length=16)] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[JobOut]:
    """Own jobs, newest first (an admin sees every job)."""
    jobs, total = service.list_jobs(
        db, user.id, user.is_admin, status=status, kind=kind, limit=limit, offset=offset
    )
    return Page[JobOut](
        items=[JobOut.model_validate(j) for j in jobs], total=total, limit=limit, offset=offset
    )


@api.get(
    "/schedules",
    response_model=list[ScheduleOut],
    responses=ERRORS,
    dependencies=ADMIN_ONLY,
    summary="定时任务",
)
def api_schedules(db: DbSession) -> list[ScheduleOut]:
    return [_schedule_out(s) for s in schedules.list_schedules(db)]


def _schedule_out(s: JobSchedule) -> ScheduleOut:
    return ScheduleOut(
        id=s.id,
        name=s.name,
        title=s.title,
        kind=s.kind,
        params=s.params or {},
        rule=s.rule,
        day=s.day,
        at=s.at,
        enabled=s.enabled,
        description=schedules.describe(s),
        next_due_at=schedules.next_due(s) if s.enabled else None,
        last_due_at=s.last_due_at,
        updated_by=s.updated_by,
    )


@api.put(
    "/schedules/{schedule_id}",
    response_model=ScheduleOut,
    responses={**NOT_FOUND, 422: {"model": ProblemOut}},
    dependencies=ADMIN_ONLY,
    summary="修改定时任务",
)
def api_schedule_update(
    db: DbSession, user: CurrentUser, actor: CurrentActor, schedule_id: ScheduleId, data: ScheduleIn
) -> ScheduleOut:
    try:
        schedules.get_schedule(db, schedule_id)
    except schedules.ScheduleError:
        raise HTTPException(status_code=404, detail="定时任务不存在") from None
    try:
        s = _save(db, user, actor, schedule_id, data)
    except (schedules.ScheduleError, JobRefused) as exc:
        db.rollback()
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return _schedule_out(s)


@api.get(
    "/workers", response_model=list[WorkerOut], responses=ERRORS, dependencies=ADMIN_ONLY, summary="作业进程"
)
def api_workers(request: Request, db: DbSession) -> list[WorkerOut]:
    """The processes that run jobs (each server process is one); `this` marks the one answering."""
    me = request.app.state.jobs.worker_id
    return [
        WorkerOut.model_validate(w).model_copy(update={"this": w.id == me})
        for w in service.live_workers(db, get_job_settings().job_stale_after)
    ]


@api.get("/{job_id}", response_model=JobDetailOut, responses=NOT_FOUND, summary="作业详情")
def api_job(
    db: DbSession,
    user: CurrentUser,
    job_id: JobId,
    log_after: Annotated[int, Query(ge=0, le=2**62, description="只返回该编号之后的日志")] = 0,
) -> JobDetailOut:
    job = _job_or_404(db, user, job_id)
    logs = [JobLogOut.model_validate(entry) for entry in service.job_logs(db, job.id, after=log_after)]
    return JobDetailOut(**JobOut.model_validate(job).model_dump(), logs=logs)


@api.post(
    "/{job_id}/retry",
    response_model=JobOut,
    responses={**NOT_FOUND, 409: {"model": Message}},
    summary="重试作业",
)
def api_retry(request: Request, db: DbSession, user: CurrentUser, job_id: JobId) -> Job:
    try:
        job = service.retry(db, job_id, user.username, user.id, user.is_admin)
    except service.JobNotFound:
        raise HTTPException(status_code=404, detail="作业不存在或不是您的作业") from None
    except JobRefused as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    request.app.state.jobs.enqueue(job.id)
    return job


scenario = WebScenario(
    name="jobs",
    pages=pages,
    api=api,
    nav=(NavItem("jobs", "作业", "/jobs", order=85, icon="⏱", match="/jobs"),),
    templates=Path(__file__).parent / "templates",
)
