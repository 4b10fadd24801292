"""Exports stream in bounded memory (导出分页流式写出).

The rows of an export are read from the warehouse in pages of at most `export.PAGE_ROWS` rows
and written as they come: the CSV chunk by chunk, the workbook row by row in xlsxwriter's
constant-memory mode to a temporary file that the download streams from disk and removes.
With a page far smaller than the run, the files hold every row, in the order and with the
values of the whole table read at once, and the download leaves no file behind.
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse, open_warehouse
from jingxin.evaluation import export
from jingxin.evaluation.export import ExportQuery, csv_chunks, export_evaluation, export_frame
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province
from jingxin.evaluation.service import ResultFilters
from jingxin.web.testing import DEMO_PASSWORD, login

pytest_plugins = ["jingxin.web.pytest_fixtures"]
pytestmark = pytest.mark.xdist_group("export_streaming")

XIHU, SHANGCHENG = "330106", "330102"
ABOVE = "zhejiang_industry_above"
PAGE = 7


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, fast_password_hashing: None) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import create_demo_users
    from jingxin.core.db import upgrade
    from jingxin.core.settings import Settings
    from jingxin.web.app import create_app

    home = tmp_path_factory.mktemp("streaming")
    wh_url = f"duckdb:///{home / 'warehouse.duckdb'}"
    wh = open_warehouse(wh_url)
    try:
        # two years: enterprises new in 2021 have no class change (an integer column with gaps)
        load_facts(wh, province(160, years=(2020, 2021), seed=5, counties=[XIHU, SHANGCHENG]))
        run_evaluation(wh, ABOVE, 2020)
        run_id = run_evaluation(wh, ABOVE, 2021).run_id
    finally:
        wh.close()
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
    yield {"app": app, "client": client, "run_id": run_id}
    app.state.warehouse.close()
    app.state.db.dispose()


@pytest.fixture
def pages_seen(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Pages of `PAGE` rows; the sizes of the pages the export read, in order."""
    seen: list[int] = []
    read = export.export_pages

    def spy(wh: Warehouse, plan: export.ExportPlan, page_rows: int | None = None) -> Iterator[Any]:
        for batch in read(wh, plan, page_rows):
            seen.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(export, "PAGE_ROWS", PAGE)
    monkeypatch.setattr(export, "export_pages", spy)
    return seen


def _sheets(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(path)
    return {ws.title: [tuple(c.value for c in row) for row in ws.iter_rows()] for ws in book.worksheets}


def _codes(rows: list[tuple[Any, ...]]) -> list[str]:
    code = rows[1].index("统一社会信用代码")
    return [r[code] for r in rows[2:]]


QUERIES = [
    pytest.param(None, id="whole-run"),
    pytest.param(
        ExportQuery(filters=ResultFilters(cls="B"), sort="-land_mu", described=(("分类", "B类"),)), id="list"
    ),
]


@pytest.mark.parametrize("query", QUERIES)
def test_workbook_is_written_page_by_page_with_every_row_in_order(world, pages_seen, tmp_path, query) -> None:
    scope = Scope(division=XIHU)
    with world["app"].state.warehouse.reader() as wh:
        frame, _ = export_frame(wh, world["run_id"], scope, query)  # the whole table at once
        paged = export_evaluation(wh, world["run_id"], tmp_path / "paged.xlsx", "xlsx", scope, query)
        read = list(pages_seen)
        whole = export_evaluation(
            wh, world["run_id"], tmp_path / "whole.xlsx", "xlsx", scope, query, page_rows=len(frame) + 1
        )
    assert len(frame) > 2 * PAGE
    assert read == [PAGE] * (len(frame) // PAGE) + ([len(frame) % PAGE] if len(frame) % PAGE else [])
    got, expected = _sheets(paged), _sheets(whole)
    assert got == expected  # every sheet, every cell: the page size changes nothing
    assert _codes(got["全部企业"]) == frame["credit_code"].tolist()
    assert [r[0] for r in got["全部企业"][2:]] == list(range(1, len(frame) + 1))  # 序号
    for title, rows in got.items():
        if title[0] in "ABCD" and title[1] == "类":
            assert _codes(rows) == frame.loc[frame["class"] == title[0], "credit_code"].tolist(), title
    summary = {r[0]: r[1] for r in got["汇总"] if r[0]}
    assert summary["参评企业数"] == len(frame)


def test_csv_comes_in_chunks_of_a_page_with_every_row_in_order(world, pages_seen) -> None:
    scope = Scope(division=XIHU)
    with world["app"].state.warehouse.reader() as wh:
        frame, _ = export_frame(wh, world["run_id"], scope)
        chunks = list(csv_chunks(wh, world["run_id"], scope))
        whole = b"".join(csv_chunks(wh, world["run_id"], scope, page_rows=len(frame) + 1))
    assert len(chunks) == 1 + math.ceil(len(frame) / PAGE)  # the header, then one chunk per page
    assert chunks[0].startswith("\ufeff".encode()) and not any(
        c.startswith(b"\xef\xbb\xbf") for c in chunks[1:]
    )
    body = b"".join(chunks)
    assert body == whole  # integers print alike on every page, gaps or not
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert [r["credit_code"] for r in rows] == frame["credit_code"].tolist()
    changes = frame["class_change"]
    assert changes.isna().any() and changes.notna().any()  # the column has gaps
    for row, value in zip(rows, changes.tolist(), strict=True):
        assert row["class_change"] == ("" if math.isnan(value) else str(int(value)))


def test_download_is_streamed_from_a_temporary_file_that_is_removed(world, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the export's folder is made
    response = world["client"].get("/evaluation/export.xlsx", params={"sort": "name"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "attachment" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    assert book.sheetnames[:2] == ["汇总", "全部企业"]
    assert list(tmp_path.iterdir()) == []  # nothing left on disk once sent


def test_a_download_cut_off_midway_leaves_no_file(tmp_path) -> None:
    from jingxin.evaluation.pages import TemporaryFileResponse

    folder = tmp_path / "jingxin-export-x"
    folder.mkdir()
    (folder / "export.xlsx").write_bytes(b"x" * 200_000)

    async def gone(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            raise OSError("client went away")

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "headers": [], "asgi": {"spec_version": "2.4"}}
    with pytest.raises(OSError):
        asyncio.run(TemporaryFileResponse(folder / "export.xlsx")(scope, receive, gone))
    assert not folder.exists()
