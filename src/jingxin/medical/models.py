"""Tables of the medical reserves scenario (migration 0015_medical).

- `medical_reserves`: a holder of reserves (储备主体) at province, city, county level or a
  medical institution, of one kind: physical stock (实物储备), production-capacity reserve
  (产能储备) or circulation reserve (流通储备, stock a distributor holds under agreement).
- `medical_movements`: the ledger (出入库台账). Every movement of a lot (批号) — receipt,
  issue, transfer, expiry write-off, rotation, count adjustment — is one row, only ever added
  (the ORM refuses to change or delete one), so the stock at any past date is the sum of the
  rows up to that date.
- `medical_counts`: a stock count (盘点) of one lot, compared with the book.
- `medical_demands`: the region's daily use of an item in normal times (需求清单).
- `medical_suppliers` / `medical_supplier_reports`: key suppliers (重点企业) and their daily
  reports of capacity, output and stock.
- `medical_plans`: a dispatch plan (调度方案) with its solver status and lines.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from jingxin.core.db import Base, BigIntPK, JSONType, utcnow

LEVELS = {"province": "省级", "city": "市级", "county": "县级", "institution": "医疗机构"}
KINDS = {"physical": "实物储备", "capacity": "产能储备", "circulation": "流通储备"}
MOVEMENT_KINDS = {
    "receipt": "入库",
    "issue": "出库",
    "transfer": "调拨",
    "expiry": "过期报废",
    "rotation": "轮换",
    "adjustment": "盘点调整",
}


class Reserve(Base):
    """A holder of reserves (储备主体)."""

    __tablename__ = "medical_reserves"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), default=None)


class Movement(Base):
    """One row of the ledger (台账). `from_reserve_id` loses, `to_reserve_id` gains."""

    __tablename__ = "medical_movements"
    __table_args__ = (Index("ix_medical_movements_item_on", "item_id", "on_date"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    on_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[str] = mapped_column(String(40))
    lot: Mapped[str] = mapped_column(String(40))
    expires_on: Mapped[date | None] = mapped_column(Date, default=None)
    quantity: Mapped[int] = mapped_column(BigInteger)
    from_reserve_id: Mapped[int | None] = mapped_column(
        ForeignKey("medical_reserves.id"), default=None, index=True
    )
    to_reserve_id: Mapped[int | None] = mapped_column(
        ForeignKey("medical_reserves.id"), default=None, index=True
    )
    reference: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class StockCount(Base):
    """A physical count of one lot at one holder (盘点)."""

    __tablename__ = "medical_counts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    reserve_id: Mapped[int] = mapped_column(ForeignKey("medical_reserves.id"), index=True)
    item_id: Mapped[str] = mapped_column(String(40))
    lot: Mapped[str] = mapped_column(String(40))
    counted_on: Mapped[date] = mapped_column(Date)
    counted: Mapped[int] = mapped_column(BigInteger)
    book: Mapped[int] = mapped_column(BigInteger)
    adjustment_id: Mapped[int | None] = mapped_column(ForeignKey("medical_movements.id"), default=None)
    recorded_by: Mapped[str] = mapped_column(String(64))


class Demand(Base):
    """Normal daily use of an item in a region (需求清单), with where the figure came from."""

    __tablename__ = "medical_demands"
    __table_args__ = (
        UniqueConstraint("division_code", "item_id", name="uq_medical_demands_division_code_item_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    division_code: Mapped[str] = mapped_column(String(6))
    item_id: Mapped[str] = mapped_column(String(40))
    daily: Mapped[float] = mapped_column(Float)
    priority: Mapped[int] = mapped_column(Integer, default=2)
    source: Mapped[str] = mapped_column(String(200))


class Supplier(Base):
    """A key supplier (重点企业) of an item, found in the warehouse's industry data."""

    __tablename__ = "medical_suppliers"
    __table_args__ = (
        UniqueConstraint("credit_code", "item_id", name="uq_medical_suppliers_credit_code_item_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(String(200))
    division_code: Mapped[str] = mapped_column(String(6))
    item_id: Mapped[str] = mapped_column(String(40))
    industry_code: Mapped[str] = mapped_column(String(4))
    daily_capacity: Mapped[int] = mapped_column(BigInteger, default=0)
    lead_days: Mapped[int] = mapped_column(Integer, default=2)


class SupplierReport(Base):
    """A supplier's daily report (日报): capacity, output and stock of one item on one day."""

    __tablename__ = "medical_supplier_reports"
    __table_args__ = (
        UniqueConstraint("supplier_id", "on_date", name="uq_medical_supplier_reports_supplier_id_on_date"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("medical_suppliers.id"), index=True)
    on_date: Mapped[date] = mapped_column(Date)
    capacity: Mapped[int] = mapped_column(BigInteger)
    output: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(16))  # form, source
    batch: Mapped[str] = mapped_column(String(64), default="")
    recorded_by: Mapped[str] = mapped_column(String(64))


class Plan(Base):
    """A dispatch plan (调度方案): the solver's answer, approved through a workflow case."""

    __tablename__ = "medical_plans"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    scenario: Mapped[str] = mapped_column(String(40))
    on_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft, approved, executed
    solver_status: Mapped[str] = mapped_column(String(40))
    gap: Mapped[float] = mapped_column(Float, default=0.0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    lines: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_items.id"), default=None)


class LedgerIsAppendOnly(RuntimeError):
    """Raised when code tries to change or delete a ledger row."""


@event.listens_for(Session, "before_flush")
def _refuse_ledger_changes(session: Session, _context: Any, _instances: Any) -> None:
    for obj in [*session.dirty, *session.deleted]:
        if isinstance(obj, Movement) and (obj in session.deleted or session.is_modified(obj)):
            raise LedgerIsAppendOnly("台账只能追加，不能修改或删除；请登记一笔冲正或盘点调整")
