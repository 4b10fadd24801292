"""Who sees what of projects and cultivation, through the pages and the API, for every role:
each tries to cross its boundary and must fail to; exports are audited."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from jingxin.accounts import demo as account_demo
from jingxin.accounts import service as accounts
from jingxin.accounts.schemas import UserCreate
from jingxin.core.audit import CLI_ACTOR, AuditEntry
from jingxin.core.auth import Role
from jingxin.core.warehouse import open_warehouse
from jingxin.projects import facts
from jingxin.web.testing import DEMO_PASSWORD, login

pytest_plugins = ["jingxin.web.pytest_fixtures", "jingxin.projects.testing"]
MONTH = "2021-06"


@pytest.fixture
def platform_url(tmp_path: Path, _sqlite_template: Path, fast_password_hashing: None) -> str:
    target = tmp_path / "platform.sqlite"
    shutil.copyfile(_sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(scope="module")
def province(projects_province: dict[str, Any]) -> dict[str, Any]:
    wh = open_warehouse(projects_province["url"])
    try:
        reg = facts.register(wh)
    finally:
        wh.close()
    county = reg["county_code"].value_counts().index[0]
    local = reg[reg["county_code"] == county]
    return {
        "path": projects_province["path"],
        "county": county,
        "reg": reg,
        "own": str(local["credit_code"].iloc[0]),
        "staff": sorted(local["credit_code"].astype(str))[:2],
    }


@pytest.fixture
def world(province, web_settings, request) -> dict[str, Any]:
    shutil.copyfile(province["path"], Path(web_settings.warehouse_url.removeprefix("duckdb:///")))
    app = request.getfixturevalue("web_app")
    county = province["county"]
    with app.state.db.session() as db:
        account_demo.create_demo_users(
            db, DEMO_PASSWORD, enterprise_code=province["own"], staff_enterprises=[]
        )
        for name, role, division, extra in (
            ("xian", Role.COUNTY_ANALYST, county, {}),
            ("shi", Role.CITY_ANALYST, county[:4] + "00", {}),
            ("fuwu-x", Role.SERVICE_STAFF, county, {"enterprises": province["staff"]}),
            ("qiye-x", Role.ENTERPRISE, county, {"credit_code": province["own"]}),
        ):
            accounts.create_user(
                db,
                UserCreate(
                    username=name,
                    display_name=name,
                    role=role,
                    division_code=division,
                    password=DEMO_PASSWORD,
                    **extra,
                ),
                CLI_ACTOR,
            )
    return {**province, "app": app}


def _as(client: Any, username: str) -> None:
    client.cookies.clear()
    login(client, username)


def test_every_role_stays_inside_its_scope(world, web_client) -> None:
    reg, county = world["reg"], world["county"]
    everyone = len(reg)
    for username in ("admin", "sheng"):
        _as(web_client, username)
        assert web_client.get("/api/v1/projects").json()["total"] == everyone
        rows = web_client.get(f"/api/v1/projects/progress?month={MONTH}").json()["counties"]
        assert len({r["county_code"] for r in rows}) > 5

    _as(web_client, "xian")
    mine = web_client.get("/api/v1/projects").json()
    assert mine["total"] == int((reg["county_code"] == county).sum())
    assert {p["county_code"] for p in mine["projects"]} == {county}
    rows = web_client.get(f"/api/v1/projects/progress?month={MONTH}").json()["counties"]
    assert [r["county_code"] for r in rows] == [county]
    screened = web_client.get("/api/v1/cultivation/screen?ladder=champion").json()
    assert {c["county_code"] for c in screened["by_county"]} <= {county}
    outside = reg[~reg["county_code"].str.startswith(county[:4])].iloc[0]
    assert web_client.get(f"/api/v1/cultivation/enterprises/{outside['credit_code']}").status_code == 404
    for page in (
        "/projects",
        f"/projects/progress?month={MONTH}",
        "/cultivation",
        "/cultivation/pool",
        "/cultivation/first-set",
    ):
        res = web_client.get(page)
        assert res.status_code == 200, (page, res.text[:300])
        assert str(outside["project_id"]) not in res.text
    xlsx = web_client.get(f"/projects/progress.xlsx?month={MONTH}")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

    _as(web_client, "shi")
    city = web_client.get("/api/v1/projects").json()["projects"]
    assert city and all(p["county_code"].startswith(county[:4]) for p in city)

    _as(web_client, "fuwu-x")  # service staff: their enterprises' projects, no aggregate
    staff = web_client.get("/api/v1/projects").json()["projects"]
    assert staff and {p["credit_code"] for p in staff} <= set(world["staff"])
    assert web_client.get(f"/api/v1/projects/progress?month={MONTH}").status_code == 403
    assert web_client.get("/api/v1/projects/effect").status_code == 403
    seen = web_client.get("/api/v1/cultivation/screen?ladder=factory").json()
    assert seen["screened"] <= len(world["staff"])

    _as(web_client, "qiye-x")  # an enterprise: its own projects and its own trace, nothing else
    own = web_client.get("/api/v1/projects").json()["projects"]
    assert own and {p["credit_code"] for p in own} == {world["own"]}
    assert web_client.get(f"/api/v1/projects/progress?month={MONTH}").status_code == 403
    assert web_client.get("/api/v1/cultivation/screen").status_code == 403
    assert web_client.get("/cultivation/pool").status_code == 403
    assert web_client.get(f"/api/v1/cultivation/enterprises/{world['own']}").status_code in (200, 404)
    other = next(c for c in reg["credit_code"] if c != world["own"])
    assert web_client.get(f"/api/v1/cultivation/enterprises/{other}").status_code == 404
    assert (
        web_client.post(
            "/api/v1/projects/sync", headers={"X-CSRF-Token": login(web_client, "qiye-x")}
        ).status_code
        == 403
    )

    _as(web_client, "liaison-zrzy")  # a liaison: nothing of projects or cultivation
    for path in (
        "/api/v1/projects",
        f"/api/v1/projects/progress?month={MONTH}",
        "/api/v1/cultivation/screen",
        "/projects",
        "/cultivation",
    ):
        assert web_client.get(path).status_code == 403, path

    with world["app"].state.db.session() as db:
        exports = db.scalars(select(AuditEntry).where(AuditEntry.object_type == "projects_progress")).all()
    assert [e.username for e in exports] == ["xian"]


def test_sync_and_a_problem_routed_to_a_department(world, web_client) -> None:
    token = login(web_client, "xian")
    headers = {"X-CSRF-Token": token}
    report = web_client.post("/api/v1/projects/sync", headers=headers).json()
    assert report["opened"] == int((world["reg"]["county_code"] == world["county"]).sum())
    # Each project's next milestone with its deadline; those past it (2021 data) flagged overdue;
    # progress coloured against the planned dates, with the legend.
    page = web_client.get("/projects").text
    assert "开工时限至" in page or "投产时限至" in page or "达产时限至" in page
    assert "已超期" in page and 'id="pace-legend"' in page
    assert "：nan" not in page and ">nan<" not in page  # blank cells stay blank
    assert page.count('data-pace="') >= len(web_client.get("/api/v1/projects").json()["projects"][:1000])
    progress = web_client.get(f"/projects/progress?month={MONTH}").text
    assert 'data-pace="' in progress and "严重滞后" in progress
    project = world["reg"][world["reg"]["county_code"] == world["county"]].iloc[0]
    res = web_client.post(
        f"/api/v1/projects/{project['project_id']}/problems",
        json={"problem": "用地指标尚未落实", "department": "自然资源"},
        headers=headers,
    )
    assert res.status_code == 201 and res.json()["department"] == "自然资源"
    bad = web_client.post(
        f"/api/v1/projects/{project['project_id']}/problems",
        json={"problem": "用地", "department": "火星局"},
        headers=headers,
    )
    assert bad.status_code == 422 and "部门名录" in bad.text
    elsewhere = world["reg"][~world["reg"]["county_code"].str.startswith(world["county"][:4])].iloc[0]
    assert (
        web_client.post(
            f"/api/v1/projects/{elsewhere['project_id']}/problems",
            json={"problem": "用地指标", "department": "自然资源"},
            headers=headers,
        ).status_code
        == 404
    )
    web_client.cookies.clear()
    login(web_client, "liaison-zrzy")
    items = web_client.get("/api/v1/work-items").json()
    assert any(i["fields"].get("project_id") == project["project_id"] for i in items)
