"""5G "一件事": the operator role stays inside its own applications (tries to cross fail),
exclusion zones, one joint survey, parallel approvals by departments with working-day limits
across the 2021 National Day holiday, a late one escalated, the join, build and power-on,
progress by county and approval time by department; and the parallel-branch core itself."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from jingxin.core.auth import Role, scope_for
from jingxin.core.db import Database
from jingxin.core.notify.models import Notification
from jingxin.core.scope import Scope
from jingxin.core.workflow import parallel
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.sweep import sweep
from jingxin.core.workflow.testing import bj, make_people
from jingxin.fiveg import service, survey

pytest_plugins = ["jingxin.web.pytest_fixtures"]

# 2021-09-30 (Thu) is a working day, 10-01..10-07 the National Day holiday, 10-09 (Sat) a
# working day by 调休. The core counts N working days after the start day: three working days
# from 09-30 10:00 are 10-08, 10-09 (Saturday, 调休) and 10-11, ending at closing time.
FILED = bj(2021, 9, 29, 10)
SURVEYED = bj(2021, 9, 30, 10)


@pytest.fixture(scope="module")
def world(_sqlite_template, tmp_path_factory, fast_password_hashing) -> Any:
    target = tmp_path_factory.mktemp("fiveg") / "platform.sqlite"
    shutil.copyfile(_sqlite_template, target)
    database = Database(f"sqlite:///{target}")
    db = database.session()
    people = make_people(db)  # with the operators yidong and liantong
    yield db, people
    db.close()
    database.dispose()


def test_operator_scope_is_its_own_credit_code() -> None:
    s = scope_for(Role.OPERATOR, "330106", credit_code="91330106MA27XXXX0X")
    assert s.pinned and not s.allows_division("330106")
    assert s.allows_record("330106", "91330106MA27XXXX0X") and not s.allows_record(
        "330106", "913301060000000000"
    )
    with pytest.raises(ValueError):
        scope_for(Role.OPERATOR, "330106")


def test_exclusion_zone_and_bad_input_refused(world: Any) -> None:
    db, p = world
    with pytest.raises(service.FiveGError, match="机场净空"):
        service.file_application(
            db,
            p["yidong"],
            county="330109",
            site_name="机场旁",
            site_type="tower",
            power="grid",
            lon=120.44,
            lat=30.23,
            now=FILED,
        )
    with pytest.raises(service.FiveGError, match="经度应为数字"):
        service.file_application(
            db,
            p["yidong"],
            county="330106",
            site_name="x",
            site_type="tower",
            power="grid",
            lon="东经",
            lat=30.2,
            now=FILED,
        )
    with pytest.raises(wf.NotAllowed):  # a county analyst cannot file as an operator
        service.file_application(
            db,
            p["xihu"],
            county="330106",
            site_name="x",
            site_type="tower",
            power="grid",
            lon=120.10,
            lat=30.30,
            now=FILED,
        )


def test_application_end_to_end_with_parallel_approvals(world: Any) -> None:
    db, p = world
    op, other = p["yidong"], p["liantong"]
    app = service.file_application(
        db,
        op,
        county="330106",
        site_name="西溪湿地北站",
        site_type="tower",
        power="grid",
        lon=120.07,
        lat=30.28,
        now=FILED,
    )
    service.attach(db, op, app.id, "图纸.pdf", b"%PDF-1.4 drawing")
    # scope: the other operator, a neighbouring county and the tax liaison see nothing
    for outsider in (other, p["shangcheng"], p["lucheng"], p["liaison-sw"], p["qiye"]):
        with pytest.raises(wf.ItemNotFound):
            wf.get_item(db, outsider.scope, app.id)
    with pytest.raises(wf.ItemNotFound):
        service.attach(db, other, app.id, "x.pdf", b"x")
    assert [i.id for i in wf.list_items(db, other.scope, workflow=service.APPLICATION)[0]] == []
    assert wf.get_item(db, p["hangzhou"].scope, app.id).id == app.id
    with pytest.raises(wf.NotAllowed):  # the operator cannot survey its own site
        survey.schedule(db, op, app.id, date(2021, 9, 30), now=FILED)
    survey.schedule(db, p["xihu"], app.id, date(2021, 9, 30), now=FILED)
    branches = service.record_survey(db, p["xihu"], app.id, "站址可行", now=SURVEYED)
    assert sorted(b.fields["department"] for b in branches) == ["生态环境", "电力", "自然资源"]
    due = {b.fields["department"]: b.clock("approval").due_at for b in branches}
    assert due["电力"] == bj(2021, 10, 11, 17, 30)  # 3 working days across the holiday
    assert due["自然资源"] == bj(2021, 10, 13, 17, 30)  # 5
    # the operator does not reach the departments' cases; a department only its own
    by_dept = {b.fields["department"]: b for b in branches}
    with pytest.raises(wf.ItemNotFound):
        wf.get_item(db, op.scope, by_dept["电力"].id)
    with pytest.raises(wf.ItemNotFound):
        service.decide(db, p["liaison-zrzy"], by_dept["电力"].id, True, now=SURVEYED)
    service.decide(db, p["liaison-zrzy"], by_dept["自然资源"].id, True, "符合规划", now=bj(2021, 10, 8, 9))
    service.decide(db, p["liaison-sthj"], by_dept["生态环境"].id, True, now=bj(2021, 10, 8, 11))
    assert wf.get_item(db, op.scope, app.id).state == "approving"
    # 电力 is late: the sweep marks it overdue and escalates it to the city
    sweep(db, bj(2021, 10, 12, 9), send_email=False)
    late = wf.get_item(db, Scope(), by_dept["电力"].id)
    assert late.level == 1 and [s.action for s in late.steps][-2:] == ["overdue", "escalate"]
    told = db.scalars(select(Notification.title).where(Notification.user_id == p["hangzhou"].id)).all()
    assert any("升级至市经信局" in t for t in told)  # the city is told to supervise (督办)
    service.decide(db, p["liaison-dl"], by_dept["电力"].id, True, now=bj(2021, 10, 12, 10))
    app = wf.get_item(db, op.scope, app.id)
    assert app.state == "approved" and [s.actor_name for s in app.steps][-1] == "system"
    with pytest.raises(wf.InvalidTransition):
        parallel.system_transition(db, app, "all_approved")
    service.report_built(db, op, app.id, date(2021, 11, 1), now=bj(2021, 11, 1, 9))
    service.report_powered(db, op, app.id, date(2021, 11, 5), now=bj(2021, 11, 5, 9))
    rows = {r.code: r for r in service.progress(db, p["hangzhou"].scope, bj(2021, 11, 6, 9))}
    assert (rows["330106"].built, rows["330106"].powered, rows["330106"].by_stage) == (1, 1, {"powered": 1})
    assert rows["330106"].target == round(80000 / 90) and "330302" not in rows
    times = service.approval_times(db, Scope())
    assert times["电力"]["late"] == 1 and times["自然资源"]["late"] == 0
    assert times["生态环境"]["average_days"] == pytest.approx(
        10 / 9, abs=0.01
    )  # 9-30 10:00 -> 10-8 11:00: 7.5 h + 2.5 h
    assert service.progress(db, op.scope, bj(2021, 11, 6, 9)) == [
        r for r in service.progress(db, op.scope, bj(2021, 11, 6, 9)) if r.code == "330106"
    ]


def test_parallel_join_refuses_when_any_branch_refuses(world: Any) -> None:
    db, p = world
    app = service.file_application(
        db,
        p["liantong"],
        county="330106",
        site_name="灯杆站",
        site_type="pole",
        power="shared",
        lon=120.12,
        lat=30.27,
        now=FILED,
    )
    survey.schedule(db, p["xihu"], app.id, date(2021, 9, 30), now=FILED)
    b = {
        x.fields["department"]: x for x in service.record_survey(db, p["xihu"], app.id, "可行", now=SURVEYED)
    }
    assert sorted(b) == ["电力", "自然资源"]
    with pytest.raises(wf.FieldProblems):
        service.decide(db, p["liaison-zrzy"], b["自然资源"].id, False)  # a refusal needs a reason
    service.decide(db, p["liaison-zrzy"], b["自然资源"].id, False, "占用绿地", now=bj(2021, 10, 8, 9))
    assert wf.get_item(db, Scope(), app.id).state == "approving"  # 电力 still open
    service.decide(db, p["liaison-dl"], b["电力"].id, True, now=bj(2021, 10, 8, 10))
    assert wf.get_item(db, Scope(), app.id).state == "refused"
    assert parallel.parent_of(db, b["电力"]).id == app.id
    assert datetime  # noqa: B018 (imported for annotations in helpers)


def test_generated_applications_against_truth(world: Any) -> None:
    """Generated applications with known decision delays: approval times count exactly the
    late decisions per department, and progress the stations built (truth of synth.medical)."""
    from jingxin.synth.medical import load_fiveg

    db, p = world
    county = p["lucheng"]  # 鹿城区: nothing else of this module is there
    liaisons = {"自然资源": p["liaison-zrzy"], "生态环境": p["liaison-sthj"], "电力": p["liaison-dl"]}
    truth = load_fiveg(db, p["yidong"], county, liaisons, n=10, seed=3)
    times = service.approval_times(db, Scope(division="330302"))
    assert {d: t["late"] for d, t in times.items()} == truth.late
    assert {d: t["count"] for d, t in times.items()} == truth.decided
    assert sum(truth.late.values()) > 0
    rows = {r.code: r for r in service.progress(db, Scope(division="330300"), bj(2021, 12, 31))}
    assert rows["330302"].built == truth.built.get("330302", 0)


def test_survey_scheduled_on_working_days_within_its_deadline(world: Any) -> None:
    """Filed on 29 September 2021 10:00: the survey deadline is 5 working days later across the
    National Day holiday (30 Sept, 8, 9 (Saturday, 调休), 11, 12 October, 17:30). A holiday, a
    Sunday, a past day and a day after the deadline are refused with the days one may choose;
    the worked Saturday is accepted; the move needs a reason; every party is told."""
    db, p = world
    app = service.file_application(
        db,
        p["yidong"],
        county="330106",
        site_name="踏勘排期站",
        site_type="tower",
        power="grid",
        lon=120.09,
        lat=30.29,
        now=FILED,
    )
    assert app.clock("schedule").due_at == bj(2021, 10, 8, 17, 30)  # 2 working days
    assert app.clock("survey").due_at == bj(2021, 10, 12, 17, 30)
    w = survey.window(app, FILED)
    assert (w.earliest, w.latest) == (date(2021, 9, 29), date(2021, 10, 12))
    assert w.working_days() == [
        date(2021, 9, 29), date(2021, 9, 30), date(2021, 10, 8), date(2021, 10, 9),
        date(2021, 10, 11), date(2021, 10, 12),
    ]  # fmt: skip
    county = p["xihu"]
    for day, words in (
        (date(2021, 10, 2), "不是工作日"),  # National Day
        (date(2021, 10, 10), "不是工作日"),  # an ordinary Sunday
        (date(2021, 9, 28), "早于今天"),
        (date(2021, 10, 13), "晚于踏勘时限 2021-10-12"),
    ):
        with pytest.raises(service.FiveGError, match=words) as refused:
            survey.schedule(db, county, app.id, day, now=FILED)
        assert "2021-10-09" in str(refused.value)  # the worked Saturday is among the choices
    assert wf.get_item(db, Scope(), app.id).state == "filed"  # nothing was taken
    with pytest.raises(wf.ItemNotFound):  # a neighbouring county cannot schedule it
        survey.schedule(db, p["shangcheng"], app.id, date(2021, 10, 9), now=FILED)
    done = survey.schedule(db, county, app.id, date(2021, 10, 9), place="西溪路口", now=FILED)
    assert done.state == "survey_scheduled" and done.fields["survey_on"] == "2021-10-09"
    assert done.fields["survey_parties"] == "县（市、区）经信局、自然资源、生态环境、电力、申请单位（运营商）"
    assert done.clock("schedule").status == "stopped" and done.clock("schedule").met
    told = set(db.scalars(select(Notification.user_id).where(Notification.item_id == app.id)))
    for who in ("yidong", "xihu", "liaison-zrzy", "liaison-sthj", "liaison-dl"):
        assert p[who].id in told, who
    assert p["liantong"].id not in told and p["liaison-sw"].id not in told
    # the operator and the county see it in the schedule; the other operator does not
    rows = {r.item_id: r for r in survey.schedule_rows(db, p["yidong"].scope, FILED)}
    assert rows[app.id].survey_on == date(2021, 10, 9) and rows[app.id].place == "西溪路口"
    assert app.id in {r.item_id for r in survey.schedule_rows(db, p["hangzhou"].scope, FILED)}
    assert app.id not in {r.item_id for r in survey.schedule_rows(db, p["liantong"].scope, FILED)}
    assert app.id not in {r.item_id for r in survey.schedule_rows(db, p["lucheng"].scope, FILED)}
    # moving it needs a reason and stays within the deadline
    with pytest.raises(service.FiveGError, match="改期须说明原因"):
        survey.schedule(db, county, app.id, date(2021, 10, 11), now=SURVEYED)
    moved = survey.schedule(db, county, app.id, date(2021, 10, 11), reason="电力部门人员冲突", now=SURVEYED)
    assert moved.fields["survey_on"] == "2021-10-11" and moved.fields["survey_note"] == "电力部门人员冲突"
    assert [s.action for s in moved.steps][-1] == "reschedule_survey"
    # past its deadline the survey clock is overdue; only the next two working days are offered
    late = bj(2021, 10, 13, 9)
    assert survey.schedule_rows(db, p["xihu"].scope, late)[0].overdue
    with pytest.raises(service.FiveGError, match="已超过时限"):
        survey.schedule(db, county, app.id, date(2021, 10, 18), reason="再改", now=late)
    survey.schedule(db, county, app.id, date(2021, 10, 15), reason="补办", now=late)
