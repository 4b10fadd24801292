"""Workflows and notifications: cases, their append-only history and clocks; messages, preferences.

Revision ID: 0003_workflows
Revises: 0002_jobs
Create Date: 2026-11-30

The history table refuses UPDATE and DELETE with a trigger on both backends, so the record of
who did what on a case cannot be rewritten even by code that bypasses the ORM.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_workflows"
down_revision: str | Sequence[str] | None = "0002_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "workflow_items",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("workflow", sa.String(40), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("definition_hash", sa.String(16), nullable=False),
        sa.Column("key", sa.String(64), nullable=True),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=True),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        ts("created_at"),
        ts("updated_at"),
        ts("closed_at", nullable=True),
        ts("escalate_at", nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_items")),
        sa.UniqueConstraint("workflow", "key", name="uq_workflow_items_workflow_key"),
    )
    op.create_index("ix_workflow_items_workflow_state", "workflow_items", ["workflow", "state"])
    op.create_index(op.f("ix_workflow_items_division_code"), "workflow_items", ["division_code"])
    op.create_index(op.f("ix_workflow_items_credit_code"), "workflow_items", ["credit_code"])
    op.create_index(op.f("ix_workflow_items_escalate_at"), "workflow_items", ["escalate_at"])

    op.create_table(
        "workflow_steps",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("item_id", BIGINT_PK, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        ts("at"),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_name", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(32), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("from_state", sa.String(40), nullable=True),
        sa.Column("to_state", sa.String(40), nullable=True),
        sa.Column("from_level", sa.Integer(), nullable=True),
        sa.Column("to_level", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("changes", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["workflow_items.id"], name=op.f("fk_workflow_steps_item_id_workflow_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_steps")),
        sa.UniqueConstraint("item_id", "seq", name="uq_workflow_steps_item_id_seq"),
    )
    op.create_index(op.f("ix_workflow_steps_item_id"), "workflow_steps", ["item_id"])

    op.create_table(
        "workflow_clocks",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("item_id", BIGINT_PK, nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        ts("started_at", nullable=True),
        ts("due_at", nullable=True),
        ts("warn_at", nullable=True),
        ts("paused_at", nullable=True),
        sa.Column("paused_seconds", sa.Integer(), nullable=False),
        ts("stopped_at", nullable=True),
        sa.Column("warned", sa.Boolean(), nullable=False),
        ts("overdue_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["workflow_items.id"], name=op.f("fk_workflow_clocks_item_id_workflow_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_clocks")),
        sa.UniqueConstraint("item_id", "name", name="uq_workflow_clocks_item_id_name"),
    )
    op.create_index("ix_workflow_clocks_status_due_at", "workflow_clocks", ["status", "due_at"])
    op.create_index(op.f("ix_workflow_clocks_item_id"), "workflow_clocks", ["item_id"])

    op.create_table(
        "notifications",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("user_id", BIGINT_PK, nullable=False),
        ts("created_at"),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("workflow", sa.String(40), nullable=True),
        sa.Column("item_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(255), nullable=True),
        sa.Column("in_inbox", sa.Boolean(), nullable=False),
        ts("read_at", nullable=True),
        sa.Column("email_to", sa.String(254), nullable=True),
        sa.Column("email_status", sa.String(16), nullable=False),
        sa.Column("email_attempts", sa.Integer(), nullable=False),
        sa.Column("email_error", sa.String(500), nullable=True),
        ts("emailed_at", nullable=True),
        sa.Column("dedupe_key", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("user_id", "dedupe_key", name="uq_notifications_user_id_dedupe_key"),
    )
    op.create_index("ix_notifications_user_id_read_at", "notifications", ["user_id", "read_at"])
    op.create_index("ix_notifications_email_status", "notifications", ["email_status"])

    op.create_table(
        "notification_preferences",
        sa.Column("user_id", BIGINT_PK, nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("channels", JSON, nullable=False),
        ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_preferences")),
    )
    _append_only_history()


def _append_only_history() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION workflow_steps_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'workflow_steps is append-only (办理记录只能追加)';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER workflow_steps_append_only BEFORE UPDATE OR DELETE ON workflow_steps "
            "FOR EACH ROW EXECUTE FUNCTION workflow_steps_append_only()"
        )
    else:
        for what in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER workflow_steps_no_{what.lower()} BEFORE {what} ON workflow_steps "
                "BEGIN SELECT RAISE(ABORT, 'workflow_steps is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS workflow_steps_append_only ON workflow_steps")
        op.execute("DROP FUNCTION IF EXISTS workflow_steps_append_only()")
    op.drop_table("notification_preferences")
    op.drop_table("notifications")
    op.drop_table("workflow_clocks")
    op.drop_table("workflow_steps")
    op.drop_table("workflow_items")
