"""The data exchange pages in a real browser (Debian's chromium through Playwright) against a
uvicorn server: an admin reads the catalogue, issues a token on the tokens page and sees it
once; the 税务 liaison follows its submissions on the tracker. Screenshots go to
docs/screenshots/exchange-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser_support import demo_accounts, open_as, serve, shot
from exchange_helpers import load_world

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import DEMO_PASSWORD
    from jingxin.core.warehouse import open_warehouse

    home = tmp_path_factory.mktemp("exchange-browser")
    files = home / "files"
    files.mkdir()
    wh = open_warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        load_world(wh, files)
    finally:
        wh.close()
    with serve(
        home, database_url=demo_accounts(home), warehouse_url=f"duckdb:///{home / 'warehouse.duckdb'}"
    ) as base:
        yield {"base": base, "password": DEMO_PASSWORD}


def test_the_catalogue_and_a_token_issued_once(server: dict[str, Any], browser: Any) -> None:
    page = open_as(browser, server["base"], "admin", server["password"])
    page.click("nav a[href='/exchange']")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "共享数据目录"
    tax = page.locator("#dataset-tax")
    assert "企业年度税收" in tax.inner_text() and "现行批次 1 个" in tax.inner_text()
    assert tax.locator("table tbody tr").count() == 3
    assert page.locator("section.dataset").count() >= 9
    shot(page, "exchange-catalogue", full_page=False)

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
    shot(page, "exchange-tokens", full_page=False)
    answer = httpx.get(
        f"{server['base']}/api/v1/exchange/datasets/tax/rows", headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status_code == 200 and answer.json()["total"] == 5  # 杭州市's five of seven
    page.goto(f"{server['base']}/exchange/tokens")
    assert secret not in page.content() and "省发改委项目库对接" in page.content()
    assert page.js_errors == []


def test_the_liaison_follows_its_submissions(server: dict[str, Any], browser: Any) -> None:
    page = open_as(browser, server["base"], "liaison-sw", server["password"])
    page.goto(f"{server['base']}/exchange/tracker")
    text = page.locator("main").inner_text() if page.locator("main").count() else page.content()
    assert "报送跟踪" in text and "企业年度税收" in text and "企业月度用电量" not in text
    shot(page, "exchange-tracker", full_page=False)
    with page.expect_download() as download:
        page.goto(f"{server['base']}/exchange")
        page.click("a[href='/exchange/templates/tax.xlsx']")
    assert download.value.suggested_filename.endswith(".xlsx")
    assert page.js_errors == []
