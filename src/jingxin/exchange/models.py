"""Tables of data exchange (数据共享交换): API tokens issued to departments and systems, and the
submission tracker (报送跟踪) of what each department owes per source and period."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jingxin.core.calendar import CHINA_TZ
from jingxin.core.db import Base, BigIntPK, utcnow


class ExchangeToken(Base):
    """An API token (接口令牌) for a department or a system outside the platform.

    Only the SHA-256 of the token is stored (the token is 256 random bits, so a fast hash is
    enough and a copy of the table gives nobody access); `prefix` is the token's public part,
    shown in lists and the audit log so that a holder can tell its tokens apart.
    `grants` maps each dataset to the fields it may read; `division` limits the rows to a
    region (None: the whole province).
    """

    __tablename__ = "exchange_tokens"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    holder: Mapped[str] = mapped_column(String(100))
    grants: Mapped[dict[str, Any]] = mapped_column(default=dict)
    division: Mapped[str | None] = mapped_column(String(6), default=None)
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=60)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_by: Mapped[str | None] = mapped_column(String(64), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class Submission(Base):
    """What one source owes for one period (报送期次) and what became of it.

    Rows are made and brought up to date from the warehouse's batch registry by
    `jingxin.exchange.tracker.sync_tracker`, so the tracker follows every file however it
    arrived (web upload, CLI, a folder ingest) without a hook in ingestion.
    `status`: expected (未到期), overdue (逾期未报), received (按时报送), late (逾期报送),
    rejected (整份拒收：every row of every file for the period was rejected).
    """

    __tablename__ = "exchange_submissions"
    __table_args__ = (
        UniqueConstraint("source", "period", name="uq_exchange_submissions_source_period"),
        Index("ix_exchange_submissions_department_status", "department", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(40))
    department: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="expected")
    batch_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    received_at: Mapped[datetime | None] = mapped_column(default=None)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected_share: Mapped[float | None] = mapped_column(Float, default=None)
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def due_day(self) -> date:
        """The last day (Beijing time) on which a file is on time: due_at is 24:00 of it."""
        return (self.due_at.astimezone(CHINA_TZ) - timedelta(seconds=1)).date()
