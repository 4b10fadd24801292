"""Schedules (定时任务): periodic jobs that admins see and edit, each run recorded.

Rules, in the platform's time zone (`JINGXIN_TIMEZONE`, Asia/Shanghai):

- `hourly` every hour at minute MM (`at` is stored as "00:MM": the hour is not used, and
  `save_schedule` writes it as 00 so the table and the edit page show only the minute that
  counts);
- `daily` at HH:MM;
- `monthly` on day N at HH:MM (the month's last day when it is shorter);
- `first_working_day`: the month's first Chinese working day at HH:MM (调休 included, see
  `jingxin.core.jobs.workdays`).

`tick(db, now)` is called every `JINGXIN_SCHEDULE_EVERY` seconds by every process that runs
jobs, and once at start. For each enabled schedule it takes the latest occurrence due by `now`;
if that is newer than the last one handled, it records ONE run for it, whatever number of
occurrences were missed while the platform was down (the run says how many), and submits its
job. The run is unique per (schedule, due time), so processes ticking at the same moment start
it once. A new schedule starts with the first occurrence after it was made.

Scenarios offer default schedules with `default_schedule(ScheduleSpec(...))`; they are written
to the table (disabled unless said otherwise) when the server starts, and from then on belong to
the admins who edit them.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jingxin.core.db import utcnow
from jingxin.core.jobs import service
from jingxin.core.jobs.config import get_job_settings
from jingxin.core.jobs.models import Job, JobLog, JobSchedule, JobScheduleRun
from jingxin.core.jobs.registry import JobRefused, get_kind
from jingxin.core.jobs.service import changed, writing
from jingxin.core.jobs.workdays import first_working_day
from jingxin.core.scope import Scope

log = logging.getLogger(__name__)

RULES = {
    "hourly": "每小时",
    "daily": "每天",
    "monthly": "每月指定日",
    "first_working_day": "每月第一个工作日",
}
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_MISSED_COUNT = 10_000  # occurrences counted when reporting a long downtime


class ScheduleError(ValueError):
    """A schedule setting that cannot be used; the message is Chinese."""


@dataclass(frozen=True)
class ScheduleSpec:
    """A default schedule a scenario offers (see the module docstring)."""

    name: str
    title: str
    kind: str
    rule: str
    at: str = "02:00"
    day: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    enabled: bool = False


_defaults: dict[str, ScheduleSpec] = {}


def default_schedule(spec: ScheduleSpec) -> ScheduleSpec:
    check_rule(spec.rule, spec.day, spec.at)
    _defaults[spec.name] = spec
    return spec


def zone() -> ZoneInfo:
    return ZoneInfo(get_job_settings().timezone)


def check_rule(rule: str, day: int | None, at: str) -> None:
    if rule not in RULES:
        raise ScheduleError(f"未知的周期规则 {rule!r}，应为 {'、'.join(RULES)}")
    if not _TIME.match(at or ""):
        raise ScheduleError(f"时间 {at!r} 应为 24 小时制 HH:MM，如 02:30")
    if rule == "monthly" and (day is None or not 1 <= day <= 31):
        raise ScheduleError("每月指定日的规则须给出 1–31 之间的日期")


def normalise_at(rule: str, at: str) -> str:
    """The stored form of `at`: an hourly rule keeps only the minute ("00:MM")."""
    return f"00:{at[3:5]}" if rule == "hourly" and _TIME.match(at or "") else at


def describe(s: JobSchedule) -> str:
    if s.rule == "hourly":
        return f"每小时第 {int(s.at[3:5])} 分"
    if s.rule == "daily":
        return f"每天 {s.at}"
    if s.rule == "monthly":
        return f"每月 {s.day} 日 {s.at}"
    return f"每月第一个工作日 {s.at}"


# ---- occurrences ----------------------------------------------------------------------------


def _months(start: dt.date) -> Iterator[tuple[int, int]]:
    year, month = start.year, start.month
    while True:
        yield year, month
        month += 1
        if month > 12:
            year, month = year + 1, 1


def _months_back(start: dt.date) -> Iterator[tuple[int, int]]:
    year, month = start.year, start.month
    while True:
        yield year, month
        month -= 1
        if month < 1:
            year, month = year - 1, 12


def _day_in_month(rule: str, day: int | None, year: int, month: int) -> dt.date:
    if rule == "first_working_day":
        return first_working_day(year, month)
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day or 1, last))


def _at(date: dt.date, at: str, tz: ZoneInfo) -> dt.datetime:
    hour, minute = (int(p) for p in at.split(":"))
    return dt.datetime(date.year, date.month, date.day, hour, minute, tzinfo=tz).astimezone(dt.UTC)


def _hour_mark(moment: dt.datetime, at: str, tz: ZoneInfo) -> dt.datetime:
    """Minute MM of `at` within the local hour of `moment`, in UTC. Stepping on from it in
    whole UTC hours keeps the local minute: zone offsets change by whole hours."""
    minute = int(at[3:5])
    return moment.astimezone(tz).replace(minute=minute, second=0, microsecond=0).astimezone(dt.UTC)


def occurrences_after(rule: str, day: int | None, at: str, after: dt.datetime) -> Iterator[dt.datetime]:
    """Due times (UTC) strictly after `after`, in order, without end."""
    tz = zone()
    local = after.astimezone(tz).date()
    if rule == "hourly":
        moment = _hour_mark(after, at, tz)
        while True:
            if moment > after:
                yield moment
            moment += dt.timedelta(hours=1)
    elif rule == "daily":
        date = local - dt.timedelta(days=1)
        while True:
            moment = _at(date, at, tz)
            if moment > after:
                yield moment
            date += dt.timedelta(days=1)
    else:
        start = dt.date(local.year, local.month, 1)
        for year, month in _months(start - dt.timedelta(days=1)):
            moment = _at(_day_in_month(rule, day, year, month), at, tz)
            if moment > after:
                yield moment


def latest_due(rule: str, day: int | None, at: str, now: dt.datetime) -> dt.datetime:
    """The latest due time (UTC) at or before `now`."""
    tz = zone()
    local = now.astimezone(tz).date()
    if rule == "hourly":
        moment = _hour_mark(now, at, tz)
        return moment if moment <= now else moment - dt.timedelta(hours=1)
    if rule == "daily":
        date = local
        while _at(date, at, tz) > now:
            date -= dt.timedelta(days=1)
        return _at(date, at, tz)
    for year, month in _months_back(local):
        moment = _at(_day_in_month(rule, day, year, month), at, tz)
        if moment <= now:
            return moment
    raise AssertionError("unreachable")


def next_due(s: JobSchedule, now: dt.datetime | None = None) -> dt.datetime:
    return next(occurrences_after(s.rule, s.day, s.at, now or utcnow()))


def _missed_between(s: JobSchedule, after: dt.datetime, latest: dt.datetime) -> int:
    count = 0
    for moment in occurrences_after(s.rule, s.day, s.at, after):
        if moment >= latest or count >= MAX_MISSED_COUNT:
            break
        count += 1
    return count


# ---- the tick -------------------------------------------------------------------------------


def ensure_defaults(db: Session) -> None:
    """Write the scenarios' default schedules that are not in the table yet."""
    if not _defaults:
        return
    with writing(db):
        _ensure_defaults(db)


