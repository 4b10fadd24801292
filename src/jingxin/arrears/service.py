"""Operations of the arrears ledger (清欠台账): record, repay, dispute, list, report.

Who may write: the county, city and province 经信 analysts and admins record debts and
repayments within their region; an enterprise reports a debt owed to itself through a 清欠
appeal (`record_from_appeal`). Every read and write passes `Scope.where` / `allows_record` on
the entry's division and creditor (the SME), so an enterprise sees the debts owed to it, a
county its own. Writes are audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from jingxin import reference
from jingxin.appeals.models import ArrearsEntry, ArrearsRepayment
from jingxin.arrears.rules import KIND_LABELS, due_date, is_overdue
from jingxin.core import audit
from jingxin.core.credit_code import is_valid as credit_code_ok
from jingxin.core.db import clean_text, utcnow
from jingxin.core.workflow import service as wf

WRITERS = frozenset({"admin", "province_analyst", "city_analyst", "county_analyst"})
DISPUTE_WORKFLOW = "arrears_dispute"


class ArrearsError(ValueError):
    """Bad input or a refused step; `problems` maps a field to what is wrong with it."""

    status = 422

    def __init__(self, problems: Mapping[str, str] | str, status: int = 422) -> None:
        self.problems = dict(problems) if not isinstance(problems, str) else {"": problems}
        self.status = status
        super().__init__("；".join(self.problems.values()))


def _text(
    data: Mapping[str, Any], name: str, label: str, problems: dict[str, str], max_len: int = 200
) -> str:
    value = clean_text(str(data.get(name) or "")).strip()
    if not value:
        problems[name] = f"请填写{label}"
    elif len(value) > max_len:
        problems[name] = f"{label}不能超过{max_len}字"
    return value


def _date(data: Mapping[str, Any], name: str, label: str, problems: dict[str, str]) -> date | None:
    value = data.get(name)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        problems[name] = f"{label}须为日期，如 2021-03-15（现为“{str(value or '')[:20]}”）"
        return None


def _money(value: Any, label: str, name: str, problems: dict[str, str]) -> Decimal | None:
    try:
        amount = Decimal(str(value).replace(",", "").strip()).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        problems[name] = f"{label}须为金额（元），如 125000.00"
        return None
    if amount <= 0 or amount > Decimal("1e13"):
        problems[name] = f"{label}须大于0且小于10万亿元"
        return None
    return amount


@dataclass(frozen=True)
class Report:
    """A checked arrear report (the fields of a ledger entry besides the creditor)."""

    debtor_name: str
    debtor_kind: str
    debtor_code: str | None
    contract_no: str
    signed_on: date
    delivered_on: date
    contract_days: int | None
    amount: Decimal
    disputed: bool


def check_report(data: Mapping[str, Any]) -> Report:
    """Check the fields of a debt; every problem is reported at once, by field."""
    problems: dict[str, str] = {}
    debtor = _text(data, "debtor_name", "欠款方名称", problems)
    kind = str(data.get("debtor_kind") or "")
    if kind not in KIND_LABELS:
        problems["debtor_kind"] = (
            f"欠款方类型须为{'、'.join(f'{k}（{v}）' for k, v in KIND_LABELS.items())}之一"
        )
    debtor_code = clean_text(str(data.get("debtor_code") or "")).strip().upper() or None
    if debtor_code and not credit_code_ok(debtor_code):
        problems["debtor_code"] = f"欠款方统一社会信用代码 {debtor_code[:18]} 校验不通过"
    contract = _text(data, "contract_no", "合同编号", problems, 100)
    signed = _date(data, "signed_on", "合同签订日期", problems)
    delivered = _date(data, "delivered_on", "交付日期", problems)
    days_raw = str(data.get("contract_days") or "").strip()
    days: int | None = None
    if days_raw:
        if not days_raw.isdigit() or int(days_raw) > 3650:
            problems["contract_days"] = "合同约定付款期限须为0～3650的整数天数，未约定请留空"
        else:
            days = int(days_raw)
    amount = _money(data.get("amount"), "欠款金额", "amount", problems)
    if signed and delivered and delivered < signed:
        problems["delivered_on"] = "交付日期不能早于合同签订日期"
    if signed and kind in KIND_LABELS and not problems:
        try:
            due_date(kind, signed, delivered or signed, days)
        except ValueError as exc:
            problems["signed_on"] = str(exc)
    disputed = str(data.get("disputed") or "").lower() in {"1", "true", "on", "yes", "是"}
    if problems:
        raise ArrearsError(problems)
    assert signed and delivered and amount is not None
    return Report(debtor, kind, debtor_code, contract, signed, delivered, days, amount, disputed)


def _entry(report: Report, creditor_code: str, creditor_name: str, division: str, user: Any) -> ArrearsEntry:
    due = due_date(report.debtor_kind, report.signed_on, report.delivered_on, report.contract_days)
    return ArrearsEntry(
        debtor_name=report.debtor_name,
        debtor_kind=report.debtor_kind,
        debtor_code=report.debtor_code,
        creditor_code=creditor_code,
        creditor_name=creditor_name,
        division_code=division,
        contract_no=report.contract_no,
        signed_on=report.signed_on,
        delivered_on=report.delivered_on,
        contract_days=report.contract_days,
        amount=report.amount,
        due_date=due.due_date,
        due_rule=due.rule,
        disputed=report.disputed,
        created_by_id=getattr(user, "id", None),
        created_at=utcnow(),
    )


def record_entry(
    db: Session, user: Any, data: Mapping[str, Any], actor: audit.Actor, now: datetime | None = None
) -> ArrearsEntry:
    """Record a debt in the ledger (an official of the creditor's county or above)."""
    if user.role not in WRITERS:
        raise ArrearsError("您的角色无权登记欠款", 403)
    report = check_report(data)
    problems: dict[str, str] = {}
    creditor = clean_text(str(data.get("creditor_code") or "")).strip().upper()
    if not credit_code_ok(creditor):
        problems["creditor_code"] = "中小企业（债权人）统一社会信用代码校验不通过"
    creditor_name = _text(data, "creditor_name", "中小企业名称", problems)
    division = str(data.get("division_code") or "").strip()
    try:
        if reference.division(division).level != "county":
            problems["division_code"] = "所在区县代码须为县级区划"
    except (KeyError, ValueError):
        problems["division_code"] = f"区划代码 {division[:12]} 不存在"
    if problems:
        raise ArrearsError(problems)
    if not user.scope.allows_record(division, creditor):
        raise ArrearsError("该企业不在您的数据范围内", 403)
    entry = _entry(report, creditor, creditor_name, division, user)
    db.add(entry)
    db.flush()
    if entry.disputed:
        _open_dispute(db, user, entry, now)
    audit.record(db, actor, audit.Action.WORKFLOW_STEP, "arrears_entry", entry.id, {"action": "record"})
    db.commit()
    return entry


def record_from_appeal(
    db: Session, user: Any, item: Any, data: Mapping[str, Any], now: datetime | None = None
) -> ArrearsEntry:
    """A 清欠 appeal's report becomes a ledger entry of the appealing enterprise."""
    report = check_report(data)
    own = getattr(user, "display_name", "") if user.role == "enterprise" else ""  # not a service worker's
    name = clean_text(str(data.get("creditor_name") or own or item.credit_code))[:200]
    entry = _entry(report, item.credit_code, name, item.division_code, user)
    entry.appeal_item_id = item.id
    db.add(entry)
    db.flush()
    if entry.disputed:
        _open_dispute(db, user, entry, now)
    audit.record(
        db,
        audit.Actor(user.id, user.username),
        audit.Action.WORKFLOW_STEP,
        "arrears_entry",
        entry.id,
        {"action": "record", "appeal": item.id},
    )
    db.commit()
    return entry


def _open_dispute(db: Session, user: Any, entry: ArrearsEntry, now: datetime | None) -> None:
    case = wf.start_item(
        db,
        DISPUTE_WORKFLOW,
        user,
        division_code=entry.division_code,
        credit_code=entry.creditor_code,
        fields={"title": f"{entry.debtor_name}欠{entry.creditor_name}（合同{entry.contract_no}）"},
        now=now,
    )
    entry.disputed = True
    entry.dispute_item_id = case.id


def get(db: Session, user: Any, entry_id: int) -> ArrearsEntry:
    entry = db.get(ArrearsEntry, entry_id)
    if entry is None or not user.scope.allows_record(entry.division_code, entry.creditor_code):
        raise ArrearsError("欠款记录不存在或不在您的数据范围内", 404)
    return entry


def repay(
    db: Session, user: Any, entry_id: int, data: Mapping[str, Any], actor: audit.Actor
) -> ArrearsRepayment:
    """Record a repayment; more than what is outstanding is refused."""
    if user.role not in WRITERS:
        raise ArrearsError("您的角色无权登记还款", 403)
    entry = get(db, user, entry_id)
    problems: dict[str, str] = {}
    paid_on = _date(data, "paid_on", "还款日期", problems)
    amount = _money(data.get("amount"), "还款金额", "amount", problems)
    if amount is not None and amount > outstanding(entry):
        problems["amount"] = f"还款金额超过未还金额 {outstanding(entry):,.2f} 元"
    if paid_on and paid_on < entry.delivered_on:
        problems["paid_on"] = "还款日期不能早于交付日期"
    if problems:
        raise ArrearsError(problems)
    assert paid_on and amount is not None
    row = ArrearsRepayment(
        entry_id=entry.id,
        paid_on=paid_on,
        amount=amount,
        note=clean_text(str(data.get("note") or ""))[:500],
        recorded_by_id=user.id,
        recorded_at=utcnow(),
    )
    db.add(row)
    audit.record(
        db,
        actor,
        audit.Action.WORKFLOW_STEP,
        "arrears_entry",
        entry.id,
        {"action": "repay", "amount": str(amount)},
    )
    db.commit()
    db.refresh(entry)
    return row


def sync_dispute(db: Session, user: Any, entry_id: int) -> ArrearsEntry:
    """After the dispute case is settled: an agreed amount replaces the ledger amount and the
    entry is no longer disputed (the case's history keeps the before and after)."""
    entry = get(db, user, entry_id)
    if entry.dispute_item_id is None:
        return entry
    case = wf.get_item(db, user.scope, entry.dispute_item_id)
    if case.state == "settled" and entry.disputed:
        agreed = case.fields.get("agreed_amount")
        if case.fields.get("outcome") == "agreed" and agreed:
            problems: dict[str, str] = {}
            amount = _money(agreed, "确认欠款金额", "agreed_amount", problems)
            if amount is not None:
                entry.amount = amount
        entry.disputed = False
        db.commit()
    return entry


def settle(
    db: Session,
    user: Any,
    entry_id: int,
    *,
    outcome: str,
    comment: str,
    agreed_amount: str | None = None,
    now: datetime | None = None,
) -> ArrearsEntry:
    """Settle the dispute of an entry through its workflow case, then update the ledger."""
    entry = get(db, user, entry_id)
    if entry.dispute_item_id is None:
        raise ArrearsError("该欠款没有分歧", 409)
    fields = {"outcome": outcome, "agreed_amount": agreed_amount}
    wf.act(db, entry.dispute_item_id, "settle", user, fields=fields, comment=comment, now=now)
    return sync_dispute(db, user, entry_id)


def outstanding(entry: ArrearsEntry) -> Decimal:
    return Decimal(entry.amount) - sum((Decimal(r.amount) for r in entry.repayments), Decimal(0))


# ---- lists and reports (set-based queries over the ledger) ---------------------------------


def _repaid() -> Any:
    return (
        select(ArrearsRepayment.entry_id, func.sum(ArrearsRepayment.amount).label("repaid"))
        .group_by(ArrearsRepayment.entry_id)
        .subquery()
    )


def _ledger(user: Any) -> Any:
    repaid = _repaid()
    paid = func.coalesce(repaid.c.repaid, 0)
    return (
        select(ArrearsEntry, paid.label("repaid"), (ArrearsEntry.amount - paid).label("left"))
        .outerjoin(repaid, repaid.c.entry_id == ArrearsEntry.id)
        .where(user.scope.where(ArrearsEntry.division_code, ArrearsEntry.creditor_code))
    ), paid


def entries(
    db: Session, user: Any, *, overdue_on: date | None = None, disputed: bool | None = None, limit: int = 500
) -> list[tuple[ArrearsEntry, Decimal, Decimal]]:
    """Ledger entries in scope with repaid and outstanding amounts; `overdue_on` keeps those
    overdue on that day with money still owed."""
    query, paid = _ledger(user)
    if overdue_on is not None:
        query = query.where(ArrearsEntry.due_date < overdue_on, ArrearsEntry.amount - paid > 0)
    if disputed is not None:
        query = query.where(ArrearsEntry.disputed.is_(disputed))
    query = query.order_by(ArrearsEntry.due_date, ArrearsEntry.id).limit(limit)
    return [(e, Decimal(r), Decimal(left)) for e, r, left in db.execute(query).all()]


@dataclass
class Line:
    key: str
    label: str
    entries: int
    amount: Decimal
    repaid: Decimal
    outstanding: Decimal
    overdue: Decimal
    disputed: int

    @property
    def cleared_share(self) -> float:
        return float(self.repaid / self.amount) if self.amount else 0.0


def _lines(db: Session, user: Any, as_of: date, by: str) -> list[Line]:
    query, paid = _ledger(user)
    sub = query.subquery()
    key = sub.c.division_code if by == "county" else sub.c.debtor_name
    kind = func.max(sub.c.debtor_kind)
    rows = db.execute(
        select(
            key,
            kind,
            func.count(),
            func.sum(sub.c.amount),
            func.sum(sub.c.repaid),
            func.sum(sub.c.left),
            func.sum(case(((sub.c.due_date < as_of) & (sub.c.left > 0), sub.c.left), else_=0)),
            func.sum(case((sub.c.disputed, 1), else_=0)),
        ).group_by(key)
    ).all()
    out = []
    for k, kd, n, amount, repaid, left, overdue, disputed in rows:
        if by == "county":
            try:
                label = reference.division(k).name
            except (KeyError, ValueError):
                label = k
        else:
            label = f"{k}（{KIND_LABELS.get(kd, kd)}）"
        out.append(
            Line(
                k,
                label,
                int(n),
                Decimal(amount),
                Decimal(repaid),
                Decimal(left),
                Decimal(overdue),
                int(disputed),
            )
        )
    return sorted(out, key=lambda line: (-line.overdue, -line.outstanding, line.key))


def by_debtor(db: Session, user: Any, as_of: date) -> list[Line]:
    """Overdue and outstanding amounts by debtor (欠款方), largest overdue first."""
    return [line for line in _lines(db, user, as_of, "debtor") if line.outstanding > 0]


def by_county(db: Session, user: Any, as_of: date) -> list[Line]:
    """The progress report by county (清欠进度): owed, repaid, outstanding, overdue, disputed."""
    return _lines(db, user, as_of, "county")


def today() -> date:
    """Today in Beijing: a debt falls overdue at midnight China time, not UTC."""
    from jingxin.core.calendar import CHINA_TZ

    return datetime.now(CHINA_TZ).date()


def overdue_flag(entry: ArrearsEntry, left: Decimal, as_of: date) -> bool:
    return left > 0 and is_overdue(entry.due_date, as_of)
