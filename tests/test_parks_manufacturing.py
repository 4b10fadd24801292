"""Manufacturing parks' stars (制造业园区星级评价) on a generated province: the service cut to the
region scope, the pages (list, map by region, detail), the Excel download and its audit, the
API and the CLI; and the county index's outlier treatment as pages and Excel show it."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from jingxin.core.scope import Scope

YEAR = 2021


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from jingxin.core.warehouse import open_warehouse
    from jingxin.parks.manufacturing import province_stars
    from jingxin.places.testing import build_places_province

    home = tmp_path_factory.mktemp("mfg")
    url, _ = build_places_province(home, enterprises=800, mu_parks=True)
    wh = open_warehouse(url)
    try:
        table, _, _ = province_stars(wh, YEAR)
    finally:
        wh.close()
    counties = table["county_code"].value_counts()
    mine = str(counties.index[0])  # a county with a manufacturing park
    other = str(table.index[table["county_code"] != mine][0])  # a park elsewhere
    return {"home": home, "url": url, "table": table, "county": mine, "other": other}


def test_stars_over_the_province_cut_to_the_scope(province: dict[str, Any]) -> None:
    from jingxin.core.warehouse import open_warehouse
    from jingxin.parks.manufacturing import (
        load_manufacturing_config,
        manufacturing_stars,
        manufacturing_years,
        park_detail,
        region_summary,
    )

    table, mine = province["table"], province["county"]
    assert len(table) >= 5 and set(table["kind"]) <= {"经开区", "高新区"}
    assert table["rank"].tolist() == sorted(table["rank"]) and table["rank"].min() == 1
    cfg = load_manufacturing_config()
    for _, r in table.iterrows():  # the star is the highest threshold the score reaches
        reached = [s for s, v in cfg.stars.items() if r["score"] >= v]
        assert r["star"] == (max(reached) if reached else 0)
    wh = open_warehouse(province["url"])
    try:
        assert manufacturing_years(wh) == [2020, 2021]
        county = manufacturing_stars(wh, YEAR, Scope(division=mine))
        assert {r["county_code"] for r in county["rows"]} == {mine}
        assert county["parks"] == len(table)  # the rank is out of the province's parks
        with pytest.raises(LookupError):
            park_detail(wh, YEAR, Scope(division=mine), province["other"])
        own = str(table.index[table["county_code"] == mine][0])
        d = park_detail(wh, YEAR, Scope(division=mine), own)
        assert d["rank"] == int(table.at[own, "rank"]) and len(d["indicators"]) == len(cfg.indicators)
        assert d["indicators"][0]["value"] == pytest.approx(table.at[own, "total_score"])
        with pytest.raises(LookupError):
            park_detail(wh, YEAR, Scope(), "KF000000999")
    finally:
        wh.close()
    cities = region_summary(table, Scope(), "330000")
    assert sum(c["parks"] for c in cities) == len(table)
    assert sum(c["three_plus"] for c in cities) == int((table["star"] >= 3).sum())
    city = mine[:4] + "00"
    counties = region_summary(table, Scope(), city)
    assert {c["code"] for c in counties} == {c for c in table["county_code"] if c.startswith(mine[:4])}
    assert region_summary(table, Scope(division=mine), "330000") == [
        {**c, "parks": c["parks"]}
        for c in region_summary(table[table["county_code"] == mine], Scope(), "330000")
    ]


def test_cli_manufacturing_json(province: dict[str, Any], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from jingxin.cli import app as cli_app

    run = CliRunner().invoke(
        cli_app,
        [
            "parks",
            "manufacturing",
            "--year",
            "2021",
            "--scope",
            province["county"],
            "--json",
            "--warehouse",
            province["url"],
        ],
    )
    assert run.exit_code == 0, run.output
    rows = json.loads(run.output)["rows"]
    assert rows and {r["county_code"] for r in rows} == {province["county"]}


@pytest.fixture(scope="module")
def client_app(province: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    from importlib.resources import files

    from jingxin.accounts import demo as account_demo
    from jingxin.accounts.schemas import UserCreate
    from jingxin.accounts.service import create_user
    from jingxin.core.audit import CLI_ACTOR
    from jingxin.core.auth import Role
    from jingxin.core.db import upgrade
    from jingxin.core.settings import Settings
    from jingxin.web.app import create_app

    tmp = tmp_path_factory.mktemp("mfg-web")
    text = (files("jingxin.places") / "systems" / "county_quality.yaml").read_text(encoding="utf-8")
    (tmp / "county.yaml").write_text(text.replace("draws: 1000", "draws: 30"), encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setenv("JINGXIN_PLACES_CONFIG", str(tmp / "county.yaml"))
    db_url = f"sqlite:///{tmp / 'platform.sqlite'}"
    upgrade(db_url)
    app = create_app(
        Settings(home=tmp, database_url=db_url, warehouse=province["url"]), migrate=False, run_jobs=False
    )
    with app.state.db.session() as db:
        account_demo.create_demo_users(db, account_demo.DEMO_PASSWORD, staff_enterprises=[])
        create_user(
            db,
            UserCreate(
                username="xian",
                display_name="县经信局",
                role=Role.COUNTY_ANALYST,
                division_code=province["county"],
                password=account_demo.DEMO_PASSWORD,
            ),
            CLI_ACTOR,
        )
    yield app
    app.state.warehouse.close()
    app.state.db.dispose()
    mp.undo()


def _client(app: Any, username: str) -> Any:
    from fastapi.testclient import TestClient

    from jingxin.web.testing import login

    c = TestClient(app, base_url="http://testserver")
    c.__enter__()
    login(c, username)
    return c


def test_pages_map_detail_and_excel_for_the_province(client_app: Any, province: dict[str, Any]) -> None:
    table = province["table"]
    c = _client(client_app, "sheng")
    page = c.get(f"/manufacturing-parks?year={YEAR}")
    assert page.status_code == 200 and "制造业园区高质量发展星级评价" in page.text
    assert page.text.count('<tr id="mfg-') == len(table)
    assert "制造业园区" in page.text.split('<nav class="sidenav"', 1)[1].split("</nav>", 1)[0]
    config = json.loads(page.text.split('id="mfg-map-config">', 1)[1].split("</script>", 1)[0])
    assert config["geo_url"] == "/api/v1/geo/330000"
    assert sum(r["parks"] for r in config["regions"]) == len(table)
    city = province["county"][:4] + "00"
    drilled = c.get(f"/manufacturing-parks?year={YEAR}&region={city}")
    config = json.loads(drilled.text.split('id="mfg-map-config">', 1)[1].split("</script>", 1)[0])
    assert config["geo_url"] == f"/api/v1/geo/{city}" and "county=" in config["drill"]["url"]
    one = c.get(f"/manufacturing-parks?year={YEAR}&county={province['county']}")
    assert one.text.count('<tr id="mfg-') == int((table["county_code"] == province["county"]).sum())
    five = c.get(f"/manufacturing-parks?year={YEAR}&star=0")
    assert five.text.count('<tr id="mfg-') == int((table["star"] == 0).sum())
    top = str(table.index[0])
    detail = c.get(f"/manufacturing-parks/{top}?year={YEAR}")
    assert detail.status_code == 200 and table.at[top, "park_name"] in detail.text
    assert "全省制造业园区第 1 名" in detail.text and 'id="mfg-radar"' in detail.text
    x = c.get(f"/manufacturing-parks/export.xlsx?year={YEAR}")
    assert x.status_code == 200 and "attachment" in x.headers["content-disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(x.content))
    ws = wb["星级评价结果"]
    assert ws["A1"].value == f"{YEAR}年度制造业园区高质量发展星级评价结果"
    assert ws.max_row - 3 == len(table) and ws["D4"].value == table.at[top, "park_name"]
    assert {"指标值", "方法"} <= set(wb.sheetnames)
    from sqlalchemy import select

    from jingxin.core.audit import AuditEntry

    with client_app.state.db.session() as db:
        entries = db.scalars(select(AuditEntry).where(AuditEntry.object_type == "manufacturing_park_stars"))
        assert [(e.action, e.object_id) for e in entries] == [("export", str(YEAR))]
    api = c.get(f"/api/v1/parks/manufacturing?year={YEAR}").json()
    assert len(api["rows"]) == len(table)
    assert c.get("/api/v1/parks/manufacturing?year=2019").status_code == 404
    c.__exit__(None, None, None)


def test_county_analyst_sees_its_own_parks_only(client_app: Any, province: dict[str, Any]) -> None:
    table, mine, other = province["table"], province["county"], province["other"]
    c = _client(client_app, "xian")
    page = c.get(f"/manufacturing-parks?year={YEAR}")
    assert page.text.count('<tr id="mfg-') == int((table["county_code"] == mine).sum())
    assert table.at[other, "park_name"] not in page.text and 'id="mfg-map"' not in page.text
    assert c.get(f"/manufacturing-parks/{other}?year={YEAR}").status_code == 404
    assert c.get(f"/api/v1/parks/manufacturing/{other}?year={YEAR}").status_code == 404
    rows = c.get(f"/api/v1/parks/manufacturing?year={YEAR}").json()["rows"]
    assert {r["county_code"] for r in rows} == {mine}
    wb = openpyxl.load_workbook(io.BytesIO(c.get(f"/manufacturing-parks/export.xlsx?year={YEAR}").content))
    assert wb["星级评价结果"].max_row - 3 == len(rows)
    c.__exit__(None, None, None)
    q = _client(client_app, "qiye")
    assert q.get("/manufacturing-parks").status_code == 403
    assert q.get("/api/v1/parks/manufacturing").status_code == 403
    q.__exit__(None, None, None)


def test_county_index_shows_its_outlier_treatment(client_app: Any) -> None:
    from jingxin.places.service import county_index

    with client_app.state.warehouse.reader() as wh:
        ci = county_index(wh, YEAR, draws=30)
    treated = {g.code: g.result.treatment for g in ci.groups}
    group, t = next((k, v) for k, v in treated.items() if (v["status"] != "passed").any())
    flagged = t.index[t["status"] != "passed"]
    c = _client(client_app, "sheng")
    page = c.get(f"/places?year={YEAR}&group={group}")
    card = page.text.split('id="treatment"', 1)[1].split("</section>", 1)[0]
    names = {i.code: i.name for i in ci.config.indicators}
    for code in flagged:
        assert names[code] in card
    wb = openpyxl.load_workbook(io.BytesIO(c.get(f"/places/export.xlsx?year={YEAR}").content))
    listed = {(r[0], r[1]) for r in wb["异常值处理"].iter_rows(min_row=2, values_only=True)}
    gname = ci.group(group).name
    assert {(gname, names[code]) for code in flagged} <= listed
    c.__exit__(None, None, None)