def _ensure_defaults(db: Session) -> None:
    have = set(db.scalars(select(JobSchedule.name)))
    now = utcnow()
    added = False
    for spec in _defaults.values():
        if spec.name in have:
            continue
        db.add(
            JobSchedule(
                name=spec.name,
                title=spec.title,
                kind=spec.kind,
                params=dict(spec.params),
                rule=spec.rule,
                day=spec.day,
                at=normalise_at(spec.rule, spec.at),
                enabled=spec.enabled,
                created_at=now,
                updated_at=now,
                updated_by="system",
            )
        )
        added = True
    if added:
        try:
            db.commit()
        except IntegrityError:  # another process wrote them at the same moment
            db.rollback()


def tick(db: Session, enqueue: Callable[[int], None], now: dt.datetime | None = None) -> list[int]:
    """Start the runs due by `now` (see the module docstring); returns the jobs started."""
    now = now or utcnow()
    started: list[int] = []
    for s in db.scalars(
        select(JobSchedule).where(JobSchedule.enabled.is_(True)).order_by(JobSchedule.id)
    ).all():
        latest = latest_due(s.rule, s.day, s.at, now)
        baseline = s.last_due_at or s.created_at
        if latest <= baseline:
            continue
        missed = _missed_between(s, baseline, latest) if s.last_due_at is not None else 0
        job_id = _start_run(db, s, latest, missed)
        if job_id is not None:
            started.append(job_id)
            enqueue(job_id)
    return started


def _start_run(db: Session, s: JobSchedule, due: dt.datetime, missed: int) -> int | None:
    with writing(db):
        return _start_run_locked(db, s, due, missed)


