"""Tables of the cultivation scenario (migrations 0014, 0020).

- `cultivation_pool`: the published pool (培育库) per rung: an enterprise enters when its
  recognition is published, is promoted to a higher rung, or is removed when its criteria lapse;
  rows are never deleted (status and dates say what happened, with the reason).
- `first_set_claims`: insurance compensation claims and application rewards on a recognised
  首台(套)/首批次/首版次 item (its 认定编号 in the warehouse source `first-set`, with the
  enterprise and county for scope), with the tier's rate and cap used (copied, so a later
  change of configuration does not rewrite them). The items themselves are sourced facts in
  the warehouse, not rows here (migration 0020).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jingxin.core.db import Base, BigIntPK, utcnow


class PoolEntry(Base):
    __tablename__ = "cultivation_pool"
    __table_args__ = (Index("ix_cultivation_pool_rung_status", "rung", "status"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    rung: Mapped[str] = mapped_column(String(32))
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(String(200))
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    status: Mapped[str] = mapped_column(String(16))  # listed, promoted, removed
    entered_on: Mapped[date] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date, default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    publication: Mapped[str] = mapped_column(String(32))  # e.g. 2021年第1批
    item_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_items.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FirstSetClaim(Base):
    __tablename__ = "first_set_claims"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    item_code: Mapped[str] = mapped_column(String(32), index=True)  # 认定编号 of the source
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # insurance, reward
    year: Mapped[int] = mapped_column()
    premium: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), default=None)  # 万元
    rate: Mapped[Decimal | None] = mapped_column(Numeric(6, 4), default=None)
    cap: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), default=None)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # 万元 granted
    created_by_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
