"""A 直兑 payout end to end in a real browser (Debian's chromium through Playwright) against a
uvicorn server: the province sets the budget; 西湖区 lists the beneficiaries, excludes one with
its reason and confirms; finance records the payment; the enterprise opens its code page on a
phone-sized screen and sees the money. Screenshots go to docs/screenshots/policies-*.png."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from policies_helpers import DAY, XIHU, build_province

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from test_exchange_browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, _free_port, shot  # noqa: E402

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import DEMO_PASSWORD, create_demo_users
    from jingxin.core.db import Database, upgrade
    from jingxin.core.scope import Scope
    from jingxin.core.warehouse import open_warehouse
    from jingxin.policies import service

    home = tmp_path_factory.mktemp("policies-browser")
    wh_url = build_province(home)
    wh = open_warehouse(wh_url)
    try:
        xihu = service.beneficiaries(wh, Scope(division=XIHU), "land_tax_relief", DAY, county=XIHU)
    finally:
        wh.close()
    own = xihu[0]["credit_code"]
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    database = Database(db_url)
    with database.session() as db:
        create_demo_users(db, DEMO_PASSWORD, enterprise_code=own, staff_enterprises=[own])
        db.commit()
    database.dispose()
    port = _free_port()
    env = {
        **os.environ,
        "JINGXIN_HOME": str(home),
        "JINGXIN_DATABASE_URL": db_url,
        "JINGXIN_WAREHOUSE": wh_url,
        "JINGXIN_SECRET_KEY": "browser-test",
    }
    log = (home / "server.log").open("wb")
    command = [
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
    ]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
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
            time.sleep(0.3)
        yield {"base": base, "password": DEMO_PASSWORD, "own": own, "xihu": xihu}
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


def open_as(server: dict[str, Any], browser: Any, username: str, viewport: dict[str, int] = VIEWPORT) -> Any:
    page = browser.new_context(viewport=viewport, locale="zh-CN").new_page()
    page.goto(f"{server['base']}/login")
    page.fill("#username", username)
    page.fill("#password", server["password"])
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def test_direct_payout_in_the_browser(server: dict[str, Any], browser: Any) -> None:
    total = sum(r["amount"] for r in server["xihu"])
    sheng = open_as(server, browser, "sheng")
    sheng.goto(f"{server['base']}/policies/payouts")
    form = sheng.locator("#set-budget")
    form.locator("select[name=policy]").select_option("land_tax_relief")
    form.locator("input[name=county]").fill(XIHU)
    form.locator("input[name=year]").fill("2022")
    form.locator("input[name=total]").fill(f"{total:.2f}")
    form.locator("button[type=submit]").click()
    sheng.wait_for_load_state("networkidle")
    assert sheng.locator("#budgets tbody tr").count() == 1

    xihu = open_as(server, browser, "xihu")
    xihu.goto(f"{server['base']}/policies/payouts")
    xihu.locator("#create-list select[name=policy]").select_option("land_tax_relief")
    xihu.locator("#create-list button[type=submit]").click()
    xihu.wait_for_load_state("networkidle")
    assert xihu.locator("#payout-state").inner_text() == "待县级确认"
    rows = xihu.locator("#payout-lines tbody tr")
    assert rows.count() == len(server["xihu"])
    victim = xihu.locator(f"#payout-lines tbody tr[data-code='{server['xihu'][1]['credit_code']}']")
    victim.locator("input[name=reason]").fill("企业已迁出本县，暂缓兑现")
    victim.locator("button[type=submit]").click()
    xihu.wait_for_load_state("networkidle")
    shot(xihu, "policies-payout-listed")
    xihu.click("#step-confirm")
    xihu.wait_for_load_state("networkidle")
    assert xihu.locator("#payout-state").inner_text() == "待财政拨付"
    assert xihu.locator("tr.line-excluded").count() == 1
    assert "企业已迁出本县" in xihu.locator("#payout-history").inner_text()

    sheng.goto(xihu.url)
    sheng.fill("input[name=payment_ref]", "浙财拨〔2022〕0601号")
    sheng.click("#step-record_payment")
    sheng.wait_for_load_state("networkidle")
    assert sheng.locator("#payout-state").inner_text() == "已拨付"
    left = float(sheng.locator("#budget-left").inner_text().replace(",", ""))
    assert left >= 0 and abs(left - server["xihu"][1]["amount"]) < 0.02  # only the excluded amount is left
    shot(sheng, "policies-payout-paid")

    qiye = open_as(server, browser, "qiye", viewport=PHONE)
    qiye.goto(f"{server['base']}/qiye")
    qiye.wait_for_load_state("networkidle")
    assert server["own"] in qiye.url
    paid = qiye.locator("#qy-payouts tr.payout-paid")
    assert paid.count() == 1 and "浙财拨〔2022〕0601号" in paid.inner_text()
    assert qiye.locator(".qy-qr img").is_visible()
    shot(qiye, "policies-enterprise-code-phone")
    qiye.locator("#policy-land_tax_relief summary").click()
    assert "批次" in qiye.locator("#policy-land_tax_relief").inner_text()
    qiye.screenshot(
        path=str(Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "policies-trace-phone.png"),
        full_page=True,
    )


def test_what_if_before_publishing(server: dict[str, Any], browser: Any) -> None:
    page = open_as(server, browser, "xihu")
    page.goto(f"{server['base']}/policies/leader_reward?set_top_n=20")
    page.wait_for_load_state("networkidle")
    assert page.locator("#whatif-table tbody tr").count() >= 2
    page.locator("#whatif").scroll_into_view_if_needed()
    shot(page, "policies-what-if")
