"""Platform tables of the enterprise policies (政策兑现):

- `policy_budgets`: the money each policy may spend in a county and year (预算额度), with
  what is committed (confirmed lists and approved applications) and what is paid, in 分 so
  sums are exact. A commitment is one conditional UPDATE, so two confirmations racing for the
  last money cannot both win (never overspent, on SQLite and PostgreSQL alike).
- `policy_payout_lines`: one enterprise's amount on a payout case (a 直兑 list of a county or
  an application): listed, excluded (with the reason), approved, paid. One line per policy,
  data year and enterprise: nobody is listed or paid twice for the same thing.
- `policy_pushes`: which version (fingerprint) of a policy was pushed to qualifying enterprises.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jingxin.core.db import Base, BigIntPK, utcnow


class PolicyBudget(Base):
    __tablename__ = "policy_budgets"
    __table_args__ = (
        UniqueConstraint("policy_id", "county_code", "year", name="uq_policy_budget"),
        CheckConstraint(
            "committed_fen <= total_fen AND paid_fen <= committed_fen AND committed_fen >= 0",
            name="ck_policy_budget_within",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    year: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    committed_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PayoutLine(Base):
    __tablename__ = "policy_payout_lines"
    __table_args__ = (
        UniqueConstraint("policy_id", "data_year", "credit_code", name="uq_policy_payout_line"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("workflow_items.id", ondelete="CASCADE"), index=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    data_year: Mapped[int] = mapped_column(Integer)
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="listed")  # listed/excluded/approved/paid
    reason: Mapped[str] = mapped_column(Text, default="")
    payment_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PolicyPush(Base):
    __tablename__ = "policy_pushes"
    __table_args__ = (UniqueConstraint("policy_id", "fingerprint", "county_code", name="uq_policy_push"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(16))
    county_code: Mapped[str] = mapped_column(String(6))  # the scope pushed: a county, or 330000
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    pushed_by: Mapped[str] = mapped_column(String(64))
    pushed_at: Mapped[datetime] = mapped_column(default=utcnow)
