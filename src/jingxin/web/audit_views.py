"""The audit log pages and API (审计日志): search by user, action and date range (admin only)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict

from jingxin.core import audit
from jingxin.core.auth import Role
from jingxin.web.deps import DbSession, require_roles
from jingxin.web.errors import invalid_parameter
from jingxin.web.pagination import Pager
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import Message, Page
from jingxin.web.templating import is_htmx, render

ADMIN_ONLY = [Depends(require_roles(Role.ADMIN))]
PER_PAGE = 50
DAY_RANGE = f"{audit.EARLIEST_DAY.isoformat()} 至 {audit.LATEST_DAY.isoformat()}"

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


def _parse_day(text: str) -> tuple[date | None, str | None]:
    """A day typed into the search form, or why it is refused."""
    if not text:
        return None, None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None, "格式不正确（应为 YYYY-MM-DD）"
    problem = audit.day_problem(day)
    return (None, problem) if problem else (day, None)


def _in_range(day: date | None) -> date | None:
    problem = audit.day_problem(day)
    if problem:
        raise ValueError(problem)
    return day


SearchDay = Annotated[date | None, AfterValidator(_in_range)]


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
    """Search form and results; HTMX swaps only the results as filters change.

    A refused date is left out of the search and named above the results; the full page then
    answers 400 (an HTMX fragment answers 200, as HTMX swaps in only successful answers)."""
    (day_from, from_problem), (day_to, to_problem) = _parse_day(date_from), _parse_day(date_to)
    problems = [
        f"{label}{problem}"
        for label, problem in (("起始日期", from_problem), ("截止日期", to_problem))
        if problem
    ]
    if day_from and day_to and day_from > day_to:
        problems.append("起始日期晚于截止日期")
        day_from = day_to = None
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
    status = 400 if problems and not is_htmx(request) else 200
    return render(request, name, context, status_code=status)


@api.get(
    "/audit",
    response_model=Page[AuditEntryOut],
    summary="审计日志查询",
    responses={401: {"model": Message}, 403: {"model": Message}},
    description=f"日期须在 {DAY_RANGE} 之间；起始日期不能晚于截止日期（否则 422，说明哪个参数有误）。",
)
def audit_api(
    db: DbSession,
    user: Annotated[str | None, Query(max_length=64, description="用户名的一部分")] = None,
    action: Annotated[audit.Action | None, Query(description="操作类型")] = None,
    date_from: Annotated[SearchDay, Query(description=f"起始日期（含，北京时间），{DAY_RANGE}")] = None,
    date_to: Annotated[SearchDay, Query(description=f"截止日期（含，北京时间），{DAY_RANGE}")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[AuditEntryOut]:
    if date_from and date_to and date_from > date_to:
        raise invalid_parameter("query", "date_from", "起始日期不能晚于截止日期")
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
