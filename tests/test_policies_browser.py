"""A 直兑 payout end to end in a real browser (Debian's chromium through Playwright) against a
uvicorn server: the province sets the budget; 西湖区 lists the beneficiaries, excludes one with
its reason and confirms; 西湖区's finance bureau (财政部门) records the payment; the enterprise
opens its code page on a phone-sized screen and sees the money. Screenshots go to
docs/screenshots/policies-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import PHONE, demo_accounts, open_as, serve, shot
from policies_helpers import DAY, XIHU, build_province

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import DEMO_PASSWORD
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
    db_url = demo_accounts(home, enterprise_code=own, staff_enterprises=[own])
    with serve(home, database_url=db_url, warehouse_url=wh_url) as base:
        yield {"base": base, "password": DEMO_PASSWORD, "own": own, "xihu": xihu}


def test_direct_payout_in_the_browser(server: dict[str, Any], browser: Any) -> None:
    total = sum(r["amount"] for r in server["xihu"])
    sheng = open_as(browser, server["base"], "sheng", server["password"])
    sheng.goto(f"{server['base']}/policies/payouts")
    form = sheng.locator("#set-budget")
    form.locator("select[name=policy]").select_option("land_tax_relief")
    form.locator("input[name=county]").fill(XIHU)
    form.locator("input[name=year]").fill("2022")
    form.locator("input[name=total]").fill(f"{total:.2f}")
    form.locator("button[type=submit]").click()
    sheng.wait_for_load_state("networkidle")
    assert sheng.locator("#budgets tbody tr").count() == 1

    xihu = open_as(browser, server["base"], "xihu", server["password"])
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
    shot(xihu, "policies-payout-listed", full_page=False)
    xihu.click("#step-confirm")
    xihu.wait_for_load_state("networkidle")
    assert xihu.locator("#payout-state").inner_text() == "待财政拨付"
    assert xihu.locator("tr.line-excluded").count() == 1
    assert "企业已迁出本县" in xihu.locator("#payout-history").inner_text()

    assert xihu.locator("#step-record_payment").count() == 0  # the county does not pay
    caizheng = open_as(browser, server["base"], "caizheng", server["password"])  # 西湖区财政局
    caizheng.goto(xihu.url)
    caizheng.fill("input[name=payment_ref]", "西财拨〔2022〕0601号")
    caizheng.click("#step-record_payment")
    caizheng.wait_for_load_state("networkidle")
    assert caizheng.locator("#payout-state").inner_text() == "已拨付"
    left = float(caizheng.locator("#budget-left").inner_text().replace(",", ""))
    assert left >= 0 and abs(left - server["xihu"][1]["amount"]) < 0.02  # only the excluded amount is left
    shot(caizheng, "policies-payout-paid", full_page=False)

    qiye = open_as(browser, server["base"], "qiye", server["password"], viewport=PHONE)
    qiye.goto(f"{server['base']}/qiye")
    qiye.wait_for_load_state("networkidle")
    assert server["own"] in qiye.url
    paid = qiye.locator("#qy-payouts tr.payout-paid")
    assert paid.count() == 1 and "西财拨〔2022〕0601号" in paid.inner_text()
    assert qiye.locator(".qy-qr img").is_visible()
    shot(qiye, "policies-enterprise-code-phone", full_page=False)
    qiye.locator("#policy-land_tax_relief summary").click()
    assert "批次" in qiye.locator("#policy-land_tax_relief").inner_text()
    shot(qiye, "policies-trace-phone")
    for page in (sheng, xihu, caizheng, qiye):
        assert page.js_errors == []


def test_what_if_before_publishing(server: dict[str, Any], browser: Any) -> None:
    page = open_as(browser, server["base"], "xihu", server["password"])
    page.goto(f"{server['base']}/policies/leader_reward?set_top_n=20")
    page.wait_for_load_state("networkidle")
    assert page.locator("#whatif-table tbody tr").count() >= 2
    page.locator("#whatif").scroll_into_view_if_needed()
    shot(page, "policies-what-if", full_page=False)
    assert page.js_errors == []
