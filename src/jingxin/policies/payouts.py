"""Paying policies out (政策兑现): 直兑 lists, applications, budgets.

Both run as declared workflows (`policy_payout`, `policy_application` in
core/workflow/definitions): this module adds what a workflow does not know, the lines (who
gets how much), the exclusions with their reasons and the budget.

Budget rule (never overspent): the money of a list or an application is committed against the
budget of its policy, county and year by ONE conditional UPDATE (``committed + x <= total``)
before the workflow step is taken; if the step then fails the commitment is given back. Two
confirmations racing for the last money: one UPDATE matches, the other matches no row and is
refused. Payments move committed money to paid in the same transaction as the step, and the
database's CHECK constraint keeps paid ≤ committed ≤ total whatever happens.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from jingxin.core import audit
from jingxin.core.db import clean_text, utcnow, write_turn
from jingxin.core.notify.service import notify
from jingxin.core.warehouse import Warehouse
from jingxin.core.workflow import service as workflow
from jingxin.core.workflow.config import load_workflow
from jingxin.core.workflow.models import WorkItem
from jingxin.policies import service
from jingxin.policies.config import get_policy
from jingxin.policies.models import PayoutLine, PolicyBudget

DIRECT, APPLICATION = "policy_payout", "policy_application"
STATUS_LABELS = {"listed": "待确认", "excluded": "已剔除", "approved": "待拨付", "paid": "已拨付"}
BUDGET_ROLES = frozenset({"province_analyst", "city_analyst", "admin"})


class PayoutError(workflow.WorkflowError):
    """A payout step that cannot be taken (Chinese message says why and what to do)."""


class BudgetExceeded(PayoutError):
    status = 409


def to_fen(yuan: float) -> int:
    return int(round(float(yuan) * 100))


# ---- budgets --------------------------------------------------------------------------------


def set_budget(
    db: Session, user: Any, policy_id: str, county: str, year: int, total_yuan: float
) -> PolicyBudget:
    """Set the budget of a policy in a county and year (市、省 accounts, within their scope).
    It may not go below what is already committed."""
    get_policy(policy_id)
    if not (len(county) == 6 and county.isdigit()):
        raise workflow.FieldProblems({"county": "区县代码应为6位数字"})
    if user.role not in BUDGET_ROLES or not user.scope.allows_division(county):
        raise workflow.NotAllowed("您无权设置该区县的政策预算")
    if total_yuan < 0:
        raise workflow.FieldProblems({"total": "预算额度不能为负数"})
    total = to_fen(total_yuan)
    with write_turn(db):
        budget = db.scalar(
            select(PolicyBudget).where(
                PolicyBudget.policy_id == policy_id,
                PolicyBudget.county_code == county,
                PolicyBudget.year == year,
            )
        )
        if budget is None:
            budget = PolicyBudget(
                policy_id=policy_id,
                county_code=county,
                year=year,
                total_fen=total,
                committed_fen=0,
                paid_fen=0,
            )
            db.add(budget)
        else:
            if total < budget.committed_fen:
                db.rollback()
                raise BudgetExceeded(f"预算额度不能低于已占用的 {budget.committed_fen / 100:,.2f} 元")
            budget.total_fen = total
        budget.updated_at = utcnow()
        db.flush()
        audit.record(
            db,
            audit.Actor(user.id, user.username),
            audit.Action.CONFIG_CHANGE,
            "policy_budget",
            budget.id,
            {"policy": policy_id, "county": county, "year": year, "total_fen": total},
        )
        db.commit()
    return budget


def budget_of(db: Session, policy_id: str, county: str, year: int) -> PolicyBudget | None:
    return db.scalar(
        select(PolicyBudget).where(
            PolicyBudget.policy_id == policy_id, PolicyBudget.county_code == county, PolicyBudget.year == year
        )
    )


def reserve(db: Session, policy_id: str, county: str, year: int, fen: int) -> None:
    """Commit `fen` against the budget, atomically; BudgetExceeded when it does not fit."""
    with write_turn(db):
        done = db.execute(
            update(PolicyBudget)
            .where(
                PolicyBudget.policy_id == policy_id,
                PolicyBudget.county_code == county,
                PolicyBudget.year == year,
                PolicyBudget.committed_fen + fen <= PolicyBudget.total_fen,
            )
            .values(committed_fen=PolicyBudget.committed_fen + fen, updated_at=utcnow())
        ).rowcount  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
        db.commit()
    if done != 1:
        budget = budget_of(db, policy_id, county, year)
        if budget is None:
            raise BudgetExceeded(f"尚未设置 {policy_id} 在 {county} 的 {year} 年预算额度，请先设置预算")
        left = (budget.total_fen - budget.committed_fen) / 100
        raise BudgetExceeded(
            f"预算不足：需 {fen / 100:,.2f} 元，{year} 年剩余额度 {left:,.2f} 元；请调整预算或剔除部分企业"
        )


def release(db: Session, policy_id: str, county: str, year: int, fen: int) -> None:
    with write_turn(db):
        db.execute(
            update(PolicyBudget)
            .where(
                PolicyBudget.policy_id == policy_id,
                PolicyBudget.county_code == county,
                PolicyBudget.year == year,
            )
            .values(committed_fen=PolicyBudget.committed_fen - fen, updated_at=utcnow())
        )
        db.commit()


def budgets(db: Session, scope: Any, policy_id: str | None = None) -> list[PolicyBudget]:
    q = select(PolicyBudget).where(
        scope.where(PolicyBudget.county_code, None) if not scope.pinned else PolicyBudget.id < 0
    )
    if policy_id:
        q = q.where(PolicyBudget.policy_id == policy_id)
    return list(db.scalars(q.order_by(PolicyBudget.policy_id, PolicyBudget.county_code, PolicyBudget.year)))


# ---- lines ----------------------------------------------------------------------------------


def lines(db: Session, item: WorkItem) -> list[PayoutLine]:
    return list(
        db.scalars(
            select(PayoutLine)
            .where(PayoutLine.item_id == item.id)
            .order_by(PayoutLine.amount_fen.desc(), PayoutLine.credit_code)
        )
    )


def lines_for_enterprise(db: Session, scope: Any, credit_code: str) -> list[PayoutLine]:
    """An enterprise's payout lines that it may see: its own applications in any state, and
    direct lists once confirmed (a list the county is still checking is not its business yet)."""
    from sqlalchemy import and_, or_

    q = (
        select(PayoutLine)
        .join(WorkItem, WorkItem.id == PayoutLine.item_id)
        .where(
            PayoutLine.credit_code == credit_code,
            scope.where(PayoutLine.county_code, PayoutLine.credit_code),
            or_(
                PayoutLine.status.in_(["approved", "paid", "excluded"]),
                and_(PayoutLine.status == "listed", WorkItem.workflow == APPLICATION),
            ),
        )
    )
    return list(db.scalars(q.order_by(PayoutLine.created_at.desc())))


def _sum(rows: list[PayoutLine], status: str) -> int:
    return sum(r.amount_fen for r in rows if r.status == status)


def _budget_year(item: WorkItem) -> int:
    return int(item.fields["data_year"]) + 1


# ---- 直兑 lists -------------------------------------------------------------------------------


def create_list(
    db: Session, wh: Warehouse, user: Any, policy_id: str, county: str, day: dt.date | None = None
) -> WorkItem:
    """The platform lists the qualifying enterprises of `county` and their amounts (a case of
    `policy_payout` in state 待县级确认). Enterprises already on a list of the same policy and
    data year are left out, so nobody is paid twice. `day` defaults to `service.default_day`."""
    policy = get_policy(policy_id)
    if not user.scope.allows_division(county) or user.role not in {
        "county_analyst",
        "city_analyst",
        "province_analyst",
        "admin",
    }:
        raise workflow.NotAllowed("您无权为该区县生成兑现清单")
    if policy.mode != "direct" or policy.kind != "benefit":
        raise PayoutError(f"“{policy.title}”不是免申即享的惠企政策，不能生成直兑清单")
    if day is None:
        try:
            day = service.default_day(wh)
        except service.NoFacts as exc:
            raise PayoutError(str(exc)) from None
    if not policy.in_force(day):
        raise PayoutError(f"“{policy.title}”在 {day} 不在有效期内")
    year = policy.data_year_for(day)
    found = service.beneficiaries(wh, user.scope, policy_id, day, county=county)
    done = set(
        db.scalars(
            select(PayoutLine.credit_code).where(
                PayoutLine.policy_id == policy_id,
                PayoutLine.data_year == year,
                PayoutLine.county_code == county,
            )
        )
    )
    fresh = [r for r in found if r["credit_code"] not in done and (r["amount"] or 0) > 0]
    if not fresh:
        raise PayoutError("没有尚未兑现的符合条件企业")
    from jingxin.reference import division

    title = f"{policy.title}·{division(county).name}·{year}年度"
    item = workflow.start_item(
        db,
        DIRECT,
        user,
        division_code=county,
        fields={"title": title, "policy": policy_id, "data_year": str(year)},
    )
    with write_turn(db):
        for r in fresh:
            db.add(
                PayoutLine(
                    item_id=item.id,
                    policy_id=policy_id,
                    data_year=year,
                    credit_code=r["credit_code"],
                    name=(r["name"] or "")[:200],
                    county_code=county,
                    amount_fen=to_fen(r["amount"]),
                    status="listed",
                    reason="",
                )
            )
        db.commit()
    return item


def _editable(db: Session, user: Any, item_id: int, transition: str) -> tuple[WorkItem, Any]:
    item = workflow.get_item(db, user.scope, item_id)
    definition = load_workflow(item.workflow)
    t = definition.transitions[transition]
    if not workflow.may_take(definition, item, t.roles, user):
        raise workflow.NotAllowed(f"您无权对此{definition.title}执行“{t.label}”")
    if item.state not in t.from_:
        raise workflow.InvalidTransition(
            f"当前为“{definition.states[item.state].label}”，不能执行“{t.label}”"
        )
    return item, definition


def exclude(db: Session, user: Any, item_id: int, line_id: int, reason: str) -> PayoutLine:
    """Take one enterprise off a list before confirming it, with the reason (kept in history)."""
    item, _ = _editable(db, user, item_id, "confirm")
    why = clean_text(reason or "").strip()
    if not why:
        raise workflow.FieldProblems({"reason": "请填写剔除理由"})
    line = db.get(PayoutLine, line_id)
    if line is None or line.item_id != item.id:
        raise workflow.ItemNotFound("清单中没有这一行")
    if line.status != "listed":
        raise workflow.InvalidTransition("该企业已不在待确认状态")
    with write_turn(db):
        line.status, line.reason = "excluded", why[:2000]
        workflow.add_step(
            db,
            item,
            action="exclude",
            label="剔除企业",
            actor=user,
            now=utcnow(),
            comment=why[:2000],
            changes={"line": line.id, "credit_code": line.credit_code, "amount_fen": line.amount_fen},
        )
        audit.record(
            db,
            audit.Actor(user.id, user.username),
            audit.Action.WORKFLOW_STEP,
            item.workflow,
            item.id,
            {"action": "exclude", "credit_code": line.credit_code},
        )
        db.commit()
    return line


def confirm(db: Session, user: Any, item_id: int, comment: str = "") -> WorkItem:
    """The county confirms a list: its money is committed against the budget, then the step."""
    item, _ = _editable(db, user, item_id, "confirm")
    rows = lines(db, item)
    fen = _sum(rows, "listed")
    if fen <= 0:
        raise PayoutError("清单中没有待确认的企业")
    policy_id, county, year = item.fields["policy"], item.division_code, _budget_year(item)
    reserve(db, policy_id, county, year, fen)
    try:
        for r in rows:
            if r.status == "listed":
                r.status = "approved"
        workflow.act(db, item.id, "confirm", user, comment=comment)
    except Exception:
        db.rollback()
        release(db, policy_id, county, year, fen)
        raise
    return item


def send_back(db: Session, user: Any, item_id: int, comment: str) -> WorkItem:
    """Finance returns a confirmed list to the county: the commitment is given back."""
    item, _ = _editable(db, user, item_id, "send_back")
    rows = lines(db, item)
    fen = _sum(rows, "approved")
    for r in rows:
        if r.status == "approved":
            r.status = "listed"
    budget = budget_of(db, item.fields["policy"], item.division_code, _budget_year(item))
    if budget is not None:
        budget.committed_fen = PolicyBudget.committed_fen - fen
    try:
        workflow.act(db, item.id, "send_back", user, comment=comment)
    except Exception:
        db.rollback()
        raise
    return item


def record_payment(db: Session, user: Any, item_id: int, payment_ref: str) -> WorkItem:
    """Finance records the payment of a confirmed list or an approved application: its lines
    become paid (the enterprises see them) and committed money becomes paid money."""
    item = workflow.get_item(db, user.scope, item_id)
    item, _ = _editable(db, user, item_id, "record_payment")
    rows = lines(db, item)
    fen = _sum(rows, "approved")
    budget = budget_of(db, item.fields["policy"], item.division_code, _budget_year(item))
    if budget is None:
        raise BudgetExceeded("该政策在此区县没有预算记录")
    now = utcnow()
    ref = clean_text(payment_ref or "").strip()[:64]
    paid = [r for r in rows if r.status == "approved"]
    for r in paid:
        r.status, r.payment_ref, r.paid_at = "paid", ref, now
    budget.paid_fen = PolicyBudget.paid_fen + fen
    try:
        workflow.act(db, item.id, "record_payment", user, fields={"payment_ref": ref})
    except Exception:
        db.rollback()
        raise
    _tell_enterprises(db, item, paid)
    return item


def _tell_enterprises(db: Session, item: WorkItem, paid: list[PayoutLine]) -> None:
    """Each paid enterprise's own accounts get a message (inbox; e-mail if they chose it)."""
    from jingxin.accounts.models import User

    if not paid:
        return
    by_code = {r.credit_code: r for r in paid}
    users = list(
        db.scalars(
            select(User).where(User.credit_code.in_(list(by_code)), User.role == "enterprise", User.is_active)
        )
    )
    with write_turn(db):
        for u in users:
            r = by_code[str(u.credit_code)]
            notify(
                db,
                [u],
                event="paid",
                title=f"政策资金已拨付：{item.fields.get('title', '')}",
                body=f"{r.amount_fen / 100:,.2f} 元已拨付（凭证号 {r.payment_ref}）。",
                link="/qiye",
                workflow=item.workflow,
                item_id=item.id,
                dedupe_key=f"policy-paid:{r.id}",
            )
        db.commit()


