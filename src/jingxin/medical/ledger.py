"""The ledger of medical reserves (物资台账): movements in, stock out, at any date.

A movement moves `quantity` of one lot (批号) of one item from one holder to another (either
side may be outside the platform: a receipt has no source, an issue or a write-off no
destination). Rows are only added. The stock of a lot at a holder on a date is the sum of the
rows up to and including that date; nothing else is stored, so a past date's stock is rebuilt
exactly, and a count (盘点) is compared with that book figure.

A movement that would leave a lot below zero at the end of any day, from its date on, is
refused with the day and the shortfall, and nothing is saved.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from jingxin import reference
from jingxin.core import audit
from jingxin.core.scope import Scope
from jingxin.medical import config
from jingxin.medical.models import KINDS, LEVELS, MOVEMENT_KINDS, Movement, Reserve, StockCount

SIDES = {  # which sides a kind must have: (from, to)
    "receipt": (False, True),
    "issue": (True, False),
    "transfer": (True, True),
    "expiry": (True, False),
    "adjustment": (None, None),  # exactly one side
}


class LedgerError(ValueError):
    """A movement or count that cannot be recorded; the message says what and how to fix."""


@dataclass(frozen=True)
class Lot:
    reserve_id: int
    item_id: str
    lot: str
    expires_on: date | None
    quantity: int


def add_reserve(
    db: Session,
    code: str,
    name: str,
    level: str,
    kind: str,
    division_code: str,
    credit_code: str | None = None,
) -> Reserve:
    if level not in LEVELS:
        raise LedgerError(f"储备层级 {level!r} 不合法，应为 {'、'.join(LEVELS)}")
    if kind not in KINDS:
        raise LedgerError(f"储备类型 {kind!r} 不合法，应为 {'、'.join(KINDS)}")
    try:
        reference.division(division_code)
    except (KeyError, ValueError):
        raise LedgerError(f"区划代码 {division_code!r} 不存在") from None
    reserve = Reserve(
        code=code, name=name, level=level, kind=kind, division_code=division_code, credit_code=credit_code
    )
    db.add(reserve)
    db.flush()
    return reserve


def _balances(db: Session, reserve_id: int, item_id: str, lot: str) -> list[tuple[date, int]]:
    """End-of-day changes of one lot at one holder, by date."""
    delta = case((Movement.to_reserve_id == reserve_id, Movement.quantity), else_=0) - case(
        (Movement.from_reserve_id == reserve_id, Movement.quantity), else_=0
    )
    rows = db.execute(
        select(Movement.on_date, func.sum(delta))
        .where(
            Movement.item_id == item_id,
            Movement.lot == lot,
            (Movement.to_reserve_id == reserve_id) | (Movement.from_reserve_id == reserve_id),
        )
        .group_by(Movement.on_date)
        .order_by(Movement.on_date)
    ).all()
    return [(d, int(q)) for d, q in rows]


def _check_never_negative(
    db: Session, reserve_id: int, item_id: str, lot: str, on: date, change: int
) -> None:
    running = 0
    days = dict(_balances(db, reserve_id, item_id, lot))
    days[on] = days.get(on, 0) + change
    for day in sorted(days):
        running += days[day]
        if running < 0 and day >= on:
            raise LedgerError(
                f"批号 {lot} 的 {config.item(item_id).name} 在 {day} 日末将为 {running}"
                f"（库存不足 {-running}）："
                "请先登记入库，或减少数量"
            )


def record(
    db: Session,
    *,
    kind: str,
    item_id: str,
    lot: str,
    quantity: int,
    on: date,
    recorded_by: str,
    from_reserve: int | None = None,
    to_reserve: int | None = None,
    expires_on: date | None = None,
    reference_text: str = "",
    note: str = "",
    commit: bool = True,
    _rotation: bool = False,
) -> Movement:
    """Append one movement after checking it; refused movements leave the ledger untouched."""
    if kind not in MOVEMENT_KINDS or (kind == "rotation") != _rotation:
        raise LedgerError(
            f"变动类型 {kind!r} 不合法（轮换请用 rotate）；"
            f"应为 {'、'.join(k for k in MOVEMENT_KINDS if k != 'rotation')}"
        )
    spec = config.item(item_id)
    if not isinstance(quantity, int) or quantity <= 0:
        raise LedgerError(f"数量须为正整数（{spec.unit}），收到 {quantity!r}")
    lot = (lot or "").strip()
    if not lot or len(lot) > 40:
        raise LedgerError("批号须填写，且不超过40个字符")
    need_from, need_to = SIDES.get(kind, (None, None))
    if kind in ("adjustment", "rotation"):
        if (from_reserve is None) == (to_reserve is None):
            raise LedgerError(f"{MOVEMENT_KINDS[kind]}须只填调出或调入一方")
    elif (from_reserve is not None) != need_from or (to_reserve is not None) != need_to:
        raise LedgerError(
            f"{MOVEMENT_KINDS[kind]}须{'填' if need_from else '不填'}调出方、"
            f"{'填' if need_to else '不填'}调入方"
        )
    if from_reserve is not None and from_reserve == to_reserve:
        raise LedgerError("调出方与调入方不能相同")
    for rid in (from_reserve, to_reserve):
        if rid is not None and db.get(Reserve, rid) is None:
            raise LedgerError(f"储备主体 {rid} 不存在")
    known = _lot_expiry(db, item_id, lot)
    if to_reserve is not None:
        if spec.shelf_months and expires_on is None and known is None:
            raise LedgerError(f"{spec.name}有保质期，入库须填写有效期（批号 {lot}）")
        if known is not None and expires_on is not None and expires_on != known:
            raise LedgerError(f"批号 {lot} 已登记有效期 {known}，与本次 {expires_on} 不一致")
    expires_on = known if known is not None else expires_on
    if from_reserve is not None:
        _check_never_negative(db, from_reserve, item_id, lot, on, -quantity)
    row = Movement(
        on_date=on,
        kind=kind,
        item_id=item_id,
        lot=lot,
        expires_on=expires_on,
        quantity=quantity,
        from_reserve_id=from_reserve,
        to_reserve_id=to_reserve,
        reference=reference_text[:100],
        note=note,
        recorded_by=recorded_by[:64],
    )
    db.add(row)
    db.flush()
    audit.record(
        db,
        audit.Actor(None, recorded_by),
        audit.Action.MEDICAL_MOVEMENT,
        "medical_movement",
        row.id,
        {"kind": kind, "item": item_id, "lot": lot, "quantity": quantity},
    )
    if commit:
        db.commit()
    return row


def rotate(
    db: Session,
    *,
    reserve: int,
    item_id: str,
    old_lot: str,
    new_lot: str,
    quantity: int,
    new_expires_on: date | None,
    on: date,
    recorded_by: str,
) -> tuple[Movement, Movement]:
    """轮换: an old lot leaves (used before it expires) and a fresh lot of the same quantity
    comes in, as two rows sharing one reference; both are saved or neither."""
    ref = f"rotation:{reserve}:{old_lot}->{new_lot}"
    try:
        out = record(
            db,
            kind="rotation",
            item_id=item_id,
            lot=old_lot,
            quantity=quantity,
            on=on,
            recorded_by=recorded_by,
            from_reserve=reserve,
            reference_text=ref,
            commit=False,
            _rotation=True,
        )
        got = record(
            db,
            kind="rotation",
            item_id=item_id,
            lot=new_lot,
            quantity=quantity,
            on=on,
            recorded_by=recorded_by,
            to_reserve=reserve,
            expires_on=new_expires_on,
            reference_text=ref,
            commit=False,
            _rotation=True,
        )
        db.commit()
    except Exception:
        db.rollback()
        raise
    return out, got


def _lot_expiry(db: Session, item_id: str, lot: str) -> date | None:
    return db.scalar(
        select(Movement.expires_on)
        .where(Movement.item_id == item_id, Movement.lot == lot, Movement.expires_on.is_not(None))
        .limit(1)
    )


def stock_at(
    db: Session, on: date, *, reserve_ids: list[int] | None = None, item_id: str | None = None
) -> list[Lot]:
    """Every lot with stock at the end of `on`, rebuilt from the ledger (nothing cached)."""
    totals: dict[tuple[int, str, str], int] = defaultdict(int)
    expiry: dict[tuple[str, str], date | None] = {}
    for side, sign in ((Movement.to_reserve_id, 1), (Movement.from_reserve_id, -1)):
        q = select(
            side, Movement.item_id, Movement.lot, func.sum(Movement.quantity), func.max(Movement.expires_on)
        ).where(Movement.on_date <= on, side.is_not(None))
        if reserve_ids is not None:
            q = q.where(side.in_(reserve_ids))
        if item_id is not None:
            q = q.where(Movement.item_id == item_id)
        for rid, iid, lot, qty, exp in db.execute(q.group_by(side, Movement.item_id, Movement.lot)):
            assert rid is not None
            totals[(int(rid), iid, lot)] += sign * int(qty)
            if exp is not None:
                expiry[(iid, lot)] = exp
    return sorted(
        (Lot(r, i, lot, expiry.get((i, lot)), q) for (r, i, lot), q in totals.items() if q != 0),
        key=lambda x: (x.reserve_id, x.item_id, x.expires_on or date.max, x.lot),
    )


def reserves_in(db: Session, scope: Scope, kind: str | None = None) -> list[Reserve]:
    """Holders inside the user's region (a pinned scope — enterprise, service staff — sees none)."""
    rows = db.scalars(
        select(Reserve).where(scope.where(Reserve.division_code, Reserve.credit_code)).order_by(Reserve.code)
    )
    return [r for r in rows if (kind is None or r.kind == kind) and scope.allows_division(r.division_code)]


