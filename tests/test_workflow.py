"""The workflow core driven through its service functions, with the 企业码 appeal declaration
(诉求直办), on SQLite and PostgreSQL: clocks in working days across 国庆 2021 with a pause,
escalation county → city → province, region scope, required fields, roles, the history."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from jingxin.core.audit import AuditEntry
from jingxin.core.notify.models import Notification
from jingxin.core.workflow import service
from jingxin.core.workflow.models import HistoryIsAppendOnly, WorkItem, WorkStep
from jingxin.core.workflow.sweep import sweep
from jingxin.core.workflow.testing import bj, make_people

pytest_plugins = ["jingxin.web.pytest_fixtures"]


@pytest.fixture
def people(db_session: Any) -> dict[str, Any]:
    return make_people(db_session)


def submit(db: Any, who: Any, at: Any, title: str = "厂房用地指标咨询", key: str | None = None) -> WorkItem:
    return service.start_item(
        db,
        "appeal",
        who,
        division_code=who.division_code,
        credit_code=who.credit_code,
        fields={"title": title, "content": "新厂房需要增加用地指标，请问如何申请？", "category": "land"},
        key=key,
        now=at,
    )


def inbox(db: Any, user: Any) -> list[Notification]:
    db.expire_all()
    return list(
        db.scalars(select(Notification).where(Notification.user_id == user.id).order_by(Notification.id))
    )


def clock(item: WorkItem, name: str) -> Any:
    found = item.clock(name)
    assert found is not None
    return found


def test_an_appeal_through_national_day_with_a_pause(db_session: Any, people: dict[str, Any]) -> None:
    db, qiye, xihu = db_session, people["qiye"], people["xihu"]
    item = submit(db, qiye, bj(2021, 9, 30, 10))
    assert item.state == "submitted" and item.level == 0 and item.division_code == "330106"
    # both clocks run from Thursday 30 September; 1–7 October are off
    assert clock(item, "response").due_at == bj(2021, 10, 8, 17, 30)
    assert clock(item, "resolution").due_at == bj(2021, 10, 8, 17, 30)  # simple until classified

    item = service.act(
        db,
        item.id,
        "accept",
        xihu,
        fields={"complexity": "complex", "department": "区经信局"},
        now=bj(2021, 10, 8, 9),
    )
    assert clock(item, "response").status == "stopped" and clock(item, "response").met is True
    # complex: 3 working days from the submission: 8, 9 (a Saturday worked) and 11 October
    assert clock(item, "resolution").due_at == bj(2021, 10, 11, 17, 30)

    item = service.act(
        db, item.id, "request_info", xihu, comment="请补充用地红线图", now=bj(2021, 10, 8, 10, 30)
    )
    assert item.state == "waiting_enterprise" and clock(item, "resolution").status == "paused"
    assert [n.title for n in inbox(db, qiye)] == ["请补充诉求材料：厂房用地指标咨询"]

    item = service.act(
        db, item.id, "supply_info", qiye, fields={"supplement": "红线图见附件"}, now=bj(2021, 10, 11, 10, 30)
    )
    # paused 7 h on the 8th, 9 h on Saturday the 9th, 2 h on the 11th: 18 office hours later
    assert clock(item, "resolution").status == "running"
    assert clock(item, "resolution").due_at == bj(2021, 10, 13, 17, 30)

    item = service.act(
        db,
        item.id,
        "answer",
        xihu,
        fields={"answer": "可申请新增工业用地指标，流程如下……"},
        now=bj(2021, 10, 13, 15),
    )
    assert item.state == "answered" and clock(item, "resolution").met is True
    assert inbox(db, qiye)[-1].event == "answered"

    item = service.act(db, item.id, "reopen", qiye, comment="未说明申请时限", now=bj(2021, 10, 13, 16))
    # the resolution clock starts again: complex, 3 working days from Wednesday the 13th
    assert clock(item, "resolution").due_at == bj(2021, 10, 18, 17, 30)
    item = service.act(
        db, item.id, "answer", xihu, fields={"answer": "申请须在每季度首月提交。"}, now=bj(2021, 10, 14, 9)
    )
    item = service.act(db, item.id, "close", qiye, fields={"rating": "satisfied"}, now=bj(2021, 10, 14, 10))
    assert item.state == "closed" and item.closed_at == bj(2021, 10, 14, 10)

    steps = service.history(db, qiye.scope, item.id)
    assert [s.action for s in steps] == [
        "start",
        "accept",
        "request_info",
        "supply_info",
        "answer",
        "reopen",
        "answer",
        "close",
    ]
    assert [s.actor_name for s in steps[:3]] == ["qiye", "xihu", "xihu"]
    assert steps[2].comment == "请补充用地红线图" and steps[2].at == bj(2021, 10, 8, 10, 30)
    assert steps[1].changes["fields"] == {"complexity": "complex", "department": "区经信局"}
    assert "答复时限暂停" in steps[2].changes["clocks"]
    audited = db.scalars(select(AuditEntry).where(AuditEntry.action == "workflow_step")).all()
    assert sorted(int(a.object_id) for a in audited) == [item.id] * 8
    assert service.work_items(db, xihu) == [] and service.work_items(db, qiye) == []


def test_escalation_county_city_province(db_session: Any, people: dict[str, Any]) -> None:
    db, p = db_session, people
    item = submit(db, p["qiye"], bj(2021, 9, 27, 10))  # Monday; both clocks due Tue 28th 17:30
    assert {n.user_id for n in inbox(db, p["xihu"]) + inbox(db, p["fuwu"])} == {p["xihu"].id, p["fuwu"].id}

    report = sweep(db, bj(2021, 9, 28, 16), send_email=False)
    assert report.due_soon == 2 and report.overdue == 0  # response warns 2 h before, resolution 4 h
    assert sum(n.event == "due_soon" for n in inbox(db, p["xihu"])) == 2

    report = sweep(db, bj(2021, 9, 28, 18), send_email=False)
    assert report.overdue == 2 and report.escalated == 1  # two overdue clocks, one level up
    item = db.get(WorkItem, item.id)
    assert item.level == 1
    escalated = [n for n in inbox(db, p["hangzhou"]) if n.event == "escalated"]
    assert len(escalated) == 1 and escalated[0].title.startswith("诉求超期升级至市经信局")
    assert any(n.event == "escalated" for n in inbox(db, p["xihu"]))  # the previous level is told
    for outsider in ("wenzhou", "shangcheng", "lucheng", "sheng"):
        assert inbox(db, p[outsider]) == []

    again = sweep(db, bj(2021, 9, 28, 18, 5), send_email=False)
    assert (again.due_soon, again.overdue, again.escalated, again.notifications) == (0, 0, 0, 0)

    # the county no longer handles it; the city does
    with pytest.raises(service.NotAllowed):
        service.act(db, item.id, "accept", p["xihu"], fields={"complexity": "simple", "department": "x"})
    assert [i.id for i in service.work_items(db, p["hangzhou"])] == [item.id]
    assert service.work_items(db, p["wenzhou"]) == []

    # still overdue one working day after the escalation (close of 30 September): the province
    assert sweep(db, bj(2021, 9, 30, 17), send_email=False).escalated == 0
    assert sweep(db, bj(2021, 9, 30, 17, 30), send_email=False).escalated == 1
    item = db.get(WorkItem, item.id)
    assert item.level == 2 and item.escalate_at is None
    assert [n.event for n in inbox(db, p["sheng"])] == ["escalated"]
    assert sweep(db, bj(2021, 10, 12, 9), send_email=False).escalated == 0  # the top level

    item = service.act(
        db,
        item.id,
        "accept",
        p["sheng"],
        fields={"complexity": "simple", "department": "省经信厅"},
        now=bj(2021, 10, 12, 10),
    )
    assert clock(item, "response").met is False
    actions = [s.action for s in service.history(db, p["sheng"].scope, item.id)]
    assert actions == ["start", "overdue", "overdue", "escalate", "escalate", "accept"]
    escalations = [s for s in service.history(db, p["sheng"].scope, item.id) if s.action == "escalate"]
    assert [(s.from_level, s.to_level, s.actor_name) for s in escalations] == [
        (0, 1, "system"),
        (1, 2, "system"),
    ]
    assert "升级由市经信局督办" in escalations[0].comment


def test_a_paused_clock_is_not_swept(db_session: Any, people: dict[str, Any]) -> None:
    db, p = db_session, people
    item = submit(db, p["qiye"], bj(2021, 9, 27, 10))
    service.act(
        db,
        item.id,
        "accept",
        p["xihu"],
        fields={"complexity": "simple", "department": "区经信局"},
        now=bj(2021, 9, 27, 11),
    )
    service.act(db, item.id, "request_info", p["xihu"], comment="请补充材料", now=bj(2021, 9, 27, 12))
    report = sweep(db, bj(2021, 10, 11, 9), send_email=False)  # two weeks later, still waiting
    assert (report.overdue, report.escalated) == (0, 0)
    item = service.act(
        db, item.id, "supply_info", p["qiye"], fields={"supplement": "已补充"}, now=bj(2021, 10, 11, 9)
    )
    # 14.5 office hours were left (12:00–17:30 on the 27th and all of the 28th); from 09:00 on
    # 11 October: 8.5 h that day, 6 h the next
    assert clock(item, "resolution").due_at == bj(2021, 10, 12, 14, 30)


def test_region_scope_is_enforced(db_session: Any, people: dict[str, Any]) -> None:
    db, p = db_session, people
    item = submit(db, p["qiye"], bj(2021, 9, 27, 10))
    for allowed in ("qiye", "xihu", "fuwu", "hangzhou", "sheng", "admin"):
        assert service.get_item(db, p[allowed].scope, item.id).id == item.id
        assert service.list_items(db, p[allowed].scope)[1] == 1
    for outsider in ("shangcheng", "wenzhou", "lucheng", "qiye2"):
        with pytest.raises(service.ItemNotFound):
            service.get_item(db, p[outsider].scope, item.id)
        with pytest.raises(service.ItemNotFound):
            service.act(
                db, item.id, "accept", p[outsider], fields={"complexity": "simple", "department": "x"}
            )
        with pytest.raises(service.ItemNotFound):
            service.history(db, p[outsider].scope, item.id)
        assert service.list_items(db, p[outsider].scope) == ([], 0)
        assert service.work_items(db, p[outsider]) == []
    # an enterprise cannot file for another enterprise, nor a county for another county
    with pytest.raises(service.NotAllowed):
        service.start_item(
            db,
            "appeal",
            p["qiye2"],
            division_code="330106",
            credit_code=p["qiye"].credit_code,
            fields={"title": "x", "content": "y"},
        )
    with pytest.raises(service.NotAllowed):
        service.start_item(
            db,
            "appeal",
            p["xihu"],
            division_code="330106",
            credit_code=p["qiye"].credit_code,
            fields={"title": "x", "content": "y"},
        )


def test_roles_states_and_required_fields(db_session: Any, people: dict[str, Any]) -> None:
    db, p = db_session, people
    item = submit(db, p["qiye"], bj(2021, 9, 27, 10))
    with pytest.raises(service.NotAllowed, match="受理"):
        service.act(db, item.id, "accept", p["qiye"], fields={"complexity": "simple", "department": "x"})
    with pytest.raises(service.NotAllowed):  # the city sees it but does not handle it yet
        service.act(db, item.id, "accept", p["hangzhou"], fields={"complexity": "simple", "department": "x"})
    with pytest.raises(service.InvalidTransition, match="已提交"):
        service.act(db, item.id, "answer", p["xihu"], fields={"answer": "x"})
    with pytest.raises(service.InvalidTransition):
        service.act(db, item.id, "fly", p["xihu"])
    with pytest.raises(service.FieldProblems) as missing:
        service.act(db, item.id, "accept", p["xihu"], fields={"department": "  "})
    assert set(missing.value.problems) == {"complexity", "department"}
    assert "请填写“复杂程度”" in str(missing.value)
    with pytest.raises(service.FieldProblems, match="须为以下之一"):
        service.act(db, item.id, "accept", p["xihu"], fields={"complexity": "hard", "department": "x"})
    with pytest.raises(service.FieldProblems, match="不能填写“答复内容”"):
        service.act(
            db,
            item.id,
            "accept",
            p["xihu"],
            fields={"complexity": "simple", "department": "x", "answer": "y"},
        )
    with pytest.raises(service.FieldProblems, match="不能超过64字"):
        service.act(
            db, item.id, "accept", p["xihu"], fields={"complexity": "simple", "department": "长" * 65}
        )
    service.act(db, item.id, "accept", p["fuwu"], fields={"complexity": "simple", "department": "区经信局"})
    with pytest.raises(service.FieldProblems, match="办理意见"):
        service.act(db, item.id, "request_info", p["xihu"], comment="   ")
    # nothing half-done is left behind by the refusals
    assert [s.action for s in service.history(db, p["xihu"].scope, item.id)] == ["start", "accept"]
    with pytest.raises(service.FieldProblems, match="请填写“诉求标题”"):
        service.start_item(
            db,
            "appeal",
            p["qiye"],
            division_code="330106",
            credit_code=p["qiye"].credit_code,
            fields={"content": "y"},
        )


def test_a_retried_submission_does_not_duplicate(db_session: Any, people: dict[str, Any]) -> None:
    db, p = db_session, people
    first = submit(db, p["qiye"], bj(2021, 9, 27, 10), key="req-001")
    again = submit(db, p["qiye"], bj(2021, 9, 27, 10, 1), key="req-001")
    assert again.id == first.id
    assert db.scalar(select(WorkItem.id).where(WorkItem.id != first.id)) is None
    with pytest.raises(service.Conflict):
        submit(db, p["qiye2"], bj(2021, 9, 27, 10, 2), key="req-001")


def test_two_people_acting_at_once(platform_db: Any, people: dict[str, Any]) -> None:
    with platform_db.session() as db:
        item = submit(db, people["qiye"], bj(2021, 9, 27, 10))
    with platform_db.session() as a, platform_db.session() as b:
        xihu_a, fuwu_b = a.merge(people["xihu"]), b.merge(people["fuwu"])
        seen = b.get(WorkItem, item.id)
        assert seen is not None
        service.act(a, item.id, "accept", xihu_a, fields={"complexity": "simple", "department": "区经信局"})
        with pytest.raises(service.Conflict):
            service.act(b, item.id, "accept", fuwu_b, fields={"complexity": "complex", "department": "x"})
        with pytest.raises(service.Conflict):
            service.act(b, item.id, "request_info", fuwu_b, comment="x", expected_version=1)


def test_the_history_is_append_only(db_session: Any, people: dict[str, Any]) -> None:
    db = db_session
    item = submit(db, people["qiye"], bj(2021, 9, 27, 10))
    step = db.scalars(select(WorkStep).where(WorkStep.item_id == item.id)).one()
    step.comment = "rewritten"
    with pytest.raises(HistoryIsAppendOnly):
        db.flush()
    db.rollback()
    db.delete(db.get(WorkStep, step.id))
    with pytest.raises(HistoryIsAppendOnly):
        db.flush()
    db.rollback()
    for statement in ("UPDATE workflow_steps SET comment = 'x'", "DELETE FROM workflow_steps"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.execute(text(statement))
        db.rollback()
    assert db.scalars(select(WorkStep.comment)).all() == [""]
