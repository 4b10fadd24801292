"""How a case's clocks (时限) move when it takes a step.

A clock runs from the action that starts it (`starts_on`) to the one that stops it
(`stops_on`); its deadline is the close of the Nth working day after the start
(`jingxin.core.calendar.OfficeHours.deadline`), moved later by the office time it stood still
(`paused_seconds`), so a clock that pauses while the enterprise is asked for material keeps the
working time it had left. A limit that depends on a field (simple: 1 day, complex: 3), or a
case's own due day (`due_field`), is recomputed from the start when the field is set.

Each function returns what it changed, as short Chinese notes for the step's history.
"""

from __future__ import annotations

from datetime import date, datetime

from jingxin.core.workflow.config import ClockDef, WorkflowDef
from jingxin.core.workflow.models import WorkClock, WorkItem

RUNNING, PAUSED, STOPPED, IDLE = "running", "paused", "stopped", "idle"


def due_day(cdef: ClockDef, fields: dict[str, object]) -> date | None:
    """The case's own due day for this clock (`due_field`), if it carries one."""
    value = fields.get(cdef.due_field) if cdef.due_field else None
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def limit(definition: WorkflowDef, cdef: ClockDef, fields: dict[str, object], start: datetime) -> int:
    """Working days from `start` to the deadline: up to the case's own due day when it has
    one (0 when that day is already past: due at the close of the starting day), else the
    declared limit."""
    due = due_day(cdef, fields)
    if due is None:
        return cdef.limit_for(fields)
    hours = definition.hours
    if not hours.cal.is_working_day(due):
        due = hours.cal.next_working_day(due)
    return hours.cal.working_days_between(hours.starting_day(start), due)


def create_clocks(definition: WorkflowDef, item: WorkItem) -> None:
    for name in definition.clocks:
        item.clocks.append(WorkClock(name=name, status=IDLE, working_days=0, paused_seconds=0, warned=False))


def schedule(definition: WorkflowDef, clock: WorkClock, cdef: ClockDef) -> None:
    """Set `due_at` and `warn_at` from the start, the limit and the time spent paused."""
    assert clock.started_at is not None
    hours = definition.hours
    base = hours.deadline(clock.started_at, clock.working_days)
    clock.due_at = hours.add_working_seconds(base, clock.paused_seconds)
    clock.warn_at = hours.subtract_working_seconds(clock.due_at, round(cdef.due_soon_hours * 3600))


def _start(definition: WorkflowDef, item: WorkItem, clock: WorkClock, cdef: ClockDef, now: datetime) -> None:
    clock.status = RUNNING
    clock.started_at = now
    clock.working_days = limit(definition, cdef, item.fields, now)
    clock.paused_seconds = 0
    clock.paused_at = None
    clock.stopped_at = None
    clock.warned = False
    clock.overdue_at = None
    schedule(definition, clock, cdef)


def _resume(definition: WorkflowDef, clock: WorkClock, cdef: ClockDef, now: datetime) -> None:
    assert clock.paused_at is not None
    clock.paused_seconds += definition.hours.working_seconds(clock.paused_at, now)
    clock.paused_at = None
    clock.status = RUNNING
    schedule(definition, clock, cdef)


def on_action(
    definition: WorkflowDef, item: WorkItem, action: str, changed: set[str], now: datetime
) -> list[str]:
    """Apply `action` (a transition's name, or `start`) to the item's clocks, the item being
    already in its new state with its new fields. Returns notes for the history."""
    notes: list[str] = []
    state = definition.states[item.state]
    for clock in item.clocks:
        cdef = definition.clocks.get(clock.name)
        if cdef is None:  # a clock the declaration no longer has
            continue
        if action in cdef.stops_on and clock.status in (RUNNING, PAUSED):
            if clock.status == PAUSED and clock.paused_at is not None:
                clock.paused_seconds += definition.hours.working_seconds(clock.paused_at, now)
                clock.paused_at = None
                schedule(definition, clock, cdef)
            clock.status, clock.stopped_at = STOPPED, now
            notes.append(f"{cdef.label}停止（{'按时' if clock.met else '超时'}）")
        elif action in cdef.starts_on:
            _start(definition, item, clock, cdef, now)
            notes.append(f"{cdef.label}开始计时（{clock.working_days}个工作日）")
        elif (
            (cdef.by_field in changed or cdef.due_field in changed)
            and clock.status in (RUNNING, PAUSED)
            and clock.started_at is not None
        ):
            days = limit(definition, cdef, item.fields, clock.started_at)
            if days != clock.working_days:
                clock.working_days = days
                schedule(definition, clock, cdef)
                notes.append(f"{cdef.label}调整为{days}个工作日")
            if clock.due_at is not None and clock.due_at > now:
                clock.overdue_at = None
                clock.warned = clock.warn_at is not None and clock.warn_at <= now
        if clock.name in state.pauses and clock.status == RUNNING:
            clock.status, clock.paused_at = PAUSED, now
            notes.append(f"{cdef.label}暂停")
        elif clock.name not in state.pauses and clock.status == PAUSED:
            _resume(definition, clock, cdef, now)
            notes.append(f"{cdef.label}恢复计时")
    rearm_escalation(definition, item, now)
    return notes


def overdue_clocks(definition: WorkflowDef, item: WorkItem, now: datetime) -> list[WorkClock]:
    """Running clocks of the item that are past their deadline and escalate."""
    return [
        c
        for c in item.clocks
        if c.status == RUNNING
        and c.due_at is not None
        and c.due_at <= now
        and (cdef := definition.clocks.get(c.name)) is not None
        and cdef.escalates
    ]


def rearm_escalation(definition: WorkflowDef, item: WorkItem, now: datetime) -> None:
    """Keep `escalate_at` consistent with the clocks: none while nothing is overdue; a resumed
    clock that is still overdue goes up again after the grace period, not at once."""
    top = len(definition.escalation.levels) - 1
    if definition.states[item.state].final or item.level >= top or not overdue_clocks(definition, item, now):
        item.escalate_at = None
    elif item.escalate_at is None and any(c.overdue_at is not None for c in item.clocks):
        item.escalate_at = definition.hours.deadline(now, definition.escalation.again_after_working_days)
