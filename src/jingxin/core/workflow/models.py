"""Tables of the workflow core: cases (work items), their append-only history, their clocks.

- `workflow_items`: one case of a declared workflow (an appeal, a risk case, ...), with its
  state, the level it is handled at (county, city, province), its region (division and, for
  an enterprise's case, the credit code: what `Scope` filters on) and its field values.
- `workflow_steps`: every step (who, when, what, why): transitions, pauses, overdue clocks,
  escalations. Rows are only ever added: the ORM refuses to change or delete one, and the
  database refuses it too (triggers made by the migration), so the history is evidence.
- `workflow_clocks`: a case's response and resolution clocks (响应时限, 办结时限).

Users are referred to by id without a relationship, so the core does not import a scenario.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from jingxin.core.db import Base, BigIntPK, JSONType, utcnow


class WorkItem(Base):
    """A case (事项) moving through a declared workflow."""

    __tablename__ = "workflow_items"
    __table_args__ = (
        UniqueConstraint("workflow", "key", name="uq_workflow_items_workflow_key"),
        Index("ix_workflow_items_workflow_state", "workflow", "state"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    workflow: Mapped[str] = mapped_column(String(40))
    definition_version: Mapped[int] = mapped_column(Integer)
    definition_hash: Mapped[str] = mapped_column(String(16))
    key: Mapped[str | None] = mapped_column(String(64), default=None)
    state: Mapped[str] = mapped_column(String(40))
    level: Mapped[int] = mapped_column(Integer, default=0)
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), default=None, index=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    escalate_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    """When the case goes up a level next, while one of its clocks is overdue (None: not due)."""
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # two people acting at once: one wins

    steps: Mapped[list[WorkStep]] = relationship(
        back_populates="item", order_by="WorkStep.seq", viewonly=True
    )
    clocks: Mapped[list[WorkClock]] = relationship(
        back_populates="item", order_by="WorkClock.name", lazy="selectin", cascade="all"
    )

    def clock(self, name: str) -> WorkClock | None:
        return next((c for c in self.clocks if c.name == name), None)


class WorkStep(Base):
    """One step of a case's history (办理记录): who, when, what, why. Append-only."""

    __tablename__ = "workflow_steps"
    __table_args__ = (UniqueConstraint("item_id", "seq", name="uq_workflow_steps_item_id_seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("workflow_items.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    actor_name: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(32), default=None)
    action: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(40), default=None)
    to_state: Mapped[str | None] = mapped_column(String(40), default=None)
    from_level: Mapped[int | None] = mapped_column(Integer, default=None)
    to_level: Mapped[int | None] = mapped_column(Integer, default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    item: Mapped[WorkItem] = relationship(back_populates="steps")


class WorkClock(Base):
    """A clock of a case. `due_at` = close of the Nth working day after the start, moved later
    by the office time spent paused (`paused_seconds`, see `jingxin.core.calendar`)."""

    __tablename__ = "workflow_clocks"
    __table_args__ = (
        UniqueConstraint("item_id", "name", name="uq_workflow_clocks_item_id_name"),
        Index("ix_workflow_clocks_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("workflow_items.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="idle")  # idle, running, paused, stopped
    working_days: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    warn_at: Mapped[datetime | None] = mapped_column(default=None)
    paused_at: Mapped[datetime | None] = mapped_column(default=None)
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    stopped_at: Mapped[datetime | None] = mapped_column(default=None)
    warned: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue_at: Mapped[datetime | None] = mapped_column(default=None)

    item: Mapped[WorkItem] = relationship(back_populates="clocks")

    @property
    def met(self) -> bool | None:
        """Whether a stopped clock stopped in time (None while it runs)."""
        if self.stopped_at is None or self.due_at is None:
            return None
        return self.stopped_at <= self.due_at


class HistoryIsAppendOnly(RuntimeError):
    """Raised when code tries to change or delete a step of a case's history."""


@event.listens_for(Session, "before_flush")
def _refuse_history_changes(session: Session, _context: Any, _instances: Any) -> None:
    for obj in [*session.dirty, *session.deleted]:
        if isinstance(obj, WorkStep) and (obj in session.deleted or session.is_modified(obj)):
            raise HistoryIsAppendOnly("办理记录只能追加，不能修改或删除")
