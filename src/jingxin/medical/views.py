"""Pages of the medical reserves scenario (医疗物资): stock map, warnings, supplier board,
dispatch planner. Data through `Scope` (a county analyst sees its county only); the plan is
approved by the province through its workflow case and executed as ledger movements."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from jingxin import reference
from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.scope import division_prefix
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.models import WorkItem
from jingxin.medical import config, ledger, plans, suppliers, supply
from jingxin.medical.models import Plan
from jingxin.web.deps import CurrentScope, CurrentUser, DbSession, WarehouseReader, require_roles
from jingxin.web.params import DayQuery, RowId
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.templating import render

REGION_ROLES = frozenset({*ANALYSTS, Role.ADMIN})
pages = APIRouter(
    prefix="/medical", include_in_schema=False, dependencies=[Depends(require_roles(*REGION_ROLES))]
)
Scenario = Annotated[str, Query(pattern=r"^[a-z_]{1,20}$")]


def _day(on: date | None) -> date:
    return on or date.today()


def _scenario(name: str) -> str:
    if name not in config.norms().scenarios:
        raise HTTPException(404, f"需求情景 {name} 未配置")
    return name


@pages.get("")
def stock_page(
    request: Request,
    db: DbSession,
    scope: CurrentScope,
    on: DayQuery = None,
    item: Annotated[str, Query(pattern=r"^[a-z0-9_]{1,40}$")] = "mask_n95",
    scenario: Scenario = "normal",
    region: Annotated[str | None, Query(pattern=r"^\d{6}$", description="地图的上级区划")] = None,
) -> Response:
    if item not in config.catalogue().items:
        raise HTTPException(404, f"物资目录中没有 {item}")
    parent = region or scope.division or "330000"
    try:
        map_config = supply.region_map(db, scope, parent, _day(on), item, _scenario(scenario))
    except (PermissionError, KeyError, ValueError):
        raise HTTPException(404, "该区划不存在或不在您的数据范围内") from None
    prefix = division_prefix(parent)
    rows = [
        r for r in supply.stock_map(db, scope, _day(on), item, scenario) if str(r["code"]).startswith(prefix)
    ]
    return render(
        request,
        "medical/stock.html",
        {
            "page_title": "医疗物资库存",
            "rows": rows,
            "on": _day(on),
            "item": item,
            "scenario": scenario,
            "catalogue": config.catalogue(),
            "norms": config.norms(),
            "map_config": map_config,
            "parent": reference.division(parent),
        },
    )


@pages.get("/warnings")
def warnings_page(
    request: Request, db: DbSession, scope: CurrentScope, on: DayQuery = None, scenario: Scenario = "normal"
) -> Response:
    rows = supply.warnings(db, scope, _day(on), _scenario(scenario))
    return render(
        request,
        "medical/warnings.html",
        {
            "page_title": "医疗物资预警",
            "rows": rows[:1000],
            "total": len(rows),
            "on": _day(on),
            "scenario": scenario,
            "names": {d.code: d.name for d in reference.divisions()},
            "norms": config.norms(),
            "unreconciled": [u for u in ledger.unreconciled(db)],
        },
    )


@pages.get("/suppliers")
def suppliers_page(
    request: Request, db: DbSession, scope: CurrentScope, wh: WarehouseReader, on: DayQuery = None
) -> Response:
    rows = suppliers.board(db, scope, _day(on), wh.current("medical_supply"))
    return render(
        request,
        "medical/suppliers.html",
        {
            "page_title": "重点企业看板",
            "rows": rows,
            "on": _day(on),
            "missing": sum(r["missing"] for r in rows),
            "may_open_batches": scope.allows_source("medical-supply"),
            "names": {d.code: d.name for d in reference.divisions()},
        },
    )


@pages.post("/suppliers/{supplier_id}/report")
async def supplier_report(
    request: Request, supplier_id: RowId, db: DbSession, user: CurrentUser, scope: CurrentScope
) -> Response:
    form = await request.form()
    visible = {s.id for s in suppliers.visible_suppliers(db, scope)}
    if supplier_id not in visible:
        raise HTTPException(404, "重点企业不存在或不在您的数据范围内")
    try:
        on = date.fromisoformat(str(form.get("on", "")))
        values = [int(str(form.get(k, "")).strip()) for k in ("capacity", "output", "stock")]
        capacity, output, stock = values
        suppliers.report(db, supplier_id, on, capacity, output, stock, recorded_by=user.username)
        db.commit()
    except ValueError as exc:
        db.rollback()
        raise HTTPException(
            422, f"日报有误：{exc}（产能、产量、库存须为非负整数，日期为 YYYY-MM-DD）"
        ) from None
    return RedirectResponse(f"/medical/suppliers?on={on.isoformat()}", status_code=303)


@pages.get("/dispatch")
def dispatch_page(request: Request, db: DbSession, scope: CurrentScope) -> Response:
    rows = [
        p
        for p in db.scalars(select(Plan).order_by(Plan.id.desc()).limit(200))
        if p.item_id and (case := db.get(WorkItem, p.item_id)) is not None and wf.visible(scope, case)
    ][:50]
    return render(
        request, "medical/dispatch.html", {"page_title": "调度方案", "plans": rows, "norms": config.norms()}
    )


@pages.post("/dispatch")
async def dispatch_propose(
    request: Request, db: DbSession, user: CurrentUser, wh: WarehouseReader
) -> Response:
    form = await request.form()
    try:
        on = date.fromisoformat(str(form.get("on", "")))
    except ValueError:
        raise HTTPException(422, "请填写日期（YYYY-MM-DD）") from None
    scenario = _scenario(str(form.get("scenario", "surge")))
    plan = plans.propose(db, user, on, scenario, time_limit=60, facts=wh.current("medical_supply"))
    return RedirectResponse(f"/medical/dispatch/{plan.id}", status_code=303)


def _plan(db: DbSession, scope: CurrentScope, plan_id: int) -> tuple[Plan, WorkItem]:
    plan = db.get(Plan, plan_id)
    if plan is None or plan.item_id is None:
        raise HTTPException(404, "调度方案不存在")
    try:
        return plan, wf.get_item(db, scope, plan.item_id)
    except wf.ItemNotFound:
        raise HTTPException(404, "调度方案不存在或不在您的数据范围内") from None


@pages.get("/dispatch/{plan_id}")
def plan_page(
    request: Request, plan_id: RowId, db: DbSession, user: CurrentUser, scope: CurrentScope
) -> Response:
    plan, case = _plan(db, scope, plan_id)
    return render(
        request,
        "medical/plan.html",
        {
            "page_title": f"调度方案 #{plan.id}",
            "plan": plan,
            "case": case,
            "steps": case.steps,
            "actions": wf.allowed_transitions(case, user),
            "names": plans.names(),
            "items": {k: v.name for k, v in config.catalogue().items.items()},
        },
    )


@pages.post("/dispatch/{plan_id}/{action}")
async def plan_action(
    request: Request, plan_id: RowId, action: str, db: DbSession, user: CurrentUser, scope: CurrentScope
) -> Response:
    plan, case = _plan(db, scope, plan_id)
    form = await request.form()
    try:
        if action == "execute":
            plans.execute(db, plan.id, user)
        elif action in ("approve", "return_plan"):
            wf.act(db, case.id, action, user, comment=str(form.get("comment", "")))
        else:
            raise HTTPException(404, "没有这一操作")
    except wf.WorkflowError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    except (plans.PlanError, ledger.LedgerError) as exc:
        raise HTTPException(409, str(exc)) from None
    return RedirectResponse(f"/medical/dispatch/{plan.id}", status_code=303)


scenario = WebScenario(
    name="medical",
    pages=pages,
    nav=(NavItem("medical", "医疗物资", "/medical", roles=REGION_ROLES, order=60, icon="✚"),),
    templates=Path(__file__).parent / "templates",
)
