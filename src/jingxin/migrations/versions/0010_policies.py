"""Enterprise policies: budgets per policy and county, payout lines, pushes.

Revision ID: 0010_policies
Revises: 0006_ops
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_policies"
down_revision: str | Sequence[str] | None = "0006_ops"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "policy_budgets",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("committed_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        ts("updated_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("policy_id", "county_code", "year", name="uq_policy_budget"),
        sa.CheckConstraint(
            "committed_fen <= total_fen AND paid_fen <= committed_fen AND committed_fen >= 0",
            name="ck_policy_budget_within",
        ),
    )
    op.create_index("ix_policy_budgets_county_code", "policy_budgets", ["county_code"])
    op.create_table(
        "policy_payout_lines",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column(
            "item_id", BIGINT_PK, sa.ForeignKey("workflow_items.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("data_year", sa.Integer(), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payment_ref", sa.String(64), nullable=True),
        ts("paid_at", nullable=True),
        ts("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("policy_id", "data_year", "credit_code", name="uq_policy_payout_line"),
    )
    op.create_index("ix_policy_payout_lines_item_id", "policy_payout_lines", ["item_id"])
    op.create_index("ix_policy_payout_lines_credit_code", "policy_payout_lines", ["credit_code"])
    op.create_index("ix_policy_payout_lines_county_code", "policy_payout_lines", ["county_code"])
    op.create_table(
        "policy_pushes",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(16), nullable=False),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("pushed_by", sa.String(64), nullable=False),
        ts("pushed_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("policy_id", "fingerprint", "county_code", name="uq_policy_push"),
    )


def downgrade() -> None:
    op.drop_table("policy_pushes")
    op.drop_index("ix_policy_payout_lines_county_code", table_name="policy_payout_lines")
    op.drop_index("ix_policy_payout_lines_credit_code", table_name="policy_payout_lines")
    op.drop_index("ix_policy_payout_lines_item_id", table_name="policy_payout_lines")
    op.drop_table("policy_payout_lines")
    op.drop_index("ix_policy_budgets_county_code", table_name="policy_budgets")
    op.drop_table("policy_budgets")
