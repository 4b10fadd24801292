"""Appeals, arrears and cost burden: attachments of appeals, the arrears ledger and its
repayments, confirmations of relief-policy reviews.

Revision ID: 0011_appeals
Revises: 0010_policies
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_appeals"
down_revision: str | Sequence[str] | None = "0010_policies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "appeal_attachments",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by_id", sa.BigInteger(), nullable=True),
        ts("uploaded_at"),
        sa.ForeignKeyConstraint(
            ["item_id"], ["workflow_items.id"], name=op.f("fk_appeal_attachments_item_id_workflow_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeal_attachments")),
    )
    op.create_index(op.f("ix_appeal_attachments_item_id"), "appeal_attachments", ["item_id"])
    op.create_table(
        "arrears_entries",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("debtor_name", sa.String(200), nullable=False),
        sa.Column("debtor_kind", sa.String(16), nullable=False),
        sa.Column("debtor_code", sa.String(18), nullable=True),
        sa.Column("creditor_code", sa.String(18), nullable=False),
        sa.Column("creditor_name", sa.String(200), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("contract_no", sa.String(100), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=False),
        sa.Column("contract_days", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Numeric(16, 2), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_rule", sa.Text(), nullable=False),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("dispute_item_id", sa.BigInteger(), nullable=True),
        sa.Column("appeal_item_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arrears_entries")),
    )
    op.create_index(op.f("ix_arrears_entries_creditor_code"), "arrears_entries", ["creditor_code"])
    op.create_index(op.f("ix_arrears_entries_division_code"), "arrears_entries", ["division_code"])
    op.create_index("ix_arrears_entries_division_due", "arrears_entries", ["division_code", "due_date"])
    op.create_table(
        "arrears_repayments",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(16, 2), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("recorded_by_id", sa.BigInteger(), nullable=True),
        ts("recorded_at"),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["arrears_entries.id"], name=op.f("fk_arrears_repayments_entry_id_arrears_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arrears_repayments")),
    )
    op.create_index(op.f("ix_arrears_repayments_entry_id"), "arrears_repayments", ["entry_id"])
    op.create_table(
        "burden_reviews",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("policy_id", sa.String(40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("suggested", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("decided_by_id", sa.BigInteger(), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=False),
        ts("decided_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_burden_reviews")),
    )


def downgrade() -> None:
    op.drop_table("burden_reviews")
    op.drop_index(op.f("ix_arrears_repayments_entry_id"), table_name="arrears_repayments")
    op.drop_table("arrears_repayments")
    op.drop_index("ix_arrears_entries_division_due", table_name="arrears_entries")
    op.drop_index(op.f("ix_arrears_entries_division_code"), table_name="arrears_entries")
    op.drop_index(op.f("ix_arrears_entries_creditor_code"), table_name="arrears_entries")
    op.drop_table("arrears_entries")
    op.drop_index(op.f("ix_appeal_attachments_item_id"), table_name="appeal_attachments")
    op.drop_table("appeal_attachments")
