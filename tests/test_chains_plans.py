"""链长制 and 一链一方案: the plans file, tasks issued and followed on the workflow engine with
working-day terms, notifications and escalation, region scope, the pages and API, and the
chains' monthly monitoring against their target shares."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from jingxin.chains import plans
from jingxin.chains.compute import _current as compute_current
from jingxin.core.notify.models import Notification
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.service import NotAllowed
from jingxin.core.workflow.sweep import sweep
from jingxin.core.workflow.testing import bj, make_people

pytest_plugins = ["jingxin.web.pytest_fixtures", "jingxin.chains.testing", "jingxin.projects.testing"]


@pytest.fixture
def people(db_session: Any) -> dict[str, Any]:
    return make_people(db_session)


def _notes(db: Any, user: Any) -> list[Notification]:
    db.expire_all()
    return list(db.scalars(select(Notification).where(Notification.user_id == user.id)))


def test_plans_file_is_checked_and_names_the_entry() -> None:
    p = plans.plans()
    assert {x.chain for x in p.plans} == {c.id for c in plans.definitions().chains}
    assert sum(x.target_share for x in p.plans) == pytest.approx(p.target_total) == pytest.approx(0.68)
    text = plans.files("jingxin.chains").joinpath("data", "plans.yaml").read_text(encoding="utf-8")
    with pytest.raises(
        plans.PlanError, match=r"x.yaml: plans.1.tasks.0.division: .*区划代码 '330699' 不存在"
    ):
        plans.parse_plans(
            text.replace(
                'division: "330000", term: y1, content: 梳理晶圆',
                'division: "330699", term: y1, content: 梳理晶圆',
            ),
            "x.yaml",
        )
    with pytest.raises(plans.PlanError, match="未知产业链 'nope'"):
        plans.parse_plans(text.replace("chain: smart_home", "chain: nope"), "x.yaml")
    with pytest.raises(plans.PlanError, match=r"任务编号重复 \['mt-1'\]"):
        plans.parse_plans(text.replace("id: mt-2", "id: mt-1"), "x.yaml")


def test_plan_tasks_are_issued_once_within_scope(db_session, people) -> None:
    db, now = db_session, bj(2021, 9, 22, 10)
    # The 杭州 city bureau issues what lies in its city only; the province then issues the rest.
    city = plans.issue_plan(db, people["hangzhou"], "digital_security", now=now)
    assert [i.fields["plan_task"] for i in city] == ["ds-1"] and city[0].division_code == "330100"
    rest = plans.issue_plan(db, people["sheng"], "digital_security", now=now)
    assert [i.fields["plan_task"] for i in rest] == ["ds-2"]
    assert plans.issue_plan(db, people["sheng"], "digital_security", now=now) == []
    with pytest.raises(NotAllowed):  # a county bureau does not issue chain tasks
        plans.add_task(
            db,
            people["xihu"],
            "modern_textile",
            division="330106",
            title="测试任务",
            task_type="bu",
            owner="西湖区经信局",
            content="内容",
            term="m1",
            now=now,
        )
    with pytest.raises(NotAllowed):  # nor a city outside its own city
        plans.add_task(
            db,
            people["hangzhou"],
            "modern_textile",
            division="330302",
            title="测试任务",
            task_type="bu",
            owner="鹿城区经信局",
            content="内容",
            term="m1",
            now=now,
        )
    rows = plans.task_rows(db, people["hangzhou"].scope, now=now)
    assert [r["plan_task"] for r in rows] == ["ds-1"]  # the province's task is not the city's
    assert len(plans.task_rows(db, people["sheng"].scope, now=now)) == 2
    assert plans.task_rows(db, people["xihu"].scope, now=now) == []


def test_a_task_runs_its_working_day_term_through_the_workflow(db_session, people) -> None:
    db, now = db_session, bj(2021, 9, 22, 10)
    item = plans.add_task(
        db,
        people["hangzhou"],
        "digital_security",
        division="330106",
        title="西湖区安防芯片对接",
        task_type="bu",
        owner="西湖区经信局",
        content="对接三家芯片企业",
        term="m1",
        now=now,
    )
    # 20 working days from Wednesday 22 September 2021: the National Day week is off and
    # Saturday 9 October is worked (调休), so the term ends Monday 25 October, 17:30.
    term = item.clock("term")
    assert term is not None and term.due_at == bj(2021, 10, 25, 17, 30)
    xihu = people["xihu"]
    assert any(n.event == "assigned" and n.item_id == item.id for n in _notes(db, xihu))
    wf.act(db, item.id, "sign", xihu, now=now + timedelta(hours=1))
    wf.act(
        db,
        item.id,
        "report_progress",
        xihu,
        fields={"progress": "p50", "progress_note": "已对接两家"},
        now=now + timedelta(days=5),
    )
    row = plans.task_rows(db, xihu.scope, now=now + timedelta(days=5))[0]
    assert (row["state_label"], row["progress"], row["overdue"]) == ("推进中", "50%", False)
    wf.act(
        db, item.id, "submit", xihu, fields={"result": "三家均已签订供货协议"}, now=now + timedelta(days=10)
    )
    assert any(n.event == "reported" for n in _notes(db, people["hangzhou"]))  # the issuer is told
    with pytest.raises(NotAllowed):  # acceptance is the chief's office's, at the province
        wf.act(db, item.id, "accept", people["hangzhou"], fields={"review": "同意"})
    wf.act(
        db,
        item.id,
        "send_back",
        people["sheng"],
        fields={"review": "缺合同"},
        comment="请补充合同",
        now=now + timedelta(days=11),
    )
    assert any(n.event == "sent_back" for n in _notes(db, xihu))
    wf.act(db, item.id, "submit", xihu, fields={"result": "已补充合同"}, now=now + timedelta(days=12))
    wf.act(
        db, item.id, "accept", people["sheng"], fields={"review": "验收通过"}, now=now + timedelta(days=13)
    )
    row = plans.task_rows(db, people["sheng"].scope, "digital_security")[0]
    assert (row["state"], row["progress"], row["met"]) == ("done", "100%", True)
    assert plans.task_summary([row])["digital_security"]["in_time"] == 1


def test_an_overdue_task_is_escalated_and_counted(db_session, people) -> None:
    db, now = db_session, bj(2021, 9, 22, 10)
    item = plans.add_task(
        db,
        people["hangzhou"],
        "smart_home",
        division="330100",
        title="家电配套调查",
        task_type="gu",
        owner="杭州市经信局",
        content="调查",
        term="m1",
        now=now,
    )
    late = bj(2021, 10, 26, 9)
    rows = plans.task_rows(db, people["sheng"].scope, now=late)
    assert rows[0]["overdue"] and plans.task_summary(rows)["smart_home"]["overdue"] == 1
    sweep(db, now=late, send_email=False)
    assert any(n.event == "overdue" and n.item_id == item.id for n in _notes(db, people["hangzhou"]))
    sweep(db, now=bj(2021, 11, 10, 9), send_email=False)  # 10 working days later: up to the province
    db.expire_all()
    assert wf.get_item(db, people["sheng"].scope, item.id).level == 2
    assert any(n.event == "escalated" for n in _notes(db, people["sheng"]))


def test_monitoring_against_the_target_share(chains_province) -> None:
    from jingxin.core.scope import EVERYTHING, Scope
    from jingxin.core.warehouse import open_warehouse

    wh = open_warehouse(chains_province["url"])
    try:
        df = plans.monitoring(wh, "2021-12", EVERYTHING).set_index("chain_id")
        county = plans.monitoring(wh, "2021-12", Scope(division="330600")).set_index("chain_id")
        monthly = wh.execute(wh.current("monthly"))
    finally:
        wh.close()
    total = float(monthly[monthly.month.astype(str).str.startswith("2021")].output_value.sum())
    assert df.loc["_all", "total_output"] == pytest.approx(total)
    chains = df.drop("_all")
    assert (chains.output > 0).sum() >= 5
    assert df.loc["_all", "output"] <= chains.output.sum() + 1e-6  # the union counts an enterprise once
    assert df.loc["modern_textile", "share"] == pytest.approx(df.loc["modern_textile", "output"] / total)
    assert df.loc["modern_textile", "target_share"] == 0.07 and df.loc["_all", "target_share"] == 0.68
    assert county.loc["_all", "total_output"] < total  # 绍兴 only


@pytest.fixture
def chains_web(chains_province, web_settings, request) -> Any:
    """The web app over a copy of the chains province (copied before the app opens it)."""
    import shutil
    from pathlib import Path

    shutil.copyfile(
        Path(chains_province["url"].removeprefix("duckdb:///")),
        Path(web_settings.warehouse_url.removeprefix("duckdb:///")),
    )
    request.getfixturevalue("demo_users")
    return request.getfixturevalue("web_client")


def test_pages_and_api(chains_web) -> None:
    from jingxin.web.testing import login

    web_client = chains_web
    token = login(web_client, "sheng")
    page = web_client.get("/chains/chiefs")
    assert page.status_code == 200 and "链长制与一链一方案" in page.text and "现代纺织" in page.text
    issued = web_client.post(
        "/chains/chiefs/modern_textile/issue", headers={"X-CSRF-Token": token}, follow_redirects=False
    )
    assert issued.status_code == 303
    detail = web_client.get("/chains/chiefs/modern_textile")
    assert detail.text.count("已下达") >= 3
    tasks = web_client.get("/api/v1/chains/tasks?chain=modern_textile").json()
    assert {t["plan_task"] for t in tasks} == {"mt-1", "mt-2", "mt-3"} and all(t["due_at"] for t in tasks)
    body = web_client.get("/api/v1/chains/plans?month=2021-12").json()
    textile = next(p for p in body["plans"] if p["chain_id"] == "modern_textile")
    assert textile["tasks"]["total"] == 3 and textile["monitoring"]["output"] > 0
    assert (
        web_client.post("/api/v1/chains/plans/nope/issue", headers={"X-CSRF-Token": token}).status_code == 404
    )
    import io

    import pandas as pd

    book = pd.read_excel(
        io.BytesIO(web_client.get("/chains/export.xlsx?month=2021-12").content), sheet_name=None
    )
    assert len(book["链长制任务"]) == 3 and set(book["链长制任务"]["状态"]) == {"已下达"}
    assert len(book["415集群"]) == 19 and len(book["链主企业"]) >= 20
    login(web_client, "xihu")  # a county sees no province or city tasks, and may not issue
    assert web_client.get("/api/v1/chains/tasks").json() == []
    token = login(web_client, "xihu")
    assert (
        web_client.post("/chains/chiefs/modern_textile/issue", headers={"X-CSRF-Token": token}).status_code
        == 403
    )
    login(web_client, "qiye")
    assert web_client.get("/chains/chiefs").status_code == 403
    assert web_client.get("/api/v1/chains/tasks").status_code == 403


def test_key_projects_come_from_project_tracking(projects_province, db_session) -> None:
    from jingxin.core.scope import EVERYTHING, Scope
    from jingxin.core.warehouse import open_warehouse

    wh = open_warehouse(projects_province["url"])
    try:
        reg = wh.execute(compute_current(wh, "projects"))
        newest = reg[reg.year == reg.year.max()]
        chain = newest.chain.dropna().value_counts().index[0]
        chain_id = next(c.id for c in plans.definitions().chains if c.name == chain)
        rows = plans.key_projects(wh, db_session, EVERYTHING, chain_id)
        county = newest[newest.chain == chain].county_code.iloc[0]
        local = plans.key_projects(wh, db_session, Scope(division=county), chain_id)
        invest = plans._investment(wh, EVERYTHING)
    finally:
        wh.close()
    expected = newest[newest.chain == chain]
    ranked = expected.sort_values(["total_investment", "project_id"], ascending=[False, True]).head(50)
    assert [r["project_id"] for r in rows] == list(ranked.project_id)
    assert local and all(r["county_code"] == county for r in local)
    assert invest[chain] == pytest.approx(expected.total_investment.sum())
