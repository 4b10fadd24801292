"""County index and 小微企业园 stars in a real browser against a real server.

The province analyst reads the county ranking with rank intervals and 天工鼎, the map and a
county's scorecard (radar), with the indicators the outlier treatment changed. A park proposed
at four stars goes the whole way: the county starts the case and is refused when it tries to
rate four stars itself, submits to the city with its evidence; the city submits to the province;
the province rates; the park objects through its county; the province keeps the rating and
publishes it. The manufacturing parks' stars: the list, the map drilled from the province to a
city, a park's detail, the Excel download; a county analyst sees its own county's parks only.
Screenshots: docs/screenshots/places-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import act, open_as, serve, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
YEAR = 2021


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import DEMO_PASSWORD, create_demo_users
    from jingxin.accounts.schemas import UserCreate
    from jingxin.accounts.service import create_user
    from jingxin.core.audit import CLI_ACTOR
    from jingxin.core.auth import Role
    from jingxin.core.db import Database, upgrade
    from jingxin.core.warehouse import open_warehouse
    from jingxin.parks.service import rated_parks
    from jingxin.places.testing import build_places_province

    home: Path = tmp_path_factory.mktemp("places-browser")
    url, _ = build_places_province(home, enterprises=800, mu_parks=True)
    wh = open_warehouse(url)
    parks = rated_parks(wh, YEAR)
    from jingxin.parks.manufacturing import province_stars

    mfg, _, _ = province_stars(wh, YEAR)
    wh.close()
    park_id = str(parks[parks["proposed_star"] == 4].index[0])
    county = str(parks.at[park_id, "division_code"])
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    database = Database(db_url)
    with database.session() as db:
        create_demo_users(db, DEMO_PASSWORD, staff_enterprises=[])
        for name, role, division in (
            ("xian", Role.COUNTY_ANALYST, county),
            ("shi", Role.CITY_ANALYST, county[:4] + "00"),
        ):
            create_user(
                db,
                UserCreate(
                    username=name,
                    display_name=f"{name}经信局",
                    role=role,
                    division_code=division,
                    password=DEMO_PASSWORD,
                ),
                CLI_ACTOR,
            )
    database.dispose()
    config = home / "county.yaml"
    from importlib.resources import files

    text = (files("jingxin.places") / "systems" / "county_quality.yaml").read_text(encoding="utf-8")
    config.write_text(text.replace("draws: 1000", "draws: 200"), encoding="utf-8")
    env = {"JINGXIN_PLACES_CONFIG": str(config)}
    # A generous start-up limit: the shared 2-core machine is often loaded far beyond its cores.
    with serve(home, database_url=db_url, warehouse_url=url, env=env, startup_seconds=400) as base:
        yield {"base": base, "park": park_id, "county": county, "password": DEMO_PASSWORD, "mfg": mfg}


def test_county_ranking_map_and_scorecard(browser: Any, site: dict[str, Any]) -> None:
    page = open_as(browser, site["base"], "sheng", site["password"])
    page.goto(f"{site['base']}/places?year={YEAR}&group=industrial")
    assert page.locator("#ranking tbody tr").count() == 44
    assert page.locator("#ranking .badge", has_text="天工鼎").count() == 8
    page.wait_for_selector("#places-map[data-map-ready='1']", timeout=30_000)
    assert page.locator("#treatment h2").inner_text() == "异常值处理"
    shot(page, "places-ranking")
    page.locator("#ranking tbody tr a").first.click()
    page.wait_for_load_state("networkidle")
    assert "评价卡" in page.inner_text("h1")
    assert page.locator("canvas").count() >= 2  # the radar(s) and the trend are drawn
    shot(page, "places-scorecard")
    assert page.js_errors == []
    page.context.close()
    # A county analyst's ranking holds its own county only.
    mine = open_as(browser, site["base"], "xian", site["password"])
    mine.goto(f"{site['base']}/places?year={YEAR}&group=counties")
    assert mine.locator("#ranking tbody tr").count() == 1
    mine.context.close()


def test_four_star_park_through_county_city_province_and_objection(
    browser: Any, site: dict[str, Any]
) -> None:
    base, park = site["base"], site["park"]
    ev = "现场核查：入驻率、税收台账与报送一致"
    xian = open_as(browser, base, "xian", site["password"])
    xian.goto(f"{base}/parks?year={YEAR}")
    row = xian.locator(f"#park-{park}")
    assert "★★★★" in row.inner_text()
    row.locator("button", has_text="发起评定").click()
    xian.wait_for_load_state("networkidle")
    assert "县级初评" in xian.inner_text("#case-state")
    case_url = xian.url
    act(xian, "county_rate", {"star": "4", "evidence": ev}, refused=True)
    assert "4星由省级评定" in xian.inner_text("#problem")
    shot(xian, "places-park-refused")
    act(xian, "county_submit", {"star": "4", "evidence": ev})
    assert "市级评定" in xian.inner_text("#case-state")
    shi = open_as(browser, base, "shi", site["password"])
    shi.goto(case_url)
    act(shi, "city_submit", {"star": "4", "evidence": "市级复核：同意报省级评定四星"})
    assert "省级评定" in shi.inner_text("#case-state")
    sheng = open_as(browser, base, "sheng", site["password"])
    sheng.goto(case_url)
    act(sheng, "province_rate", {"star": "4", "evidence": "省级审定：四星"})
    assert "公示中" in sheng.inner_text("#case-state")
    xian.goto(case_url)
    act(xian, "object", {"objection": "园区认为新增单项冠军未计入，应评五星"})
    assert "异议处理中" in xian.inner_text("#case-state")
    sheng.goto(case_url)
    act(sheng, "keep", {}, comment="单项冠军认定在评价年度之后，维持四星")
    act(sheng, "publish", {})
    assert "已评定" in sheng.inner_text("#case-state")
    assert sheng.locator("#history tbody tr").count() == 7  # the refused step left no trace
    shot(sheng, "places-park-case")
    xian.goto(f"{base}/parks?year={YEAR}")
    assert "已评定 ★★★★" in xian.locator(f"#park-{park}").inner_text()
    shot(xian, "places-parks")
    for p in (xian, shi, sheng):
        assert p.js_errors == []
        p.context.close()


def test_manufacturing_parks_list_map_detail_and_excel(browser: Any, site: dict[str, Any]) -> None:
    base, mfg = site["base"], site["mfg"]
    page = open_as(browser, base, "sheng", site["password"], accept_downloads=True)
    page.goto(f"{base}/manufacturing-parks?year={YEAR}")
    assert page.locator("#mfg-parks tbody tr").count() == len(mfg)
    page.wait_for_selector("#mfg-map[data-map-ready='1']", timeout=30_000)
    shot(page, "places-mfg-parks")
    with page.expect_download() as download:
        page.locator("a", has_text="导出Excel").click()
    assert download.value.suggested_filename == f"制造业园区星级评价_{YEAR}.xlsx"
    import io

    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))["星级评价结果"]
    assert sheet.max_row - 3 == len(mfg) and sheet["D4"].value == mfg.iloc[0]["park_name"]
    # The map drills from the province to a city's counties.
    city = str(mfg.iloc[0]["county_code"])[:4] + "00"
    page.goto(f"{base}/manufacturing-parks?year={YEAR}&region={city}")
    page.wait_for_selector("#mfg-map[data-map-ready='1']", timeout=30_000)
    page.select_option("select[data-map-measure='mfg-map']", "parks")
    page.locator("#mfg-parks tbody tr a").first.click()
    page.wait_for_load_state("networkidle")
    assert "全省制造业园区第 1 名" in page.inner_text("#summary")
    assert page.locator("#indicators tbody tr").count() == 6 and page.locator("canvas").count() >= 1
    shot(page, "places-mfg-park")
    assert page.js_errors == []
    page.context.close()
    mine = open_as(browser, base, "xian", site["password"])
    mine.goto(f"{base}/manufacturing-parks?year={YEAR}")
    own = int((mfg["county_code"] == site["county"]).sum())
    assert mine.locator("#mfg-parks tbody tr[id^='mfg-']").count() == own
    assert mine.locator("#mfg-map").count() == 0  # a county has no map
    assert mine.js_errors == []
    mine.context.close()
