"""The nowcast page in a real browser (Debian's chromium through Playwright) against a uvicorn
server: the province analyst reads the province's nowcast with its intervals and news, switches
to a city; the county analyst sees only their county. Screenshot docs/screenshots/nowcast.png."""

from __future__ import annotations

import datetime as dt
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

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _build(home: Path) -> None:
    """A generated province's registry, electricity and official figures, and two runs."""
    from jingxin.core.warehouse import open_warehouse
    from jingxin.ingest.service import ingest_file
    from jingxin.nowcast.runs import run_nowcast
    from jingxin.synth.generator import generate_province

    folder = home / "province"
    generate_province(folder, 600, "2018-2021", seed=3, defects=0.0)
    wh = open_warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        ingest_file(wh, "registry", next(folder.glob("registry.*")))
        for year in (2018, 2019, 2020, 2021):
            ingest_file(wh, "power", folder / f"power_{year}.csv")
            if year > 2018:
                ingest_file(wh, "official", folder / f"official_{year}.csv")
        codes = ["330000", "330100", "330106"]
        run_nowcast(wh, "2021-10", codes, as_of=dt.date(2021, 10, 25), maxiter=50)
        run_nowcast(wh, "2021-10", codes, as_of=dt.date(2021, 11, 12), maxiter=50)
    finally:
        wh.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import DEMO_PASSWORD, create_demo_users
    from jingxin.core.db import Database, upgrade

    home = tmp_path_factory.mktemp("nowcast-browser")
    _build(home)
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    database = Database(db_url)
    with database.session() as db:
        create_demo_users(db, DEMO_PASSWORD)
        db.commit()
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
    command = [sys.executable, "-m", "uvicorn", "--factory", "jingxin.web.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180  # a loaded shared machine starts slowly
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (home / "server.log").read_text(errors="replace")
            assert time.time() < deadline, "server did not start"
            time.sleep(0.3)
        yield {"base": base, "password": DEMO_PASSWORD}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


def _login(browser: Any, server: dict[str, Any], username: str) -> Any:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    page.goto(f"{server['base']}/login")
    page.fill("#username", username)
    page.fill("#password", server["password"])
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def test_province_analyst_reads_nowcast_and_news(server: dict[str, Any], browser: Any) -> None:
    page = _login(browser, server, "sheng")
    page.goto(f"{server['base']}/nowcast?region=330000")
    page.wait_for_selector("#nowcast-chart canvas", timeout=15000)
    page.wait_for_selector("#news-chart canvas", timeout=15000)
    assert "浙江省 · 2021-10" in page.inner_text("h2")
    rows = page.locator("#nowcast-table tbody tr")
    assert rows.count() == 6  # month and quarter × three models
    assert "动态因子模型" in page.inner_text("#nowcast-table")
    assert "工业用电量" in page.inner_text("#news-table")  # October's electricity came in between
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1200)
    page.screenshot(path=str(SCREENSHOTS / "nowcast.png"), full_page=True)
    page.select_option("select[name=region]", "330100")
    page.click("form.inline-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "杭州市 · 2021-10" in page.inner_text("h2")
    assert not page.js_errors
    page.context.close()


def test_county_analyst_sees_only_their_county(server: dict[str, Any], browser: Any) -> None:
    page = _login(browser, server, "xihu")
    page.goto(f"{server['base']}/nowcast")
    options = page.locator("select[name=region] option").all_inner_texts()
    assert options == ["西湖区"]
    response = page.goto(f"{server['base']}/nowcast?region=330000")
    assert response is not None and response.status == 404
    page.context.close()
