"""Parallel branches of a case (并联审批): one parent case, several child cases that run at
once, each with its own handler, clock and escalation, and a join when all are done.

The workflow core moves one case along one path. Parallel work is expressed with what it
already has: each branch is an ordinary case of a branch workflow (so its deadline, overdue
sweep, escalation, notifications and history are the core's own), linked to its parent by
its key `<parent workflow>:<parent id>:<branch>`. When the last branch reaches a final state,
`join` takes a declared transition of the parent as the platform itself (actor `system`): one
transition when every branch ended in an accepting state, another when any did not.

Nothing here knows a scenario; the 5G approvals (jingxin.fiveg) are the first user.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin.core.db import utcnow, write_turn
from jingxin.core.workflow import clocks, events
from jingxin.core.workflow.config import load_workflow
from jingxin.core.workflow.models import WorkItem
from jingxin.core.workflow.service import InvalidTransition, add_step, start_item


def branch_key(parent: WorkItem, branch: str) -> str:
    return f"{parent.workflow}:{parent.id}:{branch}"[:64]


def open_branches(
    db: Session,
    parent: WorkItem,
    branch_workflow: str,
    user: Any,
    branches: Mapping[str, Mapping[str, Any]],
    *,
    fields: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> list[WorkItem]:
    """Open one case of `branch_workflow` per branch name, in the parent's region and for its
    enterprise; `branches[name]` are that branch's assigned fields (e.g. its department)."""
    now = now or utcnow()
    out = []
    for name, assigned in branches.items():
        out.append(
            start_item(
                db,
                branch_workflow,
                user,
                division_code=parent.division_code,
                credit_code=None,
                fields=fields or {},
                assigned=dict(assigned),
                key=branch_key(parent, name),
                now=now,
            )
        )
    return out


def branches(db: Session, parent: WorkItem) -> list[WorkItem]:
    """The branch cases of `parent`, by key (every branch workflow)."""
    prefix = f"{parent.workflow}:{parent.id}:"
    return list(
        db.scalars(
            select(WorkItem).where(WorkItem.key.startswith(prefix, autoescape=True)).order_by(WorkItem.id)
        )
    )


def parent_of(db: Session, branch: WorkItem) -> WorkItem | None:
    if not branch.key or branch.key.count(":") < 2:
        return None
    workflow, pid, _ = branch.key.split(":", 2)
    parent = db.get(WorkItem, int(pid)) if pid.isdigit() else None
    return parent if parent is not None and parent.workflow == workflow else None


def system_transition(
    db: Session, item: WorkItem, transition: str, *, comment: str = "", now: datetime | None = None
) -> WorkItem:
    """Take `transition` as the platform (no user): same history, clocks and events as `act`."""
    now = now or utcnow()
    definition = load_workflow(item.workflow)
    t = definition.transitions.get(transition)
    if t is None or item.state not in t.from_:
        raise InvalidTransition(f"{definition.title}当前状态不能执行 {transition}")
    from_state = item.state
    with write_turn(db):
        item.state = t.to
        item.updated_at = now
        if definition.states[t.to].final:
            item.closed_at = now
        notes = clocks.on_action(definition, item, transition, set(), now)
        step = add_step(
            db,
            item,
            action=transition,
            label=t.label,
            actor=None,
            now=now,
            from_state=from_state,
            to_state=t.to,
            comment=comment,
            changes={"clocks": notes},
        )
        if t.event:
            events.emit(db, definition, item, t.event, occurrence=f"s{step.seq}", actor=None, comment=comment)
        db.commit()
    return item


def join(
    db: Session,
    parent: WorkItem,
    *,
    accepted: set[str],
    on_all: str,
    on_any_other: str,
    now: datetime | None = None,
) -> str | None:
    """When every branch is final: take `on_all` if all ended in a state of `accepted`, else
    `on_any_other`. Returns the transition taken, or None while a branch is still open."""
    found = branches(db, parent)
    if not found:
        return None
    finals = []
    for b in found:
        definition = load_workflow(b.workflow)
        if not definition.states[b.state].final:
            return None
        finals.append(b.state)
    name = on_all if all(s in accepted for s in finals) else on_any_other
    system_transition(
        db, parent, name, comment="并联审批全部完成" if name == on_all else "并联审批未全部通过", now=now
    )
    return name
