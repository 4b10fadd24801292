"""A project's life from 签约 to 达产 and a recognition from application to publication, in a real
browser against a real server. The county replays its reports up to the signing date, then
records 开工, 投产 and 达产 on the case page, each project coloured by its progress against its
planned milestones; an enterprise applies for 隐形冠军 with its
screening trace, the county, the city and the province approve, and the province publishes the
pool; the province registers a 首台(套) compensation on an item of the 经信 recognition list.
Screenshots go to docs/screenshots/projects-*.png and cultivation-*.png."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import act, open_as, serve, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest.importorskip("playwright.sync_api")
MONTH = "2021-06"
pytest_plugins = ["jingxin.projects.testing"]
# The fills of the progress colours (web/static/css/jingxin.css .pace-*), as the browser reports them.
PACE_RGB = {
    "green": "rgb(227, 244, 232)",
    "orange": "rgb(253, 235, 215)",
    "red": "rgb(251, 224, 223)",
    "grey": "rgb(238, 238, 238)",
}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, projects_province: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import DEMO_PASSWORD, create_demo_users
    from jingxin.accounts.schemas import UserCreate
    from jingxin.accounts.service import create_user
    from jingxin.core.audit import CLI_ACTOR
    from jingxin.core.auth import Role
    from jingxin.core.db import Database, upgrade
    from jingxin.core.warehouse import open_warehouse
    from jingxin.cultivation.screen import screen
    from jingxin.projects import facts

    home = tmp_path_factory.mktemp("projects-browser")
    shutil.copyfile(projects_province["path"], home / "warehouse.duckdb")  # the session's province
    url = f"duckdb:///{home / 'warehouse.duckdb'}"
    wh = open_warehouse(url)
    try:
        reg = facts.register(wh)
        champion = screen(wh, 2021).table
    finally:
        wh.close()
    busiest = reg["county_code"].value_counts().index[0]  # a county with much to show
    done = reg[reg["capacity_on"].notna() & reg["started_on"].notna() & (reg["county_code"] == busiest)].iloc[
        0
    ]
    hidden = champion[champion["hidden_champion"]].iloc[0]
    database_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(database_url)
    db = Database(database_url)
    with db.session() as s:
        create_demo_users(s, DEMO_PASSWORD)
        for name, role, division, extra in (
            ("xian", Role.COUNTY_ANALYST, str(done["county_code"]), {}),
            ("xian-h", Role.COUNTY_ANALYST, str(hidden["county_code"]), {}),
            ("shi-h", Role.CITY_ANALYST, str(hidden["county_code"])[:4] + "00", {}),
            (
                "qiye-h",
                Role.ENTERPRISE,
                str(hidden["county_code"]),
                {"credit_code": str(hidden["credit_code"])},
            ),
        ):
            create_user(
                s,
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
    db.dispose()
    with serve(home, database_url=database_url, warehouse_url=url, startup_seconds=300) as base:
        yield {"base": base, "project": done, "hidden": hidden, "password": DEMO_PASSWORD}


def test_project_life_from_signing_to_capacity(server, browser) -> None:
    p = server["project"]
    page = open_as(browser, server["base"], "xian", server["password"])
    page.goto(f"{server['base']}/projects")
    page.fill("#sync-until", str(p["signed_on"].date()))
    page.click("#sync-projects")
    page.wait_for_load_state("networkidle")
    row = page.locator(f"#p-{p['project_id']}")
    link = row.locator("a[href^='/work/']")
    assert link.count() == 1
    # The case runs to the project's own 开工 deadline (planned date + grace in working days),
    # and every project carries its progress colour, filled by the stylesheet.
    assert "开工时限至" in row.locator(".deadline").inner_text()
    assert page.locator("#pace-legend").is_visible()
    colours = page.locator("#projects td[data-pace]")
    assert colours.count() == page.locator("#projects tbody tr").count()
    for key, rgb in PACE_RGB.items():
        cell = page.locator(f"#projects td[data-pace={key}]")
        if cell.count():
            assert cell.first.evaluate("e => getComputedStyle(e).backgroundColor") == rgb
    shot(page, "projects-register")
    link.click()
    page.wait_for_load_state("networkidle")
    assert "已签约" in page.content() and "开工节点时限" in page.content()
    act(page, "record_start", {"started_on": str(p["started_on"].date())})
    assert "已开工" in page.content()
    act(page, "record_production", {"production_on": str(p["production_on"].date())})
    assert "已投产" in page.content()
    act(page, "record_capacity", {"capacity_on": str(p["capacity_on"].date())})
    assert "已达产" in page.content()
    shot(page, "projects-case-capacity")
    page.goto(f"{server['base']}/projects/progress?month={MONTH}")
    assert page.locator("#progress tbody tr").count() == 1  # the county sees its own row
    assert page.locator("#effect").count() == 1
    shot(page, "projects-progress")
    assert not page.js_errors, page.js_errors
    page.context.close()
    province = open_as(browser, server["base"], "sheng", server["password"])
    province.goto(f"{server['base']}/projects/progress?month={MONTH}")
    assert province.locator("#progress tbody tr").count() > 5
    assert "双重差分" in province.content()
    assert province.locator("#pace-legend .badge").count() == 4
    shown = province.locator("#progress td[data-pace]")
    seen = set()
    for k in range(shown.count()):
        cell = shown.nth(k)
        key = cell.get_attribute("data-pace")
        seen.add(key)
        assert cell.evaluate("e => getComputedStyle(e).backgroundColor") == PACE_RGB[key]
    assert len(seen) >= 2, seen  # counties differ in pace
    shot(province, "projects-progress-province")
    province.context.close()


def test_recognition_from_application_to_publication(server, browser) -> None:
    h = server["hidden"]
    base = server["base"]
    ent = open_as(browser, base, "qiye-h", server["password"])
    ent.goto(f"{base}/cultivation/enterprises/{h['credit_code']}?ladder=champion")
    assert ent.locator("#trace-hidden_champion tbody tr").count() == 9
    shot(ent, "cultivation-trace")
    ent.select_option("#apply-form select[name=rung]", "hidden_champion")
    ent.fill("#apply-form textarea[name=evidence]", "近三年审计报告；细分市场占有率证明")
    ent.click("#apply")
    ent.wait_for_load_state("networkidle")
    item_url = ent.url
    assert "/work/" in item_url and "县级审核" in ent.content()
    ent.context.close()
    for username, transition, field, text in (
        ("xian-h", "county_approve", "county_opinion", "材料齐全，同意推荐"),
        ("shi-h", "city_approve", "city_opinion", "同意"),
        ("sheng", "province_recognise", "province_opinion", "经审核，认定为隐形冠军"),
    ):
        page = open_as(browser, base, username, server["password"])
        page.goto(item_url)
        act(page, transition, {field: text})
        if transition == "province_recognise":
            assert "已认定" in page.content()
            shot(page, "cultivation-recognised")
        page.context.close()
    province = open_as(browser, base, "sheng", server["password"])
    province.goto(f"{base}/cultivation/pool")
    province.fill("#publish-form input[name=label]", "2021年第1批")
    province.click("#publish")
    province.wait_for_load_state("networkidle")
    assert h["credit_code"] in province.locator("#pool").inner_text()
    shot(province, "cultivation-pool")
    province.goto(f"{base}/cultivation?ladder=champion")
    assert province.locator("#qualifying tbody tr").count() > 0
    shot(province, "cultivation-screen")
    assert not province.js_errors, province.js_errors
    province.context.close()


def test_first_set_list_from_the_source_and_a_claim(server, browser) -> None:
    base = server["base"]
    page = open_as(browser, base, "sheng", server["password"])
    page.goto(f"{base}/cultivation/first-set")
    rows = page.locator("#first-set tbody tr")
    assert rows.count() > 0 and "批次" in page.locator(".page-head .hint").inner_text()
    first = rows.first
    code = first.get_attribute("id").removeprefix("fs-")
    first.locator("input[name=premium]").fill("120")
    first.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "已登记保险补偿" in page.content()
    assert code in page.locator("#first-set-claims").inner_text()
    shot(page, "cultivation-first-set")
    assert not page.js_errors, page.js_errors
    page.context.close()
