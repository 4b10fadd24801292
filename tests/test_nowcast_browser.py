"""The nowcast page in a real browser (Debian's chromium through Playwright) against a uvicorn
server: the province analyst reads the province's nowcast with its intervals and news, switches
to a city; the county analyst sees only their county. Screenshot docs/screenshots/nowcast.png."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import demo_accounts, open_as, serve, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _build(home: Path) -> None:
    """A generated province's registry, electricity and official figures, and two runs."""
    from jingxin.core.warehouse import open_warehouse
    from jingxin.ingest.service import ingest_file
    from jingxin.nowcast.runs import run_nowcast
    from jingxin.synth.generator import generate_province

    folder = home / "province"
    generate_province(folder, 600, "2018-2021", seed=3, defects=0.0)
    wh = open_warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        ingest_file(wh, "registry", next(folder.glob("registry.*")))
        for year in (2018, 2019, 2020, 2021):
            ingest_file(wh, "power", folder / f"power_{year}.csv")
            if year > 2018:
                ingest_file(wh, "official", folder / f"official_{year}.csv")
        codes = ["330000", "330100", "330106"]
        run_nowcast(wh, "2021-10", codes, as_of=dt.date(2021, 10, 25), maxiter=50)
        run_nowcast(wh, "2021-10", codes, as_of=dt.date(2021, 11, 12), maxiter=50)
    finally:
        wh.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import DEMO_PASSWORD

    home = tmp_path_factory.mktemp("nowcast-browser")
    _build(home)
    with serve(
        home, database_url=demo_accounts(home), warehouse_url=f"duckdb:///{home / 'warehouse.duckdb'}"
    ) as base:
        yield {"base": base, "password": DEMO_PASSWORD}


def test_province_analyst_reads_nowcast_and_news(server: dict[str, Any], browser: Any) -> None:
    page = open_as(browser, server["base"], "sheng", server["password"])
    page.goto(f"{server['base']}/nowcast?region=330000")
    page.wait_for_selector("#nowcast-chart canvas", timeout=15000)
    page.wait_for_selector("#news-chart canvas", timeout=15000)
    assert "浙江省 · 2021-10" in page.inner_text("h2")
    rows = page.locator("#nowcast-table tbody tr")
    assert rows.count() == 6  # month and quarter × three models
    assert "动态因子模型" in page.inner_text("#nowcast-table")
    assert "工业用电量" in page.inner_text("#news-table")  # October's electricity came in between
    shot(page, "nowcast")
    page.select_option("select[name=region]", "330100")
    page.click("form.inline-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "杭州市 · 2021-10" in page.inner_text("h2")
    assert not page.js_errors


def test_county_analyst_sees_only_their_county(server: dict[str, Any], browser: Any) -> None:
    page = open_as(browser, server["base"], "xihu", server["password"])
    page.goto(f"{server['base']}/nowcast")
    options = page.locator("select[name=region] option").all_inner_texts()
    assert options == ["西湖区"]
    response = page.goto(f"{server['base']}/nowcast?region=330000")
    assert response is not None and response.status == 404
    assert not page.js_errors
