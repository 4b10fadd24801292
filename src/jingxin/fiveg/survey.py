"""The one joint site survey (联合踏勘) of a 5G application: when, where, who, by when.

The county bureau schedules the survey within the application's survey deadline: the case's
`survey` clock (5 working days from filing, `fiveg_application.yaml`), counted by the workflow
engine on the official calendar with 调休 (`jingxin.core.calendar`). A survey date is accepted
only if it is a working day on that calendar, is not in the past and is not after the deadline;
once the deadline has passed (the case is overdue and escalated), only the next two working days
are offered, so a late survey is not pushed further. Scheduling it stops the `schedule` clock
(2 working days). The parties (参加单位) are the county bureau, the departments that approve the
site type (`config.yaml`) and the operator; the departments' liaisons are told by the inbox,
the operator and the handlers through the workflow's `survey_scheduled` notification. A
scheduled survey may be moved (改期) with a reason, under the same rules.

Who sees the schedule: `schedule_rows` lists the open surveys through `Scope`, so an operator
sees its own applications', a county its region's; a department liaison is told by
notification and sees its approval once the survey is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin.core.calendar import CHINA_TZ
from jingxin.core.db import utcnow
from jingxin.core.notify.service import notify
from jingxin.core.scope import Scope
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.config import load_workflow
from jingxin.core.workflow.models import WorkItem
from jingxin.fiveg.service import APPLICATION, FiveGError, settings

WEEKDAYS = "一二三四五六日"
LATE_WINDOW_DAYS = 2  # working days offered once the survey deadline has passed (assumption)


def _calendar() -> Any:
    return load_workflow(APPLICATION).hours.cal


def weekday(day: date) -> str:
    return f"星期{WEEKDAYS[day.weekday()]}"


def parties(item: WorkItem) -> list[str]:
    """Who takes part in the survey: the county bureau, the approving departments, the operator."""
    depts = settings().site_types[item.fields["site_type"]].departments
    return ["县（市、区）经信局", *depts, "申请单位（运营商）"]


@dataclass(frozen=True)
class Window:
    """The dates a survey may be set on: working days from `earliest` to `latest`."""

    earliest: date
    latest: date
    deadline: datetime | None  # the survey clock's due moment, Beijing time
    late: bool  # the deadline has passed

    def working_days(self) -> list[date]:
        cal = _calendar()
        days, day = [], self.earliest
        while day <= self.latest:
            if cal.is_working_day(day):
                days.append(day)
            day += timedelta(days=1)
        return days


def window(item: WorkItem, now: datetime | None = None) -> Window:
    now = (now or utcnow()).astimezone(CHINA_TZ)
    cal = _calendar()
    today = now.date()
    earliest = today if cal.is_working_day(today) else cal.next_working_day(today)
    clock = item.clock("survey")
    due = clock.due_at.astimezone(CHINA_TZ) if clock is not None and clock.due_at is not None else None
    if due is not None and due > now:
        return Window(earliest, due.date(), due, False)
    return Window(earliest, cal.add_working_days(today, LATE_WINDOW_DAYS), due, due is not None)


def check_date(item: WorkItem, on: date, now: datetime | None = None) -> None:
    """Refuse a survey date that is not a working day, is past, or is after the deadline."""
    w = window(item, now)
    choices = "、".join(d.isoformat() for d in w.working_days()[:6]) or "无"
    hint = f"可选的工作日：{choices}"
    if not _calendar().is_working_day(on):
        raise FiveGError(
            f"踏勘日期 {on.isoformat()}（{weekday(on)}）不是工作日（周末或法定节假日，按国务院办公厅"
            f"节假日安排含调休）；请改选工作日。{hint}"
        )
    if on < w.earliest:
        raise FiveGError(f"踏勘日期 {on.isoformat()} 早于今天，不能安排在过去；{hint}")
    if on > w.latest:
        if w.late:
            raise FiveGError(
                f"踏勘已超过时限（{w.deadline:%Y-%m-%d %H:%M}），须在 {LATE_WINDOW_DAYS} 个工作日内"
                f"（{w.latest.isoformat()} 前）完成；{hint}"
            )
        raise FiveGError(
            f"踏勘日期 {on.isoformat()} 晚于踏勘时限 {w.latest.isoformat()}"
            f"（申请后 5 个工作日）；请在时限内安排。{hint}"
        )


def _describe(on: date, place: str, who: list[str]) -> str:
    where = f"，集合地点：{place}" if place else ""
    return f"踏勘日期 {on.isoformat()}（{weekday(on)}）{where}；参加单位：{'、'.join(who)}"


def _tell_departments(db: Session, item: WorkItem, text: str, on: date) -> None:
    """The liaisons of the approving departments learn the survey's date and place."""
    from jingxin.accounts.models import User  # the platform's users (like core/workflow/events)

    depts = settings().site_types[item.fields["site_type"]].departments
    users = db.scalars(
        select(User).where(User.role == "liaison", User.department.in_(depts), User.is_active)
    ).all()
    notify(
        db,
        [u for u in users if u.scope.allows_division(item.division_code)],
        event="survey_scheduled",
        title=f"联合踏勘通知：{item.fields['site_name']}",
        body=text,
        link="/fiveg",
        workflow=APPLICATION,
        item_id=item.id,
        dedupe_key=f"fiveg-survey:{item.id}:{on.isoformat()}",
    )


