"""The data exchange pages in a real browser (Debian's chromium through Playwright) against a
uvicorn server: an admin reads the catalogue, issues a token on the tokens page and sees it
once; the 税务 liaison follows its submissions on the tracker. Screenshots go to
docs/screenshots/exchange-*.png."""

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
from exchange_helpers import load_world

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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import DEMO_PASSWORD, create_demo_users
    from jingxin.core.db import Database, upgrade
    from jingxin.core.warehouse import open_warehouse

    home = tmp_path_factory.mktemp("exchange-browser")
    files = home / "files"
    files.mkdir()
    wh = open_warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        load_world(wh, files)
    finally:
        wh.close()
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
        deadline = time.time() + 90
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


def open_as(server: dict[str, Any], browser: Any, username: str) -> Any:
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


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def test_the_catalogue_and_a_token_issued_once(server: dict[str, Any], browser: Any) -> None:
    page = open_as(server, browser, "admin")
    page.click("nav a[href='/exchange']")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "共享数据目录"
    tax = page.locator("#dataset-tax")
    assert "企业年度税收" in tax.inner_text() and "现行批次 1 个" in tax.inner_text()
    assert tax.locator("table tbody tr").count() == 3
    assert page.locator("section.dataset").count() >= 9
    shot(page, "exchange-catalogue")

    page.click("a[href='/exchange/tokens']")
    page.fill("#t-name", "省发改委项目库对接")
    page.fill("#t-holder", "省发展改革委")
    page.fill("#t-division", "330100")
    page.check("input[value='tax:credit_code']")
    page.check("input[value='tax:year']")
    page.click("form[action='/exchange/tokens'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    secret = page.locator("#token-secret").inner_text()
    assert secret.startswith("jxt_")
    # the picture shows where the token appears, not a token
    page.evaluate("document.getElementById('token-secret').textContent = 'jxt_…（令牌全文，仅此一次显示）'")
    shot(page, "exchange-tokens")
    answer = httpx.get(
        f"{server['base']}/api/v1/exchange/datasets/tax/rows", headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status_code == 200 and answer.json()["total"] == 5  # 杭州市's five of seven
    page.goto(f"{server['base']}/exchange/tokens")
    assert secret not in page.content() and "省发改委项目库对接" in page.content()
    assert page.js_errors == []


def test_the_liaison_follows_its_submissions(server: dict[str, Any], browser: Any) -> None:
    page = open_as(server, browser, "liaison-sw")
    page.goto(f"{server['base']}/exchange/tracker")
    text = page.locator("main").inner_text() if page.locator("main").count() else page.content()
    assert "报送跟踪" in text and "企业年度税收" in text and "企业月度用电量" not in text
    shot(page, "exchange-tracker")
    with page.expect_download() as download:
        page.goto(f"{server['base']}/exchange")
        page.click("a[href='/exchange/templates/tax.xlsx']")
    assert download.value.suggested_filename.endswith(".xlsx")
    assert page.js_errors == []
