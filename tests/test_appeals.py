"""Appeals (诉求直办) through their service, on SQLite and PostgreSQL: routing to a department,
working-day limits across 国庆 2021 and 春节 2022 with 调休, pause and resume, escalation, the
answer, the rating and reopening, supervision lists, statistics, attachments, and who sees what
(an enterprise itself, a department the appeals routed to it, a county its own)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jingxin.appeals import service
from jingxin.appeals.attachments import AttachmentError
from jingxin.appeals.models import AppealAttachment
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.sweep import sweep
from jingxin.core.workflow.testing import bj, make_people

pytest_plugins = ["jingxin.web.pytest_fixtures"]

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def people(db_session: Any) -> dict[str, Any]:
    return make_people(db_session)


def file_appeal(
    db: Any,
    who: Any,
    at: Any,
    store: Path,
    *,
    category: str = "tax",
    title: str = "出口退税进度咨询",
    content: str = "去年第四季度的出口退税何时到账？",
    uploads: Any = None,
) -> Any:
    return service.submit(
        db,
        who,
        title=title,
        content=content,
        category=category,
        store=store,
        uploads=uploads,
        now=at,
        credit_code=who.credit_code,
        division_code=who.division_code if who.role != "enterprise" else None,
    )


def clock(item: Any, name: str) -> Any:
    found = item.clock(name)
    assert found is not None
    return found


def test_national_day_pause_escalation_rating_and_reopening(
    db_session: Any, people: dict[str, Any], tmp_path: Path
) -> None:
    db, qiye, sw, dl, xihu = (
        db_session,
        people["qiye"],
        people["liaison-sw"],
        people["liaison-dl"],
        people["xihu"],
    )
    item = file_appeal(db, qiye, bj(2021, 9, 30, 10), tmp_path, uploads=[("报关单.pdf", PDF)])
    assert item.fields["department"] == "税务" and item.division_code == "330106"
    assert [a.filename for a in service.attachments_of(db, qiye, item.id)] == ["报关单.pdf"]
    # 1–7 October are off: the simple limit runs to the close of Friday 8 October
    assert clock(item, "resolution").due_at == bj(2021, 10, 8, 17, 30)

    # the tax department sees and accepts it; the power department does not even see it
    with pytest.raises(wf.ItemNotFound):
        service.get(db, dl, item.id)
    assert service.list_appeals(db, dl)[1] == 0
    assert service.list_appeals(db, sw)[1] == 1
    item = wf.act(
        db,
        item.id,
        "accept",
        sw,
        fields={"complexity": "complex", "department": "税务"},
        now=bj(2021, 10, 8, 9),
    )
    # complex: 3 working days from the submission: 8, 9 (a Saturday worked, 调休) and 11 October
    assert clock(item, "resolution").due_at == bj(2021, 10, 11, 17, 30)

    # waiting for the enterprise pauses the clock; the paused office time is given back
    item = wf.act(db, item.id, "request_info", sw, comment="请补充报关单号", now=bj(2021, 10, 8, 10, 30))
    assert clock(item, "resolution").status == "paused"
    item = wf.act(
        db,
        item.id,
        "supply_info",
        qiye,
        fields={"supplement": "报关单号 310120210000001"},
        now=bj(2021, 10, 9, 10, 30),
    )  # 9 October is worked: 7 + 2 office hours paused
    assert clock(item, "resolution").status == "running"
    assert clock(item, "resolution").due_at == bj(2021, 10, 12, 17, 30)  # a whole office day later

    # overdue: on the supervision list, then escalated to the city
    assert service.overdue(db, xihu, now=bj(2021, 10, 13, 9)).rows[0].id == item.id
    report = sweep(db, bj(2021, 10, 13, 9), send_email=False)
    db.expire_all()
    item = service.get(db, qiye, item.id)
    assert report.escalated == 1 and item.level == 1
    sup = service.overdue(db, people["sheng"], now=bj(2021, 10, 13, 9))
    assert [(g.key, g.count) for g in sup.by_department] == [("税务", 1)]
    assert [(g.label, g.count) for g in sup.by_county] == [("西湖区", 1)]
    assert service.overdue(db, people["wenzhou"], now=bj(2021, 10, 13, 9)).rows == []
    assert service.overdue(db, dl, now=bj(2021, 10, 13, 9)).rows == []

    # the answer, the enterprise is not satisfied, reopens; a second answer; rated and closed
    item = wf.act(
        db, item.id, "answer", sw, fields={"answer": "已审核，10月15日前到账"}, now=bj(2021, 10, 13, 10)
    )
    item = wf.act(db, item.id, "reopen", qiye, comment="到账时间太晚", now=bj(2021, 10, 13, 11))
    assert item.state == "reopened" and clock(item, "resolution").status == "running"
    assert clock(item, "resolution").due_at == bj(2021, 10, 18, 17, 30)  # 3 working days again
    item = wf.act(
        db, item.id, "answer", sw, fields={"answer": "已加急，10月14日到账"}, now=bj(2021, 10, 13, 15)
    )
    item = wf.act(db, item.id, "close", qiye, fields={"rating": "dissatisfied"}, now=bj(2021, 10, 14, 9))
    assert item.state == "closed"
    low = service.low_rated(db, xihu)
    assert [(r.id, r.rating, r.reopened) for r in low.rows] == [(item.id, "不满意", 1)]
    assert service.low_rated(db, people["shangcheng"]).rows == []
    stats = {s.category: s for s in service.stats_by_category(db, xihu, now=bj(2021, 10, 14, 9))}
    assert stats["tax"].total == 1 and stats["tax"].closed == 1 and stats["tax"].reopened == 1
    assert stats["tax"].dissatisfied == 1


def test_spring_festival_with_working_weekend(
    db_session: Any, people: dict[str, Any], tmp_path: Path
) -> None:
    """春节 2022: 29 and 30 January (Saturday, Sunday) were worked; 31 January–6 February off."""
    db, qiye, xihu = db_session, people["qiye"], people["xihu"]
    item = file_appeal(
        db,
        qiye,
        bj(2022, 1, 28, 10),
        tmp_path,
        category="policy",
        title="研发费用加计扣除政策",
        content="今年加计扣除比例是多少？",
    )
    assert item.fields["department"] == "经信"
    assert clock(item, "resolution").due_at == bj(2022, 1, 29, 17, 30)  # the working Saturday
    item = wf.act(
        db,
        item.id,
        "accept",
        xihu,
        fields={"complexity": "complex", "department": "经信"},
        now=bj(2022, 1, 29, 9),
    )
    assert clock(item, "resolution").due_at == bj(2022, 2, 7, 17, 30)  # 29, 30 January, 7 February
    assert service.overdue(db, xihu, now=bj(2022, 2, 6, 12)).rows == []  # still on holiday
    assert [r.id for r in service.overdue(db, xihu, now=bj(2022, 2, 7, 17, 31)).rows] == [item.id]


def test_routing_by_words_and_scope_of_each_role(
    db_session: Any, people: dict[str, Any], tmp_path: Path
) -> None:
    db = db_session
    power = file_appeal(
        db,
        people["qiye"],
        bj(2021, 6, 1, 9),
        tmp_path,
        category="land",
        title="电费太高",
        content="峰谷电价如何申请",
    )
    fuwu = people["fuwu"]
    land = service.submit(
        db,
        fuwu,
        title="用地指标",
        content="新厂房用地",
        category="land",
        store=tmp_path,
        credit_code=fuwu.enterprises[0],
        division_code="330106",
        now=bj(2021, 6, 1, 9),
    )
    other = file_appeal(
        db,
        people["qiye2"],
        bj(2021, 6, 1, 9),
        tmp_path,
        category="policy",
        title="政策咨询",
        content="小升规奖励",
    )
    assert power.fields["department"] == "电力" and land.fields["department"] == "自然资源"
    seen = {
        u: {i.id for i in service.list_appeals(db, people[u])[0]}
        for u in (
            "qiye",
            "qiye2",
            "liaison-dl",
            "liaison-zrzy",
            "liaison-sw",
            "xihu",
            "shangcheng",
            "hangzhou",
            "wenzhou",
        )
    }
    assert power.id in seen["qiye"] and other.id not in seen["qiye"]
    assert seen["qiye2"] == {other.id}
    assert seen["liaison-dl"] == {power.id}
    assert seen["liaison-zrzy"] == {land.id}
    assert seen["liaison-sw"] == set()
    county = {i.division_code for i in (power, land, other)}
    assert seen["wenzhou"] == set() and seen["shangcheng"] == {
        i.id for i in (power, land, other) if i.division_code == "330102"
    }
    assert {i for i in seen["xihu"]} == {i.id for i in (power, land, other) if i.division_code == "330106"}
    assert county  # every appeal belongs to its enterprise's county
    # a department user may not act on an appeal routed elsewhere
    with pytest.raises(wf.ItemNotFound):
        wf.act(
            db, land.id, "accept", people["liaison-dl"], fields={"complexity": "simple", "department": "电力"}
        )


def test_attachments_are_checked_before_anything_is_saved(
    db_session: Any, people: dict[str, Any], tmp_path: Path
) -> None:
    db, qiye = db_session, people["qiye"]
    with pytest.raises(AttachmentError, match="内容与扩展名"):
        file_appeal(db, qiye, bj(2021, 6, 1, 9), tmp_path, uploads=[("a.pdf", b"MZ\x90\x00 not a pdf")])
    with pytest.raises(AttachmentError, match="类型不允许"):
        file_appeal(db, qiye, bj(2021, 6, 1, 9), tmp_path, uploads=[("run.exe", b"MZ")])
    with pytest.raises(AttachmentError, match="最多5个"):
        file_appeal(db, qiye, bj(2021, 6, 1, 9), tmp_path, uploads=[(f"{i}.pdf", PDF) for i in range(6)])
    assert service.list_appeals(db, qiye)[1] == 0 and db.query(AppealAttachment).count() == 0
    item = file_appeal(db, qiye, bj(2021, 6, 1, 9), tmp_path, uploads=[("../../etc/passwd.pdf", PDF)])
    found = service.attachments_of(db, qiye, item.id)[0]
    assert found.filename == "passwd.pdf"
    from jingxin.core.audit import Actor

    att, path = service.open_attachment(db, qiye, item.id, found.id, tmp_path, Actor(qiye.id, qiye.username))
    assert path.read_bytes() == PDF and path.is_relative_to(tmp_path)
    with pytest.raises(wf.ItemNotFound):
        service.attachments_of(db, people["qiye2"], item.id)


def test_cli_overdue_lists_by_department_and_county(
    db_session: Any, people: dict[str, Any], tmp_path: Path, platform_url: str, monkeypatch: Any
) -> None:
    import json

    from typer.testing import CliRunner

    from jingxin.cli import app
    from jingxin.core.settings import get_settings

    item = file_appeal(db_session, people["qiye"], bj(2021, 9, 30, 10), tmp_path)
    monkeypatch.setenv("JINGXIN_DATABASE_URL", platform_url)
    monkeypatch.setenv("JINGXIN_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        out = runner.invoke(app, ["appeals", "overdue", "--at", "2021-10-09T09:00+08:00", "--json"])
        assert out.exit_code == 0, out.output
        data = json.loads(out.output)
        assert [r["id"] for r in data["rows"]] == [item.id, item.id]  # both clocks are past 8 October
        assert data["by_department"] == [{"key": "税务", "label": "税务", "count": 1}]  # one appeal
        other = runner.invoke(
            app, ["appeals", "overdue", "--at", "2021-10-09T09:00+08:00", "--department", "电力", "--json"]
        )
        assert json.loads(other.output)["rows"] == []
        text = runner.invoke(app, ["appeals", "overdue", "--at", "2021-10-08T09:00+08:00"])
        assert "超期诉求 0 件" in text.output
        bad = runner.invoke(app, ["appeals", "overdue", "--at", "yesterday"])
        assert bad.exit_code != 0 and "时间格式不正确" in bad.output
    finally:
        get_settings.cache_clear()
