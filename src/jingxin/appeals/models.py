"""Tables of the appeals, arrears and cost-burden scenarios (migration 0011).

- `appeal_attachments`: files an enterprise attached to an appeal (诉求附件), stored outside the
  database under the platform home by their SHA-256, so the same file is kept once.
- `arrears_entries`: the ledger of amounts owed to SMEs (清欠台账), one contract's delivery each;
  `arrears_repayments`: what has been paid back on it (append only).
- `burden_reviews`: an official's confirmation of a relief policy's classification (政策评估确认).

The ledger's due date is computed once when the entry is made (`jingxin.arrears.rules`) and
stored, with the rule that gave it, so a later change of configuration does not move the due
dates of existing debts silently.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jingxin.core.db import Base, BigIntPK, utcnow


class AppealAttachment(Base):
    """A file attached to an appeal (the workflow case `item_id`)."""

    __tablename__ = "appeal_attachments"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("workflow_items.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArrearsEntry(Base):
    """An amount owed to an SME (拖欠中小企业账款) for one delivery under one contract."""

    __tablename__ = "arrears_entries"
    __table_args__ = (Index("ix_arrears_entries_division_due", "division_code", "due_date"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    debtor_name: Mapped[str] = mapped_column(String(200))
    debtor_kind: Mapped[str] = mapped_column(String(16))  # government, institution, large
    debtor_code: Mapped[str | None] = mapped_column(String(18), default=None)
    creditor_code: Mapped[str] = mapped_column(String(18), index=True)
    creditor_name: Mapped[str] = mapped_column(String(200))
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    contract_no: Mapped[str] = mapped_column(String(100))
    signed_on: Mapped[date] = mapped_column(Date)
    delivered_on: Mapped[date] = mapped_column(Date)
    contract_days: Mapped[int | None] = mapped_column(Integer, default=None)
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    """元 (yuan), not 万元: payments are settled to the fen."""
    due_date: Mapped[date] = mapped_column(Date)
    due_rule: Mapped[str] = mapped_column(Text)
    """Why this due date (the regulation, its days, whether a contract term was capped)."""
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    dispute_item_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    appeal_item_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    repayments: Mapped[list[ArrearsRepayment]] = relationship(
        back_populates="entry", lazy="selectin", order_by="ArrearsRepayment.id"
    )


class ArrearsRepayment(Base):
    """A repayment on a ledger entry (还款), in 元."""

    __tablename__ = "arrears_repayments"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("arrears_entries.id"), index=True)
    paid_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    note: Mapped[str] = mapped_column(String(500), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    entry: Mapped[ArrearsEntry] = relationship(back_populates="repayments")


class BurdenReview(Base):
    """An official's decision on a relief policy (停止实施 / 延续期限 / 长期有效) for a year."""

    __tablename__ = "burden_reviews"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    policy_id: Mapped[str] = mapped_column(String(40))
    year: Mapped[int] = mapped_column(Integer)
    suggested: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    figures: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
