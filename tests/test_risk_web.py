"""Who sees risk grades, on a generated province, through the pages and the API; every view
audited; the 一企一策 case from opening to 销号 with escalation when overdue (SQLite, PostgreSQL)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from jingxin.accounts import demo as account_demo
from jingxin.accounts import service as accounts
from jingxin.accounts.schemas import UserCreate
from jingxin.core.audit import CLI_ACTOR, AuditEntry
from jingxin.core.auth import Role
from jingxin.core.db import utcnow
from jingxin.core.warehouse import open_warehouse
from jingxin.risk.service import score_month
from jingxin.web.testing import DEMO_PASSWORD, login

pytest_plugins = ["jingxin.web.pytest_fixtures", "jingxin.risk.testing"]
MONTH = "2021-06"


@pytest.fixture
def platform_url(tmp_path: Path, _sqlite_template: Path, fast_password_hashing: None) -> str:
    """SQLite only: what is tested here does not depend on the platform database, which the
    workflow and scope tests already run on both backends; scoring twice would double the time."""
    target = tmp_path / "platform.sqlite"
    shutil.copyfile(_sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(scope="module")
def province(risk_province: dict[str, Any]) -> dict[str, Any]:
    url = risk_province["url"]
    wh = open_warehouse(url)
    try:
        t = score_month(wh, MONTH).table
    finally:
        wh.close()
    key = t[t["grade"] == "重点关注"]
    county = key["county_code"].value_counts().index[0]  # the county with most key-concern
    local = t[t["county_code"] == county]
    elsewhere = t[~t["county_code"].str.startswith(county[:4])]
    return {
        "path": risk_province["path"],
        "county": county,
        "local_key": sorted(local.loc[local["grade"] == "重点关注", "credit_code"]),
        "local": sorted(local["credit_code"]),
        "elsewhere": sorted(elsewhere["credit_code"])[:3],
        "staff": sorted(local["credit_code"])[:2],
    }


@pytest.fixture
def world(province, web_settings, request) -> dict[str, Any]:
    shutil.copyfile(province["path"], Path(web_settings.warehouse_url.removeprefix("duckdb:///")))
    app = request.getfixturevalue("web_app")
    with app.state.db.session() as db:
        account_demo.create_demo_users(
            db, DEMO_PASSWORD, enterprise_code=province["local"][0], staff_enterprises=[]
        )
        accounts.create_user(
            db,
            UserCreate(
                username="xian",
                display_name="县经信局",
                role=Role.COUNTY_ANALYST,
                division_code=province["county"],
                password=DEMO_PASSWORD,
            ),
            CLI_ACTOR,
        )
        accounts.create_user(
            db,
            UserCreate(
                username="shi",
                display_name="市经信局",
                role=Role.CITY_ANALYST,
                division_code=province["county"][:4] + "00",
                password=DEMO_PASSWORD,
            ),
            CLI_ACTOR,
        )
        accounts.create_user(
            db,
            UserCreate(
                username="fuwu-x",
                display_name="驻企服务员",
                role=Role.SERVICE_STAFF,
                division_code=province["county"],
                enterprises=province["staff"],
                password=DEMO_PASSWORD,
            ),
            CLI_ACTOR,
        )
    return {**province, "app": app}


def test_grades_follow_the_scope_and_every_view_is_audited(world, web_client) -> None:
    county, elsewhere = world["county"], world["elsewhere"]
    login(web_client, "xian")
    res = web_client.get(f"/api/v1/risk/grades?month={MONTH}")
    assert res.status_code == 200, res.text
    data = res.json()
    assert data["enterprises"] and {e["county_code"] for e in data["enterprises"]} == {county}
    assert (
        web_client.get(f"/api/v1/risk/enterprises/{world['local_key'][0]}?month={MONTH}").status_code == 200
    )
    assert web_client.get(f"/api/v1/risk/enterprises/{elsewhere[0]}?month={MONTH}").status_code == 404
    page = web_client.get(f"/risk/enterprises/{world['local_key'][0]}?month={MONTH}")
    assert page.status_code == 200 and "担保关系" in page.text and "分级原因" in page.text
    listing = web_client.get(f"/risk?month={MONTH}")
    assert listing.status_code == 200 and elsewhere[0] not in listing.text
    xlsx = web_client.get(f"/risk/export.xlsx?month={MONTH}")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

    web_client.cookies.clear()
    login(web_client, "sheng")
    everyone = web_client.get(f"/api/v1/risk/grades?month={MONTH}").json()
    assert len({e["county_code"] for e in everyone["enterprises"]}) > 1

    web_client.cookies.clear()
    login(web_client, "fuwu-x")  # service staff: only the assigned enterprises, no aggregates
    mine = web_client.get(f"/api/v1/risk/grades?month={MONTH}&grade=正常").json()
    shown = {e["credit_code"] for e in mine["enterprises"]}
    assert shown <= set(world["staff"])
    assert mine["warnings"] == [] and mine["general_groups"] == []
    other = next(c for c in world["local"] if c not in world["staff"])
    assert web_client.get(f"/api/v1/risk/enterprises/{other}?month={MONTH}").status_code == 404

    for username in ("qiye", "liaison-sw"):  # an enterprise never sees its own grade; liaisons none
        web_client.cookies.clear()
        login(web_client, username)
        own = world["local"][0]
        for path in (
            f"/api/v1/risk/enterprises/{own}?month={MONTH}",
            f"/api/v1/risk/grades?month={MONTH}",
            "/risk",
        ):
            assert web_client.get(path).status_code == 403, (username, path)

    with world["app"].state.db.session() as db:
        entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "risk_grade_view")).all()
    who = {(e.username, e.object_id.split(":")[0]) for e in entries}
    assert {
        ("xian", "list"),
        ("xian", "enterprise"),
        ("xian", "export"),
        ("sheng", "list"),
        ("fuwu-x", "list"),
    } <= who
    assert not any(e.username in ("qiye", "liaison-sw") for e in entries)


def test_case_from_listing_to_closing_with_escalation(world, web_client) -> None:
    from jingxin.core.workflow.models import WorkItem
    from jingxin.core.workflow.sweep import sweep

    token = login(web_client, "xian")
    page = web_client.get(f"/risk?month={MONTH}")
    assert "列入一企一策清单" in page.text
    from jingxin.web.testing import csrf_from

    res = web_client.post(
        "/risk/cases/open", data={"month": MONTH, "csrf_token": csrf_from(page.text)}, follow_redirects=False
    )
    assert res.status_code == 303
    again = web_client.post(
        "/risk/cases/open", data={"month": MONTH, "csrf_token": csrf_from(page.text)}, follow_redirects=False
    )
    assert again.status_code == 303
    with world["app"].state.db.session() as db:
        items = db.scalars(select(WorkItem).where(WorkItem.workflow == "risk_case")).all()
        assert sorted(i.credit_code for i in items) == world["local_key"]  # once each, own county only
        item_id = items[0].id
    headers = {"X-CSRF-Token": token}

    def act(transition: str, fields: dict[str, str], comment: str = "", user_headers=headers) -> Any:
        r = web_client.post(
            f"/api/v1/work-items/{item_id}/actions/{transition}",
            json={"fields": fields, "comment": comment},
            headers=user_headers,
        )
        assert r.status_code == 200, r.text
        return r.json()

    act("assign", {"county_official": "张科长", "service_worker": "李服务员"})
    act(
        "plan",
        {"plan": "1. 协调银行续贷，责任人：县金融办，2021-07-31 前；2. 清理欠税分期，责任人：税务分局"},
    )
    act("visit", {"visit": "走访企业，生产部分恢复"})
    # Nobody visits for longer than the follow-up limit: the sweep escalates to the city.
    with world["app"].state.db.session() as db:
        report = sweep(db, utcnow() + timedelta(days=60), send_email=False)
        assert report.escalated >= 1
        item = db.get(WorkItem, item_id)
        assert item.level == 1  # 市经信局
    # the county may still visit as service staff would not; the city now handles the case
    refused = web_client.post(
        f"/api/v1/work-items/{item_id}/actions/review", json={"fields": {"review": "stable"}}, headers=headers
    )
    assert refused.status_code == 403
    web_client.cookies.clear()
    headers.update({"X-CSRF-Token": login(web_client, "shi")})
    act("review", {"review": "improving", "review_note": "用电恢复到正常水平的八成"})
    closed = act("close", {"close_reason": "resolved", "close_note": "续贷落实"}, comment="风险化解，销号")
    assert closed["state"] == "closed"
    lists = web_client.get("/api/v1/risk/cases?from=2000-01-01&to=2099-12-31").json()
    assert lists["total"]["entered"] == len(world["local_key"])
    assert lists["total"]["closed"] == 1 and lists["total"]["resolved"] == 1
    assert lists["total"]["in_progress"] == len(world["local_key"]) - 1
    assert {c["county_code"] for c in lists["counties"]} == {world["county"]}
    # the city analyst of another city sees none of these cases
    web_client.cookies.clear()
    login(web_client, "hangzhou")
    other = web_client.get("/api/v1/risk/cases?from=2000-01-01&to=2099-12-31").json()
    if not world["county"].startswith("3301"):
        assert other["total"]["entered"] == 0
