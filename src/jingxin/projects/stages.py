"""Projects through the workflow (项目全周期服务): one `project_stage` case per project, its steps
taken at the dates the county reported (签约 → 开工 → 投产 → 达产), and one `project_problem`
case per problem a monthly report raised, routed to the department it names.

`sync` replays what the warehouse holds into the platform database: a case is opened at its
signing date and each stage is recorded at its reported date, so the working-day clocks
(`core/workflow`, holidays included) say whether each stage came in time; the overdue sweep warns
and escalates those still running past their deadline. Running `sync` again adds only what is
new (cases carry a key per project and per problem).

Plan delays (计划节点滞后) are measured too, from the register's planned dates: the working days
between a planned date and the date reached (or `as_of` when not reached yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin.core.calendar import CHINA_TZ, default_calendar
from jingxin.core.warehouse import Warehouse
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.models import WorkItem
from jingxin.projects import facts
from jingxin.projects.config import Deadlines, load_targets

STAGE_WORKFLOW = "project_stage"
PROBLEM_WORKFLOW = "project_problem"
CATEGORY = {"重大项目": "major", "技改项目": "tech", "招引项目": "attracted"}
STEPS = (
    ("started_on", "record_start"),
    ("production_on", "record_production"),
    ("capacity_on", "record_capacity"),
)
PLANNED = {
    "started_on": "planned_start_on",
    "production_on": "planned_production_on",
    "capacity_on": "planned_capacity_on",
}
STAGE_LABEL = {"started_on": "开工", "production_on": "投产", "capacity_on": "达产"}


@dataclass
class SyncReport:
    opened: int = 0
    steps: int = 0
    problems: int = 0
    outside_scope: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "opened": self.opened,
            "steps": self.steps,
            "problems": self.problems,
            "outside_scope": self.outside_scope,
            "errors": self.errors,
        }


def at(day: Any, hour: int = 10) -> datetime:
    """A reported date as a Beijing-time moment during office hours."""
    d = pd.Timestamp(day).date()
    return datetime.combine(d, time(hour), CHINA_TZ)


def _cases(db: Session, workflow: str) -> dict[str, WorkItem]:
    items = db.scalars(select(WorkItem).where(WorkItem.workflow == workflow)).all()
    return {str(i.key): i for i in items if i.key}


DUE_FIELDS = {  # the case's own deadline of each milestone, from the register's planned date
    "start_due_on": ("planned_start_on", "start"),
    "production_due_on": ("planned_production_on", "production"),
    "capacity_due_on": ("planned_capacity_on", "capacity"),
}


def milestone_deadlines(row: Any, deadlines: Deadlines | None = None) -> dict[str, str]:
    """Each milestone's deadline (节点时限): its planned date plus the grace in working days
    (`targets.yaml` `deadlines`), counted on the holiday calendar with 调休; none where the
    register gives no planned date."""
    grace = deadlines or load_targets().deadlines
    cal = default_calendar()
    out = {}
    for field_name, (column, key) in DUE_FIELDS.items():
        planned = getattr(row, column, None) if not isinstance(row, dict) else row.get(column)
        if planned is None or pd.isna(planned):
            continue
        out[field_name] = cal.add_working_days(pd.Timestamp(planned).date(), getattr(grace, key)).isoformat()
    return out


def sync(db: Session, wh: Warehouse, user: Any, until: date | None = None) -> SyncReport:
    """Open and advance the cases of every project in `user`'s scope up to `until` (default: all).

    A case opened here carries its milestones' deadlines (`milestone_deadlines`), so its clocks
    run to the project's own planned dates rather than one limit for all."""
    report = SyncReport()
    reg = facts.register(wh)
    deadlines = load_targets().deadlines
    limit = pd.Timestamp(until) if until else None
    cases = _cases(db, STAGE_WORKFLOW)
    for r in reg.itertuples(index=False):
        if limit is not None and r.signed_on > limit:
            continue
        if not user.scope.allows_enterprise(str(r.credit_code), str(r.county_code)):
            report.outside_scope += 1
            continue
        key = f"project:{r.project_id}"
        item = cases.get(key)
        try:
            if item is None:
                item = wf.start_item(
                    db,
                    STAGE_WORKFLOW,
                    user,
                    division_code=str(r.county_code),
                    credit_code=str(r.credit_code),
                    fields={
                        "title": str(r.project_name)[:200],
                        "project_id": str(r.project_id),
                        "category": CATEGORY[str(r.category)],
                        "signed_on": str(r.signed_on.date()),
                        **milestone_deadlines(r, deadlines),
                    },
                    key=key,
                    now=at(r.signed_on, 9),
                )
                report.opened += 1
            reported = [getattr(r, column) for column, _t in STEPS]
            reported = [None if pd.isna(d) or (limit is not None and d > limit) else d for d in reported]
            for k, (column, transition) in enumerate(STEPS):
                later = [d for d in reported[k:] if d is not None]
                if not later or item.fields.get(column):
                    continue
                when, comment = later[0], ""
                if reported[k] is None:  # a stage passed before the first report: dated by the next one
                    comment = f"未报{STAGE_LABEL[column]}日期，以后一阶段报告日期登记"
                if transition not in wf.allowed_transitions(item, user):
                    report.errors.append(f"{r.project_id}: 无权登记{STAGE_LABEL[column]}")
                    break
                item = wf.act(
                    db,
                    item.id,
                    transition,
                    user,
                    fields={column: str(when.date())},
                    comment=comment,
                    now=at(when),
                )
                report.steps += 1
        except wf.WorkflowError as exc:
            report.errors.append(f"{r.project_id}: {exc}")
    report.problems = _problems(db, wh, user, limit, reg, report)
    return report


