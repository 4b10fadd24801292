"""Policy pages and API (惠企政策): catalogue, matching by county with a what-if before
publishing, one enterprise's trace, push, 直兑 lists and applications with budgets.

Pages: /policies, /policies/{id}, /policies/{id}/enterprises/{code}, /policies/payouts,
/policies/payouts/{item_id}. API: /api/v1/policies, /api/v1/policies/{id}/match,
/api/v1/policies/{id}/enterprises/{code}. Every read goes through the user's `Scope`; every
step through `payouts` (budget) and the workflow core (roles, history, audit).

The payout pages are open to officials and to finance (财政部门, which records payments and
sees nothing but the payout cases of its region); the catalogue, matching and traces are not
open to finance.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse

from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.workflow import service as workflow
from jingxin.core.workflow.config import load_workflow
from jingxin.policies import payouts, push, service
from jingxin.policies.config import PolicyConfigError, get_policy, load_catalogue
from jingxin.web.deps import CurrentScope, CurrentUser, DbSession, WarehouseReader, require_roles
from jingxin.web.params import DayQuery
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.templating import render

OFFICIALS = frozenset({*ANALYSTS, Role.ADMIN})
READERS = frozenset({*OFFICIALS, Role.SERVICE_STAFF, Role.ENTERPRISE})
PAYERS = frozenset({*OFFICIALS, Role.FINANCE})  # who opens payout lists and cases
PolicyId = Annotated[str, PathParam(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
CreditCode = Annotated[str, PathParam(min_length=18, max_length=18, pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$")]
ItemId = Annotated[int, PathParam(ge=1, le=2**62)]

pages = APIRouter(include_in_schema=False)  # payout_pages, then policy_pages (bottom of file)
payout_pages = APIRouter(
    prefix="/policies", include_in_schema=False, dependencies=[Depends(require_roles(*PAYERS))]
)
policy_pages = APIRouter(
    prefix="/policies", include_in_schema=False, dependencies=[Depends(require_roles(*READERS))]
)
api = APIRouter(prefix="/policies", tags=["惠企政策"], dependencies=[Depends(require_roles(*READERS))])
officials_only = [Depends(require_roles(*OFFICIALS))]


def _policy(policy_id: str) -> Any:
    try:
        return get_policy(policy_id)
    except PolicyConfigError:
        raise HTTPException(status_code=404, detail="政策不存在") from None


def _day(wh: Any, day: dt.date | None) -> dt.date:
    try:
        return day or service.default_day(wh)
    except service.NoFacts as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None


def _problem(exc: workflow.WorkflowError) -> HTTPException:
    return HTTPException(status_code=exc.status, detail=str(exc))


def _back(exc: ValueError, url: str) -> Response:
    """Outside scope or role: 404/403 like everywhere; otherwise back to the page with the message."""
    status = getattr(exc, "status", 400)
    if status in (403, 404):
        raise HTTPException(status_code=status, detail=str(exc)) from None
    sep = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{sep}error={quote(str(exc)[:200])}", status_code=303)


# ---- catalogue and matching -----------------------------------------------------------------


@policy_pages.get("")
def catalogue(request: Request, user: CurrentUser) -> Response:
    return render(
        request,
        "policies/catalogue.html",
        {
            "page_title": "惠企政策",
            "policies": list(load_catalogue().values()),
            "official": user.role_enum in OFFICIALS,
        },
    )


@payout_pages.get("/payouts")
def payout_list(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    scope: CurrentScope,
    error: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    items: list[dict[str, Any]] = []
    for wf in (payouts.DIRECT, payouts.APPLICATION):
        found, _ = workflow.list_items(db, scope, workflow=wf, limit=200)
        definition = load_workflow(wf)
        items += [
            {
                "item": i,
                "kind": definition.title,
                "state": definition.states[i.state].label,
                "lines": payouts.lines(db, i),
            }
            for i in found
        ]
    items.sort(key=lambda x: x["item"].id, reverse=True)
    direct = [p for p in load_catalogue().values() if p.mode == "direct" and p.kind == "benefit"]
    return render(
        request,
        "policies/payouts.html",
        {
            "page_title": "政策兑现",
            "items": items,
            "budgets": payouts.budgets(db, scope),
            "direct": direct,
            "policies": list(load_catalogue().values()),
            "can_budget": user.role in payouts.BUDGET_ROLES,
            "can_list": user.role_enum in OFFICIALS,
            "default_county": user.division_code if len(scope.prefix) == 6 else "",
            "error": error,
        },
    )


@payout_pages.post("/payouts", dependencies=officials_only)
async def payout_create(request: Request, db: DbSession, wh: WarehouseReader, user: CurrentUser) -> Response:
    form = await request.form()
    policy_id, county = str(form.get("policy", "")), str(form.get("county", "")).strip()
    try:
        item = payouts.create_list(db, wh, user, _policy(policy_id).id, county)
    except workflow.WorkflowError as exc:
        return _back(exc, "/policies/payouts")
    return RedirectResponse(f"/policies/payouts/{item.id}", status_code=303)


@payout_pages.post("/budgets", dependencies=officials_only)
async def budget_set(request: Request, db: DbSession, user: CurrentUser) -> Response:
    form = await request.form()
    try:
        total = float(str(form.get("total", "")).replace(",", ""))
        year = int(str(form.get("year", "")))
        payouts.set_budget(
            db,
            user,
            _policy(str(form.get("policy", ""))).id,
            str(form.get("county", "")).strip(),
            year,
            total,
        )
    except workflow.WorkflowError as exc:
        return _back(exc, "/policies/payouts")
    except ValueError:
        return _back(ValueError("预算额度和年度须为数字"), "/policies/payouts")
    return RedirectResponse("/policies/payouts", status_code=303)


@payout_pages.get("/payouts/{item_id}")
def payout_item(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    item_id: ItemId,
    error: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    try:
        item = workflow.get_item(db, user.scope, item_id)
    except workflow.WorkflowError as exc:
        raise _problem(exc) from None
    if item.workflow not in (payouts.DIRECT, payouts.APPLICATION):
        raise HTTPException(status_code=404, detail="事项不存在")
    definition = load_workflow(item.workflow)
    lines = payouts.lines(db, item)
    budget = payouts.budget_of(
        db, item.fields["policy"], item.division_code, int(item.fields["data_year"]) + 1
    )
    return render(
        request,
        "policies/payout.html",
        {
            "page_title": item.fields.get("title", "政策兑现"),
            "item": item,
            "definition": definition,
            "state": definition.states[item.state].label,
            "lines": lines,
            "budget": budget,
            "listed_fen": sum(r.amount_fen for r in lines if r.status == "listed"),
            "actions": workflow.allowed_transitions(item, user),
            "history": workflow.history(db, user.scope, item.id),
            "labels": payouts.STATUS_LABELS,
            "links": user.role_enum is not Role.FINANCE,  # finance opens no enterprise page
            "error": error,
        },
    )


_STEPS = {
    "confirm": lambda db, u, i, f: payouts.confirm(db, u, i, f.get("comment", "")),
    "send_back": lambda db, u, i, f: payouts.send_back(db, u, i, f.get("comment", "")),
    "record_payment": lambda db, u, i, f: payouts.record_payment(db, u, i, f.get("payment_ref", "")),
    "approve": lambda db, u, i, f: payouts.approve(db, u, i, f.get("comment", "")),
    "reject": lambda db, u, i, f: payouts.reject(db, u, i, f.get("comment", "")),
    "exclude": lambda db, u, i, f: payouts.exclude(
        db, u, i, int(f.get("line", "0") or 0), f.get("reason", "")
    ),
}


@payout_pages.post("/payouts/{item_id}/{step}")
async def payout_step(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    item_id: ItemId,
    step: Annotated[str, PathParam(pattern=r"^[a-z_]{1,20}$")],
) -> Response:
    if step not in _STEPS:
        raise HTTPException(status_code=404, detail="没有这一步骤")
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        _STEPS[step](db, user, item_id, form)
    except ValueError as exc:
        return _back(exc, f"/policies/payouts/{item_id}")
    return RedirectResponse(f"/policies/payouts/{item_id}", status_code=303)


@policy_pages.get("/{policy_id}")
def policy_page(
    request: Request,
    user: CurrentUser,
    wh: WarehouseReader,
    scope: CurrentScope,
    db: DbSession,
    policy_id: PolicyId,
    day: DayQuery = None,
) -> Response:
    policy = _policy(policy_id)
    day = _day(wh, day)
    context: dict[str, Any] = {
        "page_title": policy.title,
        "policy": policy,
        "info": service.policy_info(policy, day),
        "day": day,
    }
    if user.role_enum in OFFICIALS:
        context["summary"] = service.summary(wh, scope, policy_id, day)
        overrides_raw = [
            f"{k[4:]}={v}" for k, v in request.query_params.items() if k.startswith("set_") and v.strip()
        ]
        if overrides_raw:
            try:
                overrides = service.parse_overrides(policy, overrides_raw)
                context["whatif"] = service.simulate(wh, scope, policy_id, day, overrides)
            except (ValueError, PolicyConfigError) as exc:
                context["whatif_error"] = str(exc)
        context["pushes"] = push.pushes(db, policy_id)
        context["can_push"] = user.role in push.PUSH_ROLES
    return render(request, "policies/policy.html", context)


@policy_pages.post("/{policy_id}/push", dependencies=officials_only)
def policy_push(db: DbSession, wh: WarehouseReader, user: CurrentUser, policy_id: PolicyId) -> Response:
    try:
        push.push(db, wh, user, _policy(policy_id).id, _day(wh, None))
    except workflow.WorkflowError as exc:
        raise _problem(exc) from None
    return RedirectResponse(f"/policies/{policy_id}", status_code=303)


@policy_pages.post(
    "/{policy_id}/apply", dependencies=[Depends(require_roles(Role.ENTERPRISE, Role.SERVICE_STAFF))]
)
async def policy_apply(
    request: Request, db: DbSession, wh: WarehouseReader, user: CurrentUser, policy_id: PolicyId
) -> Response:
    form = await request.form()
    code = str(form.get("credit_code", "")).strip()
    try:
        payouts.apply(
            db, wh, user, _policy(policy_id).id, code, _day(wh, None), str(form.get("statement", ""))[:5000]
        )
    except workflow.WorkflowError as exc:
        raise _problem(exc) from None
    return RedirectResponse(f"/qiye/{code}#qy-payouts", status_code=303)


@policy_pages.get("/{policy_id}/enterprises/{credit_code}")
def decision_page(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    policy_id: PolicyId,
    credit_code: CreditCode,
    day: DayQuery = None,
) -> Response:
    policy = _policy(policy_id)
    d = service.decision(wh, scope, policy.id, credit_code, _day(wh, day))
    if d is None:
        raise HTTPException(status_code=404, detail="企业不存在或不在您的数据范围内")
    d.update(title=policy.title, mode_label=policy.mode_label, document=policy.document, kind=policy.kind)
    return render(request, "policies/decision.html", {"page_title": policy.title, "d": d, "policy": policy})


# ---- API ------------------------------------------------------------------------------------


@api.get("")
def api_catalogue(wh: WarehouseReader, day: DayQuery = None) -> list[dict[str, Any]]:
    """The policy catalogue with the parameters in force on `day`."""
    when = day or dt.date.today()
    return [service.policy_info(p, when) for p in load_catalogue().values()]


@api.get("/{policy_id}/match", dependencies=officials_only)
def api_match(
    wh: WarehouseReader, scope: CurrentScope, policy_id: PolicyId, day: DayQuery = None
) -> dict[str, Any]:
    """Per county in the user's region: enterprises, qualifying ones and the amount."""
    return service.summary(wh, scope, _policy(policy_id).id, _day(wh, day))


@api.get("/{policy_id}/enterprises/{credit_code}")
def api_decision(
    wh: WarehouseReader,
    scope: CurrentScope,
    policy_id: PolicyId,
    credit_code: CreditCode,
    day: DayQuery = None,
) -> dict[str, Any]:
    """One enterprise's decision with its trace (404 outside the user's scope)."""
    d = service.decision(wh, scope, _policy(policy_id).id, credit_code, _day(wh, day))
    if d is None:
        raise HTTPException(status_code=404, detail="企业不存在或不在您的数据范围内")
    return d


# The payout routes first, so that /policies/payouts is never read as a policy id.
pages.include_router(payout_pages)
pages.include_router(policy_pages)

scenario = WebScenario(
    name="policies",
    pages=pages,
    api=api,
    nav=(
        NavItem("policies", "惠企政策", "/policies", roles=READERS, order=32, icon="◆"),
        NavItem("payouts", "政策兑现", "/policies/payouts", roles=PAYERS, order=33, icon="¥"),
    ),
    templates=Path(__file__).parent / "templates",
)
