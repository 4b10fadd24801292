"""The monitoring pages in a real browser (chromium through Playwright) against a real server:
a small generated province, ingested and refreshed for October 2021 (cases opened), served by
uvicorn. The province analyst reads the dashboard with its map and trend, the county analyst
its county page, the warnings list links to cases, an enterprise's monitoring tab. Screenshots
go to docs/screenshots/monitoring-*.png."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"  # as tests/test_browser.py
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


pytestmark = [pytest.mark.browser, pytest.mark.slow]
playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import DEMO_PASSWORD, create_demo_users
    from jingxin.core.db import Database, upgrade
    from jingxin.core.warehouse import open_warehouse
    from jingxin.ingest.directory import ingest_directory
    from jingxin.monitoring.service import refresh_month
    from jingxin.synth.generator import generate_province

    home = tmp_path_factory.mktemp("monitor_browser")
    generate_province(home / "province", 1500, "2020-2021", 7, defects=0.0, daily_days=5)
    wh = open_warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    database = Database(db_url)
    try:
        ingest_directory(wh, home / "province")
        reg = wh.current("registry")
        xihu = wh.execute(reg.filter(reg.county_code == "330106").select("credit_code").limit(2))[
            "credit_code"
        ].tolist()
        with database.session() as db:
            create_demo_users(db, DEMO_PASSWORD, enterprise_code=xihu[0], staff_enterprises=xihu)
            db.commit()
            refresh_month(wh, 2021, 9, db)
            refresh_month(wh, 2021, 10, db)
    finally:
        wh.close()
        database.dispose()
    port = _free_port()
    env = {
        **os.environ,
        "JINGXIN_HOME": str(home),
        "JINGXIN_DATABASE_URL": db_url,
        "JINGXIN_WAREHOUSE": f"duckdb:///{home / 'warehouse.duckdb'}",
        "JINGXIN_SECRET_KEY": "browser-test",
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
        deadline = time.time() + 300  # a loaded shared machine starts slowly
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (home / "server.log").read_text(errors="replace")
            assert time.time() < deadline, "server did not start"
            time.sleep(0.3)
        yield {"base": base, "password": DEMO_PASSWORD, "xihu": xihu}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


def _login(browser, server, username: str):
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    page.goto(f"{server['base']}/login")
    page.fill("#username", username)
    page.fill("#password", server["password"])
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return context, page


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1200)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_province_dashboard_map_trend_and_warnings(server, browser) -> None:
    context, page = _login(browser, server, "sheng")
    try:
        page.goto(f"{server['base']}/monitoring")
        page.wait_for_selector("#monitor-map[data-map-ready]", timeout=20000)
        assert page.locator("h1").inner_text() == "浙江省工业经济运行监测"
        assert page.locator("[data-headline=output_value]").count() == 1
        values = page.evaluate("""() => {
            const chart = window.echarts.getInstanceByDom(document.getElementById('monitor-map'));
            return chart.getOption().series[0].data.map(d => d.code);
        }""")
        assert len(values) == 11  # the eleven cities
        page.select_option("#map-measure", "warning")  # recolour by the warning colour
        assert page.locator("#monitor-trend canvas").count() == 1
        assert page.locator("table[data-table=warnings] tbody tr").count() >= 1
        _shot(page, "monitoring-dashboard")
        with page.expect_download() as info:
            page.click("text=下载 Excel >> nth=0")
        assert info.value.suggested_filename.endswith(".xlsx")
        page.goto(f"{server['base']}/monitoring/warnings?month=2021-10")
        assert page.locator("table[data-table=warnings] tbody tr").count() >= 1
        _shot(page, "monitoring-warnings")
        link = page.locator("a[href^='/work/']").first
        if link.count():
            link.click()
            page.wait_for_load_state("networkidle")
            assert "运行监测预警" in page.content()
        assert page.js_errors == []
    finally:
        context.close()


def test_county_analyst_reads_its_county_and_an_enterprise(server, browser) -> None:
    context, page = _login(browser, server, "xihu")
    try:
        page.goto(f"{server['base']}/monitoring/regions/330106")
        assert "西湖区 · 运行监测" in page.locator("h1").inner_text()
        assert page.locator("table[data-table=indicators] tbody tr").count() >= 5
        _shot(page, "monitoring-county")
        page.goto(f"{server['base']}/monitoring/enterprises/{server['xihu'][0]}")
        assert page.locator("table[data-table=enterprise-months] tbody tr").count() >= 12
        _shot(page, "monitoring-enterprise")
        assert page.goto(f"{server['base']}/monitoring/regions/330302").status == 404
        assert page.js_errors == []
    finally:
        context.close()
