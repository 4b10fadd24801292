"""首台(套) recognitions become a warehouse source: claims refer to the 认定编号.

The recognised items were rows typed into `first_set_items`; they now come from the 经信
source `first-set` (首台（套）产品认定名单) in the warehouse. `first_set_claims` keeps each claim
with the item's code, enterprise and county instead of a foreign key; a claim made on a typed
item keeps that item's enterprise and county, and the code `M<id>` (its old row id), so no
claim is lost. `first_set_items` is dropped. Downgrade recreates the typed-item table from the
claims (one row per code, product and dates unknown: written as the code and the claim's year).

Revision ID: 0020_first_set_source
Revises: 0016_whatif
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_first_set_source"
down_revision: str | Sequence[str] | None = "0016_whatif"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("first_set_claims") as batch:
        batch.add_column(sa.Column("item_code", sa.String(32), nullable=True))
        batch.add_column(sa.Column("credit_code", sa.String(18), nullable=True))
        batch.add_column(sa.Column("division_code", sa.String(6), nullable=True))
    op.execute(
        "UPDATE first_set_claims SET "
        "item_code = 'M' || CAST(item_id AS VARCHAR(20)), "
        "credit_code = (SELECT i.credit_code FROM first_set_items i "
        "WHERE i.id = first_set_claims.item_id), "
        "division_code = (SELECT i.division_code FROM first_set_items i "
        "WHERE i.id = first_set_claims.item_id)"
    )
    with op.batch_alter_table("first_set_claims") as batch:
        batch.drop_index("ix_first_set_claims_item_id")
        batch.drop_constraint("fk_first_set_claims_item_id_first_set_items", type_="foreignkey")
        batch.drop_column("item_id")
        batch.alter_column("item_code", existing_type=sa.String(32), nullable=False)
        batch.alter_column("credit_code", existing_type=sa.String(18), nullable=False)
        batch.alter_column("division_code", existing_type=sa.String(6), nullable=False)
        batch.create_index(batch.f("ix_first_set_claims_item_code"), ["item_code"])
        batch.create_index(batch.f("ix_first_set_claims_credit_code"), ["credit_code"])
        batch.create_index(batch.f("ix_first_set_claims_division_code"), ["division_code"])
    op.drop_index(op.f("ix_first_set_items_credit_code"), table_name="first_set_items")
    op.drop_index(op.f("ix_first_set_items_division_code"), table_name="first_set_items")
    op.drop_table("first_set_items")


def downgrade() -> None:
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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_first_set_items")),
    )
    op.create_index(op.f("ix_first_set_items_credit_code"), "first_set_items", ["credit_code"])
    op.create_index(op.f("ix_first_set_items_division_code"), "first_set_items", ["division_code"])
    op.execute(
        "INSERT INTO first_set_items (credit_code, division_code, product, category, level, recognised_on, "
        "expires_on, created_at) SELECT MIN(credit_code), MIN(division_code), item_code, 'equipment', "
        "'national', CAST(CAST(MIN(year) AS VARCHAR(4)) || '-01-01' AS DATE), "
        "CAST(CAST(MIN(year) + 3 AS VARCHAR(4)) || '-01-01' AS DATE), MIN(created_at) "
        "FROM first_set_claims GROUP BY item_code"
    )
    with op.batch_alter_table("first_set_claims") as batch:
        batch.add_column(sa.Column("item_id", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE first_set_claims SET item_id = (SELECT i.id FROM first_set_items i "
        "WHERE i.product = first_set_claims.item_code)"
    )
    with op.batch_alter_table("first_set_claims") as batch:
        batch.drop_index(batch.f("ix_first_set_claims_item_code"))
        batch.drop_index(batch.f("ix_first_set_claims_credit_code"))
        batch.drop_index(batch.f("ix_first_set_claims_division_code"))
        batch.drop_column("division_code")
        batch.drop_column("credit_code")
        batch.drop_column("item_code")
        batch.alter_column("item_id", existing_type=sa.BigInteger(), nullable=False)
        batch.create_foreign_key(
            batch.f("fk_first_set_claims_item_id_first_set_items"), "first_set_items", ["item_id"], ["id"]
        )
        batch.create_index(batch.f("ix_first_set_claims_item_id"), ["item_id"])
