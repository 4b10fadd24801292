"""The monitoring pages in a real browser (chromium through Playwright) against a real server:
a small generated province, ingested and refreshed for October 2021 (cases opened), served by
uvicorn. The province analyst reads the dashboard with its map and trend, the county analyst
its county page, the warnings list links to cases, an enterprise's monitoring tab. Screenshots
go to docs/screenshots/monitoring-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import demo_accounts, open_as, serve, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import DEMO_PASSWORD
    from jingxin.core.db import Database
    from jingxin.core.warehouse import open_warehouse
    from jingxin.ingest.directory import ingest_directory
    from jingxin.monitoring.service import refresh_month
    from jingxin.synth.generator import generate_province

    home = tmp_path_factory.mktemp("monitor_browser")
    generate_province(home / "province", 1500, "2020-2021", 7, defects=0.0, daily_days=5)
    wh = open_warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        ingest_directory(wh, home / "province")
        reg = wh.current("registry")
        xihu = wh.execute(reg.filter(reg.county_code == "330106").select("credit_code").limit(2))[
            "credit_code"
        ].tolist()
        db_url = demo_accounts(home, enterprise_code=xihu[0], staff_enterprises=xihu)
        database = Database(db_url)
        try:
            with database.session() as db:
                refresh_month(wh, 2021, 9, db)
                refresh_month(wh, 2021, 10, db)
        finally:
            database.dispose()
    finally:
        wh.close()
    with serve(home, database_url=db_url, warehouse_url=f"duckdb:///{home / 'warehouse.duckdb'}") as base:
        yield {"base": base, "password": DEMO_PASSWORD, "xihu": xihu}


def test_province_dashboard_map_trend_and_warnings(server: dict[str, Any], browser: Any) -> None:
    page = open_as(browser, server["base"], "sheng", server["password"], accept_downloads=True)
    page.goto(f"{server['base']}/monitoring")
    page.wait_for_selector("#monitor-map[data-map-ready]", timeout=20000)
    assert page.locator("h1").inner_text() == "浙江省工业经济运行监测"
    assert page.locator("[data-headline=output_value]").count() == 1
    values = page.evaluate("""() => {
        const chart = window.echarts.getInstanceByDom(document.getElementById('monitor-map'));
        return chart.getOption().series[0].data.map(d => d.code);
    }""")
    assert len(values) == 11  # the eleven cities
    page.select_option("#map-measure", "warning")  # recolour by the warning colour
    assert page.locator("#monitor-trend canvas").count() == 1
    assert page.locator("table[data-table=warnings] tbody tr").count() >= 1
    shot(page, "monitoring-dashboard")
    with page.expect_download() as info:
        page.click("text=下载 Excel >> nth=0")
    assert info.value.suggested_filename.endswith(".xlsx")
    page.goto(f"{server['base']}/monitoring/warnings?month=2021-10")
    assert page.locator("table[data-table=warnings] tbody tr").count() >= 1
    shot(page, "monitoring-warnings")
    link = page.locator("a[href^='/work/']").first
    if link.count():
        link.click()
        page.wait_for_load_state("networkidle")
        assert "运行监测预警" in page.content()
    assert page.js_errors == []


def test_county_analyst_reads_its_county_and_an_enterprise(server: dict[str, Any], browser: Any) -> None:
    page = open_as(browser, server["base"], "xihu", server["password"])
    page.goto(f"{server['base']}/monitoring/regions/330106")
    assert "西湖区 · 运行监测" in page.locator("h1").inner_text()
    assert page.locator("table[data-table=indicators] tbody tr").count() >= 5
    shot(page, "monitoring-county")
    page.goto(f"{server['base']}/monitoring/enterprises/{server['xihu'][0]}")
    assert page.locator("table[data-table=enterprise-months] tbody tr").count() >= 12
    shot(page, "monitoring-enterprise")
    assert page.goto(f"{server['base']}/monitoring/regions/330302").status == 404
    assert page.js_errors == []
