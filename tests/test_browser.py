"""The web app in a real browser (Debian's chromium through Playwright) against a real server.

A small province (~2,000 enterprises, two years) is generated as the departments' files, ingested
through the normal chain, evaluated with the shipped 规上 and 规下 systems, and served by `uvicorn`
in a subprocess on a free localhost port, with the demo accounts bound to real enterprises of
西湖区. The tests walk the pages as the people who use them would:

- the county analyst of 西湖区 sees only that county on the map and in the lists, opens an
  enterprise and reads its explanation, and downloads the Excel (every row 330106);
- the province analyst drills down on the map from the province to a city and into a county;
- an enterprise user lands on its own profile and gets 404 for anyone else's;
- the 税务 data liaison uploads a defective tax file and reads its rejected rows with reasons.

Screenshots of the main pages go to docs/screenshots/*.png.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_support import VIEWPORT, demo_accounts, open_as, serve, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

XIHU = "330106"
YEARS = (2020, 2021)
SYSTEMS = ("zhejiang_industry_above", "zhejiang_industry_below")


def _build_province(home: Path) -> dict[str, Any]:
    """Generate, ingest and evaluate; return the enterprises the tests use."""
    from jingxin.core.warehouse import open_warehouse
    from jingxin.evaluation import service
    from jingxin.evaluation.runs import run_evaluation
    from jingxin.ingest.directory import ingest_directory
    from jingxin.synth.generator import generate_province

    folder = home / "province"
    generate_province(folder, 2000, YEARS, seed=7)
    wh = open_warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        ingest_directory(wh, folder, loaded_by="browser-test")
        runs = {(y, s): run_evaluation(wh, s, y).run_id for y in YEARS for s in SYSTEMS}
        latest = runs[(YEARS[-1], SYSTEMS[0])]
        t = service.results(wh, latest)
        rows = wh.execute(t.select("credit_code", "name", "county_code").order_by("credit_code"))
    finally:
        wh.close()
    local = rows[rows.county_code == XIHU]
    elsewhere = rows[~rows.county_code.str.startswith("3301")]
    assert len(local) >= 3, "the generated province should have enterprises in 西湖区"
    return {
        "runs": runs,
        "own": local.iloc[0].to_dict(),
        "neighbour": local.iloc[1].to_dict(),
        "staff": list(local.credit_code.iloc[:2]),
        "elsewhere": elsewhere.iloc[0].to_dict(),
        "xihu_count": len(local),
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A province in a warehouse, the demo accounts, and `uvicorn` serving them."""
    from jingxin.accounts.demo import DEMO_PASSWORD

    started = time.perf_counter()
    home = tmp_path_factory.mktemp("browser")
    world = _build_province(home)
    db_url = demo_accounts(
        home, enterprise_code=world["own"]["credit_code"], staff_enterprises=world["staff"]
    )
    built = time.perf_counter() - started
    with serve(home, database_url=db_url, warehouse_url=f"duckdb:///{home / 'warehouse.duckdb'}") as base:
        print(f"\nprovince built in {built:.1f}s, server up after {time.perf_counter() - started:.1f}s")
        yield {**world, "base": base, "password": DEMO_PASSWORD, "home": home}


@pytest.fixture
def page_for(server: dict[str, Any], browser: Any) -> Any:
    """`page_for(username)`: a fresh browser context logged in as that user (downloads kept)."""

    def page(username: str) -> Any:
        return open_as(browser, server["base"], username, server["password"], accept_downloads=True)

    return page


def _wait_for_map(page: Any) -> None:
    page.wait_for_selector("#region-map[data-map-ready]", timeout=15000)


def _map_regions(page: Any) -> dict[str, list[str]]:
    """The regions the map draws (its boundaries) and the regions it has values for."""
    return page.evaluate(
        """() => {
            const el = document.getElementById('region-map');
            const chart = window.echarts.getInstanceByDom(el);
            const option = chart.getOption();
            const name = option.series[0].map;
            const geo = window.echarts.getMap(name).geoJSON || window.echarts.getMap(name).geoJson;
            return {
                drawn: geo.features.map(f => f.properties.code),
                values: option.series[0].data.map(d => d.code),
            };
        }"""
    )


def _map_legend(page: Any) -> str:
    """The low end of the map's colour legend: the measure it is coloured by, with its unit."""
    return page.evaluate(
        """() => window.echarts.getInstanceByDom(document.getElementById('region-map'))
            .getOption().visualMap[0].text[1]"""
    )


