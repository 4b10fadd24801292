"""The chain pages in a real browser against a real server: the province analyst reads the chain
map (Sankey) and switches chain, the weak-links page, and the matching page for a buyer; a county
analyst sees only its county's buyers and gets nothing for a buyer of another county; the Excel
export downloads. 链长制: the province issues a chain's plan, the city bureau signs a task and
reports progress on the workflow page; the 415 clusters on their map (drill-down to a cluster and
to a city's counties, the month selector, a city bureau kept to its city), one cluster, the
month-by-month trend.
Screenshots go to docs/screenshots/chains-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import act, open_as, serve, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import DEMO_PASSWORD, create_demo_users
    from jingxin.accounts.schemas import UserCreate
    from jingxin.accounts.service import create_user
    from jingxin.chains.testing import build_chains_province
    from jingxin.core.audit import CLI_ACTOR
    from jingxin.core.auth import Role
    from jingxin.core.db import Database, upgrade

    home = tmp_path_factory.mktemp("chains-browser")
    url, manifest, _ = build_chains_province(home, enterprises=800, seed=7)
    switch = manifest["chains"]["switches"][0]
    county = switch["buyer"][2:8]
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    database = Database(db_url)
    with database.session() as db:
        create_demo_users(db, DEMO_PASSWORD, staff_enterprises=[])
        create_user(
            db,
            UserCreate(
                username="shaoxing",
                display_name="绍兴市经信局",
                role=Role.CITY_ANALYST,
                division_code="330600",
                password=DEMO_PASSWORD,
            ),
            CLI_ACTOR,
        )
        create_user(
            db,
            UserCreate(
                username="xian",
                display_name="县分析员",
                role=Role.COUNTY_ANALYST,
                division_code=county,
                password=DEMO_PASSWORD,
            ),
            CLI_ACTOR,
        )
    other = next(s["buyer"] for s in manifest["chains"]["switches"] if s["buyer"][2:6] != county[:4])
    with serve(home, database_url=db_url, warehouse_url=url, startup_seconds=300) as base:
        yield {
            "base": base,
            "password": DEMO_PASSWORD,
            "buyer": switch["buyer"],
            "county": county,
            "other": other,
        }


def test_chain_pages(server, browser) -> None:
    base, pw = server["base"], server["password"]
    page = open_as(browser, base, "sheng", pw)
    page.goto(f"{base}/chains")
    assert page.locator("#chain-rates tbody tr").count() >= 5
    page.wait_for_selector("#chain-sankey canvas")
    page.select_option("#chain-select", "modern_textile")
    page.click("#chain-submit")
    page.wait_for_load_state("networkidle")
    assert "现代纺织" in page.locator("h2").first.inner_text()
    shot(page, "chains-map")
    page.goto(f"{base}/chains/weak-links")
    assert page.locator("#weak-segments .badge-red").count() >= 1
    assert page.locator("#single-supplier tbody tr").count() >= 1
    shot(page, "chains-weak-links")
    page.goto(f"{base}/chains/match?month=2021-06")
    page.fill("#buyer-input", server["buyer"])
    page.click("#buyer-submit")
    page.wait_for_load_state("networkidle")
    rows = page.locator("#recommendations tbody tr")
    assert rows.count() >= 1 and "万元" in rows.first.inner_text()
    shot(page, "chains-match")
    with page.expect_download() as dl:
        page.evaluate(
            "url => { const a = document.createElement('a'); a.href = url;"
            " document.body.appendChild(a); a.click(); }",
            f"{base}/chains/export.xlsx",
        )
    assert dl.value.suggested_filename.endswith(".xlsx")
    assert page.js_errors == []

    county = open_as(browser, base, "xian", pw)
    county.goto(f"{base}/chains/match?month=2021-06")
    codes = [c for c in county.locator("#outside-buyers .mono").all_inner_texts() if len(c) == 18]
    assert codes and all(c[2:8] == server["county"] for c in codes)
    county.goto(f"{base}/chains/match?month=2021-06&buyer={server['other']}")
    assert "没有可由省内企业替代" in county.locator("#recommendations").inner_text()
    api = county.request.get(f"{base}/api/v1/chains/match?buyer={server['other']}&month=2021-06")
    assert api.ok and api.json()["recommendations"] == []
    ent = open_as(browser, base, "qiye", pw)
    assert ent.request.get(f"{base}/api/v1/chains/local-rates").status == 403


def test_chain_chiefs_clusters_and_trend(server, browser) -> None:
    base, pw = server["base"], server["password"]
    page = open_as(browser, base, "sheng", pw)
    page.goto(f"{base}/chains/chiefs")
    assert page.locator("#chief-table tbody tr").count() >= 10
    page.click("#chief-table a:has-text('现代纺织')")
    page.wait_for_load_state("networkidle")
    assert "未下达" in page.locator("#plan-tasks").inner_text()
    page.click("#issue-plan")
    page.wait_for_load_state("networkidle")
    tasks = page.locator("#chain-tasks tbody tr")
    assert tasks.count() == 3 and "已下达" in tasks.first.inner_text()
    shot(page, "chains-chief")
    page.goto(f"{base}/chains/chiefs")
    assert "3 / 3 / 0 / 0" in page.locator("#chief-table").inner_text()
    shot(page, "chains-chiefs")

    city = open_as(browser, base, "shaoxing", pw)  # 绍兴市经信局 handles its city's task
    city.goto(f"{base}/chains/chiefs/modern_textile")
    rows = city.locator("#chain-tasks tbody tr")
    assert rows.count() == 2  # 绍兴市's own task and 柯桥区's (handled by the county)
    city.click("#chain-tasks tbody tr:has-text('印染集聚区稳链固链') a")
    city.wait_for_load_state("networkidle")
    act(city, "sign", {})
    act(city, "report_progress", {"progress": "p50", "progress_note": "印染集聚区已完成一半企业入园"})
    city.goto(f"{base}/chains/chiefs/modern_textile")
    assert "50%" in city.locator("#chain-tasks").inner_text()

    page.goto(f"{base}/chains/clusters")
    assert page.locator("#cluster-table tbody tr").count() == 19
    page.wait_for_selector("#cluster-map[data-map-ready]", timeout=15000)
    drawn = _map(page)
    assert len(drawn["regions"]) == 11 and len(drawn["points"]) >= 10  # 11 cities, clusters at home
    assert all(p["url"].startswith("/chains/clusters/") for p in drawn["points"])
    shot(page, "chains-clusters")
    first = min(drawn["points"], key=lambda p: int(p["name"].split()[0]))
    _click_map_at(page, *first["value"])
    page.wait_for_url("**/chains/clusters/*")
    assert first["name"].split()[1] in page.locator("h1").inner_text()
    page.goto(f"{base}/chains/clusters?region=330600&month=2021-06")
    page.wait_for_selector("#cluster-map[data-map-ready]", timeout=15000)
    assert "绍兴市" in page.locator("h1").inner_text() and "2021年1—6月" in page.locator("h1").inner_text()
    assert {r["code"][:4] for r in _map(page)["regions"]} == {"3306"}  # its counties
    page.select_option("#cluster-month", "2021-09")  # the month selector reloads the page
    page.wait_for_url("**month=2021-09**")
    assert "region=330600" in page.url and "2021年1—9月" in page.locator("h1").inner_text()
    shot(page, "chains-clusters-city")
    assert city.request.get(f"{base}/chains/clusters?region=330100").status == 404  # another city
    city.goto(f"{base}/chains/clusters")
    city.wait_for_selector("#cluster-map[data-map-ready]", timeout=15000)
    assert {r["code"][:4] for r in _map(city)["regions"]} == {"3306"}
    page.goto(f"{base}/chains/clusters")
    page.click("#cluster-table a:has-text('现代纺织和服装')")
    page.wait_for_selector("#cluster-cities canvas")
    assert page.locator("#cluster-members tbody tr").count() >= 5
    shot(page, "chains-cluster")
    page.goto(f"{base}/chains/trend?chain=new_energy_vehicles")
    page.wait_for_selector("#trend-chart canvas")
    assert page.locator("#trend-segments tbody tr").count() >= 2
    shot(page, "chains-trend")
    assert page.js_errors == [] and city.js_errors == []


def _map(page: Any) -> dict[str, Any]:
    """What the cluster map was given to draw: its regions and its points."""
    return page.evaluate("() => JSON.parse(document.getElementById('cluster-map-config').textContent)")


def _click_map_at(page: Any, lng: float, lat: float) -> None:
    """Click the map where a longitude/latitude is drawn (ECharts converts it to pixels)."""
    x, y = page.evaluate(
        """([lng, lat]) => {
            const chart = window.echarts.getInstanceByDom(document.getElementById('cluster-map'));
            return chart.convertToPixel({geoIndex: 0}, [lng, lat]);
        }""",
        [lng, lat],
    )
    box = page.locator("#cluster-map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
