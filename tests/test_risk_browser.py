"""The 一企一策 case in a real browser (chromium through Playwright) against a real server: the
county official reads the month's grades and an enterprise's guarantee graph, lists the
key-concern enterprises, names the people, agrees the plan and visits; nobody visits in time,
so the sweep escalates the case to the city, whose analyst reviews it and closes it (销号).
Screenshots go to docs/screenshots/risk-*.png."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]
playwright_api = pytest.importorskip("playwright.sync_api")

import socket  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


MONTH = "2021-06"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import DEMO_PASSWORD, create_demo_users
    from jingxin.accounts.schemas import UserCreate
    from jingxin.accounts.service import create_user
    from jingxin.core.audit import CLI_ACTOR
    from jingxin.core.auth import Role
    from jingxin.core.db import Database, upgrade
    from jingxin.core.warehouse import open_warehouse
    from jingxin.risk.service import score_month
    from jingxin.risk.testing import build_risk_province

    home = tmp_path_factory.mktemp("risk-browser")
    url, _ = build_risk_province(home)
    wh = open_warehouse(url)
    t = score_month(wh, MONTH).table
    wh.close()
    county = t.loc[t["grade"] == "重点关注", "county_code"].value_counts().index[0]
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    database = Database(db_url)
    with database.session() as db:
        create_demo_users(db, DEMO_PASSWORD, staff_enterprises=[])
        for name, role, division in (
            ("xian", Role.COUNTY_ANALYST, county),
            ("shi", Role.CITY_ANALYST, county[:4] + "00"),
        ):
            create_user(
                db,
                UserCreate(
                    username=name,
                    display_name=name,
                    role=role,
                    division_code=division,
                    password=DEMO_PASSWORD,
                ),
                CLI_ACTOR,
            )
    port = _free_port()
    env = {
        **os.environ,
        "JINGXIN_HOME": str(home),
        "JINGXIN_DATABASE_URL": db_url,
        "JINGXIN_WAREHOUSE": url,
        "JINGXIN_SECRET_KEY": "risk-browser",
    }
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "jingxin.web.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (home / "server.log").read_text(errors="replace")
            assert time.time() < deadline, "server did not start"
            time.sleep(0.5)
        yield {"base": base, "password": DEMO_PASSWORD, "database": database, "county": county}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        database.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


def _open_as(browser: Any, server: dict[str, Any], username: str) -> Any:
    page = browser.new_context(viewport=VIEWPORT, locale="zh-CN").new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    page.goto(f"{server['base']}/login")
    page.fill("#username", username)
    page.fill("#password", server["password"])
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url
    return page


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1200)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _act(page: Any, transition: str, fields: dict[str, str], comment: str = "") -> None:
    for name, value in fields.items():
        selector = f"#{transition}-{name}"
        if page.locator(selector).evaluate("e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
    if comment:
        page.fill(f"#{transition}-comment", comment)
    page.locator(f"form[action$='/act/{transition}'] button[type=submit]").click()
    page.wait_for_load_state("networkidle")


def test_case_end_to_end(server: dict[str, Any], browser: Any) -> None:
    from jingxin.core.db import utcnow
    from jingxin.core.workflow.sweep import sweep

    page = _open_as(browser, server, "xian")
    page.goto(f"{server['base']}/risk?month={MONTH}")
    assert int(page.inner_text("#count-key")) > 0
    rows = page.locator("#risk-grades tbody tr")
    assert rows.count() > 0
    _shot(page, "risk-grades")
    rows.first.locator("a").first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#risk-reasons li").count() > 0
    _shot(page, "risk-enterprise")

    page.goto(f"{server['base']}/risk?month={MONTH}")
    page.click("#open-cases")
    page.wait_for_load_state("networkidle")
    assert "/risk/cases" in page.url
    _shot(page, "risk-cases")
    page.locator("#case-items tbody tr a").first.click()
    page.wait_for_load_state("networkidle")
    case_url = page.url
    _act(page, "assign", {"county_official": "张科长", "service_worker": "李服务员"})
    _act(
        page,
        "plan",
        {"plan": "1. 协调银行续贷（县金融办，7月31日前）；2. 欠税分期缴纳（税务分局，8月15日前）"},
    )
    _act(page, "visit", {"visit": "走访企业，部分产线恢复生产"})
    assert "措施推进中" in page.content()
    _shot(page, "risk-case-in-progress")

    with server["database"].session() as db:  # nobody visits for two months
        assert sweep(db, utcnow() + timedelta(days=60), send_email=False).escalated >= 1
    page.goto(case_url)
    assert page.locator("form[action$='/act/review']").count() == 0  # now the city's case

    city = _open_as(browser, server, "shi")
    city.goto(case_url)
    _act(city, "review", {"review": "improving", "review_note": "用电恢复到正常水平的八成"})
    _act(
        city,
        "close",
        {"close_reason": "resolved", "close_note": "续贷落实，欠税缴清"},
        comment="风险化解，销号",
    )
    assert "已销号" in city.content()
    _shot(city, "risk-case-closed")
    city.goto(f"{server['base']}/risk/cases?from=2000-01-01&to=2099-12-31")
    total = city.locator("#case-lists tbody tr").last.inner_text()
    assert "合计" in total
    assert not page.js_errors and not city.js_errors
