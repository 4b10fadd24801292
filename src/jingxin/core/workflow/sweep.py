"""The overdue sweep (超期督办): due-soon warnings, overdue clocks, escalation, pending e-mail.

`sweep_overdue(now)` is a plain function for the job scheduler to call every few minutes
(and `jingxin workflows sweep` runs it by hand). Each run:

1. warns the handlers of every running clock that has reached its warning time (`due_soon`);
2. marks every running clock past its deadline overdue: a history step by the platform and an
   `overdue` message to the handlers; a clock that escalates makes its case due to go up;
3. moves every case due to go up one level (county → city → province): a history step, the
   `escalated` message to the new handlers (the users of the next level whose scope covers
   the case) and the previous ones. A case still overdue `again_after_working_days` later
   goes up again, until the top level;
4. sends pending e-mail.

Each case is handled in its own transaction, so one failure stops nothing else, and a second
sweep at the same moment finds nothing left to do (flags and `dedupe_key`s), so it may run as
often and in as many processes as the scheduler likes. On PostgreSQL, rows another sweep is
working on are skipped (FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from jingxin.core.calendar import check_coverage
from jingxin.core.db import Database, utcnow, write_turn
from jingxin.core.notify.service import deliver_pending
from jingxin.core.workflow import clocks, events
from jingxin.core.workflow.config import WorkflowConfigError, WorkflowDef, load_workflow
from jingxin.core.workflow.models import WorkClock, WorkItem
from jingxin.core.workflow.service import add_step

log = logging.getLogger("jingxin.workflow")


@dataclass
class SweepReport:
    """What one sweep did."""

    due_soon: int = 0
    overdue: int = 0
    escalated: int = 0
    notifications: int = 0
    emails_sent: int = 0
    emails_failed: int = 0
    uncovered_years: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _locked(db: Session, query):  # type: ignore[no-untyped-def]
    if db.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=WorkItem)
    return query


def _definition(item: WorkItem, report: SweepReport) -> WorkflowDef | None:
    try:
        return load_workflow(item.workflow)
    except WorkflowConfigError as exc:
        report.errors.append(str(exc))
        return None


def _check_clocks(db: Session, item: WorkItem, now: datetime, report: SweepReport) -> None:
    definition = _definition(item, report)
    if definition is None:
        return
    for clock in item.clocks:
        cdef = definition.clocks.get(clock.name)
        if cdef is None or clock.status != clocks.RUNNING or clock.due_at is None:
            continue
        if not clock.warned and clock.warn_at is not None and clock.warn_at <= now:
            clock.warned = True
            if now < clock.due_at:
                occurrence = f"{clock.name}:{clock.started_at:%Y%m%d%H%M%S}:{clock.due_at:%Y%m%d%H%M}"
                report.notifications += events.emit(
                    db, definition, item, "due_soon", occurrence=occurrence, clock=clock
                )
                report.due_soon += 1
        if clock.overdue_at is None and clock.due_at <= now:
            clock.overdue_at = now
            step = add_step(
                db,
                item,
                action="overdue",
                label=f"{cdef.label}超期",
                actor=None,
                now=now,
                from_state=item.state,
                to_state=item.state,
                comment=f"{cdef.label}已于{events.format_due(clock.due_at)}到期，尚未办理",
                changes={"clock": clock.name, "due_at": clock.due_at.isoformat()},
            )
            report.notifications += events.emit(
                db, definition, item, "overdue", occurrence=f"s{step.seq}", clock=clock
            )
            report.overdue += 1
            top = len(definition.escalation.levels) - 1
            if cdef.escalates and item.level < top and item.escalate_at is None:
                item.escalate_at = now


def _escalate(db: Session, item: WorkItem, now: datetime, report: SweepReport) -> None:
    definition = _definition(item, report)
    if definition is None:
        return
    overdue = clocks.overdue_clocks(definition, item, now)
    top = len(definition.escalation.levels) - 1
    if not overdue or item.level >= top or definition.states[item.state].final:
        item.escalate_at = None
        return
    clock = min(overdue, key=lambda c: c.due_at)  # type: ignore[arg-type, return-value]
    cdef = definition.clocks[clock.name]
    previous = item.level
    item.level = previous + 1
    item.updated_at = now
    target = definition.escalation.levels[item.level]
    step = add_step(
        db,
        item,
        action="escalate",
        label=f"升级至{target.label}",
        actor=None,
        now=now,
        from_state=item.state,
        to_state=item.state,
        from_level=previous,
        to_level=item.level,
        comment=f"{cdef.label}已于{events.format_due(clock.due_at)}到期未办理，升级由{target.label}督办",
        changes={"clock": clock.name, "from": definition.escalation.levels[previous].key, "to": target.key},
    )
    report.notifications += events.emit(
        db, definition, item, "escalated", occurrence=f"s{step.seq}", clock=clock, previous_level=previous
    )
    report.escalated += 1
    again = definition.escalation.again_after_working_days
    item.escalate_at = definition.hours.deadline(now, again) if item.level < top else None


def _each(db: Session, ids: list[int], work, now: datetime, report: SweepReport) -> None:  # type: ignore[no-untyped-def]
    for item_id in ids:
        with write_turn(db):
            try:
                item = db.scalar(_locked(db, select(WorkItem).where(WorkItem.id == item_id)))
                if item is None:
                    db.rollback()
                    continue
                work(db, item, now, report)
                db.commit()
            except (StaleDataError, IntegrityError) as exc:
                # someone acted on the case meanwhile: the next sweep looks again
                db.rollback()
                log.info("督办跳过事项 %s：%s", item_id, exc.__class__.__name__)


def sweep(db: Session, now: datetime | None = None, *, send_email: bool = True) -> SweepReport:
    """One sweep over the platform database behind `db` (see the module docstring)."""
    now = now or utcnow()
    report = SweepReport(uncovered_years=check_coverage(now.date()))
    due = db.scalars(
        select(WorkClock.item_id)
        .where(
            WorkClock.status == clocks.RUNNING,
            or_(
                and_(WorkClock.warned.is_(False), WorkClock.warn_at <= now),
                and_(WorkClock.overdue_at.is_(None), WorkClock.due_at <= now),
            ),
        )
        .distinct()
    ).all()
    db.rollback()
    _each(db, sorted(due), _check_clocks, now, report)
    rising = db.scalars(
        select(WorkItem.id)
        .where(WorkItem.escalate_at <= now, WorkItem.closed_at.is_(None))
        .order_by(WorkItem.id)
    ).all()
    db.rollback()
    _each(db, list(rising), _escalate, now, report)
    if send_email:
        delivered = deliver_pending(db)
        report.emails_sent, report.emails_failed = delivered.sent, delivered.failed
    return report


def sweep_overdue(now: datetime | None = None, *, database_url: str | None = None) -> SweepReport:
    """The entry point for the scheduler: sweep the configured platform database once.

    Call it every few minutes (a warning or an escalation is late by at most the interval).
    `now` is for tests and replays; by default the current time."""
    from jingxin.core.settings import get_settings

    database = Database(database_url or get_settings().platform_database_url)
    try:
        with database.session() as db:
            return sweep(db, now)
    finally:
        database.dispose()
