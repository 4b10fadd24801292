"""What-if evaluation: saved scenarios of a county's evaluation parameters.

Revision ID: 0016_whatif
Revises: 0015_medical
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_whatif"
down_revision: str | Sequence[str] | None = "0015_medical"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "whatif_scenarios",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by_name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("adopted_by_id", sa.BigInteger(), nullable=True),
        sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("override_path", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatif_scenarios")),
    )
    op.create_index(op.f("ix_whatif_scenarios_county_code"), "whatif_scenarios", ["county_code"])


def downgrade() -> None:
    op.drop_index(op.f("ix_whatif_scenarios_county_code"), table_name="whatif_scenarios")
    op.drop_table("whatif_scenarios")
