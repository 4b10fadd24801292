"""What every browser test needs: a real server on a free port, chromium, logging in, screenshots.

The browser itself is the session fixture `browser` in conftest.py (one chromium per test
worker); a module builds its own data and calls `serve(home, ...)` for a `uvicorn` process that
serves it. Screenshots go to docs/screenshots/, where the documentation links them.
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(
    home: Path,
    *,
    database_url: str,
    warehouse_url: str,
    env: dict[str, str] | None = None,
    startup_seconds: float = 120,
) -> Iterator[str]:
    """Run the web application under uvicorn over these stores; yields its base URL.

    The server's output goes to `home/server.log`, shown in the failure when it dies at start."""
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
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
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
    which the tests check: no script may fail."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", **context_options)
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


def shot(page: Any, name: str) -> None:
    """A full-page screenshot docs/screenshots/<name>.png, after the charts' opening animation."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1200)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def act(page: Any, transition: str, fields: dict[str, str], comment: str = "") -> None:
    """Fill and submit a workflow transition's form (`#<transition>-<field>` inputs)."""
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
