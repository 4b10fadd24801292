"""Operations: the request id on audit entries, jobs and job log lines; single sign-on
subjects on users.

Revision ID: 0006_ops
Revises: 0004_exchange
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_ops"
down_revision: str | Sequence[str] | None = "0004_exchange"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("request_id", sa.String(64), nullable=True))
        batch.create_index("ix_audit_log_request_id", ["request_id"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("request_id", sa.String(64), nullable=True))
    with op.batch_alter_table("job_logs") as batch:
        batch.add_column(sa.Column("request_id", sa.String(64), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("oidc_subject", sa.String(255), nullable=True))
        batch.create_index("ix_users_oidc_subject", ["oidc_subject"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_oidc_subject")
        batch.drop_column("oidc_subject")
    with op.batch_alter_table("job_logs") as batch:
        batch.drop_column("request_id")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("request_id")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_request_id")
        batch.drop_column("request_id")