def _problems(
    db: Session, wh: Warehouse, user: Any, limit: pd.Timestamp | None, reg: pd.DataFrame, report: SyncReport
) -> int:
    rows = facts.progress(wh)
    rows = rows[rows["problem"].notna()]
    names = reg.set_index("project_id")
    seen = _cases(db, PROBLEM_WORKFLOW)
    opened = 0
    for r in rows.itertuples(index=False):
        raised = pd.Timestamp(r.month) + pd.offsets.MonthEnd(0)
        if limit is not None and raised > limit:
            continue
        key = f"problem:{r.project_id}:{r.month}"
        if key in seen or r.project_id not in names.index:
            continue
        p = names.loc[r.project_id]
        if not user.scope.allows_enterprise(str(p["credit_code"]), str(p["county_code"])):
            continue
        try:
            wf.start_item(
                db,
                PROBLEM_WORKFLOW,
                user,
                division_code=str(p["county_code"]),
                credit_code=str(p["credit_code"]),
                fields={
                    "title": f"{str(p['project_name'])[:120]}：{r.problem}"[:200],
                    "project_id": str(r.project_id),
                    "problem": str(r.problem),
                },
                assigned={"department": str(r.problem_department or "经信")},
                key=key,
                now=at(raised, 11),
            )
            opened += 1
        except wf.WorkflowError as exc:
            report.errors.append(f"{r.project_id} {r.month}: {exc}")
    return opened


def raise_problem(
    db: Session,
    user: Any,
    project: dict[str, Any],
    problem: str,
    department: str,
    now: datetime | None = None,
) -> WorkItem:
    """A problem raised by hand (the county or the service worker) on a project of its scope."""
    from jingxin.core.contracts import load_contracts

    departments = sorted({s.department for s in load_contracts().sources.values()})
    if department not in departments:
        raise wf.FieldProblems(
            {"department": f"协调部门“{department[:20]}”不在部门名录中（{'、'.join(departments)}）"}
        )
    return wf.start_item(
        db,
        PROBLEM_WORKFLOW,
        user,
        division_code=str(project["county_code"]),
        credit_code=str(project["credit_code"]),
        fields={
            "title": f"{str(project['project_name'])[:120]}：{problem[:60]}",
            "project_id": str(project["project_id"]),
            "problem": problem,
        },
        assigned={"department": department},
        now=now,
    )


def plan_delays(reg: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Per project and stage: working days late against the planned date (0 when on time)."""
    cal = default_calendar()
    out = []
    for r in reg.itertuples(index=False):
        for column, _t in STEPS:
            planned = getattr(r, PLANNED[column])
            if pd.isna(planned) or planned.date() > as_of:
                continue
            reached = getattr(r, column)
            end = as_of if pd.isna(reached) else reached.date()
            late = cal.working_days_between(planned.date(), end)
            if late > 0:
                out.append(
                    {
                        "project_id": r.project_id,
                        "county_code": r.county_code,
                        "credit_code": r.credit_code,
                        "stage": STAGE_LABEL[column],
                        "planned_on": planned.date().isoformat(),
                        "reached_on": None if pd.isna(reached) else reached.date().isoformat(),
                        "working_days_late": late,
                    }
                )
    return pd.DataFrame(
        out,
        columns=[
            "project_id",
            "county_code",
            "credit_code",
            "stage",
            "planned_on",
            "reached_on",
            "working_days_late",
        ],
    )


def overdue(
    db: Session, user: Any, now: datetime, workflows: tuple[str, ...] = (STAGE_WORKFLOW, PROBLEM_WORKFLOW)
) -> list[dict[str, Any]]:
    """Project and problem cases in `user`'s scope with a clock past its deadline at `now`."""
    items = []
    for workflow in workflows:
        found, _n = wf.list_items(db, user.scope, workflow=workflow, open_only=True, limit=100_000)
        items += found
    out = []
    for item in items:
        for clock in item.clocks:
            due = clock.due_at
            if clock.status == "running" and due is not None and _utc_naive(due) < _utc_naive(now):
                out.append(
                    {
                        "id": item.id,
                        "title": item.fields.get("title"),
                        "project_id": item.fields.get("project_id"),
                        "county_code": item.division_code,
                        "state": item.state,
                        "clock": clock.name,
                        "due_at": _utc_naive(due).isoformat(),
                        "level": item.level,
                    }
                )
    return out


def next_deadline(item: WorkItem, now: datetime) -> dict[str, Any] | None:
    """The milestone a project case is waiting for: its label, deadline (Beijing date) and
    whether it is overdue at `now` (flagged by the sweep, or past due already)."""
    from jingxin.core.workflow.config import load_workflow

    definition = load_workflow(item.workflow)
    for clock in item.clocks:
        if clock.status in ("running", "paused") and clock.due_at is not None:
            cdef = definition.clocks.get(clock.name)
            return {
                "label": cdef.label if cdef else clock.name,
                "due_on": clock.due_at.astimezone(CHINA_TZ).date().isoformat(),
                "overdue": clock.overdue_at is not None or _utc_naive(clock.due_at) < _utc_naive(now),
            }
    return None


def _utc_naive(moment: datetime) -> datetime:
    from datetime import UTC

    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