# ---- applications -----------------------------------------------------------------------------


def apply(
    db: Session, wh: Warehouse, user: Any, policy_id: str, credit_code: str, day: dt.date, statement: str = ""
) -> WorkItem:
    """An enterprise (or its service worker) applies for a policy that needs an application.
    The matching decides the amount; an enterprise that does not qualify is told why."""
    policy = get_policy(policy_id)
    if policy.mode != "application":
        raise PayoutError(f"“{policy.title}”免申即享，无需申请")
    d = service.decision(wh, user.scope, policy_id, credit_code, day)
    if d is None:
        raise workflow.ItemNotFound("企业不存在或不在您的数据范围内")
    if not d["eligible"]:
        raise PayoutError(f"暂不符合“{policy.title}”的条件：{d['change']['text']}")
    year = policy.data_year_for(day)
    if db.scalar(
        select(func.count())
        .select_from(PayoutLine)
        .where(
            PayoutLine.policy_id == policy_id,
            PayoutLine.data_year == year,
            PayoutLine.credit_code == credit_code,
        )
    ):
        raise workflow.Conflict("该企业本年度已申请或已兑现此政策")
    county = wh.execute(
        service.facts_in_scope(wh, user.scope, year)
        .filter(lambda t: t.credit_code == credit_code)
        .county_code.max()
    )
    item = workflow.start_item(
        db,
        APPLICATION,
        user,
        division_code=county,
        credit_code=credit_code,
        fields={
            "title": f"{policy.title}·{year}年度",
            "policy": policy_id,
            "data_year": str(year),
            "statement": statement,
        },
    )
    with write_turn(db):
        db.add(
            PayoutLine(
                item_id=item.id,
                policy_id=policy_id,
                data_year=year,
                credit_code=credit_code,
                name="",
                county_code=county,
                amount_fen=to_fen(d["amount"]),
                status="listed",
                reason="",
            )
        )
        db.commit()
    return item


def approve(db: Session, user: Any, item_id: int, comment: str = "") -> WorkItem:
    item, _ = _editable(db, user, item_id, "approve")
    rows = lines(db, item)
    fen = _sum(rows, "listed")
    policy_id, county, year = item.fields["policy"], item.division_code, _budget_year(item)
    reserve(db, policy_id, county, year, fen)
    try:
        for r in rows:
            if r.status == "listed":
                r.status = "approved"
        workflow.act(db, item.id, "approve", user, comment=comment)
    except Exception:
        db.rollback()
        release(db, policy_id, county, year, fen)
        raise
    return item


def reject(db: Session, user: Any, item_id: int, comment: str) -> WorkItem:
    item, _ = _editable(db, user, item_id, "reject")
    for r in lines(db, item):
        if r.status == "listed":
            r.status, r.reason = "excluded", clean_text(comment or "").strip()[:2000]
    try:
        workflow.act(db, item.id, "reject", user, comment=comment)
    except Exception:
        db.rollback()
        raise
    return item
