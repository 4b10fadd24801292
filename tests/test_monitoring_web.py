"""Monitoring pages: each role sees its own scope, tax-derived figures are masked without
clearance, out-of-scope regions and enterprises are 404, every table downloads as Excel."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest

from jingxin.core.warehouse import open_warehouse
from jingxin.ingest.directory import ingest_directory
from jingxin.monitoring.service import refresh_month
from jingxin.synth.generator import generate_province
from jingxin.web.testing import login

pytest_plugins = ["jingxin.web.pytest_fixtures"]

TABLES = [
    "batches",
    "registry",
    "monthly",
    "power_monthly",
    "invoices",
    "customs_exports",
    "energy",
    "monitor_indicators",
    "monitor_warnings",
]


@pytest.fixture(scope="module")
def monitored(tmp_path_factory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("monitor_web")
    generate_province(base / "p", 1200, "2020-2021", 9, defects=0.0, daily_days=5)
    wh = open_warehouse(f"duckdb:///{base / 'wh.duckdb'}")
    ingest_directory(wh, base / "p")
    refresh_month(wh, 2021, 10)
    tables = {t: wh.to_pyarrow(wh.table(t)) for t in TABLES}
    reg = wh.current("registry")
    codes = wh.execute(reg.select("credit_code", "county_code"))
    wh.close()
    return {"tables": tables, "codes": codes}


@pytest.fixture
def site(web_settings, web_app, demo_users, monitored) -> dict[str, Any]:
    wh = web_app.state.warehouse
    from jingxin.monitoring.store import SCHEMAS

    with wh.writer() as w:
        w.ensure_schema()
        w.ensure_schema(SCHEMAS)
        for name, table in monitored["tables"].items():
            w.insert_arrow(name, table)
    return {"users": demo_users, **monitored}


def _outside(codes, prefix: str) -> str:
    return str(codes[~codes.county_code.str.startswith(prefix)].credit_code.iloc[0])


def test_province_analyst_sees_dashboard_map_and_tax_derived_figures(web_client, site) -> None:
    login(web_client, "sheng")
    page = web_client.get("/monitoring")
    assert page.status_code == 200
    html = page.text
    assert "浙江省工业经济运行监测" in html and 'data-region-map="monitor-map-config"' in html
    assert "增值税开票销售额" in html  # cleared: the tax-derived figure is shown
    assert web_client.get("/monitoring?region=330300").status_code == 200
    assert web_client.get("/monitoring/regions/330302?month=2021-10").status_code == 200
    assert web_client.get("/monitoring/industries/26?month=2021-10").status_code == 200
    assert web_client.get("/monitoring/warnings?month=2021-10").status_code == 200
    assert web_client.get("/monitoring?month=2021-11").status_code == 404  # not refreshed


def test_county_analyst_is_kept_to_its_county(web_client, site) -> None:
    login(web_client, "xihu")
    assert web_client.get("/monitoring").status_code == 200
    assert "西湖区" in web_client.get("/monitoring").text
    for path in (
        "/monitoring?region=330300",
        "/monitoring/regions/330302",
        "/monitoring/industries/26",
        "/monitoring/export.xlsx?table=indicators&region=330302",
        f"/monitoring/enterprises/{_outside(site['codes'], '330106')}",
    ):
        assert web_client.get(path).status_code == 404, path
    warnings = web_client.get("/monitoring/warnings?month=2021-10").text
    assert "330302" not in warnings and "鹿城" not in warnings


@pytest.mark.parametrize("username", ["liaison-sw", "fuwu", "qiye"])
def test_roles_without_regional_view_are_refused(web_client, site, username) -> None:
    login(web_client, username)
    for path in (
        "/monitoring",
        "/monitoring/regions/330106",
        "/monitoring/warnings",
        "/monitoring/export.xlsx?table=warnings",
    ):
        assert web_client.get(path, follow_redirects=False).status_code in (403, 404), path


def test_enterprise_tab_masks_tax_derived_figures_for_service_staff(web_client, site) -> None:
    users = site["users"]
    login(web_client, "admin")
    any_code = str(site["codes"].credit_code.iloc[0])
    page = web_client.get(f"/monitoring/enterprises/{any_code}")
    assert page.status_code == 200
    web_client.cookies.clear()
    fuwu = users["fuwu"]
    own = sorted(fuwu.scope.enterprises or [])
    login(web_client, "fuwu")
    assert web_client.get(f"/monitoring/enterprises/{_outside(site['codes'], '330106')}").status_code == 404
    if own:
        r = web_client.get(f"/monitoring/enterprises/{own[0]}")
        assert r.status_code in (200, 404)  # the demo's staff codes may not be in the generated registry
        assert "增值税开票销售额" not in r.text


def test_every_table_downloads_as_excel(web_client, site) -> None:
    login(web_client, "hangzhou")
    for table in ("indicators", "children", "warnings"):
        r = web_client.get(f"/monitoring/export.xlsx?table={table}&month=2021-10&region=330100")
        assert r.status_code == 200, (table, r.text[:200])
        book = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
        rows = list(book.active.iter_rows(values_only=True))
        assert "杭州市运行监测" in rows[0][0]
        assert len(rows) >= 2
    r = web_client.get("/monitoring/export.xlsx?table=children&month=2021-10&region=330100")
    names = [
        row[1]
        for row in openpyxl.load_workbook(io.BytesIO(r.content), read_only=True).active.iter_rows(
            min_row=3, values_only=True
        )
    ]
    assert "西湖区" in names and "鹿城区" not in names
