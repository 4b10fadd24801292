"""Schedules: due times by rule (daily, monthly, first Chinese working day with 调休), catch-up
once after downtime, one run per occurrence across processes, admin editing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from jingxin.core.db import Database
from jingxin.core.jobs import schedules
from jingxin.core.jobs.models import Job, JobLog, JobScheduleRun
from jingxin.core.jobs.workdays import first_working_day, is_working_day

pytest_plugins = ["jingxin.web.pytest_fixtures"]

CST = dt.timezone(dt.timedelta(hours=8))


def at(*args: int) -> dt.datetime:
    """A Beijing time as an aware datetime."""
    return dt.datetime(*args, tzinfo=CST)


def test_first_working_day_follows_the_holiday_calendar() -> None:
    # 2026: New Year's holiday 1–3 January, Sunday 4 January is a working day (调休)
    assert not is_working_day(dt.date(2026, 1, 1)) and is_working_day(dt.date(2026, 1, 4))
    assert first_working_day(2026, 1) == dt.date(2026, 1, 4)
    # National Day: 1–8 October 2025 off
    assert first_working_day(2025, 10) == dt.date(2025, 10, 9)
    assert first_working_day(2025, 11) == dt.date(2025, 11, 3)  # 1st is a Saturday


def test_due_times_by_rule() -> None:
    now = at(2026, 1, 20, 9, 0)
    assert schedules.latest_due("daily", None, "02:00", now) == at(2026, 1, 20, 2, 0)
    assert schedules.latest_due("daily", None, "10:00", now) == at(2026, 1, 19, 10, 0)
    assert schedules.latest_due("monthly", 25, "02:00", now) == at(2025, 12, 25, 2, 0)
    assert schedules.latest_due("monthly", 31, "02:00", at(2026, 3, 1)) == at(2026, 2, 28, 2, 0)
    assert schedules.latest_due("first_working_day", None, "07:00", now) == at(2026, 1, 4, 7, 0)
    after = schedules.occurrences_after("first_working_day", None, "07:00", now)
    assert next(after) == at(2026, 2, 2, 7, 0)
    with pytest.raises(schedules.ScheduleError, match="HH:MM"):
        schedules.check_rule("daily", None, "25:00")
    with pytest.raises(schedules.ScheduleError, match="1–31"):
        schedules.check_rule("monthly", None, "02:00")


def test_hourly_due_times_use_only_the_minute() -> None:
    now = at(2026, 1, 20, 9, 10)
    assert schedules.latest_due("hourly", None, "00:05", now) == at(2026, 1, 20, 9, 5)
    assert schedules.latest_due("hourly", None, "00:15", now) == at(2026, 1, 20, 8, 15)
    assert schedules.latest_due("hourly", None, "00:10", now) == now  # due at that very minute
    # the hour of `at` does not matter; the stored form keeps only the minute
    assert schedules.latest_due("hourly", None, "17:05", now) == at(2026, 1, 20, 9, 5)
    assert schedules.normalise_at("hourly", "17:05") == "00:05"
    assert schedules.normalise_at("daily", "17:05") == "17:05"
    after = schedules.occurrences_after("hourly", None, "00:05", at(2026, 1, 20, 23, 5))
    assert [next(after) for _ in range(3)] == [
        at(2026, 1, 21, 0, 5),
        at(2026, 1, 21, 1, 5),
        at(2026, 1, 21, 2, 5),
    ]
    with pytest.raises(schedules.ScheduleError, match="HH:MM"):
        schedules.check_rule("hourly", None, "00:60")


def test_hourly_schedule_catches_up_once_after_downtime(db_session) -> None:
    s = _schedule(db_session, at(2026, 3, 1, 12, 0), rule="hourly", at_time="12:20")
    assert s.at == "00:20" and schedules.describe(s) == "每小时第 20 分"
    queued: list[int] = []
    assert len(schedules.tick(db_session, queued.append, at(2026, 3, 1, 12, 25))) == 1
    assert schedules.tick(db_session, queued.append, at(2026, 3, 1, 13, 19)) == []
    # down from 12:25 until 17:40: the runs of 13:20 … 17:20 were due (five); one run only
    started = schedules.tick(db_session, queued.append, at(2026, 3, 1, 17, 40))
    assert len(started) == 1
    assert schedules.tick(db_session, queued.append, at(2026, 3, 1, 17, 59)) == []
    runs = db_session.scalars(select(JobScheduleRun).order_by(JobScheduleRun.due_at)).all()
    assert [(r.due_at, r.missed) for r in runs] == [(at(2026, 3, 1, 12, 20), 0), (at(2026, 3, 1, 17, 20), 4)]
    assert schedules.next_due(s, at(2026, 3, 1, 17, 40)) == at(2026, 3, 1, 18, 20)


def _schedule(db, created: dt.datetime, rule: str = "daily", day: int | None = None, at_time: str = "02:00"):
    s, _ = schedules.save_schedule(
        db,
        by="admin",
        name="nightly-cleanup",
        kind="jobs.cleanup",
        params={"keep_days": 30},
        rule=rule,
        day=day,
        at=at_time,
        enabled=True,
    )
    s.created_at = created
    db.commit()
    return s


def test_missed_runs_after_downtime_are_caught_up_once(db_session) -> None:
    s = _schedule(db_session, at(2026, 3, 1, 12, 0))
    queued: list[int] = []
    # up and ticking on 2 March 03:00: the 02:00 run of 2 March starts
    assert len(schedules.tick(db_session, queued.append, at(2026, 3, 2, 3, 0))) == 1
    assert schedules.tick(db_session, queued.append, at(2026, 3, 2, 3, 1)) == []
    # down from 2 March to 9 March 10:00: 7 nightly runs were due (3..9 March); one run only
    started = schedules.tick(db_session, queued.append, at(2026, 3, 9, 10, 0))
    assert len(started) == 1 and queued == [*queued[:1], started[0]]
    assert schedules.tick(db_session, queued.append, at(2026, 3, 9, 10, 5)) == []
    runs = db_session.scalars(select(JobScheduleRun).order_by(JobScheduleRun.due_at)).all()
    assert [(r.due_at, r.missed) for r in runs] == [(at(2026, 3, 2, 2, 0), 0), (at(2026, 3, 9, 2, 0), 6)]
    job = db_session.get(Job, started[0])
    assert (
        job.kind == "jobs.cleanup"
        and job.owner_name == "schedule:nightly-cleanup"
        and job.params == {"keep_days": 30}
    )
    notes = db_session.scalars(select(JobLog.message).where(JobLog.job_id == job.id)).all()
    assert any("错过 6 次，补运行一次" in n for n in notes)
    db_session.refresh(s)
    assert s.last_due_at == at(2026, 3, 9, 2, 0)


def test_two_processes_ticking_at_once_start_one_run(platform_url: str) -> None:
    one, two = Database(platform_url), Database(platform_url)
    try:
        with one.session() as db:
            _schedule(db, at(2026, 2, 1), rule="first_working_day")
        now = at(2026, 3, 2, 9, 0)  # 2 March 2026 is a Monday, the first working day
        with one.session() as a, two.session() as b:
            first = schedules.tick(a, lambda _: None, now)
            second = schedules.tick(b, lambda _: None, now)
        assert len(first) + len(second) == 1
        with one.session() as db:
            assert db.scalar(select(JobScheduleRun.due_at)) == at(2026, 3, 2, 7 - 5, 0) + dt.timedelta(
                hours=0
            )
    finally:
        one.dispose()
        two.dispose()


def test_admins_edit_schedules_others_may_not(web_client, demo_users, web_app) -> None:
    from jingxin.core import audit
    from jingxin.web.testing import login

    token = login(web_client, "sheng")
    assert web_client.get("/jobs/schedules").status_code == 403
    assert web_client.get("/api/v1/jobs/schedules").status_code == 403
    web_client.cookies.clear()
    token = login(web_client, "admin")
    page = web_client.get("/jobs/schedules")
    assert (
        page.status_code == 200
        and "每日清理 90 天前的作业记录" in page.text
        and "每月第一个工作日" in page.text
    )
    listed = {s["name"]: s for s in web_client.get("/api/v1/jobs/schedules").json()}
    monthly = listed["evaluation-monthly"]
    assert monthly["enabled"] is False and monthly["rule"] == "first_working_day"
    changed = web_client.put(
        f"/api/v1/jobs/schedules/{monthly['id']}",
        json={
            "rule": "monthly",
            "day": 5,
            "at": "06:30",
            "enabled": True,
            "params": {"system": "zhejiang_services"},
        },
        headers={"X-CSRF-Token": token},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["description"] == "每月 5 日 06:30" and changed.json()["next_due_at"] is not None
    bad = web_client.put(
        f"/api/v1/jobs/schedules/{monthly['id']}",
        json={"rule": "monthly", "day": 5, "at": "06:30", "enabled": True, "params": {"system": 3}},
        headers={"X-CSRF-Token": token},
    )
    assert bad.status_code == 422 and "作业参数不正确" in bad.json()["detail"]
    with web_app.state.db.session() as db:
        entries = audit.search(db, action="config_change", limit=10)[0]
    assert entries and entries[0].object_id == "evaluation-monthly" and "rule" in entries[0].detail["changes"]
    # the edit page's form takes the hourly rule
    saved = web_client.post(
        "/jobs/schedules",
        data={
            "csrf_token": token,
            "schedule_id": monthly["id"],
            "rule": "hourly",
            "at": "08:45",
            "enabled": "1",
            "params": '{"system": "zhejiang_services"}',
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    again = {s["name"]: s for s in web_client.get("/api/v1/jobs/schedules").json()}["evaluation-monthly"]
    assert again["rule"] == "hourly" and again["at"] == "00:45" and again["description"] == "每小时第 45 分"
    assert "每小时" in web_client.get("/jobs/schedules").text


def test_a_server_starting_after_downtime_catches_up_once(web_settings, platform_db) -> None:
    import time

    from jingxin.core.db import utcnow
    from jingxin.core.jobs.runner import JobRuntime
    from jingxin.web.warehouse import WarehouseAccess

    with platform_db.session() as db:
        s = _schedule(db, utcnow() - dt.timedelta(days=30))
        s.last_due_at = utcnow() - dt.timedelta(days=10)  # the platform was down ten days
        db.commit()
        schedule_id = s.id
    warehouse = WarehouseAccess(web_settings.warehouse_url)
    for _ in range(2):  # started, stopped, started again: still one catch-up run
        runtime = JobRuntime(web_settings, platform_db, warehouse)
        runtime.start()
        try:
            deadline = time.monotonic() + 20
            while True:
                with platform_db.session() as db:
                    jobs = db.scalars(select(Job).where(Job.owner_name == "schedule:nightly-cleanup")).all()
                    if jobs and all(j.status == "succeeded" for j in jobs):
                        break
                assert time.monotonic() < deadline
                time.sleep(0.1)
        finally:
            runtime.stop()
    warehouse.close()
    with platform_db.session() as db:
        # this schedule's runs only: a default schedule made at the first start (the hourly
        # workflow sweep) has a run of its own when the test crosses the hour
        runs = db.scalars(select(JobScheduleRun).where(JobScheduleRun.schedule_id == schedule_id)).all()
        assert len(runs) == 1 and runs[0].missed in (9, 10) and len(jobs) == 1
