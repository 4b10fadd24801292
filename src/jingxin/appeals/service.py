"""Operations of appeals (诉求直办): submit with routing and attachments, read, supervise.

An appeal is a case of the workflow `appeal` (`core/workflow/definitions/appeal.yaml`): its
steps (accept, ask the enterprise, answer, rate, reopen), clocks and escalation are the workflow
core's. This module adds what is particular to appeals: the responsible department from the
routing rules, attachments, an arrears report (category 清欠) that opens a ledger entry, and
the supervision lists and statistics. Every read goes through `workflow.service.in_scope` /
`visible`, the one rule (region, enterprise, department).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session

from jingxin import reference
from jingxin.appeals import attachments as files
from jingxin.appeals.config import WORKFLOW, load_routing
from jingxin.appeals.models import AppealAttachment
from jingxin.core import audit
from jingxin.core.db import utcnow
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.config import load_workflow
from jingxin.core.workflow.models import WorkClock, WorkItem, WorkStep

ARREARS_CATEGORY = "arrears"


def department_column() -> Any:
    return WorkItem.fields["department"].as_string()


def category_column() -> Any:
    return WorkItem.fields["category"].as_string()


def rating_column() -> Any:
    return WorkItem.fields["rating"].as_string()


def county_of(division_code: str) -> str:
    """The county an appeal belongs to: its division is already a county for an enterprise."""
    return division_code


def submit(
    db: Session,
    user: Any,
    *,
    title: str,
    content: str,
    category: str | None,
    credit_code: str | None = None,
    division_code: str | None = None,
    uploads: list[tuple[str, bytes]] | None = None,
    store: Path,
    arrear: dict[str, Any] | None = None,
    key: str | None = None,
    now: datetime | None = None,
) -> WorkItem:
    """File an appeal for an enterprise (the enterprise itself, or its service worker).

    The department comes from the routing rules; the county is the enterprise's. Attachments
    are checked before anything is saved. A 清欠 appeal with the arrear's details also opens
    an entry in the arrears ledger (`jingxin.arrears.service.record_from_appeal`)."""
    from jingxin.arrears import service as arrears

    routing = load_routing()
    checked = files.check(uploads or [], routing.attachments)
    credit_code = user.credit_code if user.role == "enterprise" else credit_code
    if not credit_code:
        raise wf.FieldProblems({"credit_code": "请填写企业的统一社会信用代码"})
    division_code = division_code or _county_of_enterprise(user, credit_code)
    if category == ARREARS_CATEGORY and arrear is not None:
        arrears.check_report(arrear)  # refuse a bad report before the appeal exists
    department = routing.department_for(category, title or "", content or "")
    item = wf.start_item(
        db,
        WORKFLOW,
        user,
        division_code=division_code,
        credit_code=credit_code,
        fields={"title": title, "content": content, "category": category},
        assigned={"department": department},
        key=key,
        now=now,
    )
    stored = {
        a.sha256 for a in db.scalars(select(AppealAttachment).where(AppealAttachment.item_id == item.id))
    }
    for c in checked:
        if c.sha256 in stored:
            continue  # a retried request with the same key
        files.save(store, c)
        db.add(
            AppealAttachment(
                item_id=item.id,
                filename=c.filename,
                kind=c.kind,
                size=len(c.content),
                sha256=c.sha256,
                uploaded_by_id=user.id,
                uploaded_at=now or utcnow(),
            )
        )
    db.commit()
    if category == ARREARS_CATEGORY and arrear is not None:
        arrears.record_from_appeal(db, user, item, arrear, now=now)
    return item


def _county_of_enterprise(user: Any, credit_code: str) -> str:
    """An enterprise's county: its account's division; a service worker must name it."""
    if user.role == "enterprise":
        return str(user.division_code)
    raise wf.FieldProblems({"division_code": "请填写企业所在区县代码"})


def get(db: Session, user: Any, item_id: int) -> WorkItem:
    item = wf.get_item(db, user.scope, item_id)
    if item.workflow != WORKFLOW:
        raise wf.ItemNotFound("诉求不存在或不在您的数据范围内")
    return item


def attachments_of(db: Session, user: Any, item_id: int) -> list[AppealAttachment]:
    item = get(db, user, item_id)
    return list(
        db.scalars(
            select(AppealAttachment).where(AppealAttachment.item_id == item.id).order_by(AppealAttachment.id)
        )
    )


def open_attachment(
    db: Session, user: Any, item_id: int, attachment_id: int, store: Path, actor: Any
) -> tuple[AppealAttachment, Path]:
    """An attachment of a visible appeal and its file; the download is audited."""
    found = next((a for a in attachments_of(db, user, item_id) if a.id == attachment_id), None)
    if found is None:
        raise wf.ItemNotFound("附件不存在或不在您的数据范围内")
    path = files.path_for(store, found.sha256)
    if not path.is_file():
        raise wf.ItemNotFound("附件文件已丢失，请联系管理员")
    audit.record(db, actor, audit.Action.DOWNLOAD, "appeal_attachment", found.id, {"appeal": item_id})
    db.commit()
    return found, path


def list_appeals(
    db: Session, user: Any, *, state: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[WorkItem], int]:
    return wf.list_items(db, user.scope, workflow=WORKFLOW, state=state, limit=limit, offset=offset)


# ---- supervision (督办) ------------------------------------------------------------------------


@dataclass
class OverdueRow:
    id: int
    title: str
    credit_code: str | None
    county: str
    county_name: str
    department: str
    category: str
    clock: str
    due_at: datetime
    level: str
    state: str


@dataclass
class Group:
    key: str
    label: str
    count: int


@dataclass
class Supervision:
    rows: list[Any]
    by_department: list[Group] = field(default_factory=list)
    by_county: list[Group] = field(default_factory=list)


def _county_name(code: str) -> str:
    try:
        return reference.division(code).name
    except (KeyError, ValueError):
        return code


def _groups(rows: list[Any], attr: str, label: Any) -> list[Group]:
    """Appeals (not clocks: an appeal late on both clocks counts once) per department or county."""
    ids: dict[str, set[int]] = {}
    for r in rows:
        ids.setdefault(getattr(r, attr), set()).add(r.id)
    counts = {k: len(v) for k, v in ids.items()}
    return [Group(k, label(k), n) for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def overdue(db: Session, user: Any, now: datetime | None = None, limit: int = 1000) -> Supervision:
    """Open appeals with a clock past its deadline (超期未办), oldest deadline first, and their
    counts by department and county."""
    now = now or utcnow()
    definition = load_workflow(WORKFLOW)
    categories = definition.fields["category"].choices
    # plain columns, not ORM objects: a province's list is thousands of rows
    query = (
        select(
            WorkItem.id,
            WorkItem.fields,
            WorkItem.division_code,
            WorkItem.credit_code,
            WorkItem.level,
            WorkItem.state,
            WorkClock.name,
            WorkClock.due_at,
        )
        .join(WorkClock, WorkClock.item_id == WorkItem.id)
        .where(
            WorkItem.workflow == WORKFLOW,
            WorkItem.closed_at.is_(None),
            WorkClock.status == "running",
            WorkClock.due_at <= now,
            wf.in_scope(user.scope),
        )
        .order_by(WorkClock.due_at, WorkItem.id)
        .limit(limit)
    )
    rows = []
    for item_id, fields, division, credit, level, state, clock_name, due_at in db.execute(query).all():
        cdef = definition.clocks.get(clock_name)
        rows.append(
            OverdueRow(
                id=item_id,
                title=str(fields.get("title", "")),
                credit_code=credit,
                county=county_of(division),
                county_name=_county_name(division),
                department=str(fields.get("department") or "未分办"),
                category=categories.get(str(fields.get("category")), "未分类"),
                clock=cdef.label if cdef else clock_name,
                due_at=due_at,
                level=definition.escalation.levels[level].label,
                state=definition.states[state].label,
            )
        )
    return Supervision(rows, _groups(rows, "department", str), _groups(rows, "county", _county_name))


@dataclass
class LowRatedRow:
    id: int
    title: str
    credit_code: str | None
    county: str
    county_name: str
    department: str
    rating: str
    reopened: int
    state: str


def low_rated(db: Session, user: Any, limit: int = 1000) -> Supervision:
    """Appeals rated low (不满意) or reopened at least once, newest first, with their counts."""
    definition = load_workflow(WORKFLOW)
    low = load_routing().low_ratings
    reopens = (
        select(WorkStep.item_id, func.count().label("n"))
        .where(WorkStep.action == "reopen")
        .group_by(WorkStep.item_id)
        .subquery()
    )
    query = (
        select(
            WorkItem.id,
            WorkItem.fields,
            WorkItem.division_code,
            WorkItem.credit_code,
            WorkItem.state,
            reopens.c.n,
        )
        .outerjoin(reopens, reopens.c.item_id == WorkItem.id)
        .where(WorkItem.workflow == WORKFLOW, wf.in_scope(user.scope))
        .where(rating_column().in_(low) | reopens.c.n.is_not(None))
        .order_by(WorkItem.id.desc())
        .limit(limit)
    )
    ratings = definition.fields["rating"].choices
    rows = [
        LowRatedRow(
            id=item_id,
            title=str(fields.get("title", "")),
            credit_code=credit,
            county=division,
            county_name=_county_name(division),
            department=str(fields.get("department") or "未分办"),
            rating=ratings.get(str(fields.get("rating")), "未评价"),
            reopened=int(n or 0),
            state=definition.states[state].label,
        )
        for item_id, fields, division, credit, state, n in db.execute(query).all()
    ]
    return Supervision(rows, _groups(rows, "department", str), _groups(rows, "county", _county_name))


@dataclass
class CategoryStats:
    category: str
    label: str
    total: int
    open: int
    closed: int
    late: int
    """Answered after the resolution deadline, or still open past it."""
    reopened: int
    satisfied: int
    dissatisfied: int


def stats_by_category(db: Session, user: Any, now: datetime | None = None) -> list[CategoryStats]:
    """Counts by category (诉求分类统计), to find the problems many enterprises share."""
    now = now or utcnow()
    definition = load_workflow(WORKFLOW)
    resolution = (
        select(WorkClock.item_id.label("item_id"), WorkClock.due_at, WorkClock.stopped_at, WorkClock.status)
        .where(WorkClock.name == "resolution")
        .subquery()
    )
    late = and_(
        resolution.c.due_at.is_not(None),
        (resolution.c.stopped_at > resolution.c.due_at)
        | and_(resolution.c.status == "running", resolution.c.due_at <= now),
    )
    reopened = exists().where(WorkStep.item_id == WorkItem.id, WorkStep.action == "reopen")
    cat = category_column()
    query = (
        select(
            cat.label("category"),
            func.count().label("total"),
            func.sum(case((WorkItem.closed_at.is_(None), 1), else_=0)),
            func.sum(case((WorkItem.closed_at.is_not(None), 1), else_=0)),
            func.sum(case((late, 1), else_=0)),
            func.sum(case((reopened, 1), else_=0)),
            func.sum(case((rating_column() == "satisfied", 1), else_=0)),
            func.sum(case((rating_column() == "dissatisfied", 1), else_=0)),
        )
        .select_from(WorkItem)
        .outerjoin(resolution, resolution.c.item_id == WorkItem.id)
        .where(WorkItem.workflow == WORKFLOW, wf.in_scope(user.scope))
        .group_by(cat)
    )
    choices = definition.fields["category"].choices
    out = [
        CategoryStats(
            category=c or "",
            label=choices.get(c or "", "未分类"),
            total=int(t),
            open=int(o or 0),
            closed=int(cl or 0),
            late=int(la or 0),
            reopened=int(r or 0),
            satisfied=int(s or 0),
            dissatisfied=int(d or 0),
        )
        for c, t, o, cl, la, r, s, d in db.execute(query).all()
    ]
    return sorted(out, key=lambda s: (-s.total, s.category))
