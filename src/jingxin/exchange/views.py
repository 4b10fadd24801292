"""Pages and API of data exchange (数据共享交换).

Pages (logged-in users): /exchange (catalogue of shareable datasets), /exchange/spec (the data
exchange specification; .md download), /exchange/templates/{source}.xlsx (blank template),
/exchange/tracker (submission tracker), /exchange/tokens (admins: issue and revoke tokens).

API for outside systems, authenticated by an API token (`Authorization: Bearer jxt_...`), not
by a session: GET /api/v1/exchange/datasets (what the token may read) and
GET /api/v1/exchange/datasets/{id}/rows (JSON pages, or `format=csv` streamed). Every token
call passes `tokens.check_call`, which audits it. Session API: /api/v1/exchange/catalogue,
/api/v1/exchange/tracker, /api/v1/exchange/tokens (admins).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPBearer

from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.calendar import CHINA_TZ
from jingxin.core.contracts import load_contracts
from jingxin.exchange import service
from jingxin.exchange.schemas import (
    CatalogueEntryOut,
    FieldOut,
    GrantedDatasetOut,
    IssuedOut,
    LineageOut,
    RowsPageOut,
    SubmissionOut,
    TokenIn,
    TokenInfoOut,
    TokenOut,
    TrackerSummaryOut,
)
from jingxin.web.deps import (
    CurrentActor,
    CurrentScope,
    CurrentUser,
    DbSession,
    WarehouseReader,
    client_ip,
    require_roles,
)
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import Message
from jingxin.web.templating import render

READERS = frozenset({Role.ADMIN, Role.LIAISON, *ANALYSTS})
TRACKERS = frozenset({Role.ADMIN, Role.LIAISON, Role.PROVINCE_ANALYST})
SourceId = Annotated[str, PathParam(pattern=r"^[a-z][a-z0-9-]{0,39}$", description="数据源/数据集")]
ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": Message}, 403: {"model": Message}}
TOKEN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Message},
    403: {"model": Message},
    404: {"model": Message},
    422: {"model": Message},
    429: {"model": Message},
}

pages = APIRouter(prefix="/exchange", include_in_schema=False)
api = APIRouter(prefix="/exchange", tags=["数据共享交换"])
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="exchange_token",
    description="管理员签发的接口令牌（jxt_ 开头），只显示一次",
)

ReaderUser = Annotated[Any, Depends(require_roles(*READERS))]
TrackerUser = Annotated[Any, Depends(require_roles(*TRACKERS))]
AdminUser = Annotated[Any, Depends(require_roles(Role.ADMIN))]


def _dataset_out(info: Any) -> dict[str, Any]:
    return {
        "id": info.id,
        "title": info.title,
        "department": info.department,
        "frequency": info.frequency,
        "rule": info.rule,
        "key": info.key,
        "fields": [
            FieldOut(name=f.name, header=f.header, type=f.type, unit=f.unit, sensitive=f.sensitive)
            for f in info.fields
        ],
    }


# ---- pages --------------------------------------------------------------------------------


@pages.get("")
def catalogue_page(request: Request, user: ReaderUser, scope: CurrentScope, wh: WarehouseReader) -> Response:
    return render(
        request,
        "exchange/catalogue.html",
        {"page_title": "共享数据目录", "datasets": service.catalogue(wh, scope), "is_admin": user.is_admin},
    )


@pages.get("/spec")
def spec_page(request: Request, user: CurrentUser) -> Response:
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(service.spec_markdown())
    return render(request, "exchange/spec.html", {"page_title": "数据交换规范", "spec_html": html})


@pages.get("/spec.md")
def spec_download(user: CurrentUser) -> Response:
    return Response(
        service.spec_markdown().encode("utf-8"),
        media_type="text/markdown; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="data-exchange.md"; '
            f"filename*=UTF-8''{quote('数据交换规范.md')}"
        },
    )


@pages.get("/templates/{source_id}.xlsx")
def template_download(source_id: SourceId, user: CurrentUser) -> Response:
    src = load_contracts().sources.get(source_id)
    if src is None:
        raise HTTPException(status_code=404, detail="没有这个数据源")
    return Response(
        service.blank_template(src),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="{src.id}.xlsx"; '
            f"filename*=UTF-8''{quote(service.template_name(src))}"
        },
    )


@pages.get("/tracker")
def tracker_page(
    request: Request,
    user: TrackerUser,
    scope: CurrentScope,
    db: DbSession,
    wh: WarehouseReader,
    source: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    service.sync_tracker(db, wh)
    return render(
        request,
        "exchange/tracker.html",
        {
            "page_title": "报送跟踪",
            "summary": service.summary(db, scope),
            "rows": service.submissions(db, scope, source=source or None, status=status or None),
            "source": source,
            "status": status,
            "status_labels": service.STATUS_LABELS,
            "titles": {s.id: s.title for s in load_contracts().sources.values()},
        },
    )


def _tokens_context(db: DbSession, issued: Any = None, error: str | None = None) -> dict[str, Any]:
    return {
        "page_title": "接口令牌",
        "tokens": service.list_tokens(db),
        "status_of": service.token_status,
        "datasets": list(service.shareable().values()),
        "issued": issued,
        "error": error,
        "default_expiry": (datetime.now(CHINA_TZ) + timedelta(days=90)).date().isoformat(),
    }


@pages.get("/tokens")
def tokens_page(request: Request, user: AdminUser, db: DbSession) -> Response:
    return render(request, "exchange/tokens.html", _tokens_context(db))


@pages.post("/tokens")
async def tokens_issue(request: Request, user: AdminUser, db: DbSession, actor: CurrentActor) -> Response:
    form = await request.form()
    grants: dict[str, list[str]] = {}
    for value in form.getlist("field"):
        dataset_id, _, name = str(value).partition(":")
        grants.setdefault(dataset_id, []).append(name)
    try:
        day = datetime.strptime(str(form.get("expires_on") or ""), "%Y-%m-%d").date()
        rate = int(str(form.get("rate_per_minute") or "60"))
    except ValueError:
        return render(
            request, "exchange/tokens.html", _tokens_context(db, error="有效期或调用上限格式不正确"), 422
        )
    try:
        issued = service.issue_token(
            db,
            actor,
            name=str(form.get("name") or ""),
            holder=str(form.get("holder") or ""),
            grants=grants,
            division=str(form.get("division") or "").strip() or None,
            rate_per_minute=rate,
            expires_at=datetime.combine(day + timedelta(days=1), time.min, CHINA_TZ),
        )
    except service.TokenError as exc:
        return render(request, "exchange/tokens.html", _tokens_context(db, error=str(exc)), 422)
    # The token is shown in this answer only; it is not kept anywhere it could be shown again.
    return render(
        request,
        "exchange/tokens.html",
        _tokens_context(db, issued=issued),
        headers={"Cache-Control": "no-store"},
    )


@pages.post("/tokens/{token_id}/revoke")
def tokens_revoke(
    token_id: Annotated[int, PathParam(ge=1, le=2**62)], user: AdminUser, db: DbSession, actor: CurrentActor
) -> Response:
    try:
        service.revoke_token(db, actor, token_id)
    except LookupError:
        raise HTTPException(status_code=404, detail="令牌不存在") from None
    return Response(status_code=303, headers={"Location": "/exchange/tokens"})


# ---- API: token holders -------------------------------------------------------------------


def _refused(exc: service.TokenRefused) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if exc.retry_after:
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse({"detail": exc.reason}, status_code=exc.status, headers=headers)


AuthHeader = Annotated[str | None, Header(alias="Authorization", include_in_schema=False)]


@api.get(
    "/datasets",
    response_model=TokenInfoOut,
    responses=TOKEN_ERRORS,
    dependencies=[Depends(bearer_scheme)],
    summary="令牌可读的数据集",
)
def token_datasets(request: Request, db: DbSession, authorization: AuthHeader = None) -> Any:
    try:
        call = service.check_call(db, service.bearer(authorization), ip=client_ip(request), dataset=None)
    except service.TokenRefused as exc:
        return _refused(exc)
    from jingxin.exchange.models import ExchangeToken

    token = db.get(ExchangeToken, call.token_id)
    assert token is not None
    datasets = service.shareable()
    out = [
        GrantedDatasetOut(**_dataset_out(service.describe(datasets[d])), granted_fields=list(fields))
        for d, fields in (token.grants or {}).items()
        if d in datasets
    ]
    return TokenInfoOut(
        holder=token.holder,
        division=token.division,
        rate_per_minute=token.rate_per_minute,
        expires_at=token.expires_at,
        datasets=out,
    )


@api.get(
    "/datasets/{dataset_id}/rows",
    response_model=RowsPageOut,
    responses={**TOKEN_ERRORS, 200: {"content": {"application/json": {}, "text/csv": {}}}},
    dependencies=[Depends(bearer_scheme)],
    summary="读取数据集（JSON 分页或 CSV 流式）",
)
def token_rows(
    request: Request,
    db: DbSession,
    wh: WarehouseReader,
    dataset_id: SourceId,
    fields: Annotated[
        str | None, Query(max_length=2000, description="逗号分隔的字段名；不填为全部已授权字段")
    ] = None,
    period: Annotated[
        str | None, Query(max_length=10, description="期间：2021、2021-03 或 2021-03-05")
    ] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$", description="区划代码，须在令牌范围内")] = None,
    format: Annotated[
        str, Query(pattern="^(json|csv)$", description="json 分页；csv 流式返回全部行")
    ] = "json",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    authorization: AuthHeader = None,
) -> Any:
    asked = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    try:
        call = service.check_call(
            db,
            service.bearer(authorization),
            ip=client_ip(request),
            dataset=dataset_id,
            fields=asked,
            region=region,
            detail={
                "period": period,
                "format": format,
                "limit": limit if format == "json" else None,
                "offset": offset if format == "json" else None,
            },
        )
    except service.TokenRefused as exc:
        return _refused(exc)
    try:
        service.rows_table(wh, call.scope, dataset_id, call.fields, period=period)  # checks the query
    except service.BadQuery as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    if format == "csv":
        access = request.app.state.warehouse

        def stream() -> Any:
            with access.reader() as reader:  # held for the whole download, not just this request's setup
                yield from service.iter_csv(reader, call.scope, dataset_id, call.fields, period=period)

        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        return StreamingResponse(
            stream(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{dataset_id}-{stamp}.csv"'},
        )
    rows, total = service.read_page(
        wh, call.scope, dataset_id, call.fields, period=period, limit=limit, offset=offset
    )
    following = offset + len(rows)
    return JSONResponse(
        jsonable_encoder(
            RowsPageOut(
                dataset=dataset_id,
                fields=call.fields,
                total=total,
                limit=limit,
                offset=offset,
                next_offset=following if following < total else None,
                rows=rows,
            )
        )
    )


# ---- API: platform users ------------------------------------------------------------------


@api.get("/catalogue", response_model=list[CatalogueEntryOut], responses=ERRORS, summary="共享数据目录")
def api_catalogue(user: ReaderUser, scope: CurrentScope, wh: WarehouseReader) -> list[CatalogueEntryOut]:
    return [
        CatalogueEntryOut(
            **_dataset_out(i),
            lineage=LineageOut(
                visible=i.lineage_visible,
                live_batches=i.live_batches,
                live_rows=i.live_rows,
                periods=i.periods,
            ),
        )
        for i in service.catalogue(wh, scope)
    ]


@api.get("/tracker", response_model=list[TrackerSummaryOut], responses=ERRORS, summary="报送跟踪汇总")
def api_tracker(user: TrackerUser, scope: CurrentScope, db: DbSession, wh: WarehouseReader) -> Any:
    service.sync_tracker(db, wh)
    return [TrackerSummaryOut.model_validate(s) for s in service.summary(db, scope)]


@api.get("/tracker/periods", response_model=list[SubmissionOut], responses=ERRORS, summary="报送期次")
def api_tracker_periods(
    user: TrackerUser,
    scope: CurrentScope,
    db: DbSession,
    wh: WarehouseReader,
    source: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> Any:
    service.sync_tracker(db, wh)
    return [
        SubmissionOut.model_validate(s) for s in service.submissions(db, scope, source=source, status=status)
    ]


@api.get("/tokens", response_model=list[TokenOut], responses=ERRORS, summary="接口令牌列表（管理员）")
def api_tokens(user: AdminUser, db: DbSession) -> Any:
    return [TokenOut.model_validate(t) for t in service.list_tokens(db)]


@api.post(
    "/tokens",
    response_model=IssuedOut,
    status_code=201,
    responses={**ERRORS, 422: {"model": Message}},
    summary="签发接口令牌（管理员；令牌只返回这一次）",
)
def api_issue(body: TokenIn, user: AdminUser, db: DbSession, actor: CurrentActor) -> Any:
    try:
        issued = service.issue_token(
            db,
            actor,
            name=body.name,
            holder=body.holder,
            grants=body.grants,
            division=body.division,
            rate_per_minute=body.rate_per_minute,
            expires_at=body.expires_at,
        )
    except service.TokenError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    out = IssuedOut(**TokenOut.model_validate(issued.token).model_dump(), token=issued.secret)
    return JSONResponse(jsonable_encoder(out), status_code=201, headers={"Cache-Control": "no-store"})


@api.post(
    "/tokens/{token_id}/revoke",
    response_model=TokenOut,
    responses={**ERRORS, 404: {"model": Message}},
    summary="吊销接口令牌（管理员）",
)
def api_revoke(
    token_id: Annotated[int, PathParam(ge=1, le=2**62)], user: AdminUser, db: DbSession, actor: CurrentActor
) -> Any:
    try:
        return TokenOut.model_validate(service.revoke_token(db, actor, token_id))
    except LookupError:
        raise HTTPException(status_code=404, detail="令牌不存在") from None


scenario = WebScenario(
    name="exchange",
    pages=pages,
    api=api,
    nav=(NavItem("exchange", "数据共享交换", "/exchange", roles=READERS, order=55),),
    templates=Path(__file__).parent / "templates",
)
