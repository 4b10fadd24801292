"""The data page (数据归集): upload through the page and the API, batch results, rejected rows as
CSV, audit of uploads and downloads; the service functions on DuckDB and PostgreSQL warehouses."""

from __future__ import annotations

import csv
import io
import random

import pytest

from jingxin.core import audit
from jingxin.core.audit import Action
from jingxin.core.credit_code import generate
from jingxin.core.scope import Scope
from jingxin.web.testing import csrf_from, login

pytest_plugins = ["jingxin.web.pytest_fixtures"]

pytest.importorskip("jingxin.ingest.service", reason="ingestion (jingxin.ingest) is not available yet")

CODES = [generate("330106", random.Random(i)) for i in range(4)]
BAD_CODE = CODES[3][:17] + ("0" if CODES[3][17] != "0" else "1")


def tax_file(rows: list[tuple[str, str, str]]) -> bytes:
    lines = ["统一社会信用代码,年度,实缴税收"] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


FIRST = tax_file([(CODES[0], "2023", "12.5"), (BAD_CODE, "2023", "3"), (CODES[1], "2023", "=HYPERLINK(1)")])
CORRECTED = tax_file([(CODES[0], "2023", "12.5"), (CODES[1], "2023", "7"), (CODES[2], "2023", "1234.5")])


def _upload_page(client, token: str, name: str, body: bytes, source: str = "tax"):
    return client.post(
        "/data/upload",
        data={"source": source, "csrf_token": token},
        files={"file": (name, body, "text/csv")},
        follow_redirects=False,
    )


def _audit(app, action: str) -> list[audit.AuditEntry]:
    with app.state.db.session() as db:
        return audit.search(db, action=action, limit=100)[0]


def test_liaison_uploads_sees_result_and_downloads_rejected_rows(web_client, demo_users, web_app) -> None:
    login(web_client, "liaison-sw")
    page = web_client.get("/data")
    assert "上传文件" in page.text and "企业年度税收" in page.text and "企业月度用电量" not in page.text
    token = csrf_from(page.text)

    response = _upload_page(web_client, token, "税务-2023年度.csv", FIRST)
    assert response.status_code == 303
    location = response.headers["location"]
    batch_id = int(location.rsplit("/", 1)[1])
    detail = web_client.get(location)
    assert detail.status_code == 200
    assert "接收 1，拒收 2" in detail.text  # the flash message after the redirect
    assert "税务-2023年度.csv" in detail.text and "校验位" in detail.text and "现行" in detail.text

    api = web_client.get(f"/api/v1/batches/{batch_id}").json()
    assert (api["accepted"], api["rejected"], api["status"], api["loaded_by"]) == (
        1,
        2,
        "current",
        "liaison-sw",
    )

    download = web_client.get(f"/data/batches/{batch_id}/rejected.csv")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    assert download.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows[0] == ["批次", "数据源", "行号", "列", "值", "原因", "原始行"]
    assert len(rows) == 3
    assert rows[2][4] == "'=HYPERLINK(1)"  # no formula runs when Excel opens it
    downloads = _audit(web_app, Action.DOWNLOAD)
    assert downloads[0].username == "liaison-sw" and downloads[0].object_id == str(batch_id)
    uploads = _audit(web_app, Action.UPLOAD)
    assert uploads[0].detail["accepted"] == 1 and uploads[0].detail["file_name"] == "税务-2023年度.csv"

    # the same bytes again: nothing new, the earlier batch is shown
    again = _upload_page(web_client, token, "税务-2023年度(1).csv", FIRST)
    assert again.headers["location"] == location
    assert "未重复入库" in web_client.get(location).text
    assert web_client.get("/api/v1/batches").json()["total"] == 1

    # a corrected file for the same period supersedes the first batch
    corrected = _upload_page(web_client, token, "税务-2023年度-更正.csv", CORRECTED)
    new_id = int(corrected.headers["location"].rsplit("/", 1)[1])
    assert new_id != batch_id
    assert f"更正了批次 {batch_id}" in web_client.get(corrected.headers["location"]).text
    old = web_client.get(f"/api/v1/batches/{batch_id}").json()
    assert old["status"] == "superseded" and old["superseded_by"] == new_id
    listing = web_client.get("/data")
    assert "已被更正" in listing.text and "source-summary" in listing.text


