"""Jobs and schedules: jobs, their log lines, schedules and their runs, worker processes.

Revision ID: 0002_jobs
Revises: 0001_platform_core
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_jobs"
down_revision: str | Sequence[str] | None = "0001_platform_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner_id", BIGINT_PK, nullable=True),
        sa.Column("owner_name", sa.String(64), nullable=False),
        sa.Column("scope", JSON, nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("request_key", sa.String(64), nullable=True),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        sa.Column("progress_message", sa.String(200), nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(128), nullable=True),
        ts("heartbeat_at", nullable=True),
        ts("created_at"),
        ts("started_at", nullable=True),
        ts("finished_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_jobs_owner_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("request_key", name=op.f("uq_jobs_request_key")),
    )
    op.create_index("ix_jobs_owner_id_created_at", "jobs", ["owner_id", "created_at"])
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_table(
        "job_logs",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("job_id", BIGINT_PK, nullable=False),
        ts("at"),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_logs_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_logs")),
    )
    op.create_index(op.f("ix_job_logs_job_id"), "job_logs", ["job_id"])
    op.create_table(
        "job_schedules",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("day", sa.Integer(), nullable=True),
        sa.Column("at", sa.String(5), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        ts("last_due_at", nullable=True),
        ts("created_at"),
        ts("updated_at"),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_job_schedules_name")),
    )
    op.create_table(
        "job_schedule_runs",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("schedule_id", BIGINT_PK, nullable=False),
        ts("due_at"),
        ts("created_at"),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.Column("job_id", BIGINT_PK, nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["job_schedules.id"],
            name=op.f("fk_job_schedule_runs_schedule_id_job_schedules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_schedule_runs_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_schedule_runs")),
        sa.UniqueConstraint("schedule_id", "due_at", name="uq_job_schedule_runs_schedule_due"),
    )
    op.create_index(op.f("ix_job_schedule_runs_schedule_id"), "job_schedule_runs", ["schedule_id"])
    op.create_table(
        "job_workers",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("host", sa.String(128), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        ts("started_at"),
        ts("heartbeat_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_workers")),
    )


def downgrade() -> None:
    op.drop_table("job_workers")
    op.drop_index(op.f("ix_job_schedule_runs_schedule_id"), table_name="job_schedule_runs")
    op.drop_table("job_schedule_runs")
    op.drop_table("job_schedules")
    op.drop_index(op.f("ix_job_logs_job_id"), table_name="job_logs")
    op.drop_table("job_logs")
    op.drop_index("ix_jobs_status", table_name="jobs")
    op.drop_index("ix_jobs_owner_id_created_at", table_name="jobs")
    op.drop_table("jobs")
