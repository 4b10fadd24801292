"""Appeals (诉求直办) end to end in a real browser (Debian's chromium through Playwright) against
a real server, as an enterprise on a phone-sized screen and as officials:

- two appeals filed before holidays (seeded with their real dates): one on 30 September 2021,
  answered by 8 October (国庆), left overdue and escalated to the city by the sweep; one on
  28 January 2022, classified complex, due 7 February (春节, with the worked 29 and 30 January);
- the enterprise files a new appeal with an attachment from its phone; the tax department
  accepts it and asks for material (the clock pauses), the enterprise supplies it (it resumes),
  the department answers, the enterprise is not satisfied and reopens it, the department
  answers again, the enterprise rates it;
- the county reads the supervision lists (overdue, low-rated), the city sees the escalated case,
  the province reads the cost burden and the arrears ledger of a small generated province.

Screenshots go to docs/screenshots/appeals-*.png, burden.png, arrears.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import PHONE, act, open_as, serve, shot
from jobs_helpers import PASSWORD, cli

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _province(home: Path) -> None:
    from jingxin.core.warehouse import open_warehouse
    from jingxin.evaluation.runs import run_evaluation
    from jingxin.ingest.directory import ingest_directory
    from jingxin.synth.generator import generate_province

    generate_province(home / "province", 300, (2020, 2021), seed=7)
    wh = open_warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        ingest_directory(wh, home / "province", loaded_by="browser-test")
        for year in (2020, 2021):
            run_evaluation(wh, "zhejiang_industry_above", year)
    finally:
        wh.close()


def _seed(home: Path) -> dict[str, int]:
    """Two appeals filed before 国庆 2021 and 春节 2022, the first escalated by the sweep; a
    ledger entry owed to the enterprise."""
    from jingxin.accounts.service import get_user_by_username
    from jingxin.appeals import service
    from jingxin.arrears import service as arrears
    from jingxin.core.audit import Actor
    from jingxin.core.db import Database
    from jingxin.core.workflow import service as wf
    from jingxin.core.workflow.sweep import sweep
    from jingxin.core.workflow.testing import bj

    database = Database(f"sqlite:///{home / 'platform.sqlite'}")
    try:
        with database.session() as db:
            qiye, xihu = get_user_by_username(db, "qiye"), get_user_by_username(db, "xihu")
            store = home / "attachments"
            national = service.submit(
                db,
                qiye,
                title="国庆前提交：新厂房用地指标",
                content="请问如何申请新增用地指标？",
                category="land",
                store=store,
                now=bj(2021, 9, 30, 10),
            )
            spring = service.submit(
                db,
                qiye,
                title="春节前提交：研发费用加计扣除",
                content="今年比例是多少？",
                category="policy",
                store=store,
                now=bj(2022, 1, 28, 10),
            )
            wf.act(
                db,
                spring.id,
                "accept",
                xihu,
                fields={"complexity": "complex", "department": "经信"},
                now=bj(2022, 1, 29, 9),
            )
            sweep(db, bj(2021, 10, 11, 9), send_email=False)
            arrears.record_entry(
                db,
                xihu,
                {
                    "debtor_name": "某区城市建设管理局",
                    "debtor_kind": "government",
                    "contract_no": "HT-2021-018",
                    "signed_on": "2021-03-01",
                    "delivered_on": "2021-03-10",
                    "amount": "360000",
                    "contract_days": "90",
                    "creditor_code": qiye.credit_code,
                    "creditor_name": "示例企业",
                    "division_code": "330106",
                },
                Actor(xihu.id, "xihu"),
            )
            return {"national": national.id, "spring": spring.id}
    finally:
        database.dispose()


def test_appeal_end_to_end_as_enterprise_and_officials(tmp_path: Path, browser: Any) -> None:
    _province(tmp_path)
    out = cli(tmp_path, "users", "demo")
    assert out.returncode == 0, out.stderr
    seeded = _seed(tmp_path)
    with serve(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'platform.sqlite'}",
        warehouse_url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
    ) as url:

        def login(username: str, **options: Any) -> Any:
            return open_as(browser, url, username, PASSWORD, **options)

        def act_on(page: Any, item: int, transition: str, fields: dict[str, str], comment: str = "") -> None:
            page.goto(f"{url}/work/{item}")  # the case as it is now, with the steps open to this user
            act(page, transition, fields, comment)

        # the enterprise, on its phone
        qiye = login("qiye", viewport=PHONE)
        qiye.goto(f"{url}/appeals")
        assert "国庆前提交" in qiye.content()
        qiye.select_option("#category", "tax")
        qiye.fill("#title", "出口退税进度")
        qiye.fill("#content", "去年第四季度的出口退税何时到账？")
        pdf = tmp_path / "报关单.pdf"
        pdf.write_bytes(PDF)
        qiye.set_input_files("#files", str(pdf))
        shot(qiye, "appeals-enterprise")
        qiye.click("#new-appeal button[type=submit]")
        qiye.wait_for_load_state("networkidle")
        item = int(qiye.url.rsplit("/", 1)[1])
        assert "已分办至税务" in qiye.content()

        # the tax department accepts it as complex and asks for material
        sw = login("liaison-sw")
        act_on(sw, item, "accept", {"complexity": "complex", "department": "税务"})
        act(sw, "request_info", {}, comment="请补充报关单号")
        assert "暂停（等待企业）" in sw.content()
        dl = login("liaison-dl")
        dl.goto(f"{url}/work/{item}")
        assert "出口退税进度" not in dl.content()  # another department: not found

        act_on(qiye, item, "supply_info", {"supplement": "报关单号 310120210000001"})
        assert "计时中" in qiye.content()
        act_on(sw, item, "answer", {"answer": "已审核，本周内到账。"})
        act_on(qiye, item, "reopen", {}, comment="上次答复后仍未到账")
        assert "重新办理" in qiye.content()
        shot(qiye, "appeals-reopened")
        act_on(sw, item, "answer", {"answer": "已加急，明日到账。"})
        act_on(qiye, item, "close", {"rating": "dissatisfied"})
        assert "已办结" in qiye.content()

        # the county supervises; the city sees the escalated 国庆 appeal
        xihu = login("xihu")
        xihu.goto(f"{url}/appeals/supervision")
        low = xihu.locator("#low-rated").inner_text()
        overdue = xihu.locator("#overdue").inner_text()
        assert "出口退税进度" in low and "税务" in low
        assert "国庆前提交" in overdue and "市经信局" in overdue
        shot(xihu, "appeals-supervision")
        hz = login("hangzhou")
        hz.goto(f"{url}/work/{seeded['national']}")
        text = hz.content()
        assert "2021年10月8日 17:30" in text and "市经信局" in text and "超期" in text
        shot(hz, "appeals-escalated")
        hz.goto(f"{url}/work/{seeded['spring']}")
        assert "2022年2月7日 17:30" in hz.content()  # 29, 30 January (worked) and 7 February
        shot(hz, "appeals-spring-festival")

        # the province: cost burden and the arrears ledger
        sheng = login("sheng")
        sheng.goto(f"{url}/burden?year=2021")
        policies = sheng.locator("#policies").inner_text()
        assert "城镇土地使用税" in policies and "差别化电价" in policies
        sheng.locator("#policies form").first.locator("[name='reason']").fill("")
        sheng.locator("#policies form").first.locator("button").click()
        sheng.wait_for_load_state("networkidle")
        assert "（sheng）" in sheng.locator("#policies").inner_text()
        shot(sheng, "burden", full_page=False)  # the first screen: the long table would make a huge file
        sheng.goto(f"{url}/arrears")
        assert "某区城市建设管理局" in sheng.content() and "逾期" in sheng.content()
        shot(sheng, "arrears")
        for page in (qiye, sw, dl, xihu, hz, sheng):
            assert page.js_errors == []
