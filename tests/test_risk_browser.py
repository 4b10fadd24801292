"""The 一企一策 case in a real browser (chromium through Playwright) against a real server: the
county official reads the month's grades and an enterprise's guarantee graph, lists the
key-concern enterprises, names the people, agrees the plan and visits; nobody visits in time,
so the sweep escalates the case to the city, whose analyst reviews it and closes it (销号).
Screenshots go to docs/screenshots/risk-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from browser_support import act, demo_accounts, open_as, serve, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MONTH = "2021-06"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import DEMO_PASSWORD
    from jingxin.accounts.schemas import UserCreate
    from jingxin.accounts.service import create_user
    from jingxin.core.audit import CLI_ACTOR
    from jingxin.core.auth import Role
    from jingxin.core.db import Database
    from jingxin.core.warehouse import open_warehouse
    from jingxin.risk.service import score_month
    from jingxin.risk.testing import build_risk_province

    home = tmp_path_factory.mktemp("risk-browser")
    url, _ = build_risk_province(home)
    wh = open_warehouse(url)
    t = score_month(wh, MONTH).table
    wh.close()
    county = t.loc[t["grade"] == "重点关注", "county_code"].value_counts().index[0]
    db_url = demo_accounts(home, staff_enterprises=[])
    database = Database(db_url)
    with database.session() as db:
        for name, role, division in (
            ("xian", Role.COUNTY_ANALYST, county),
            ("shi", Role.CITY_ANALYST, county[:4] + "00"),
        ):
            create_user(
                db,
                UserCreate(
                    username=name,
                    display_name=name,
                    role=role,
                    division_code=division,
                    password=DEMO_PASSWORD,
                ),
                CLI_ACTOR,
            )
    try:
        with serve(home, database_url=db_url, warehouse_url=url) as base:
            yield {"base": base, "password": DEMO_PASSWORD, "database": database, "county": county}
    finally:
        database.dispose()


def test_case_end_to_end(server: dict[str, Any], browser: Any) -> None:
    from jingxin.core.db import utcnow
    from jingxin.core.workflow.sweep import sweep

    page = open_as(browser, server["base"], "xian", server["password"])
    page.goto(f"{server['base']}/risk?month={MONTH}")
    assert int(page.inner_text("#count-key")) > 0
    rows = page.locator("#risk-grades tbody tr")
    assert rows.count() > 0
    shot(page, "risk-grades")
    rows.first.locator("a").first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#risk-reasons li").count() > 0
    shot(page, "risk-enterprise")

    page.goto(f"{server['base']}/risk?month={MONTH}")
    page.click("#open-cases")
    page.wait_for_load_state("networkidle")
    assert "/risk/cases" in page.url
    shot(page, "risk-cases")
    page.locator("#case-items tbody tr a").first.click()
    page.wait_for_load_state("networkidle")
    case_url = page.url
    act(page, "assign", {"county_official": "张科长", "service_worker": "李服务员"})
    act(
        page,
        "plan",
        {"plan": "1. 协调银行续贷（县金融办，7月31日前）；2. 欠税分期缴纳（税务分局，8月15日前）"},
    )
    act(page, "visit", {"visit": "走访企业，部分产线恢复生产"})
    assert "措施推进中" in page.content()
    shot(page, "risk-case-in-progress")

    with server["database"].session() as db:  # nobody visits for two months
        assert sweep(db, utcnow() + timedelta(days=60), send_email=False).escalated >= 1
    page.goto(case_url)
    assert page.locator("form[action$='/act/review']").count() == 0  # now the city's case

    city = open_as(browser, server["base"], "shi", server["password"])
    city.goto(case_url)
    act(city, "review", {"review": "improving", "review_note": "用电恢复到正常水平的八成"})
    act(
        city,
        "close",
        {"close_reason": "resolved", "close_note": "续贷落实，欠税缴清"},
        comment="风险化解，销号",
    )
    assert "已销号" in city.content()
    shot(city, "risk-case-closed")
    city.goto(f"{server['base']}/risk/cases?from=2000-01-01&to=2099-12-31")
    total = city.locator("#case-lists tbody tr").last.inner_text()
    assert "合计" in total
    assert not page.js_errors and not city.js_errors
