"""The audit log pages and API (审计日志): search by user, action and date range (admin only)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from jingxin.core import audit
from jingxin.core.auth import Role
from jingxin.web.deps import DbSession, require_roles
from jingxin.web.pagination import Pager
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import Message, Page
from jingxin.web.templating import is_htmx, render

ADMIN_ONLY = [Depends(require_roles(Role.ADMIN))]
PER_PAGE = 50

pages = APIRouter(include_in_schema=False, dependencies=ADMIN_ONLY)
api = APIRouter(tags=["审计"], dependencies=ADMIN_ONLY)


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    user_id: int | None
    username: str | None
    ip: str | None
    action: str
    action_label: str
    object_type: str | None
    object_id: str | None
    detail: dict[str, Any]


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@pages.get("/audit")
def audit_page(
    request: Request,
    db: DbSession,
    user: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=32)] = "",
    date_from: Annotated[str, Query(max_length=100)] = "",
    date_to: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    """Search form and results; HTMX swaps only the results as filters change."""
    day_from, day_to = _parse_day(date_from), _parse_day(date_to)
    problems = [
        label
        for label, raw, parsed in (("起始日期", date_from, day_from), ("截止日期", date_to, day_to))
        if raw and parsed is None
    ]
    entries, total = audit.search(
        db,
        username=user,
        action=action,
        date_from=day_from,
        date_to=day_to,
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )
    context = {
        "page_title": "审计日志",
        "entries": entries,
        "pager": Pager.build(request, page, PER_PAGE, total),
        "filters": {"user": user, "action": action, "date_from": date_from, "date_to": date_to},
        "actions": [(a.value, a.label) for a in audit.Action],
        "problems": problems,
    }
    name = "audit/_results.html" if is_htmx(request) else "audit/index.html"
    return render(request, name, context)


@api.get(
    "/audit",
    response_model=Page[AuditEntryOut],
    summary="审计日志查询",
    responses={401: {"model": Message}, 403: {"model": Message}},
)
def audit_api(
    db: DbSession,
    user: Annotated[str | None, Query(max_length=64, description="用户名的一部分")] = None,
    action: Annotated[audit.Action | None, Query(description="操作类型")] = None,
    date_from: Annotated[date | None, Query(description="起始日期（含，北京时间）")] = None,
    date_to: Annotated[date | None, Query(description="截止日期（含，北京时间）")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[AuditEntryOut]:
    entries, total = audit.search(
        db,
        username=user,
        action=action.value if action else None,
        date_from=date_from,
        date_to=date_to,
        limit=limit,
        offset=offset,
    )
    return Page[AuditEntryOut](
        items=[AuditEntryOut.model_validate(e) for e in entries], total=total, limit=limit, offset=offset
    )


scenario = WebScenario(
    name="audit",
    pages=pages,
    api=api,
    nav=(NavItem("audit", "审计日志", "/audit", roles=frozenset({Role.ADMIN}), order=90, icon="☰"),),
    templates=None,
)
