"""What every browser test needs: a real server on a free port, chromium, logging in, screenshots.

The browser itself is the session fixture `browser` in conftest.py (one chromium per test
worker; the contexts a test opens are closed after it); a module builds its own data and calls
`serve(home, ...)` for a `uvicorn` process that serves it. Screenshots go to docs/screenshots/,
where the documentation links them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

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
PHONE = {"width": 390, "height": 844}
CHART_SETTLE_MS = 1200  # ECharts' opening animation (1 s by default) and a little more


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_accounts(home: Path, **bindings: Any) -> str:
    """The URL of a platform database `home/platform.sqlite`, migrated, holding the demo accounts
    (`create_demo_users`, password DEMO_PASSWORD; `enterprise_code=`, `staff_enterprises=` bind
    the enterprise account and the service worker to enterprises of the module's province)."""
    from jingxin.accounts.demo import DEMO_PASSWORD, create_demo_users
    from jingxin.core.db import Database, upgrade

    url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(url)
    database = Database(url)
    try:
        with database.session() as db:
            create_demo_users(db, DEMO_PASSWORD, **bindings)
            db.commit()
    finally:
        database.dispose()
    return url


@contextmanager
def serve(
    home: Path,
    *,
    database_url: str,
    warehouse_url: str,
    env: dict[str, str] | None = None,
    startup_seconds: float = 300,
) -> Iterator[str]:
    """Run the web application under uvicorn over these stores, in `home` (so no `.env` of the
    checkout is read); yields its base URL.

    The server's output goes to `home/server.log`, shown in the failure when it dies at start.
    A server that exits is reported at once; `startup_seconds` only bounds one that hangs (a
    loaded shared machine can take minutes to start it)."""
    port = free_port()
    environment = {
        **os.environ,
        "JINGXIN_HOME": str(home),
        "JINGXIN_DATABASE_URL": database_url,
        "JINGXIN_WAREHOUSE": warehouse_url,
        "JINGXIN_SECRET_KEY": "browser-test",
        **(env or {}),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "jingxin.web.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log_path = home / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=home, env=environment, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + startup_seconds
            while True:
                try:
                    if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None, log_path.read_text(errors="replace")
                assert time.time() < deadline, "server did not start"
                time.sleep(0.3)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def open_as(browser: Any, base: str, username: str, password: str, **context_options: Any) -> Any:
    """A fresh browser context logged in as `username`; `page.js_errors` collects script errors,
    which the tests check: no script may fail. `context_options` go to `new_context`
    (`viewport=PHONE`, `accept_downloads=True`, ...)."""
    context = browser.new_context(**{"viewport": VIEWPORT, "locale": "zh-CN", **context_options})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, f"{username} could not log in"
    return page


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    """A screenshot docs/screenshots/<name>.png (the whole page, or the first screen with
    `full_page=False`). A page that draws charts (it loads ECharts) is given 1.2 s for their
    opening animation first; a page without charts has nothing to wait for."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if page.evaluate("() => typeof window.echarts !== 'undefined'"):
        page.wait_for_timeout(CHART_SETTLE_MS)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def act(
    page: Any, transition: str, fields: dict[str, str], comment: str = "", *, refused: bool = False
) -> None:
    """Fill and submit a workflow transition's form (`#<transition>-<field>` inputs) on the page
    open now, and check that it was taken: the server answers a taken step by returning to the
    case (`/work/<id>`), a refused one with the form again and its problems (`refused=True`
    checks that instead)."""
    form = page.locator(f"form[action$='/act/{transition}']")
    case = form.get_attribute("action").rsplit("/act/", 1)[0]
    for name, value in fields.items():
        selector = f"#{transition}-{name}"
        if page.locator(selector).evaluate("e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
    if comment:
        page.fill(f"#{transition}-comment", comment)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    if refused:
        assert not page.url.endswith(case), f"{transition} was taken, expected a refusal: {page.url}"
        return
    assert page.url.endswith(case), f"{transition} was not taken: {page.url}\n{page.inner_text('main')}"
