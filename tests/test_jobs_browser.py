"""The jobs page in a real browser (Debian's chromium through Playwright): an admin watches an
ingestion job of a whole generated province move through its files, its progress bar growing
without a reload, until it is done; screenshots go to docs/screenshots/jobs*.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobs_helpers import PASSWORD, Server, api_login, cli, environment, free_port

from jingxin.ingest.service import PAUSE_ENV

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def test_jobs_page_shows_progress_moving(tmp_path: Path) -> None:
    from jingxin.ingest.directory import plan_directory
    from jingxin.synth.generator import generate_province

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    folder = tmp_path / "province"
    generate_province(folder, 300, (2021,), seed=11)
    planned = plan_directory(folder)
    cli(tmp_path, "users", "demo")
    # Each file pauses 1 s inside its transaction, so the bar moves slowly enough to watch.
    server = Server(tmp_path, free_port(), environment(tmp_path, **{PAUSE_ENV: "1"}))
    try:
        admin = api_login(server.url, "admin")
        files = []
        for p in planned:
            with p.path.open("rb") as fh:
                up = admin.post("/api/v1/jobs/uploads", files={"file": (p.path.name, fh)}).json()
            files.append({"source": p.source, **up})
        job = admin.post("/api/v1/jobs", json={"kind": "ingest", "params": {"files": files}}).json()

        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{server.url}/login")
            page.fill("#username", "admin")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            page.goto(f"{server.url}/jobs")
            bar = page.locator(f"tr[data-job='{job['id']}'] progress")

            def value() -> int:
                return int(bar.get_attribute("value") or 0)

            page.wait_for_function(
                f"() => +document.querySelector(\"tr[data-job='{job['id']}'] progress\").value > 0",
                timeout=60_000,
            )
            first = value()
            assert 0 < first < 100
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "jobs.png"), full_page=True)
            page.wait_for_function(
                f"() => +document.querySelector(\"tr[data-job='{job['id']}'] progress\").value > {first}",
                timeout=30_000,
            )
            assert value() > first  # moved without a reload (HTMX polling)
            page.wait_for_selector(f"tr[data-job='{job['id']}'][data-status='succeeded']", timeout=120_000)
            assert value() == 100
            page.goto(f"{server.url}/jobs/{job['id']}")
            assert "已完成" in page.content() and "批次" in page.content()
            page.screenshot(path=str(SCREENSHOTS / "jobs-detail.png"))
            assert errors == []
            browser.close()
    finally:
        server.stop()
