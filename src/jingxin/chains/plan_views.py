"""Pages and API of 链长制 / 一链一方案 (chain chiefs, plans, tasks, monthly monitoring).

/chains/chiefs: every chain's chief, office, departments, target share against the year's
output share, and its tasks (issued, open, done, overdue). /chains/chiefs/{chain}: the plan's
tasks, issuing them (下达方案任务), adding a task, and the cases with their terms; each case is
handled on the generic workflow page /work/{id}. Region scope: the cases are read through the
workflow core's scope filter, the output through `CurrentScope`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Request, Response
from fastapi.responses import RedirectResponse

from jingxin.chains import plans, service
from jingxin.chains.compute import ChainsError
from jingxin.core.workflow.config import load_workflow
from jingxin.core.workflow.service import WorkflowError
from jingxin.web.deps import CurrentScope, CurrentUser, DbSession, WarehouseReader
from jingxin.web.params import MonthQuery
from jingxin.web.templating import render

pages = APIRouter()
api = APIRouter()

ChainId = Annotated[str, Path(max_length=64, pattern=r"^[a-z_]+$")]


def _refuse(exc: Exception) -> HTTPException:
    if isinstance(exc, WorkflowError):
        return HTTPException(status_code=exc.status, detail=str(exc))
    return HTTPException(status_code=422, detail=str(exc))


def _plan(chain_id: str) -> plans.ChainPlan:
    try:
        return plans.plans().plan(chain_id)
    except KeyError:
        raise HTTPException(status_code=404, detail=f"没有产业链 {chain_id} 的一链一方案") from None


def _overview(db: Any, wh: Any, scope: Any, month: str | None) -> dict[str, Any]:
    m = month or service.latest_month(wh)
    monitor: list[dict[str, Any]] = []
    problem = None
    if m:
        try:
            monitor = service.chain_monitoring(wh, m, scope)
        except ChainsError as exc:
            problem = str(exc)
    rows = plans.task_rows(db, scope)
    summary = plans.task_summary(rows)
    by_chain = {r["chain_id"]: r for r in monitor}
    p = plans.plans()
    return {
        "month": m,
        "problem": problem,
        "plans": [
            {
                "chain_id": x.chain,
                "chain_name": service.chain_name(x.chain),
                "chief": x.chief,
                "office": x.office,
                "departments": list(x.departments),
                "target_share": x.target_share,
                "target_source": x.target_source,
                "monitoring": by_chain.get(x.chain),
                "tasks": summary.get(x.chain, {"total": 0, "open": 0, "done": 0, "overdue": 0, "in_time": 0}),
            }
            for x in p.plans
        ],
        "total": by_chain.get("_all"),
        "target_total": p.target_total,
        "target_total_source": p.target_total_source,
    }


@pages.get("/chiefs")
def chiefs_page(
    request: Request, db: DbSession, wh: WarehouseReader, scope: CurrentScope, month: MonthQuery = None
) -> Response:
    return render(request, "chains/chiefs.html", _overview(db, wh, scope, month))


@pages.get("/chiefs/{chain_id}")
def chief_page(
    request: Request,
    db: DbSession,
    wh: WarehouseReader,
    scope: CurrentScope,
    chain_id: ChainId,
    user: CurrentUser,
) -> Response:
    plan = _plan(chain_id)
    rows = plans.task_rows(db, scope, chain_id)
    issued = {r["plan_task"]: r for r in rows if r["plan_task"]}
    definition = load_workflow(plans.WORKFLOW)
    return render(
        request,
        "chains/chief.html",
        {
            "month": service.latest_month(wh),
            "plan": plan,
            "chain_name": service.chain_name(chain_id),
            "tasks": rows,
            "projects": plans.key_projects(wh, db, scope, chain_id),
            "issued": issued,
            "may_issue": user.role in definition.start.roles,
            "types": definition.fields["task_type"].choices,
            "terms": definition.fields["term"].choices,
            "scope_division": scope.division or "330000",
        },
    )


@pages.post("/chiefs/{chain_id}/issue")
def issue_page(db: DbSession, user: CurrentUser, chain_id: ChainId) -> Response:
    """下达方案任务: open a case for every task of the plan not yet issued, inside the user's scope."""
    _plan(chain_id)
    try:
        plans.issue_plan(db, user, chain_id)
    except (WorkflowError, ChainsError) as exc:
        raise _refuse(exc) from None
    return RedirectResponse(f"/chains/chiefs/{chain_id}", status_code=303)


@pages.post("/chiefs/{chain_id}/tasks")
def add_task_page(
    db: DbSession,
    user: CurrentUser,
    chain_id: ChainId,
    division: Annotated[str, Form(pattern=r"^\d{6}$")],
    title: Annotated[str, Form(min_length=2, max_length=200)],
    task_type: Annotated[str, Form(max_length=16)],
    owner: Annotated[str, Form(min_length=2, max_length=200)],
    content: Annotated[str, Form(min_length=2, max_length=4000)],
    term: Annotated[str, Form(max_length=4)],
) -> Response:
    """新增任务: an ad-hoc task of the chain, handled in `division`."""
    _plan(chain_id)
    try:
        item = plans.add_task(
            db,
            user,
            chain_id,
            division=division,
            title=title,
            task_type=task_type,
            owner=owner,
            content=content,
            term=term,
        )
    except (WorkflowError, ChainsError) as exc:
        raise _refuse(exc) from None
    return RedirectResponse(f"/work/{item.id}", status_code=303)


@api.get("/plans")
def plans_api(
    db: DbSession, wh: WarehouseReader, scope: CurrentScope, month: MonthQuery = None
) -> dict[str, Any]:
    """一链一方案: each chain's chief, departments, target share, monitoring and task counts."""
    return _overview(db, wh, scope, month)


@api.get("/tasks")
def tasks_api(db: DbSession, scope: CurrentScope, chain: str | None = None) -> list[dict[str, Any]]:
    """链长制 tasks the reader may see, with state, level, term deadline and progress."""
    rows = plans.task_rows(db, scope, chain)
    return [{**r, "due_at": r["due_at"].isoformat() if r["due_at"] else None} for r in rows]


@api.post("/plans/{chain_id}/issue")
def issue_api(db: DbSession, user: CurrentUser, chain_id: ChainId) -> dict[str, Any]:
    """Issue the plan's tasks not yet issued (inside the caller's scope); returns the new case ids."""
    _plan(chain_id)
    try:
        items = plans.issue_plan(db, user, chain_id)
    except (WorkflowError, ChainsError) as exc:
        raise _refuse(exc) from None
    return {"chain": chain_id, "opened": [i.id for i in items]}
