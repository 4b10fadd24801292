"""Cultivation: the published pool, 首台(套) items and their compensation claims.

Revision ID: 0014_projects
Revises: 0011_appeals
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_projects"
down_revision: str | Sequence[str] | None = "0011_appeals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "cultivation_pool",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("rung", sa.String(32), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("entered_on", sa.Date(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("publication", sa.String(32), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=True),
        ts("created_at"),
        sa.ForeignKeyConstraint(
            ["item_id"], ["workflow_items.id"], name=op.f("fk_cultivation_pool_item_id_workflow_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cultivation_pool")),
    )
    op.create_index(op.f("ix_cultivation_pool_credit_code"), "cultivation_pool", ["credit_code"])
    op.create_index(op.f("ix_cultivation_pool_division_code"), "cultivation_pool", ["division_code"])
    op.create_index("ix_cultivation_pool_rung_status", "cultivation_pool", ["rung", "status"])
    op.create_table(
        "first_set_items",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("recognised_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_first_set_items")),
    )
    op.create_index(op.f("ix_first_set_items_credit_code"), "first_set_items", ["credit_code"])
    op.create_index(op.f("ix_first_set_items_division_code"), "first_set_items", ["division_code"])
    op.create_table(
        "first_set_claims",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("premium", sa.Numeric(14, 2), nullable=True),
        sa.Column("rate", sa.Numeric(6, 4), nullable=True),
        sa.Column("cap", sa.Numeric(14, 2), nullable=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        ts("created_at"),
        sa.ForeignKeyConstraint(
            ["item_id"], ["first_set_items.id"], name=op.f("fk_first_set_claims_item_id_first_set_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_first_set_claims")),
    )
    op.create_index(op.f("ix_first_set_claims_item_id"), "first_set_claims", ["item_id"])


def downgrade() -> None:
    op.drop_table("first_set_claims")
    op.drop_table("first_set_items")
    op.drop_table("cultivation_pool")
