"""Operations on cases of declared workflows (流程办理): start, act, read, list work.

Every function takes the acting user (their role and `Scope`, see `jingxin.core.auth`); a case
outside the user's scope is `ItemNotFound`, exactly like one that does not exist. A step is
saved whole or not at all: the new state and fields, the history row (who, when, what, why),
the clocks, the notifications and the audit entry commit together. Two people acting on the
same case at once: the second gets `Conflict` (the case's version moved on).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from jingxin import reference
from jingxin.core import audit
from jingxin.core.db import clean_text, utcnow, write_turn
from jingxin.core.scope import Scope
from jingxin.core.workflow import clocks, events
from jingxin.core.workflow.config import HANDLER, WorkflowDef, available_workflows, load_workflow
from jingxin.core.workflow.models import WorkItem, WorkStep

AUDIT_ACTION = audit.Action.WORKFLOW_STEP
MAX_COMMENT = 2000


class WorkflowError(ValueError):
    """A step that cannot be taken; the message (Chinese) says why and what to do."""

    status = 400


class ItemNotFound(WorkflowError):
    status = 404


class NotAllowed(WorkflowError):
    status = 403


class InvalidTransition(WorkflowError):
    status = 409


class Conflict(WorkflowError):
    status = 409


class FieldProblems(WorkflowError):
    """Fields that are missing or wrong: `problems` maps a field to what is wrong with it."""

    status = 422

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("；".join(problems.values()))


# ---- checks ---------------------------------------------------------------------------------


def visible(scope: Scope, item: WorkItem) -> bool:
    return scope.allows_record(item.division_code, item.credit_code, routed_department(item), item.workflow)


def routed_department(item: WorkItem) -> str | None:
    """The department a case is routed to (its `department` field, e.g. an appeal's 承办部门)."""
    value = (item.fields or {}).get("department")
    return value if isinstance(value, str) else None


def in_scope(scope: Scope) -> Any:
    """The SQL condition of `visible`: cases inside `scope` (region, enterprise, department,
    workflow)."""
    department = WorkItem.fields["department"].as_string()
    return scope.where(WorkItem.division_code, WorkItem.credit_code, department, WorkItem.workflow)


def may_take(definition: WorkflowDef, item: WorkItem, roles: list[str], user: Any) -> bool:
    """Whether `user` may take a step open to `roles` on `item`: within scope, and either
    holding one of the roles or, for `handler`, a role of the level the case is at."""
    if not user.is_active or not visible(user.scope, item):
        return False
    if user.role in roles:
        return True
    level_roles = {r.value for r in definition.escalation.levels[item.level].roles}
    return HANDLER in roles and user.role in level_roles


def allowed_transitions(item: WorkItem, user: Any) -> list[str]:
    """Names of the transitions `user` may take on `item` now, in declaration order."""
    definition = load_workflow(item.workflow)
    return [
        name
        for name, t in definition.transitions.items()
        if item.state in t.from_ and may_take(definition, item, t.roles, user)
    ]


def clean_fields(
    definition: WorkflowDef, required: list[str], optional: list[str], given: Mapping[str, Any]
) -> dict[str, str]:
    """The step's field values, checked against the declaration (FieldProblems otherwise)."""
    problems: dict[str, str] = {}
    allowed = [*required, *optional]
    out: dict[str, str] = {}
    for name, value in given.items():
        if name not in allowed:
            label = definition.fields[name].label if name in definition.fields else str(name)[:40]
            problems[str(name)[:40]] = f"此步骤不能填写“{label}”"
            continue
        fdef = definition.fields[name]
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if not isinstance(value, str):
            problems[name] = f"“{fdef.label}”应为文字"
            continue
        text = clean_text(value).strip()
        if fdef.type == "choice":
            if text not in fdef.choices:
                problems[name] = f"“{fdef.label}”须为以下之一：{'、'.join(fdef.choices.values())}"
                continue
        elif fdef.type == "date":
            try:
                text = date.fromisoformat(text).isoformat()
            except ValueError:
                problems[name] = f"“{fdef.label}”应为日期，写作 2021-06-30，而不是“{text[:20]}”"
                continue
        elif len(text) > fdef.max_length:
            problems[name] = f"“{fdef.label}”不能超过{fdef.max_length}字（现有{len(text)}字）"
            continue
        out[name] = text
    for name in required:
        if name not in out and name not in problems:
            problems[name] = f"请填写“{definition.fields[name].label}”"
    if problems:
        raise FieldProblems(problems)
    return out


def _comment(text: str | None, required: bool) -> str:
    comment = clean_text(text or "").strip()
    if required and not comment:
        raise FieldProblems({"comment": "请填写办理意见（理由）"})
    if len(comment) > MAX_COMMENT:
        raise FieldProblems({"comment": f"办理意见不能超过{MAX_COMMENT}字"})
    return comment


# ---- history --------------------------------------------------------------------------------


def add_step(
    db: Session,
    item: WorkItem,
    *,
    action: str,
    label: str,
    actor: Any,
    now: datetime,
    from_state: str | None = None,
    to_state: str | None = None,
    from_level: int | None = None,
    to_level: int | None = None,
    comment: str = "",
    changes: dict[str, Any] | None = None,
) -> WorkStep:
    """Append one step to the item's history (`actor` None = the platform itself)."""
    last = db.scalar(select(func.max(WorkStep.seq)).where(WorkStep.item_id == item.id)) or 0
    step = WorkStep(
        item_id=item.id,
        seq=last + 1,
        at=now,
        actor_id=getattr(actor, "id", None),
        actor_name=(actor.username if actor is not None else "system")[:64],
        actor_role=getattr(actor, "role", None),
        action=action,
        label=label[:64],
        from_state=from_state,
        to_state=to_state,
        from_level=from_level,
        to_level=to_level,
        comment=comment,
        changes=changes or {},
    )
    db.add(step)
    db.flush()
    return step


def _audit(db: Session, user: Any, actor: audit.Actor | None, item: WorkItem, step: WorkStep) -> None:
    audit.record(
        db,
        actor or audit.Actor(user.id, user.username),
        AUDIT_ACTION,
        item.workflow,
        item.id,
        {"step": step.seq, "action": step.action, "from": step.from_state, "to": step.to_state},
    )


# ---- operations -----------------------------------------------------------------------------


def start_item(
    db: Session,
    workflow_id: str,
    user: Any,
    *,
    division_code: str,
    credit_code: str | None = None,
    fields: Mapping[str, Any] | None = None,
    assigned: Mapping[str, Any] | None = None,
    comment: str = "",
    key: str | None = None,
    actor: audit.Actor | None = None,
    now: datetime | None = None,
) -> WorkItem:
    """Open a case of `workflow_id` in its initial state, at the level of its division.

    `fields` are the filer's, limited to the start's required and optional fields; `assigned`
    are set by the scenario's own code (an appeal's routed department), checked against the
    workflow's field definitions but never open to the filer through the generic start.
    `key` makes a retried request safe: a second start with the same key by the same user
    returns the first case instead of opening another."""
    definition = load_workflow(workflow_id)
    now = now or utcnow()
    if key is not None:
        key = clean_text(key).strip()[:64] or None
        found = db.scalar(select(WorkItem).where(WorkItem.workflow == workflow_id, WorkItem.key == key))
        if found is not None:
            if found.created_by_id != user.id or not visible(user.scope, found):
                raise Conflict("该请求编号已被使用，请换一个编号")
            return found
    try:
        division = reference.division(division_code)
    except (KeyError, ValueError):
        raise FieldProblems({"division_code": f"区划代码 {str(division_code)[:12]} 不存在"}) from None
    level = _start_level(definition, division.level)
    probe = WorkItem(workflow=workflow_id, division_code=division_code, credit_code=credit_code, level=level)
    if not user.is_active or user.role not in definition.start.roles or not visible(user.scope, probe):
        raise NotAllowed(f"您无权在此范围内提交{definition.title}")
    values = clean_fields(definition, definition.start.required, definition.start.optional, fields or {})
    if assigned:
        values.update(clean_fields(definition, [], list(assigned), assigned))
    why = _comment(comment, False)
    with write_turn(db):
        item = WorkItem(
            workflow=workflow_id,
            definition_version=definition.version,
            definition_hash=definition.fingerprint(),
            key=key,
            state=definition.initial,
            level=level,
            division_code=division_code,
            credit_code=credit_code,
            fields=values,
            created_by_id=user.id,
            created_at=now,
            updated_at=now,
        )
        clocks.create_clocks(definition, item)
        db.add(item)
        try:
            db.flush()
        except IntegrityError:
            db.rollback()
            raise Conflict("该请求编号已被使用，请换一个编号") from None
        notes = clocks.on_action(definition, item, "start", set(values), now)
        step = add_step(
            db,
            item,
            action="start",
            label=definition.start.label,
            actor=user,
            now=now,
            to_state=item.state,
            to_level=level,
            comment=why,
            changes={"fields": values, "clocks": notes},
        )
        if definition.start.event:
            events.emit(db, definition, item, definition.start.event, occurrence=f"s{step.seq}", actor=user)
        _audit(db, user, actor, item, step)
        db.commit()
    return item


def _start_level(definition: WorkflowDef, division_level: str) -> int:
    """A case starts at the level of its division (a county's case with the county)."""
    try:
        return definition.level_index(division_level)
    except KeyError:
        return 0


def act(
    db: Session,
    item_id: int,
    transition: str,
    user: Any,
    *,
    fields: Mapping[str, Any] | None = None,
    comment: str | None = "",
    expected_version: int | None = None,
    actor: audit.Actor | None = None,
    now: datetime | None = None,
) -> WorkItem:
    """Take `transition` on case `item_id` as `user`, with the step's fields and reason.

    `expected_version` (the version the user saw) refuses a step on a case that changed since."""
    now = now or utcnow()
    item = get_item(db, user.scope, item_id)
    definition = load_workflow(item.workflow)
    t = definition.transitions.get(transition)
    if t is None:
        raise InvalidTransition(f"{definition.title}没有“{str(transition)[:40]}”这一步骤")
    if not may_take(definition, item, t.roles, user):
        raise NotAllowed(f"您无权对此{definition.title}执行“{t.label}”")
    if item.state not in t.from_:
        state = definition.states[item.state].label
        raise InvalidTransition(f"{definition.title}当前为“{state}”，不能执行“{t.label}”")
    if expected_version is not None and expected_version != item.version:
        raise Conflict("此事项已被他人更新，请刷新后重试")
    values = clean_fields(definition, t.required, t.optional, fields or {})
    why = _comment(comment, t.comment_required)
    from_state = item.state
    with write_turn(db):
        try:
            item.fields = {**item.fields, **values}
            item.state = t.to
            item.updated_at = now
            if definition.states[t.to].final:
                item.closed_at = now
            notes = clocks.on_action(definition, item, transition, set(values), now)
            step = add_step(
                db,
                item,
                action=transition,
                label=t.label,
                actor=user,
                now=now,
                from_state=from_state,
                to_state=t.to,
                comment=why,
                changes={"fields": values, "clocks": notes},
            )
            if t.event:
                events.emit(db, definition, item, t.event, occurrence=f"s{step.seq}", actor=user, comment=why)
            _audit(db, user, actor, item, step)
            db.commit()
        except (StaleDataError, IntegrityError):
            db.rollback()
            raise Conflict("此事项已被他人同时办理，请刷新后重试") from None
    return item


# ---- reads ----------------------------------------------------------------------------------


def get_item(db: Session, scope: Scope, item_id: int) -> WorkItem:
    item = db.get(WorkItem, item_id)
    if item is None or not visible(scope, item):
        raise ItemNotFound("事项不存在或不在您的数据范围内")
    return item


def history(db: Session, scope: Scope, item_id: int) -> list[WorkStep]:
    item = get_item(db, scope, item_id)
    return list(db.scalars(select(WorkStep).where(WorkStep.item_id == item.id).order_by(WorkStep.seq)))


def list_items(
    db: Session,
    scope: Scope,
    *,
    workflow: str | None = None,
    state: str | None = None,
    open_only: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[WorkItem], int]:
    """Cases inside `scope`, newest first, and how many match."""
    where = [in_scope(scope)]
    if workflow:
        where.append(WorkItem.workflow == workflow)
    if state:
        where.append(WorkItem.state == state)
    if open_only:
        where.append(WorkItem.closed_at.is_(None))
    total = db.scalar(select(func.count()).select_from(WorkItem).where(*where)) or 0
    rows = db.scalars(
        select(WorkItem)
        .where(*where)
        .order_by(WorkItem.id.desc())
        .limit(max(0, limit))
        .offset(max(0, offset))
    ).all()
    return list(rows), int(total)


def work_items(db: Session, user: Any, *, limit: int = 100) -> list[WorkItem]:
    """Open cases `user` can act on now (待办), oldest first: per workflow, the states and
    levels at which one of the user's roles may take a transition, inside their scope."""
    if not user.is_active:
        return []
    options = []
    for workflow_id in available_workflows():
        definition = load_workflow(workflow_id)
        levels = range(len(definition.escalation.levels))
        for t in definition.transitions.values():
            if user.role in t.roles:
                at_levels = list(levels)
            elif HANDLER in t.roles:
                at_levels = [
                    i for i in levels if user.role in {r.value for r in definition.escalation.levels[i].roles}
                ]
            else:
                continue
            if at_levels:
                options.append(
                    and_(
                        WorkItem.workflow == workflow_id,
                        WorkItem.state.in_(t.from_),
                        WorkItem.level.in_(at_levels),
                    )
                )
    if not options:
        return []
    query = (
        select(WorkItem)
        .where(
            or_(*options),
            WorkItem.closed_at.is_(None),
            in_scope(user.scope),
        )
        .order_by(WorkItem.created_at, WorkItem.id)
        .limit(limit)
    )
    return list(db.scalars(query))
