"""Data exchange over HTTP: templates, the specification, the catalogue, the tracker, and the
token API (issued by an admin, read by an outside system with a bearer token, JSON and CSV)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from exchange_helpers import LUCHENG, SHANGCHENG, XIHU, load_world

from jingxin.core import audit
from jingxin.core.calendar import CHINA_TZ
from jingxin.web.testing import csrf_from, login

pytest_plugins = ["jingxin.web.pytest_fixtures"]


@pytest.fixture
def world(web_app: Any, demo_users: Any, tmp_path: Path) -> Any:
    folder = tmp_path / "files"
    folder.mkdir()
    with web_app.state.warehouse.writer() as wh:
        load_world(wh, folder, {XIHU[0]: "=cmd|' /C calc'!A0"})
    return web_app


def issue(client: Any, csrf: str, **body: Any) -> Any:
    payload = {
        "name": "统计局联网直报",
        "holder": "省统计局",
        "grants": {"tax": ["credit_code", "year"], "registry": ["credit_code", "name", "county_code"]},
        "division": "330100",
        "rate_per_minute": 5,
        "expires_at": (datetime.now(CHINA_TZ) + timedelta(days=10)).isoformat(),
        **body,
    }
    return client.post("/api/v1/exchange/tokens", json=payload, headers={"X-CSRF-Token": csrf})


def test_templates_and_the_specification_are_served(web_client: Any, demo_users: Any) -> None:
    login(web_client, "liaison-sw")
    response = web_client.get("/exchange/templates/tax.xlsx")
    assert response.status_code == 200 and "spreadsheetml" in response.headers["content-type"]
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert [c.value for c in book.worksheets[0][2]] == ["统一社会信用代码", "年度", "实缴税收(万元)"]
    assert web_client.get("/exchange/templates/nosuch.xlsx").status_code == 404
    spec = web_client.get("/exchange/spec")
    assert spec.status_code == 200 and "<table>" in spec.text and "企业年度税收" in spec.text
    md = web_client.get("/exchange/spec.md")
    assert md.text.startswith("# 数据交换规范") and "### tax：企业年度税收" in md.text


def test_the_catalogue_shows_fields_sources_frequency_and_scoped_lineage(web_client: Any, world: Any) -> None:
    login(web_client, "admin")
    page = web_client.get("/exchange")
    assert page.status_code == 200
    for text in (
        "共享数据目录",
        "企业年度税收",
        "实缴税收(万元)",
        "每年报送上一年度数据，4月30日前",
        "税务",
        "现行批次 1 个",
    ):
        assert text in page.text
    entries = {e["id"]: e for e in web_client.get("/api/v1/exchange/catalogue").json()}
    assert entries["tax"]["lineage"] == {
        "visible": True,
        "live_batches": 1,
        "live_rows": 7,
        "periods": ["2021"],
    }
    assert [f["name"] for f in entries["tax"]["fields"]] == ["credit_code", "year", "tax_paid"]
    assert entries["tax"]["fields"][2]["sensitive"] is True

    web_client.cookies.clear()
    login(web_client, "xihu")  # a county analyst: the catalogue, but no batches of departments
    entries = {e["id"]: e for e in web_client.get("/api/v1/exchange/catalogue").json()}
    assert entries["tax"]["lineage"]["visible"] is False and entries["tax"]["lineage"]["live_batches"] == 0
    assert "批次明细仅对该部门联络员和省级用户可见" in web_client.get("/exchange").text
    assert web_client.get("/exchange/tokens").status_code == 403
    web_client.cookies.clear()
    login(web_client, "qiye")
    assert web_client.get("/exchange").status_code == 403


def test_the_tracker_flips_when_a_liaison_uploads_the_filled_template(web_client: Any, world: Any) -> None:
    csrf = login(web_client, "liaison-sw")
    page = web_client.get("/exchange/tracker")
    assert page.status_code == 200 and "企业年度税收" in page.text and "企业月度用电量" not in page.text
    summary = {s["source"]: s for s in web_client.get("/api/v1/exchange/tracker").json()}
    assert set(summary) == {"tax", "invoices", "tax-monthly"}  # the 税务 department's sources only
    year = datetime.now(CHINA_TZ).year - 1  # last year's tax: due on April 30 of this year
    periods = {p["period"]: p for p in web_client.get("/api/v1/exchange/tracker/periods?source=tax").json()}
    before = periods[str(year)]
    assert before["due_day"] == f"{year + 1}-04-30"
    assert before["status"] == ("overdue" if datetime.now(CHINA_TZ).month > 4 else "expected")

    template = web_client.get("/exchange/templates/tax.xlsx").content
    from jingxin.core.contracts import source
    from jingxin.exchange.service import fill_template

    rows = [{"credit_code": c, "year": year, "tax_paid": 12.5} for c in XIHU]
    body = fill_template(source("tax"), template, rows)
    uploaded = web_client.post(
        "/api/v1/batches",
        data={"source": "tax"},
        files={"file": (f"{year}年税收.xlsx", body, "application/octet-stream")},
        headers={"X-CSRF-Token": csrf},
    )
    assert uploaded.status_code == 201, uploaded.text
    batch_id = uploaded.json()["batch"]["batch_id"]
    periods = {p["period"]: p for p in web_client.get("/api/v1/exchange/tracker/periods?source=tax").json()}
    after = periods[str(year)]
    assert after["batch_id"] == batch_id and after["row_count"] == 3 and after["rejected_share"] == 0
    assert after["status"] == ("late" if before["status"] == "overdue" else "received")


def test_an_admin_issues_a_token_that_reads_only_its_grant(web_client: Any, world: Any) -> None:
    csrf = login(web_client, "admin")
    response = issue(web_client, csrf)
    assert response.status_code == 201 and response.headers["cache-control"] == "no-store"
    secret = response.json()["token"]
    listed = web_client.get("/api/v1/exchange/tokens").json()
    assert len(listed) == 1 and "token" not in listed[0] and secret not in str(listed)
    assert issue(web_client, csrf, grants={"nosuch": ["x"]}).status_code == 422
    web_client.cookies.clear()  # the outside system has no session, only its token

    auth = {"Authorization": f"Bearer {secret}"}
    info = web_client.get("/api/v1/exchange/datasets", headers=auth).json()
    assert info["division"] == "330100" and [d["id"] for d in info["datasets"]] == ["tax", "registry"]
    page = web_client.get("/api/v1/exchange/datasets/tax/rows?limit=2", headers=auth).json()
    assert page["fields"] == ["credit_code", "year"] and page["total"] == 5 and page["next_offset"] == 2
    rest = web_client.get("/api/v1/exchange/datasets/tax/rows?limit=10&offset=2", headers=auth).json()
    codes = {r["credit_code"] for r in page["rows"] + rest["rows"]}
    assert codes == {*XIHU, *SHANGCHENG} and rest["next_offset"] is None

    csv_answer = web_client.get(
        "/api/v1/exchange/datasets/registry/rows?format=csv&region=330106", headers=auth
    )
    assert csv_answer.status_code == 200 and csv_answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(csv_answer.content.decode("utf-8-sig"))))
    assert rows[0] == ["统一社会信用代码", "企业名称", "区县代码"]
    assert {r[0] for r in rows[1:]} == set(XIHU) and not {r[0] for r in rows[1:]} & set(LUCHENG)
    assert [r[1] for r in rows if r[0] == XIHU[0]] == ["'=cmd|' /C calc'!A0"]

    refused = {
        "/api/v1/exchange/datasets/energy/rows": 403,
        "/api/v1/exchange/datasets/tax/rows?fields=tax_paid": 403,
        "/api/v1/exchange/datasets/tax/rows?region=330302": 403,
    }
    for url, status in refused.items():
        answer = web_client.get(url, headers=auth)
        assert answer.status_code == status, url
    assert web_client.get("/api/v1/exchange/datasets/tax/rows", headers=auth).status_code == 200  # 5th
    over = web_client.get("/api/v1/exchange/datasets/tax/rows", headers=auth)
    assert over.status_code == 429 and over.headers["retry-after"] == "60"
    missing = web_client.get("/api/v1/exchange/datasets/tax/rows")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"

    with world.state.db.session() as db:
        prefix = secret.split("_")[1]
        served, _ = audit.search(db, username=f"token:{prefix}", action="exchange_read")
        refused_log, _ = audit.search(db, username=f"token:{prefix}", action="exchange_refused")
    assert len(served) == 5 and len(refused_log) == 4  # 3 out of the grant, 1 over the rate
    assert {e.detail.get("format") for e in served} >= {"json", "csv"}


def test_the_token_form_shows_the_secret_once(web_client: Any, world: Any) -> None:
    login(web_client, "admin")
    form = web_client.get("/exchange/tokens")
    data = {
        "csrf_token": csrf_from(form.text),
        "name": "园区平台",
        "holder": "西湖区经信局",
        "division": "330106",
        "rate_per_minute": "10",
        "expires_on": (datetime.now(CHINA_TZ) + timedelta(days=30)).date().isoformat(),
        "field": ["tax:credit_code", "tax:year"],
    }
    answer = web_client.post("/exchange/tokens", data=data)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    start = answer.text.index('id="token-secret">') + len('id="token-secret">')
    secret = answer.text[start : answer.text.index("<", start)]
    assert secret.startswith("jxt_")
    assert secret not in web_client.get("/exchange/tokens").text
    bad = web_client.post("/exchange/tokens", data={**data, "division": "999999"})
    assert bad.status_code == 422 and "不是本省的区划" in bad.text
    rows = web_client.get(
        "/api/v1/exchange/datasets/tax/rows", headers={"Authorization": f"Bearer {secret}"}
    ).json()["rows"]
    assert {r["credit_code"] for r in rows} == set(XIHU)