def count(
    db: Session,
    *,
    reserve: int,
    item_id: str,
    lot: str,
    counted: int,
    on: date,
    recorded_by: str,
    adjust: bool = False,
) -> StockCount:
    """Record a count (盘点) against the book stock of that day; `adjust` books the difference
    as an `adjustment` movement so book and shelf agree again (reconciled)."""
    if counted < 0:
        raise LedgerError("盘点数量不能为负")
    book = sum(x.quantity for x in stock_at(db, on, reserve_ids=[reserve], item_id=item_id) if x.lot == lot)
    row = StockCount(
        reserve_id=reserve,
        item_id=item_id,
        lot=lot,
        counted_on=on,
        counted=counted,
        book=book,
        recorded_by=recorded_by,
    )
    if adjust and counted != book:
        diff = counted - book
        mv = record(
            db,
            kind="adjustment",
            item_id=item_id,
            lot=lot,
            quantity=abs(diff),
            on=on,
            recorded_by=recorded_by,
            from_reserve=reserve if diff < 0 else None,
            to_reserve=reserve if diff > 0 else None,
            reference_text=f"count:{lot}",
            commit=False,
        )
        row.adjustment_id = mv.id
    db.add(row)
    db.commit()
    return row


def unreconciled(db: Session) -> list[dict[str, Any]]:
    """Counts whose shelf differs from the book and that no adjustment settled (账实不符)."""
    rows = db.scalars(
        select(StockCount).where(StockCount.adjustment_id.is_(None)).order_by(StockCount.counted_on)
    )
    return [
        {
            "reserve_id": c.reserve_id,
            "item_id": c.item_id,
            "lot": c.lot,
            "on": c.counted_on,
            "book": c.book,
            "counted": c.counted,
            "difference": c.counted - c.book,
        }
        for c in rows
        if c.counted != c.book
    ]
