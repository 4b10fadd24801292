"""Appeals, arrears and cost burden through the web app (SQLite and PostgreSQL): an enterprise
files an appeal with an attachment from the form, the county answers it on the workflow page,
the enterprise rates it; supervision, arrears and burden pages and their Excel downloads."""

from __future__ import annotations

import io
from typing import Any

import openpyxl

from jingxin.web.testing import login

pytest_plugins = ["jingxin.web.pytest_fixtures"]

PDF = b"%PDF-1.4\n%%EOF\n"


def test_file_answer_rate_and_supervise(web_client: Any, demo_users: dict[str, Any]) -> None:
    c = web_client
    token = login(c, "qiye")
    page = c.get("/appeals")
    assert page.status_code == 200 and "提交诉求" in page.text
    bad = c.post("/appeals", data={"csrf_token": token, "title": "", "content": "x", "category": "tax"})
    assert bad.status_code == 422 and "请填写“诉求标题”" in bad.text
    sent = c.post(
        "/appeals",
        data={"csrf_token": token, "title": "出口退税进度", "content": "何时到账？", "category": "tax"},
        files={"files": ("报关单.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    item_id = int(sent.headers["location"].rsplit("/", 1)[1])
    mine = c.get("/api/v1/appeals").json()
    assert [a["id"] for a in mine] == [item_id] and mine[0]["fields"]["department"] == "税务"
    att = c.get(f"/appeals/{item_id}/attachments/1")
    assert att.status_code == 200 and att.content == PDF
    assert c.get("/appeals/supervision").status_code == 403

    c.cookies.clear()
    token = login(c, "liaison-sw")
    accept = c.post(
        f"/api/v1/work-items/{item_id}/actions/accept",
        headers={"X-CSRF-Token": token},
        json={"fields": {"complexity": "simple", "department": "税务"}},
    )
    assert accept.status_code == 200, accept.text
    answer = c.post(
        f"/api/v1/work-items/{item_id}/actions/answer",
        headers={"X-CSRF-Token": token},
        json={"fields": {"answer": "本周内到账"}},
    )
    assert answer.status_code == 200
    c.cookies.clear()
    token = login(c, "liaison-dl")
    assert c.get(f"/api/v1/work-items/{item_id}").status_code == 404
    assert c.get("/api/v1/appeals").json() == []

    c.cookies.clear()
    token = login(c, "qiye")
    closed = c.post(
        f"/api/v1/work-items/{item_id}/actions/close",
        headers={"X-CSRF-Token": token},
        json={"fields": {"rating": "dissatisfied"}},
    )
    assert closed.status_code == 200 and closed.json()["state"] == "closed"

    c.cookies.clear()
    login(c, "xihu")
    sup = c.get("/appeals/supervision")
    assert sup.status_code == 200 and "出口退税进度" in sup.text
    low = c.get("/api/v1/appeals/low-rated").json()
    assert [r["id"] for r in low["rows"]] == [item_id] and low["by_department"][0]["key"] == "税务"
    stats = c.get("/api/v1/appeals/stats").json()
    assert stats[0]["category"] == "tax" and stats[0]["dissatisfied"] == 1
    book = openpyxl.load_workbook(io.BytesIO(c.get("/appeals/supervision.xlsx").content))
    assert book.sheetnames == ["超期诉求", "低评价诉求", "分类统计"]
    assert book["低评价诉求"]["B2"].value == "出口退税进度"


def test_api_submission_with_arrear_and_the_ledger(web_client: Any, demo_users: dict[str, Any]) -> None:
    c = web_client
    token = login(c, "qiye")
    arrear = {
        "debtor_name": "某区城市建设管理局",
        "debtor_kind": "government",
        "contract_no": "HT-7",
        "signed_on": "2021-03-01",
        "delivered_on": "2021-03-10",
        "amount": "88000",
        "contract_days": "90",
    }
    r = c.post(
        "/api/v1/appeals",
        headers={"X-CSRF-Token": token},
        data={"title": "工程款被拖欠", "content": "合同约定90天付款", "category": "arrears", **arrear},
    )
    assert r.status_code == 201, r.text
    bad = c.post(
        "/api/v1/appeals",
        headers={"X-CSRF-Token": token},
        data={"title": "x", "content": "y", "category": "arrears", **arrear, "amount": "abc"},
    )
    assert bad.status_code == 422 and "amount" in bad.json()["fields"]
    ledger = c.get("/api/v1/arrears").json()
    assert len(ledger) == 1 and ledger[0]["due_date"] == "2021-05-09"  # 90 agreed, capped at 60
    assert "超过机关最长60日" in ledger[0]["due_rule"]
    assert c.post("/api/v1/arrears", headers={"X-CSRF-Token": token}, json={}).status_code == 403

    c.cookies.clear()
    token = login(c, "xihu")
    pay = c.post(
        f"/api/v1/arrears/{ledger[0]['id']}/repayments",
        headers={"X-CSRF-Token": token},
        json={"paid_on": "2021-06-01", "amount": "8000"},
    )
    assert pay.status_code == 201 and pay.json()["outstanding"] == "80000.00"
    report = c.get("/api/v1/arrears/report?as_of=2021-06-01").json()
    assert report["by_county"][0]["label"] == "西湖区" and report["by_county"][0]["overdue"] == "80000.00"
    page = c.get("/arrears")
    assert page.status_code == 200 and "某区城市建设管理局" in page.text
    book = openpyxl.load_workbook(io.BytesIO(c.get("/arrears.xlsx").content))
    assert book["清欠台账"]["B2"].value == "某区城市建设管理局"

    c.cookies.clear()
    login(c, "hangzhou")
    assert len(c.get("/api/v1/arrears").json()) == 1
    c.cookies.clear()
    login(c, "liaison-sw")
    assert c.get("/api/v1/arrears").status_code == 403