def test_refused_file_is_explained_and_audited(web_client, demo_users, web_app) -> None:
    token = login(web_client, "liaison-sw")
    response = web_client.post(
        "/api/v1/batches",
        headers={"X-CSRF-Token": token},
        data={"source": "tax"},
        files={"file": ("错表.csv", "名称,金额\n甲,1\n".encode(), "text/csv")},
    )
    assert response.status_code == 422
    assert "统一社会信用代码" in response.json()["detail"]
    refused = _audit(web_app, Action.UPLOAD)
    assert refused[0].detail["refused"] and refused[0].object_type == "source"
    page = _upload_page(web_client, token, "错表.csv", "名称,金额\n甲,1\n".encode())
    assert page.headers["location"] == "/data"
    assert "文件未入库" in web_client.get("/data").text
    assert web_client.get("/api/v1/batches").json()["total"] == 0
    wrong_type = _upload_page(web_client, token, "税务.exe", FIRST)
    assert wrong_type.headers["location"] == "/data"
    assert "格式不受支持" in web_client.get("/data").text


def test_api_upload_and_rejected_rows(web_client, demo_users) -> None:
    token = login(web_client, "admin")
    response = web_client.post(
        "/api/v1/batches",
        headers={"X-CSRF-Token": token},
        data={"source": "tax"},
        files={"file": ("tax.csv", FIRST, "text/csv")},
    )
    assert response.status_code == 201, response.text
    outcome = response.json()
    assert outcome["duplicate"] is False and outcome["batch"]["rejected"] == 2
    batch_id = outcome["batch"]["batch_id"]
    rejected = web_client.get(f"/api/v1/batches/{batch_id}/rejected").json()
    assert rejected["total"] == 2 and [r["row_number"] for r in rejected["items"]] == [3, 4]
    again = web_client.post(
        "/api/v1/batches",
        headers={"X-CSRF-Token": token},
        data={"source": "tax"},
        files={"file": ("tax.csv", FIRST, "text/csv")},
    ).json()
    assert again["duplicate"] is True and again["batch"]["batch_id"] == batch_id
    csv_api = web_client.get(f"/api/v1/batches/{batch_id}/rejected.csv")
    assert csv_api.status_code == 200 and csv_api.content.startswith(b"\xef\xbb\xbf")


def test_upload_needs_the_liaison_role(web_client, demo_users) -> None:
    token = login(web_client, "sheng")
    response = web_client.post(
        "/api/v1/batches",
        headers={"X-CSRF-Token": token},
        data={"source": "tax"},
        files={"file": ("tax.csv", FIRST, "text/csv")},
    )
    assert response.status_code == 403


def test_file_names_are_made_safe() -> None:
    from jingxin.datahub.service import safe_file_name

    assert safe_file_name("../../etc/passwd") == "passwd"
    assert safe_file_name("C:\\Users\\税务\\2023年 税收.xlsx") == "2023年 税收.xlsx"
    assert safe_file_name("a\x00b\n.csv") == "ab.csv"
    assert safe_file_name("") == "upload.csv"
    assert safe_file_name("..") == "upload.csv"
    assert len(safe_file_name("长" * 500 + ".csv")) == 124


# ---- the service on both warehouse backends -----------------------------------------------------


@pytest.fixture
def loaded(warehouse_url, tmp_path):
    """A warehouse (DuckDB or PostgreSQL, from tests/conftest.py) with two tax batches and one
    power batch ingested through the server's access object."""
    from jingxin.datahub import service
    from jingxin.web.warehouse import WarehouseAccess

    access = WarehouseAccess(warehouse_url)
    tax = Scope(division="330000", department="税务")
    power = Scope(division="330000", department="电力")
    service.upload(access, tax, "tax", io.BytesIO(FIRST), "tax-1.csv", "liaison-sw")
    service.upload(access, tax, "tax", io.BytesIO(CORRECTED), "tax-2.csv", "liaison-sw")
    power_file = "统一社会信用代码,年月,用电量\n" + f"{CODES[0]},2023-01,1000\n{CODES[1]},2023-01,abc\n"
    service.upload(access, power, "power", io.BytesIO(power_file.encode()), "power.csv", "liaison-dl")
    yield access
    access.close()


