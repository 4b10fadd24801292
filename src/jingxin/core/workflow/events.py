"""Who handles a case, and how its events become notifications (by the declaration's `notify`).

Handlers of a case at a level are the active users whose role is one of that level's roles and
whose region scope covers the case (`Scope.allows_record`, the one rule): the county analysts
of the case's county, then the city's analysts, then the province's. Takers are those whose
role may take a step from the case's current state, within the same rule (a payout list
awaiting payment: the finance bureaus whose region holds its county). Users are read through
`jingxin.accounts.models` at call time, so the core has no import-time tie to a scenario.
"""

from __future__ import annotations

from datetime import datetime
from string import Template
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin.core.calendar import CHINA_TZ
from jingxin.core.notify import service as notify
from jingxin.core.workflow.config import HANDLER, WorkflowDef
from jingxin.core.workflow.models import WorkClock, WorkItem


def _users() -> Any:
    from jingxin.accounts.models import User

    return User


def item_title(definition: WorkflowDef, item: WorkItem) -> str:
    value = item.fields.get(definition.title_field) if definition.title_field else None
    return str(value) if value else f"{definition.title}#{item.id}"


def item_link(item: WorkItem) -> str:
    return f"/work/{item.id}"


def handlers(db: Session, definition: WorkflowDef, item: WorkItem, level: int | None = None) -> list[Any]:
    """Active users who handle `item` at `level` (default: the level it is at)."""
    User = _users()
    level = item.level if level is None else level
    roles = [r.value for r in definition.escalation.levels[level].roles]
    candidates = db.scalars(select(User).where(User.role.in_(roles), User.is_active).order_by(User.id)).all()
    department = (item.fields or {}).get("department")
    return [
        u
        for u in candidates
        if u.scope.allows_record(item.division_code, item.credit_code, department, item.workflow)
    ]


def takers(db: Session, definition: WorkflowDef, item: WorkItem) -> list[Any]:
    """Active users whose role may take a step from the state `item` is in now, inside scope
    (the finance bureau of a confirmed payout list). Administrators, who may take most steps as
    a fallback, are not told: they are nobody's first port of call."""
    User = _users()
    roles: set[str] = set()
    for t in definition.transitions.values():
        if item.state in t.from_:
            roles |= set(t.roles)
    if HANDLER in roles:
        roles |= {r.value for r in definition.escalation.levels[item.level].roles}
    roles -= {HANDLER, "admin"}
    if not roles:
        return []
    candidates = db.scalars(
        select(User).where(User.role.in_(sorted(roles)), User.is_active).order_by(User.id)
    )
    department = (item.fields or {}).get("department")
    return [
        u
        for u in candidates
        if u.scope.allows_record(item.division_code, item.credit_code, department, item.workflow)
    ]


def enterprise_users(db: Session, item: WorkItem) -> list[Any]:
    if not item.credit_code:
        return []
    User = _users()
    return list(
        db.scalars(
            select(User).where(
                User.role == "enterprise", User.credit_code == item.credit_code, User.is_active
            )
        )
    )


def format_due(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(CHINA_TZ)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def emit(
    db: Session,
    definition: WorkflowDef,
    item: WorkItem,
    event: str,
    *,
    occurrence: str,
    actor: Any = None,
    comment: str = "",
    clock: WorkClock | None = None,
    previous_level: int | None = None,
) -> int:
    """Turn one event of `item` into notifications; `occurrence` makes the event unique (the
    step it belongs to), so a repeated sweep or request notifies nobody twice. Returns how many
    messages were made."""
    rule = definition.notify.get(event)
    if rule is None:
        return 0
    User = _users()
    people: dict[int, Any] = {}
    for who in rule.to:
        found: list[Any] = []
        if who == "handlers":
            found = handlers(db, definition, item)
        elif who == "previous_handlers" and previous_level is not None:
            found = handlers(db, definition, item, previous_level)
        elif who == "enterprise":
            found = enterprise_users(db, item)
        elif who == "takers":
            found = takers(db, definition, item)
        elif who == "creator" and item.created_by_id is not None:
            creator = db.get(User, item.created_by_id)
            found = [creator] if creator is not None and creator.is_active else []
        people.update({u.id: u for u in found})
    if actor is not None:
        people.pop(actor.id, None)  # nobody is told of what they just did themselves
    if not people:
        return 0
    if clock is None:
        running = [c for c in item.clocks if c.status in ("running", "paused") and c.due_at is not None]
        clock = min(running, key=lambda c: c.due_at) if running else None  # type: ignore[arg-type,return-value]
    cdef = definition.clocks.get(clock.name) if clock is not None else None
    values = {
        "title": item_title(definition, item),
        "workflow": definition.title,
        "state": definition.states[item.state].label,
        "clock": cdef.label if cdef else "时限",
        "due": format_due(clock.due_at if clock is not None else None),
        "level": definition.escalation.levels[item.level].label,
        "actor": getattr(actor, "display_name", "系统"),
        "comment": comment or "—",
    }
    made = notify.notify(
        db,
        people.values(),
        event=event,
        title=Template(rule.title).safe_substitute(values),
        body=Template(rule.body).safe_substitute(values),
        link=item_link(item),
        workflow=definition.id,
        item_id=item.id,
        dedupe_key=f"{definition.id}:{item.id}:{occurrence}:{event}",
        default_channels=rule.channels,
    )
    return len(made)
