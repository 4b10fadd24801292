"""Pages and API of the projects scenario (工业投资与项目).

Pages: /projects (项目库: stages, plan delays, full-cycle cases, problems), /projects/progress
(目标完成情况 by county, forecast, the 技改 effect), /projects/progress.xlsx (月报表).
API under /api/v1/projects with the same service functions.

Who sees what (`core/scope.py`): analysts and admins their region; service staff the projects
of their enterprises and an enterprise its own (project list only: no regional aggregate);
liaisons nothing here (their routed problems are on 待办事项 /work). Every export is audited.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from jingxin.accounts import sessions as account_sessions
from jingxin.core import audit
from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.db import utcnow
from jingxin.core.workflow import service as wf
from jingxin.projects import facts, stages
from jingxin.projects.config import load_targets
from jingxin.projects.did import estimate
from jingxin.projects.export import write_monthly_table
from jingxin.projects.progress import LABELS, PACE, county_progress, delay_colour
from jingxin.web.deps import (
    CurrentActor,
    CurrentScope,
    CurrentUser,
    CurrentWebSession,
    DbSession,
    WarehouseReader,
    require_roles,
)
from jingxin.web.params import MonthQuery
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import ProblemOut
from jingxin.web.templating import render

READERS = frozenset({Role.ADMIN, *ANALYSTS, Role.SERVICE_STAFF, Role.ENTERPRISE})
REGIONAL = frozenset({Role.ADMIN, *ANALYSTS})
pages = APIRouter(
    prefix="/projects", include_in_schema=False, dependencies=[Depends(require_roles(*READERS))]
)
# Domain refusals answer 422 with one Chinese sentence; malformed parameters with FastAPI's list.
api = APIRouter(
    prefix="/projects",
    tags=["工业投资与项目"],
    dependencies=[Depends(require_roles(*READERS))],
    responses={422: {"model": ProblemOut}},
)
MAX_LISTED = 1000


def _regional(user: Any, scope: Any) -> None:
    if user.role_enum not in REGIONAL or scope.pinned:
        raise HTTPException(status_code=403, detail="目标完成情况为区域汇总，仅向管理员和分析员展示")


def _register(wh: Any, scope: Any) -> Any:
    try:
        return facts.register(wh, scope)
    except facts.ProjectsError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


def _progress(wh: Any, scope: Any, month: str | None) -> Any:
    try:
        months = facts.months(wh)
        if not months:
            raise facts.ProjectsError("仓库中还没有项目月度进展")
        return county_progress(wh, month or months[-1], scope), months
    except facts.ProjectsError as exc:
        raise HTTPException(status_code=404 if month is None else 422, detail=str(exc)) from None


def _records(reg: Any, as_of: date) -> list[dict[str, Any]]:
    cfg = load_targets()
    delays = stages.plan_delays(reg, as_of)
    worst = delays.groupby("project_id")["working_days_late"].max().to_dict() if len(delays) else {}
    out = []
    for r in reg.head(MAX_LISTED).itertuples(index=False):
        out.append(
            {
                "project_id": r.project_id,
                "project_name": r.project_name,
                "credit_code": r.credit_code,
                "county_code": r.county_code,
                "category": r.category,
                "tech_type": _text(r.tech_type),
                "chain": _text(r.chain),
                "total_investment": float(r.total_investment),
                "responsible": _text(r.responsible),
                "stage": r.stage,
                "signed_on": _d(r.signed_on),
                "started_on": _d(r.started_on),
                "production_on": _d(r.production_on),
                "capacity_on": _d(r.capacity_on),
                "planned_start_on": _d(r.planned_start_on),
                "planned_production_on": _d(r.planned_production_on),
                "planned_capacity_on": _d(r.planned_capacity_on),
                "working_days_late": int(worst.get(r.project_id, 0)),
                "colour": delay_colour(int(worst.get(r.project_id, 0)), cfg),
                "batch": int(r.register_batch),
            }
        )
    return out


def _text(value: Any) -> str | None:
    """A text cell, None when blank (a missing cell arrives as None or NaN)."""
    return None if value is None or value != value or not str(value).strip() else str(value)


def _d(value: Any) -> str | None:
    return None if value is None or value != value else str(value)[:10]


def _as_of(reg: Any) -> date:
    last = reg["last_month"].dropna()
    if last.empty:
        return date.today()
    import pandas as pd

    return (pd.Timestamp(last.max()) + pd.offsets.MonthEnd(0)).date()


@pages.get("")
def projects_page(
    request: Request,
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    category: Annotated[str | None, Query(pattern="^(重大项目|技改项目|招引项目)$")] = None,
) -> Response:
    reg = _register(wh, scope)
    if category:
        reg = reg[reg["category"] == category]
    as_of = _as_of(reg) if len(reg) else date.today()
    cases, _n = wf.list_items(db, scope, workflow=stages.STAGE_WORKFLOW, limit=100_000)
    now = utcnow()
    problems, _m = wf.list_items(db, scope, workflow=stages.PROBLEM_WORKFLOW, limit=200)
    return render(
        request,
        "projects/index.html",
        {
            "records": _records(reg, as_of),
            "total": len(reg),
            "as_of": as_of,
            "category": category,
            "case_of": {c.fields.get("project_id"): c for c in cases},
            "deadline_of": {c.fields.get("project_id"): stages.next_deadline(c, now) for c in cases},
            "pace": PACE,
            "serious": load_targets().delays.serious_working_days,
            "problems": problems,
            "can_sync": user.role_enum in REGIONAL,
            "departments": _departments(),
        },
    )


def _departments() -> list[str]:
    from jingxin.core.contracts import load_contracts

    return sorted({s.department for s in load_contracts().sources.values()})


@pages.post("/sync", dependencies=[Depends(require_roles(*REGIONAL))])
def sync_page(
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    ws: CurrentWebSession,
    until: Annotated[date | None, Form()] = None,
) -> Response:
    try:
        report = stages.sync(db, wh, user, until)
    except facts.ProjectsError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    account_sessions.add_flash(
        db,
        ws,
        f"已同步项目进展：新纳入全周期服务 {report.opened} 个项目，登记阶段 {report.steps} 次，"
        f"新交办问题 {report.problems} 个。",
    )
    return RedirectResponse("/projects", status_code=303)


@pages.post("/problems")
def problem_page(
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    ws: CurrentWebSession,
    project_id: Annotated[str, Form(max_length=32)],
    problem: Annotated[str, Form(min_length=2, max_length=4000)],
    department: Annotated[str, Form(max_length=64)],
) -> Response:
    item = _raise(db, wh, user, scope, project_id, problem, department)
    account_sessions.add_flash(db, ws, f"问题已交办{department}（事项 {item.id}）。")
    return RedirectResponse(f"/work/{item.id}", status_code=303)


def _raise(db: Any, wh: Any, user: Any, scope: Any, project_id: str, problem: str, department: str) -> Any:
    reg = _register(wh, scope)
    rows = reg[reg["project_id"] == project_id]
    if rows.empty:
        raise HTTPException(status_code=404, detail="项目不存在或不在您的数据范围内")
    try:
        return stages.raise_problem(db, user, rows.iloc[0].to_dict(), problem, department)
    except wf.WorkflowError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None


@pages.get("/progress")
def progress_page(
    request: Request, wh: WarehouseReader, user: CurrentUser, scope: CurrentScope, month: MonthQuery = None
) -> Response:
    _regional(user, scope)
    result, months = _progress(wh, scope, month)
    try:
        effect = estimate(wh, scope).to_dict()
    except facts.ProjectsError as exc:
        effect = {"error": str(exc)}
    return render(
        request,
        "projects/progress.html",
        {
            "p": result,
            "months": months,
            "labels": LABELS,
            "pace": PACE,
            "effect": effect,
            "rows": sorted(result.rows, key=lambda r: (r.get("rank") or 9999, r["county_code"])),
        },
    )


@pages.get("/progress.xlsx")
def progress_xlsx(
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    actor: CurrentActor,
    month: MonthQuery = None,
) -> Response:
    _regional(user, scope)
    result, _months = _progress(wh, scope, month)
    tmp = Path(tempfile.mkstemp(suffix=".xlsx")[1])
    write_monthly_table(result, tmp)
    audit.record(
        db,
        actor,
        audit.Action.EXPORT,
        "projects_progress",
        result.month,
        {"counties": len(result.rows)},
        commit=True,
    )
    name = f"工业投资和项目推进情况月报表_{result.month}.xlsx"
    return FileResponse(
        tmp,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
        background=BackgroundTask(tmp.unlink, missing_ok=True),
    )


# ---- API ----------------------------------------------------------------------------------------


@api.get("")
def projects_api(wh: WarehouseReader, scope: CurrentScope) -> dict[str, Any]:
    """Projects in the caller's scope with their stages, planned dates and plan delays."""
    reg = _register(wh, scope)
    as_of = _as_of(reg) if len(reg) else date.today()
    return {"as_of": as_of.isoformat(), "total": len(reg), "projects": _records(reg, as_of)}


