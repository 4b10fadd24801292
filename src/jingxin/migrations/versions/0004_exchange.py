"""Data exchange: API tokens for departments and systems, the submission tracker.

Revision ID: 0004_exchange
Revises: 0003_workflows
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_exchange"
down_revision: str | Sequence[str] | None = "0003_workflows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "exchange_tokens",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("grants", JSON, nullable=False),
        sa.Column("division", sa.String(6), nullable=True),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        ts("expires_at"),
        ts("created_at"),
        sa.Column("created_by", sa.String(64), nullable=False),
        ts("revoked_at", nullable=True),
        sa.Column("revoked_by", sa.String(64), nullable=True),
        ts("last_used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_tokens")),
        sa.UniqueConstraint("prefix", name=op.f("uq_exchange_tokens_prefix")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_exchange_tokens_secret_hash")),
    )
    op.create_table(
        "exchange_submissions",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("department", sa.String(32), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        ts("due_at"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        ts("received_at", nullable=True),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("rejected_rows", sa.BigInteger(), nullable=False),
        sa.Column("rejected_share", sa.Float(), nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False),
        ts("last_reminded_at", nullable=True),
        ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_submissions")),
        sa.UniqueConstraint("source", "period", name="uq_exchange_submissions_source_period"),
    )
    op.create_index(
        "ix_exchange_submissions_department_status", "exchange_submissions", ["department", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_exchange_submissions_department_status", table_name="exchange_submissions")
    op.drop_table("exchange_submissions")
    op.drop_table("exchange_tokens")