def _click_map_at(page: Any, lng: float, lat: float) -> None:
    """Click the map where a longitude/latitude is drawn (ECharts converts it to pixels)."""
    x, y = page.evaluate(
        """([lng, lat]) => {
            const chart = window.echarts.getInstanceByDom(document.getElementById('region-map'));
            return chart.convertToPixel({seriesIndex: 0}, [lng, lat]);
        }""",
        [lng, lat],
    )
    box = page.locator("#region-map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def test_login_page(server: dict[str, Any], browser: Any) -> None:
    page = browser.new_context(viewport=VIEWPORT, locale="zh-CN").new_page()
    page.goto(f"{server['base']}/")
    assert "/login" in page.url
    assert page.locator("h1").inner_text() == "数字经信"
    shot(page, "login")


def test_county_analyst_sees_only_their_county(server: dict[str, Any], page_for: Any) -> None:
    page = page_for("xihu")
    assert page.locator("h1").inner_text().startswith("西湖区")
    _wait_for_map(page)
    regions = _map_regions(page)
    assert regions == {"drawn": [XIHU], "values": [XIHU]}
    assert page.locator("#region-list tbody tr").count() == 1
    assert page.locator("#region-list tbody").inner_text().startswith("西湖区")
    shot(page, "dashboard-county")

    # the map leads to the county's enterprises
    box = page.locator("#region-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2 - 20)
    page.wait_for_url(f"**/evaluation?county={XIHU}*")
    page.wait_for_load_state("networkidle")
    rows = page.locator("#results-table tbody tr")
    assert rows.count() == min(server["xihu_count"], 30)
    assert set(page.locator("#results-table tbody td:nth-child(4)").all_inner_texts()) == {"西湖区"}
    assert server["elsewhere"]["name"] not in page.content()

    # the search box narrows the table in place (HTMX)
    name = server["neighbour"]["name"]
    page.fill("#f-q", name)
    page.wait_for_function(
        "() => document.querySelectorAll('#results-table tbody tr').length === 1", timeout=10000
    )
    assert name in page.locator("#results-table tbody").inner_text()
    page.fill("#f-q", "")
    page.wait_for_function(
        "() => document.querySelectorAll('#results-table tbody tr').length > 1", timeout=10000
    )
    shot(page, "results-county")

    # the Excel holds only 西湖区
    with page.expect_download() as download_info:
        page.click("[data-export-link]")
    download = download_info.value
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(Path(download.path()).read_bytes()), read_only=True)
    table = list(book["全部企业"].iter_rows(min_row=2, values_only=True))
    county = table[0].index("区县代码")
    codes = [r[county] for r in table[1:] if r[0] is not None]
    assert codes and set(codes) == {XIHU}
    assert download.suggested_filename.endswith(".xlsx")

    # an enterprise and its explanation
    page.click(f"#results-table a[href='/evaluation/enterprises/{server['neighbour']['credit_code']}']")
    page.wait_for_load_state("networkidle")
    summary = page.locator(".explanation .summary").inner_text()
    assert summary.startswith("贵企业") and "分" in summary
    assert page.locator("#scores tbody tr").count() >= 6
    assert page.locator("#lift .advice").inner_text().strip()
    assert "城镇土地使用税减免" in page.locator("#policies").inner_text()
    shot(page, "profile")

    # another county's enterprise does not exist for this user
    response = page.goto(f"{server['base']}/evaluation/enterprises/{server['elsewhere']['credit_code']}")
    assert response.status == 404
    assert server["elsewhere"]["name"] not in page.content()
    assert not page.js_errors, page.js_errors


def test_province_analyst_drills_down_on_the_map(server: dict[str, Any], page_for: Any) -> None:
    page = page_for("sheng")
    _wait_for_map(page)
    regions = _map_regions(page)
    assert len(regions["drawn"]) == 11 and all(c.endswith("00") for c in regions["drawn"])
    page.select_option("#map-measure", "a_share")  # recolour without a round trip
    assert _map_legend(page) == "A类占比（%）低"
    page.select_option("#map-measure", "tax_per_mu")
    assert _map_legend(page) == "亩均税收（万元/亩）低"
    shot(page, "dashboard")

    _click_map_at(page, 119.95, 29.95)  # 富阳, in 杭州市
    page.wait_for_url("**/?region=330100*")
    assert page.locator("h1").inner_text().startswith("杭州市")
    _wait_for_map(page)
    counties = _map_regions(page)["drawn"]
    assert XIHU in counties and all(c.startswith("3301") for c in counties)
    shot(page, "dashboard-city")

    _click_map_at(page, 119.45, 30.25)  # 临安区
    page.wait_for_url("**/evaluation?county=330112*")
    page.wait_for_load_state("networkidle")
    texts = set(page.locator("#results-table tbody td:nth-child(4)").all_inner_texts())
    assert texts <= {"临安区"}

    page.goto(f"{server['base']}/evaluation")
    page.wait_for_load_state("networkidle")
    shot(page, "results")
    page.goto(f"{server['base']}/ranking")
    page.wait_for_load_state("networkidle")
    assert page.locator(".ranking-table tbody tr").count() == 90
    shot(page, "ranking")
    assert not page.js_errors, page.js_errors


def test_enterprise_user_sees_only_itself(server: dict[str, Any], page_for: Any) -> None:
    page = page_for("qiye")
    own = server["own"]
    assert page.url.endswith(f"/evaluation/enterprises/{own['credit_code']}")
    assert own["name"] in page.locator("h1").inner_text()
    assert "贵企业" in page.locator(".explanation").inner_text()
    nav = page.locator("nav.sidenav").inner_text()
    assert "本企业评价" in nav and "区县排名" not in nav and "亩均评价" not in nav
    shot(page, "profile-enterprise")
    for code in (server["neighbour"]["credit_code"], server["elsewhere"]["credit_code"]):
        response = page.goto(f"{server['base']}/evaluation/enterprises/{code}")
        assert response.status == 404
        assert "企业不存在或不在您的数据范围内" in page.content()
    assert page.goto(f"{server['base']}/ranking").status == 403
    assert not page.js_errors, page.js_errors


def test_liaison_uploads_a_defective_tax_file(server: dict[str, Any], page_for: Any) -> None:
    import random

    from jingxin.core.credit_code import generate

    good = server["own"]["credit_code"]
    bad_check = good[:17] + ("0" if good[17] != "0" else "1")
    unknown = generate("330106", random.Random(99))
    body = "\n".join(
        [
            "统一社会信用代码,年度,实缴税收",
            f"{good},2023,120.5",
            f"{bad_check},2023,80",
            f"{server['neighbour']['credit_code']},2023,一百万",
            f"{unknown},2023,15",
        ]
    )
    upload = server["home"] / "税务-2023年度实缴税收.csv"
    upload.write_text(body + "\n", encoding="utf-8")

    page = page_for("liaison-sw")
    page.goto(f"{server['base']}/data")
    page.wait_for_load_state("networkidle")
    shot(page, "data")
    page.select_option("#upload-source", "tax")
    page.set_input_files("#upload-file", str(upload))
    page.click("form[action='/data/upload'] button[type=submit]")
    page.wait_for_url("**/data/batches/*")
    page.wait_for_load_state("networkidle")
    text = page.content()
    assert "税务-2023年度实缴税收.csv" in text
    rejected = page.locator("table.data tbody tr")
    assert rejected.count() >= 2
    reasons = " ".join(page.locator("table.data tbody td:nth-child(4)").all_inner_texts())
    assert "校验" in reasons
    assert "一百万" in page.locator("table.data tbody").inner_text()
    shot(page, "data-batch")
    assert not page.js_errors, page.js_errors


def test_many_concurrent_requests_are_all_answered(server: dict[str, Any]) -> None:
    """More requests at once than the server has worker threads and database connections
    (40 each): every one is answered, with the same content as when asked alone."""
    import asyncio
    import re
    from concurrent.futures import ThreadPoolExecutor

    base = server["base"]
    with httpx.Client(base_url=base) as c:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
        c.post("/login", data={"username": "sheng", "password": server["password"], "csrf_token": token})
        cookies = dict(c.cookies)
        paths = ["/", "/evaluation?year=2021", "/api/v1/me", "/api/v1/evaluation/results?year=2021&page=2"]
        alone = {p: c.get(p).text for p in paths if p.startswith("/api/v1/evaluation")}

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=base, cookies=cookies, limits=limits, timeout=60) as client:
            return await asyncio.gather(*(client.get(paths[i % len(paths)]) for i in range(200)))

    # On a thread of its own: Playwright's sync API keeps an event loop running on this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        answers = pool.submit(asyncio.run, burst()).result()
    assert [a.status_code for a in answers] == [200] * len(answers)
    for answer in answers:
        path = answer.request.url.raw_path.decode()
        if path in alone:
            assert answer.text == alone[path]
