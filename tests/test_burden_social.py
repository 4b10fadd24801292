"""人均社保缴费 (social insurance per employee) on a generated province: 人社's monthly 社保缴费
file is written in its department's habits, ingests whole, and the cost-burden indicator on the
page, the API and the Excel download adds up to the generator's truth, within each reader's
region."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jingxin.core.scope import Scope
from jingxin.web.testing import DEMO_PASSWORD, login

pytest_plugins = ["jingxin.web.pytest_fixtures"]

YEAR = 2021


@pytest.fixture(scope="module")
def province(
    tmp_path_factory: pytest.TempPathFactory, fast_password_hashing: None
) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import create_demo_users
    from jingxin.burden import service
    from jingxin.core.db import upgrade
    from jingxin.core.settings import Settings
    from jingxin.core.warehouse import open_warehouse
    from jingxin.ingest.service import ingest_file
    from jingxin.synth.generator import generate_province
    from jingxin.web.app import create_app

    home = tmp_path_factory.mktemp("burden_social")
    out = home / "province"
    manifest = generate_province(out, 200, str(YEAR), seed=5, defects=0.0, daily_days=5)
    wh_url = f"duckdb:///{home / 'warehouse.duckdb'}"
    wh = open_warehouse(wh_url)
    try:
        results = {
            source: ingest_file(wh, source, out / name)
            for source, name in (
                ("registry", "registry.xlsx"),
                ("statistics", f"statistics_{YEAR}.xlsx"),
                ("social-insurance", f"social_insurance_{YEAR}.csv"),
            )
        }
        rows = service.indicators(wh, Scope(), YEAR)
    finally:
        wh.close()
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    app = create_app(
        Settings(home=home, database_url=db_url, warehouse=wh_url, secret_key="test"),
        migrate=False,
        run_jobs=False,
    )
    with app.state.db.session() as db:
        create_demo_users(db, DEMO_PASSWORD)
        db.commit()
    yield {"out": out, "manifest": manifest, "results": results, "rows": rows, "app": app}
    app.state.warehouse.close()
    app.state.db.dispose()


def _client(province: dict[str, Any], username: str) -> TestClient:
    c = TestClient(province["app"], base_url="http://testserver")
    login(c, username)
    return c


def test_file_follows_the_departments_habits_and_ingests_whole(province: dict[str, Any]) -> None:
    entry = province["manifest"].file(f"social_insurance_{YEAR}.csv")
    assert entry.department == "人社" and entry.encoding == "gbk" and entry.line_terminator == "\r\n"
    assert entry.headers == ["统一社会信用代码", "费款所属期", "缴费人数(人)", "单位缴费金额(元)"]
    raw = (province["out"] / entry.file).read_bytes()
    assert raw.decode("gbk").startswith("统一社会信用代码,费款所属期")
    truth = province["manifest"].totals["social_insurance"][str(YEAR)]
    assert entry.rows == truth["enterprises"] * 12  # every paying enterprise, every month
    result = province["results"]["social-insurance"]
    assert (result.accepted, result.rejected) == (entry.rows, 0)


def test_indicator_adds_up_to_the_generated_truth(province: dict[str, Any]) -> None:
    truth = province["manifest"].totals["social_insurance"][str(YEAR)]
    rows = province["rows"]
    contributions = sum(r["social_contributions"] or 0.0 for r in rows) * 10000
    person_years = sum(r["insured"] or 0.0 for r in rows)
    assert contributions == pytest.approx(truth["contributions_yuan"], rel=1e-9)
    assert person_years * 12 == pytest.approx(truth["insured_person_months"], rel=1e-9)
    assert contributions / person_years == pytest.approx(truth["per_insured_person_year_yuan"], abs=0.01)
    # each group's figure is its own ratio, in the range the generator's assumptions allow
    # (6,000 元 base × 25 % × 12 = 18,000 元, times the enterprises' spread)
    for r in rows:
        if r["insured"]:
            assert r["social_per_employee"] == pytest.approx(r["social_contributions"] * 10000 / r["insured"])
            assert 5_000 < r["social_per_employee"] < 80_000


def test_page_api_and_excel_show_it_within_the_region(province: dict[str, Any]) -> None:
    from openpyxl import load_workbook

    sheng = _client(province, "sheng")
    api = sheng.get(f"/api/v1/burden/indicators?year={YEAR}").json()
    assert api and all("social_per_employee" in r for r in api)
    assert not any("financing" in k for k in api[0])  # no source, no figure
    best = max((r for r in api if r["insured"]), key=lambda r: r["insured"])
    page = sheng.get(f"/burden?year={YEAR}").text
    assert "人均社保缴费" in page and "{:,.0f}".format(best["social_per_employee"]) in page
    assert "融资成本：平台尚无企业利息支出的数据来源" in page
    book = load_workbook(io.BytesIO(sheng.get(f"/burden.xlsx?year={YEAR}").content), read_only=True)
    sheet = list(book["成本指标"].iter_rows(values_only=True))
    header = list(sheet[0])
    col = header.index("人均社保缴费（元/人·年）")
    found = [row for row in sheet[1:] if row[0] == best["county_code"] and row[1] == best["industry"]]
    assert len(found) == 1 and float(found[0][col]) == pytest.approx(best["social_per_employee"])
    # a county analyst reads its own county only
    xihu = _client(province, "xihu").get(f"/api/v1/burden/indicators?year={YEAR}").json()
    assert {r["county_code"] for r in xihu} <= {"330106"}
    assert sum(r["insured"] or 0 for r in xihu) == pytest.approx(
        sum(r["insured"] or 0 for r in api if r["county_code"] == "330106")
    )
    # finance and an enterprise do not read the cost burden at all
    for username in ("caizheng", "qiye"):
        assert _client(province, username).get(f"/api/v1/burden/indicators?year={YEAR}").status_code == 403
