"""Pages and API of the data page (数据归集), for data liaisons and administrators.

Pages: /data (batches, upload form, overview chart), /data/batches/{id} (result and rejected
rows), /data/batches/{id}/rejected.csv and .xlsx (downloads, audited). API: /api/v1/sources,
/api/v1/batches, /api/v1/batches/{id}, /api/v1/batches/{id}/rejected(.csv|.xlsx), POST
/api/v1/batches (upload). Both go through `jingxin.datahub.service` with the user's Scope.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from starlette.background import BackgroundTask

from jingxin.accounts import sessions as account_sessions
from jingxin.core import audit
from jingxin.core.auth import Role
from jingxin.datahub import service
from jingxin.datahub.models import BatchOut, RejectedRowOut, SourceOut, UploadOutcome
from jingxin.jobs import service as jobs
from jingxin.web.deps import (
    CurrentActor,
    CurrentScope,
    CurrentUser,
    CurrentWebSession,
    DbSession,
    WarehouseReader,
    require_roles,
)
from jingxin.web.pagination import Pager
from jingxin.web.params import RowId
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import Message, Page, ProblemOut
from jingxin.web.templating import is_htmx, render

DATAHUB_ROLES = frozenset({Role.ADMIN, Role.LIAISON})
ROLE_CHECK = [Depends(require_roles(*DATAHUB_ROLES))]
PER_PAGE = 30
MAX_ID = 2**62
ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": Message}, 403: {"model": Message}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {**ERRORS, 404: {"model": Message}}

pages = APIRouter(prefix="/data", include_in_schema=False, dependencies=ROLE_CHECK)
api = APIRouter(tags=["数据归集"], dependencies=ROLE_CHECK)

BatchId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="批次号")]


def _batch_or_404(wh: WarehouseReader, scope: CurrentScope, batch_id: int) -> BatchOut:
    try:
        return service.get_batch(wh, scope, batch_id)
    except service.BatchNotFound:
        raise HTTPException(status_code=404, detail="批次不存在或不在您的数据范围内") from None


DOWNLOADS = {
    "csv": ("text/csv; charset=utf-8", "rejected_rows.csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "rejected_rows.xlsx"),
}


def _download_response(
    request: Request,
    db: DbSession,
    actor: CurrentActor,
    wh: WarehouseReader,
    scope: CurrentScope,
    batch_id: RowId,
    kind: str,
) -> Response:
    """The rejected rows as a streamed download (CSV) or a file built on disk (.xlsx), read
    page by page on a connection of the download's own, so memory holds one page at a time
    whatever the batch's size. Audited before the first byte is sent."""
    batch = _batch_or_404(wh, scope, batch_id)
    media_type, file_label = DOWNLOADS[kind]
    audit.record(
        db,
        actor,
        audit.Action.DOWNLOAD,
        "batch",
        batch_id,
        {"file": file_label, "source": batch.source, "rejected": batch.rejected},
        commit=True,
    )
    name = service.rejected_download_name(batch, kind)
    headers = {
        "Content-Disposition": f'attachment; filename="rejected-{batch_id}.{kind}"; '
        f"filename*=UTF-8''{quote(name)}"
    }
    access = request.app.state.warehouse
    if kind == "csv":

        def chunks() -> Iterator[bytes]:
            with access.reader() as own:
                yield from service.rejected_csv_chunks(own, batch)

        return StreamingResponse(chunks(), media_type=media_type, headers=headers)
    folder = Path(tempfile.mkdtemp(prefix="jingxin-export-"))
    try:
        path = service.rejected_xlsx_file(wh, batch, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=media_type,
        headers=headers,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


# ---- pages --------------------------------------------------------------------------------


def _index_context(
    request: Request, wh: WarehouseReader, scope: CurrentScope, source: str, page: int
) -> dict:
    batches, total = service.list_batches(
        wh, scope, source=source or None, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    return {
        "page_title": "数据归集",
        "batches": batches,
        "pager": Pager.build(request, page, PER_PAGE, total),
        "source": source,
        "sources": service.sources(scope),
    }


def _chart_option(summary: list) -> dict:
    titles = [s.source_title for s in summary]
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "legend": {"data": ["接收", "拒收"], "top": 0},
        "grid": {"left": 8, "right": 16, "bottom": 8, "top": 32, "containLabel": True},
        "xAxis": {"type": "value", "name": "行"},
        "yAxis": {"type": "category", "data": titles, "inverse": True},
        "series": [
            {
                "name": "接收",
                "type": "bar",
                "stack": "rows",
                "data": [s.accepted for s in summary],
                "itemStyle": {"color": "#2f7d4f"},
            },
            {
                "name": "拒收",
                "type": "bar",
                "stack": "rows",
                "data": [s.rejected for s in summary],
                "itemStyle": {"color": "#b8332b"},
            },
        ],
    }


@pages.get("")
def data_index(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    user: CurrentUser,
    source: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    context = _index_context(request, wh, scope, source, page)
    if is_htmx(request):
        return render(request, "datahub/_batches_table.html", context)
    summary = service.source_summary(wh, scope)
    context.update(
        summary=summary,
        chart_option=_chart_option(summary) if summary else None,
        max_upload_mb=request.app.state.settings.upload_max_bytes // (1024 * 1024),
    )
    return render(request, "datahub/index.html", context)


@pages.post("/upload")
def data_upload(
    request: Request,
    db: DbSession,
    ws: CurrentWebSession,
    actor: CurrentActor,
    user: CurrentUser,
    scope: CurrentScope,
    source: Annotated[str, Form(max_length=40)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Ingest the uploaded file, then show its batch (or the reason it was refused)."""
    if not source or file is None or not file.filename:
        account_sessions.add_flash(db, ws, "请选择数据源和要上传的文件。", "error")
        return RedirectResponse("/data", status_code=303)
    if (file.size or 0) > jobs.BIG_UPLOAD_BYTES:  # big files are ingested by a background job
        return _upload_as_job(request, db, ws, actor, user, scope, source, file)
    try:
        outcome = _upload(request, scope, source, file, user.username)
    except service.SourceNotAllowed:
        raise HTTPException(status_code=403, detail="您无权上传该数据源的文件") from None
    except service.UploadRefused as exc:
        audit.record(
            db,
            actor,
            audit.Action.UPLOAD,
            "source",
            source,
            {"file_name": service.safe_file_name(file.filename), "refused": str(exc)},
            commit=True,
        )
        account_sessions.add_flash(db, ws, f"文件未入库：{exc}", "error")
        return RedirectResponse("/data", status_code=303)
    _audit_upload(db, actor, outcome)
    for kind, text in service.outcome_messages(outcome):
        account_sessions.add_flash(db, ws, text, kind)
    return RedirectResponse(f"/data/batches/{outcome.batch.batch_id}", status_code=303)


def _upload(request: Request, scope: CurrentScope, source: str, file: UploadFile, by: str) -> UploadOutcome:
    settings = request.app.state.settings
    return service.upload(
        request.app.state.warehouse,
        scope,
        source,
        file.file,
        file.filename,
        by,
        limits=service.ingest_limits(settings),
        max_bytes=settings.upload_max_bytes,
    )


def _upload_as_job(
    request: Request, db: Any, ws: Any, actor: Any, user: Any, scope: Any, source: str, file: UploadFile
) -> Response:
    from jingxin.core.jobs import JobRefused
    from jingxin.core.jobs.uploads import UploadError

    if not scope.allows_source(source):
        raise HTTPException(status_code=403, detail="您无权上传该数据源的文件")
    name = service.safe_file_name(file.filename)
    if not name.lower().endswith(service.ALLOWED_SUFFIXES):
        message = f"文件未入库：文件 {name} 的格式不受支持：请提交 .xlsx 或 .csv 文件。"
        account_sessions.add_flash(db, ws, message, "error")
        return RedirectResponse("/data", status_code=303)
    try:
        job = jobs.ingest_upload_as_job(request.app.state, db, user, actor, source, file.file, name)
    except (JobRefused, UploadError) as exc:
        account_sessions.add_flash(db, ws, f"文件未入库：{exc}", "error")
        return RedirectResponse("/data", status_code=303)
    account_sessions.add_flash(
        db, ws, f"文件较大，已转为后台作业 {job.id} 归集，完成后可在此查看批次。", "info"
    )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


def _audit_upload(db: DbSession, actor: CurrentActor, outcome: UploadOutcome) -> None:
    b = outcome.batch
    audit.record(
        db,
        actor,
        audit.Action.UPLOAD,
        "batch",
        b.batch_id,
        {
            "source": b.source,
            "file_name": b.file_name,
            "accepted": b.accepted,
            "rejected": b.rejected,
            "duplicate": outcome.duplicate,
            "supersedes": b.supersedes,
        },
        commit=True,
    )


@pages.get("/batches/{batch_id}")
def batch_page(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    batch_id: BatchId,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    batch = _batch_or_404(wh, scope, batch_id)
    rows, total = service.rejected_rows(
        wh, scope, batch_id, limit=PER_PAGE * 4, offset=(page - 1) * PER_PAGE * 4
    )
    return render(
        request,
        "datahub/batch.html",
        {
            "page_title": f"批次 {batch.batch_id}",
            "batch": batch,
            "rows": rows,
            "pager": Pager.build(request, page, PER_PAGE * 4, total),
        },
    )


@pages.get("/batches/{batch_id}/rejected.csv")
def batch_rejected_csv(
    request: Request,
    db: DbSession,
    actor: CurrentActor,
    wh: WarehouseReader,
    scope: CurrentScope,
    batch_id: BatchId,
) -> Response:
    return _download_response(request, db, actor, wh, scope, batch_id, "csv")


@pages.get("/batches/{batch_id}/rejected.xlsx")
def batch_rejected_xlsx(
    request: Request,
    db: DbSession,
    actor: CurrentActor,
    wh: WarehouseReader,
    scope: CurrentScope,
    batch_id: BatchId,
) -> Response:
    return _download_response(request, db, actor, wh, scope, batch_id, "xlsx")


# ---- API ----------------------------------------------------------------------------------


@api.get("/sources", response_model=list[SourceOut], responses=ERRORS, summary="可见数据源")
def api_sources(scope: CurrentScope) -> list[SourceOut]:
    """The data sources whose batches the user sees (a liaison: its department's)."""
    return service.sources(scope)


@api.get("/batches", response_model=Page[BatchOut], responses=ERRORS, summary="入库批次")
def api_batches(
    wh: WarehouseReader,
    scope: CurrentScope,
    source: Annotated[str | None, Query(max_length=40, description="数据源标识，如 tax")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[BatchOut]:
    items, total = service.list_batches(wh, scope, source=source, limit=limit, offset=offset)
    return Page[BatchOut](items=items, total=total, limit=limit, offset=offset)


@api.get("/batches/{batch_id}", response_model=BatchOut, responses=NOT_FOUND, summary="批次详情")
def api_batch(wh: WarehouseReader, scope: CurrentScope, batch_id: BatchId) -> BatchOut:
    return _batch_or_404(wh, scope, batch_id)


@api.get(
    "/batches/{batch_id}/rejected",
    response_model=Page[RejectedRowOut],
    responses=NOT_FOUND,
    summary="批次拒收行",
)
def api_batch_rejected(
    wh: WarehouseReader,
    scope: CurrentScope,
    batch_id: BatchId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[RejectedRowOut]:
    try:
        rows, total = service.rejected_rows(wh, scope, batch_id, limit=limit, offset=offset)
    except service.BatchNotFound:
        raise HTTPException(status_code=404, detail="批次不存在或不在您的数据范围内") from None
    return Page[RejectedRowOut](items=rows, total=total, limit=limit, offset=offset)


@api.get(
    "/batches/{batch_id}/rejected.csv",
    responses={**NOT_FOUND, 200: {"content": {"text/csv": {}}}},
    response_class=Response,
    summary="下载拒收行（CSV）",
)
def api_batch_rejected_csv(
    request: Request,
    db: DbSession,
    actor: CurrentActor,
    wh: WarehouseReader,
    scope: CurrentScope,
    batch_id: BatchId,
) -> Response:
    """CSV in UTF-8 with BOM (opens in Excel); every download is written to the audit log."""
    return _download_response(request, db, actor, wh, scope, batch_id, "csv")


@api.get(
    "/batches/{batch_id}/rejected.xlsx",
    responses={**NOT_FOUND, 200: {"content": {DOWNLOADS["xlsx"][0]: {}}}},
    response_class=Response,
    summary="下载拒收行（Excel）",
)
def api_batch_rejected_xlsx(
    request: Request,
    db: DbSession,
    actor: CurrentActor,
    wh: WarehouseReader,
    scope: CurrentScope,
    batch_id: BatchId,
) -> Response:
    """.xlsx with every cell as text (no formula runs, codes keep their leading zeros);
    every download is written to the audit log."""
    return _download_response(request, db, actor, wh, scope, batch_id, "xlsx")


@api.post(
    "/batches",
    response_model=UploadOutcome,
    status_code=201,
    responses={**ERRORS, 422: {"model": ProblemOut}},
    summary="上传部门数据文件",
)
def api_upload(
    request: Request,
    db: DbSession,
    actor: CurrentActor,
    user: CurrentUser,
    scope: CurrentScope,
    source: Annotated[str, Form(max_length=40, description="数据源标识，须为本部门的数据源")],
    file: Annotated[UploadFile, File(description=".xlsx 或 .csv 文件")],
) -> UploadOutcome:
    """Ingest one file as a batch. A file refused whole answers 422 with the reason; the same
    file sent again answers with its earlier batch and `duplicate: true`."""
    try:
        outcome = _upload(request, scope, source, file, user.username)
    except service.SourceNotAllowed:
        raise HTTPException(status_code=403, detail="您无权上传该数据源的文件") from None
    except service.UploadRefused as exc:
        audit.record(
            db,
            actor,
            audit.Action.UPLOAD,
            "source",
            source,
            {"file_name": service.safe_file_name(file.filename), "refused": str(exc)},
            commit=True,
        )
        raise HTTPException(status_code=422, detail=str(exc)) from None
    _audit_upload(db, actor, outcome)
    return outcome


scenario = WebScenario(
    name="datahub",
    pages=pages,
    api=api,
    nav=(NavItem("datahub", "数据归集", "/data", roles=DATAHUB_ROLES, order=50, icon="⇪"),),
    templates=Path(__file__).parent / "templates",
)