@api.get("/progress")
def progress_api(
    wh: WarehouseReader, user: CurrentUser, scope: CurrentScope, month: MonthQuery = None
) -> dict[str, Any]:
    """Targets against actuals by county for a month, with the year-end forecast and lineage."""
    _regional(user, scope)
    result, _months = _progress(wh, scope, month)
    return result.to_dict()


@api.get("/effect")
def effect_api(wh: WarehouseReader, user: CurrentUser, scope: CurrentScope) -> dict[str, Any]:
    """Difference-in-differences estimate of the 技改 effect on 亩均 output, pooled and by type."""
    _regional(user, scope)
    try:
        return estimate(wh, scope).to_dict()
    except facts.ProjectsError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


@api.post("/sync", dependencies=[Depends(require_roles(*REGIONAL))])
def sync_api(db: DbSession, wh: WarehouseReader, user: CurrentUser) -> dict[str, Any]:
    """Replay the reported stages and problems of the caller's projects into the workflow."""
    try:
        return stages.sync(db, wh, user).to_dict()
    except facts.ProjectsError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@api.get("/overdue")
def overdue_api(db: DbSession, user: CurrentUser) -> list[dict[str, Any]]:
    """Project and problem cases in the caller's scope whose working-day deadline has passed."""
    from jingxin.core.db import utcnow

    return stages.overdue(db, user, utcnow())


class ProblemIn(BaseModel):
    problem: str = Field(min_length=2, max_length=4000)
    department: str = Field(max_length=64)


@api.post("/{project_id}/problems", status_code=201)
def problem_api(
    project_id: str,
    body: ProblemIn,
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
) -> dict[str, Any]:
    """Raise a project's problem as a case routed to a department."""
    item = _raise(db, wh, user, scope, project_id, body.problem, body.department)
    return {"id": item.id, "state": item.state, "department": item.fields.get("department")}


scenario = WebScenario(
    name="projects",
    pages=pages,
    api=api,
    nav=(NavItem("projects", "项目推进", "/projects", roles=READERS, order=34, icon="▦"),),
    templates=Path(__file__).parent / "templates",
)
