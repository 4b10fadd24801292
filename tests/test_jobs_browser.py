"""The jobs page in a real browser (Debian's chromium through Playwright): an admin watches an
ingestion job of a whole generated province move through its files, its progress bar growing
without a reload, until it is done; screenshots go to docs/screenshots/jobs*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import open_as, serve, shot
from jobs_helpers import PASSWORD, api_login, cli

from jingxin.ingest.service import PAUSE_ENV

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_jobs_page_shows_progress_moving(tmp_path: Path, browser: Any) -> None:
    from jingxin.ingest.directory import plan_directory
    from jingxin.synth.generator import generate_province

    folder = tmp_path / "province"
    generate_province(folder, 300, (2021,), seed=11)
    planned = plan_directory(folder)
    cli(tmp_path, "users", "demo")
    # Each file pauses 1 s inside its transaction, so the bar moves slowly enough to watch.
    with serve(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'platform.sqlite'}",
        warehouse_url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        env={PAUSE_ENV: "1"},
    ) as base:
        admin = api_login(base, "admin")
        files = []
        for p in planned:
            with p.path.open("rb") as fh:
                up = admin.post("/api/v1/jobs/uploads", files={"file": (p.path.name, fh)}).json()
            files.append({"source": p.source, **up})
        job = admin.post("/api/v1/jobs", json={"kind": "ingest", "params": {"files": files}}).json()

        page = open_as(browser, base, "admin", PASSWORD)
        page.goto(f"{base}/jobs")
        bar = page.locator(f"tr[data-job='{job['id']}'] progress")

        def value() -> int:
            return int(bar.get_attribute("value") or 0)

        page.wait_for_function(
            f"() => +document.querySelector(\"tr[data-job='{job['id']}'] progress\").value > 0",
            timeout=60_000,
        )
        first = value()
        assert 0 < first < 100
        shot(page, "jobs")
        page.wait_for_function(
            f"() => +document.querySelector(\"tr[data-job='{job['id']}'] progress\").value > {first}",
            timeout=30_000,
        )
        assert value() > first  # moved without a reload (HTMX polling)
        page.wait_for_selector(f"tr[data-job='{job['id']}'][data-status='succeeded']", timeout=120_000)
        assert value() == 100
        page.goto(f"{base}/jobs/{job['id']}")
        assert "已完成" in page.content() and "批次" in page.content()
        shot(page, "jobs-detail", full_page=False)
        assert page.js_errors == []