def test_service_scope_on_each_warehouse(loaded) -> None:
    from jingxin.datahub import service

    tax = Scope(division="330000", department="税务")
    power = Scope(division="330000", department="电力")
    with loaded.reader() as wh:
        everything, total = service.list_batches(wh, Scope())
        assert total == 3 and [b.batch_id for b in everything] == [3, 2, 1]
        own, total = service.list_batches(wh, tax)
        assert total == 2 and {b.source for b in own} == {"tax"}
        assert [b.status for b in own] == ["current", "superseded"]
        assert service.list_batches(wh, power, source="tax") == ([], 0)
        assert service.list_batches(wh, tax, source="' OR 1=1 --") == ([], 0)
        with pytest.raises(service.BatchNotFound):
            service.get_batch(wh, power, 1)
        with pytest.raises(service.BatchNotFound):
            service.rejected_rows(wh, power, 1)
        rows, total = service.rejected_rows(wh, power, 3)
        assert total == 1 and rows[0].value == "abc"
        summary = {s.source: s for s in service.source_summary(wh, tax)}
        assert set(summary) == {"tax"} and summary["tax"].accepted == 3 and summary["tax"].batches == 1
        assert service.source_summary(wh, Scope(division="330106", credit_code=CODES[0])) == []
        body = service.rejected_csv(wh, tax, 1).decode("utf-8-sig")
        assert body.splitlines()[0] == "批次,数据源,行号,列,值,原因,原始行"
    with pytest.raises(service.SourceNotAllowed):
        service.upload(loaded, power, "tax", io.BytesIO(FIRST), "tax.csv", "liaison-dl")


# ---- downloads: .xlsx, pages, bounded memory ------------------------------------------------


def test_rejected_rows_download_as_xlsx_with_text_cells_only(web_client, demo_users, web_app) -> None:
    import openpyxl

    token = login(web_client, "liaison-sw")
    tricky = tax_file(
        [
            ("0" + CODES[0][1:17] + "X", "2023", "=1+2"),  # leading zero, bad check character
            (CODES[1], "2023", "+cmd|' /C calc'!A0"),
            (CODES[2], "2023", "-5"),  # below the minimum: a number that must stay text
            (CODES[3][:17] + "@", "2023", "@SUM(1)"),
        ]
    )
    batch_id = int(_upload_page(web_client, token, "税务.csv", tricky).headers["location"].rsplit("/", 1)[1])
    assert "rejected.xlsx" in web_client.get(f"/data/batches/{batch_id}").text
    for url in (f"/data/batches/{batch_id}/rejected.xlsx", f"/api/v1/batches/{batch_id}/rejected.xlsx"):
        answer = web_client.get(url)
        assert answer.status_code == 200, answer.text[:300]
        assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert ".xlsx" in answer.headers["content-disposition"]
        sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == ("批次", "数据源", "行号", "列", "值", "原因", "原始行")
        cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
        assert all(c.data_type in ("s", "n") for c in cells)  # no formula cell anywhere
        values = {c.value for c in cells}
        assert {"=1+2", "+cmd|' /C calc'!A0", "-5", "@SUM(1)"} <= values
        assert "0" + CODES[0][1:17] + "X" in values  # the code as typed, leading zero kept
        value_cells = [row[4] for row in sheet.iter_rows(min_row=2)]
        assert all(c.data_type == "s" and c.number_format == "@" for c in value_cells)
    downloads = _audit(web_app, Action.DOWNLOAD)
    assert downloads[0].detail["file"] == "rejected_rows.xlsx" and len(downloads) == 2


def test_rejected_pages_keep_every_problem_once_in_file_order(warehouse_url, monkeypatch) -> None:
    from hostile_files import seed_rejections

    from jingxin.datahub import service
    from jingxin.web.warehouse import WarehouseAccess

    seed_rejections(warehouse_url, 7, rows=40, per_row=3)
    from jingxin.ingest import batches

    monkeypatch.setattr(batches, "PAGE_ROWS", 8)  # pages end inside a row's problems
    access = WarehouseAccess(warehouse_url)
    try:
        with access.reader() as wh:
            pages = list(service.rejected_pages(wh, 7))
            batch = service.get_batch(wh, Scope(), 7)
            body = b"".join(service.rejected_csv_chunks(wh, batch)).decode("utf-8-sig")
    finally:
        access.close()
    assert len(pages) > 5 and all(len(p) <= 8 + 2 for p in pages)
    page_rows = [{r["row_number"] for r in p} for p in pages]
    assert sum(len(rows) for rows in page_rows) == 40  # every row's problems on one page
    seen = [(r["row_number"], r["column_name"]) for p in pages for r in p]
    assert seen == [(2 + i // 3, f"列{i % 3}") for i in range(120)]
    lines = list(csv.reader(io.StringIO(body)))
    assert len(lines) == 121 and lines[1][4] == "'=v0"