def schedule(
    db: Session,
    user: Any,
    item_id: int,
    on: date,
    place: str = "",
    reason: str = "",
    now: datetime | None = None,
) -> WorkItem:
    """Schedule (or, with `reason`, move) the joint survey of an application."""
    item = wf.get_item(db, user.scope, item_id)
    if item.workflow != APPLICATION:
        raise wf.ItemNotFound("不是5G基站申请")
    step = "reschedule_survey" if item.state == "survey_scheduled" else "schedule_survey"
    definition = load_workflow(APPLICATION)
    if not wf.may_take(definition, item, definition.transitions[step].roles, user):
        raise wf.NotAllowed("您无权安排此申请的联合踏勘（由所在县（市、区）经信局安排）")
    if item.state not in definition.transitions[step].from_:
        raise wf.InvalidTransition(f"申请当前为“{definition.states[item.state].label}”，不能安排踏勘")
    check_date(item, on, now)
    place = place.strip()
    who = parties(item)
    text = _describe(on, place, who)
    fields: dict[str, str] = {"survey_on": on.isoformat()}
    if place:
        fields["survey_place"] = place
    if step == "reschedule_survey":
        if not reason.strip():
            raise FiveGError("踏勘改期须说明原因（如天气、部门人员冲突），请填写改期原因")
        fields["survey_note"] = reason.strip()
        text = f"改期：{reason.strip()}。{text}"
    else:
        fields["survey_parties"] = "、".join(who)
    done = wf.act(db, item.id, step, user, fields=fields, comment=text, now=now)
    _tell_departments(db, done, text, on)
    db.commit()
    return done


@dataclass(frozen=True)
class SurveyRow:
    item_id: int
    site_name: str
    division_code: str
    state: str
    survey_on: date | None
    place: str
    parties: str
    schedule_due: datetime | None
    survey_due: datetime | None
    overdue: bool


def schedule_rows(db: Session, scope: Scope, now: datetime | None = None) -> list[SurveyRow]:
    """Applications waiting for their survey (to be scheduled, or scheduled), inside `scope`,
    soonest first; `overdue` when the clock that runs now has passed its deadline."""
    now = now or utcnow()
    rows = []
    for state in ("filed", "survey_scheduled"):
        items, _ = wf.list_items(db, scope, workflow=APPLICATION, state=state, limit=10_000)
        for it in items:
            sched, surv = it.clock("schedule"), it.clock("survey")
            running = sched if state == "filed" else surv
            on = it.fields.get("survey_on")
            rows.append(
                SurveyRow(
                    it.id,
                    it.fields.get("site_name", ""),
                    it.division_code,
                    state,
                    date.fromisoformat(on) if on and state == "survey_scheduled" else None,
                    it.fields.get("survey_place", ""),
                    it.fields.get("survey_parties", "") or "、".join(parties(it)),
                    sched.due_at if sched else None,
                    surv.due_at if surv else None,
                    bool(
                        running
                        and running.status == "running"
                        and running.due_at is not None
                        and running.due_at <= now
                    ),
                )
            )
    return sorted(rows, key=lambda r: (r.survey_on or date.max, r.survey_due or now, r.item_id))