def _start_run_locked(db: Session, s: JobSchedule, due: dt.datetime, missed: int) -> int | None:
    try:
        run = JobScheduleRun(schedule_id=s.id, due_at=due, missed=missed, created_at=utcnow())
        db.add(run)
        db.flush()
        advanced = changed(
            db,
            update(JobSchedule)
            .where(
                JobSchedule.id == s.id, or_(JobSchedule.last_due_at.is_(None), JobSchedule.last_due_at < due)
            )
            .values(last_due_at=due),
        )
        if not advanced:
            db.rollback()
            return None
        try:
            job, _ = service.submit(
                db, s.kind, dict(s.params or {}), owner_name=f"schedule:{s.name}"[:64], scope=Scope()
            )
        except JobRefused as exc:
            log.error("定时任务 %s 未能启动作业：%s", s.name, exc)
            db.commit()
            return None
        run.job_id = job.id
        if missed:
            db.add(JobLog(job_id=job.id, message=f"停机期间错过 {missed} 次，补运行一次", at=utcnow()))
        db.commit()
        return job.id
    except IntegrityError:  # another process started this occurrence
        db.rollback()
        return None


# ---- reading and editing --------------------------------------------------------------------


def list_schedules(db: Session) -> list[JobSchedule]:
    return list(db.scalars(select(JobSchedule).order_by(JobSchedule.name)))


def get_schedule(db: Session, schedule_id: int) -> JobSchedule:
    s = db.get(JobSchedule, schedule_id)
    if s is None:
        raise ScheduleError(f"定时任务 {schedule_id} 不存在")
    return s


def runs(db: Session, schedule_id: int, limit: int = 50) -> list[tuple[JobScheduleRun, Job | None]]:
    rows = db.execute(
        select(JobScheduleRun, Job)
        .outerjoin(Job, Job.id == JobScheduleRun.job_id)
        .where(JobScheduleRun.schedule_id == schedule_id)
        .order_by(JobScheduleRun.due_at.desc())
        .limit(limit)
    ).all()
    return [(r, j) for r, j in rows]


def save_schedule(
    db: Session,
    *,
    by: str,
    schedule_id: int | None = None,
    name: str | None = None,
    title: str | None = None,
    kind: str | None = None,
    params: dict[str, Any] | None = None,
    rule: str,
    day: int | None,
    at: str,
    enabled: bool,
) -> tuple[JobSchedule, dict[str, Any]]:
    """Create (no `schedule_id`) or change a schedule; returns it and what changed (for the
    audit log). Parameters are checked against the job kind now, not at 2 a.m."""
    check_rule(rule, day, at)
    at = normalise_at(rule, at)
    day = day if rule == "monthly" else None
    s = get_schedule(db, schedule_id) if schedule_id is not None else None
    kind_name = kind or (s.kind if s else "")
    job_kind = get_kind(kind_name)
    if not job_kind.scheduled:
        raise ScheduleError(f"「{job_kind.title}」不能定时运行")
    new_params = params if params is not None else (dict(s.params or {}) if s else {})
    try:
        job_kind.params.model_validate(new_params)
    except Exception as exc:
        raise ScheduleError(f"作业参数不正确：{exc}") from None
    now = utcnow()
    if s is None:
        if not name or not re.match(r"^[a-z0-9][a-z0-9_.-]{1,63}$", name):
            raise ScheduleError("名称须为2–64位小写字母、数字或 _.-")
        if db.scalar(select(JobSchedule).where(JobSchedule.name == name)) is not None:
            raise ScheduleError(f"定时任务 {name} 已存在")
        s = JobSchedule(name=name, title=(title or job_kind.title)[:200], kind=kind_name, created_at=now)
        db.add(s)
        before: dict[str, Any] = {}
    else:
        before = {"rule": s.rule, "day": s.day, "at": s.at, "enabled": s.enabled, "params": s.params}
    s.params = new_params
    s.rule, s.day, s.at, s.enabled = rule, day, at, enabled
    if title:
        s.title = title[:200]
    s.updated_at, s.updated_by = now, by
    if s.last_due_at is not None and (before.get("rule"), before.get("day"), before.get("at")) != (
        rule,
        day,
        at,
    ):
        # A changed rule starts afresh from now: earlier occurrences of the new rule are not
        # "missed", they never existed.
        s.last_due_at = now
    if before.get("enabled") is False and enabled:
        s.last_due_at = now  # switched back on: what passed while it was off is not owed
    after = {"rule": rule, "day": day, "at": at, "enabled": enabled, "params": new_params}
    changes = {k: {"from": before.get(k), "to": v} for k, v in after.items() if before.get(k) != v}
    db.flush()
    return s, changes
