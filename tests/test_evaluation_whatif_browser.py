"""What-if in a real browser (chromium through Playwright) against a uvicorn server: the county
analyst of 西湖区 changes a weight and sees the changed class counts and the enterprises that
moved, saves two scenarios and compares them; the administrator adopts one as the county's
override file. Screenshots go to docs/screenshots/evaluation-whatif-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import open_as, serve, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
playwright_api = pytest.importorskip("playwright.sync_api")

XIHU = "330106"
COUNTIES = [XIHU, "330102", "330108", "330302"]
ABOVE = "zhejiang_industry_above"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import DEMO_PASSWORD, create_demo_users
    from jingxin.core.db import Database, upgrade
    from jingxin.core.warehouse import open_warehouse
    from jingxin.evaluation.runs import run_evaluation
    from jingxin.evaluation.sample import load_facts, province

    home = tmp_path_factory.mktemp("whatif-browser")
    wh_url = f"duckdb:///{home / 'warehouse.duckdb'}"
    wh = open_warehouse(wh_url)
    try:
        load_facts(wh, province(600, years=(2020, 2021), seed=11, counties=COUNTIES))
        run_evaluation(wh, ABOVE, 2020)
        run_evaluation(wh, ABOVE, 2021)
    finally:
        wh.close()
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    database = Database(db_url)
    with database.session() as db:
        create_demo_users(db, DEMO_PASSWORD)
        db.commit()
    database.dispose()
    systems = home / "systems"
    systems.mkdir()
    env = {"JINGXIN_EVALUATION_SYSTEMS": str(systems)}
    with serve(home, database_url=db_url, warehouse_url=wh_url, env=env, startup_seconds=400) as base:
        yield {"base": base, "password": DEMO_PASSWORD, "systems": systems}


def test_change_a_weight_save_compare_and_adopt(browser, server) -> None:
    base, password = server["base"], server["password"]
    page = open_as(browser, base, "xihu", password)
    page.set_default_timeout(300_000)  # the first what-if stages the county (seconds on a loaded machine)
    page.goto(f"{base}/evaluation")
    page.click("#whatif-link")
    page.wait_for_selector("#whatif-counts")
    assert "情景推演" in page.inner_text("h1")
    before = page.inner_text("#whatif-counts")
    # change a weight: the counts and the movers update without leaving the page
    page.fill("#w_tax_per_mu", "60")
    page.wait_for_selector("#whatif-movers")
    assert page.inner_text("#whatif-counts") != before
    moved = int(page.inner_text("#whatif-moved"))
    assert moved > 0
    assert "亩均税收" in page.inner_text("#whatif-movers")  # why: the indicator whose points moved
    shot(page, "evaluation-whatif-weight")
    # save it, then a second scenario with other class shares
    page.fill("#wi-name", "亩均税收权重60")
    page.click("#wi-save")
    page.wait_for_selector("#saved table")
    page.fill("#share_A", "30")
    page.fill("#share_B", "50")
    page.wait_for_timeout(1500)
    page.fill("#wi-name", "A类30%")
    page.click("#wi-save")
    page.wait_for_selector("#wi-compare")
    page.click("#wi-compare")
    page.wait_for_selector("#pair")
    pair = page.inner_text("#pair")
    assert "亩均税收权重60" in pair and "A类30%" in pair
    shot(page, "evaluation-whatif-compare")
    # another county is out of reach
    other = page.goto(f"{base}/evaluation/whatif?county=330102")
    assert other is not None and other.status == 404
    assert not page.js_errors, page.js_errors
    page.context.close()

    admin = open_as(browser, base, "admin", password)
    admin.set_default_timeout(300_000)
    admin.goto(f"{base}/evaluation/whatif?county={XIHU}")
    admin.wait_for_selector("#saved table")
    admin.locator("button[id^=adopt-]").first.click()
    admin.wait_for_selector("#adopted-msg")
    assert (server["systems"] / "overrides" / ABOVE / f"{XIHU}.yaml").is_file()
    shot(admin, "evaluation-whatif-adopted")
    admin.context.close()
