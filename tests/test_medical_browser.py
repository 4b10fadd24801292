"""5G 一件事 and a medical dispatch plan in a real browser (Debian's chromium) against a real
server: an operator files an application for a tower with an attachment; the county schedules
and records the joint survey; three departments approve in parallel, 自然资源 and 生态环境 at
once; 电力 is left late — the overdue sweep, run at a moment after its deadline (a browser
cannot wait three working days), escalates it to the city — and then approves; the operator
reports the station built. The province proposes a surge dispatch plan over generated
reserves, approves it and books it in the ledger. Screenshots: docs/screenshots/fiveg-*.png,
medical-*.png."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser_support import open_as, serve, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest_plugins = ["jingxin.web.pytest_fixtures"]
PASSWORD = "jingxin2024demo"


@pytest.fixture(scope="module")
def site(
    _sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory, fast_password_hashing: None
) -> Any:
    from jingxin.core.db import Database
    from jingxin.core.workflow.testing import make_people
    from jingxin.synth import medical as synth

    home = tmp_path_factory.mktemp("medical-browser")
    shutil.copyfile(_sqlite_template, home / "platform.sqlite")
    url = f"sqlite:///{home / 'platform.sqlite'}"
    database = Database(url)
    with database.session() as db:
        make_people(db, PASSWORD)  # includes the demo operator yidong
        truth = synth.load(
            db,
            seed=4,
            as_of=date.today(),
            counties=["330106", "330102", "330110", "330127", "330302"],
            items=["mask_n95", "pcr_kit", "ventilator_icu", "goggles", "ibuprofen", "tent"],
            share_injected=0.3,
            out_dir=home / "reports",
            supply_defects=0.1,
        )
        # generated applications of another operator in 西湖区, so the station map has points
        # in several stages (synth.medical.load_fiveg runs them through the real service)
        people = make_people(db, PASSWORD)
        liaisons = {
            d: people[u]
            for d, u in (("自然资源", "liaison-zrzy"), ("生态环境", "liaison-sthj"), ("电力", "liaison-dl"))
        }
        synth.load_fiveg(db, people["liantong"], people["xihu"], liaisons, n=8, seed=5)
    # startup_seconds: the server imports every scenario; under a loaded machine that took over 120 s
    with serve(
        home, database_url=url, warehouse_url=f"duckdb:///{home / 'warehouse.duckdb'}", startup_seconds=300
    ) as base:
        yield {"base": base, "database": database, "truth": truth}
    database.dispose()


def _go(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def _submit(page: Any, selector: str) -> None:
    page.locator(selector).click()
    page.wait_for_load_state("networkidle")


def test_fiveg_application_parallel_approvals_escalation_and_build(
    browser: Any, site: dict[str, Any]
) -> None:
    from jingxin.core.calendar import CHINA_TZ, default_calendar
    from jingxin.core.workflow.models import WorkItem
    from jingxin.core.workflow.sweep import sweep

    base = site["base"]
    op = open_as(browser, base, "yidong", PASSWORD)
    _go(op, f"{base}/fiveg")
    op.fill("#site_name", "文三路铁塔站")
    op.select_option("#county", "330106")
    op.select_option("#site_type", "tower")
    op.fill("#lon", "120.13")
    op.fill("#lat", "30.28")
    op.set_input_files(
        "#attachment", files=[{"name": "站址图纸.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4"}]
    )
    shot(op, "fiveg-file")
    _submit(op, "#new-application button[type=submit]")
    app_url = op.url
    assert "站址图纸.pdf" in op.content() and op.locator("#app-state").inner_text() == "已申请"

    county = open_as(browser, base, "xihu", PASSWORD)
    _go(county, f"{base}/fiveg")
    assert "文三路铁塔站" in county.locator("#survey-schedule").inner_text()  # waiting for its survey
    _go(county, app_url)
    cal = default_calendar()
    today = datetime.now(CHINA_TZ).date()
    off = today + timedelta(days=1)
    while cal.is_working_day(off):
        off += timedelta(days=1)
    county.fill("#schedule_survey-on", off.isoformat())  # a weekend or holiday is refused
    county.locator("#form-schedule_survey button").click()
    county.wait_for_load_state("networkidle")
    assert "不是工作日" in county.content()
    _go(county, app_url)
    day = today if cal.is_working_day(today) else cal.next_working_day(today)
    county.fill("#schedule_survey-on", day.isoformat())
    county.fill("#schedule_survey-place", "文三路站址北门")
    _submit(county, "#form-schedule_survey button")
    assert county.locator("#survey-on").inner_text() == day.isoformat()
    assert county.locator("#app-state").inner_text() == "待踏勘"
    shot(county, "fiveg-survey")
    _go(op, f"{base}/fiveg")
    assert "文三路站址北门" in op.locator("#survey-schedule").inner_text()  # the operator sees it
    shot(op, "fiveg-survey-schedule")
    county.fill("#v-record_survey", "联合踏勘：站址可行，无遮挡")
    _submit(county, "form[action$='/record_survey'] button")
    assert county.locator("#app-state").inner_text() == "并联审批中"
    assert county.locator("#approvals tbody tr").count() == 3
    shot(county, "fiveg-approving")

    for who in ("liaison-zrzy", "liaison-sthj"):
        dept = open_as(browser, base, who, PASSWORD)
        assert dept.request.get(app_url).status == 404  # a department does not open the operator's file
        _go(dept, f"{base}/fiveg")
        assert dept.locator("#my-approvals tbody tr").count() == 1
        dept.fill("#my-approvals input[name=opinion]", "同意")
        if who == "liaison-zrzy":
            shot(dept, "fiveg-department")
        _submit(dept, "#my-approvals button[value=approve]")
        assert dept.locator("#my-approvals").count() == 0
        dept.context.close()

    with site["database"].session() as db:
        late = next(
            i
            for i in db.query(WorkItem).filter_by(workflow="fiveg_approval")
            if i.fields["department"] == "电力" and i.state == "pending"
        )
        due = late.clock("approval").due_at
        sweep(db, due + timedelta(days=1), send_email=False)
    city = open_as(browser, base, "hangzhou", PASSWORD)
    _go(city, app_url)
    row = city.locator("#approvals tr[data-department='电力']")
    assert "已升级市级督办" in row.inner_text() and "已超期" in row.inner_text()
    shot(city, "fiveg-escalated")

    power = open_as(browser, base, "liaison-dl", PASSWORD)
    _go(power, f"{base}/fiveg")
    assert "已超期" in power.locator("#my-approvals").inner_text()
    _submit(power, f"#my-approvals form[data-approval='{late.id}'] button[value=approve]")
    _go(op, app_url)
    assert op.locator("#app-state").inner_text() == "审批通过"
    op.fill("#v-report_built", date.today().isoformat())
    _submit(op, "form[action$='/report_built'] button")
    assert op.locator("#app-state").inner_text() == "已建成"
    shot(op, "fiveg-built")
    _go(city, f"{base}/fiveg")
    assert city.locator("#fiveg-progress").count() == 1
    shot(city, "fiveg-progress")
    _submit(city, "#to-map")
    city.wait_for_selector("#fiveg-map[data-map-ready]")
    assert "西湖区" in city.locator("#fiveg-map-regions").inner_text()
    shot(city, "fiveg-map")
    _go(op, f"{base}/fiveg/map")
    op.wait_for_selector("#fiveg-map[data-map-ready]")
    assert "已建成 1" in op.locator("#fiveg-map-stages").inner_text()
    shot(op, "fiveg-map-operator")
    for page in (op, county, city, power):
        assert page.js_errors == []


def test_dispatch_plan_proposed_approved_and_booked(browser: Any, site: dict[str, Any]) -> None:
    base = site["base"]
    sheng = open_as(browser, base, "sheng", PASSWORD)
    _go(sheng, f"{base}/medical?item=pcr_kit&scenario=surge&region=330100")
    sheng.wait_for_selector("#medical-map[data-map-ready]")
    shot(sheng, "medical-stock")
    _go(sheng, f"{base}/medical/warnings")
    assert sheng.locator("#medical-warnings tbody tr").count() > 1
    shot(sheng, "medical-warnings")
    # the 经信 liaison uploads the key suppliers' daily reports; the defective rows are kept
    truth = site["truth"]
    jx = open_as(browser, base, "liaison-jx", PASSWORD)
    _go(jx, f"{base}/data")
    jx.select_option("#upload-source", "medical-supply")
    jx.set_input_files("#upload-file", str(truth.supply.path))
    jx.click("form[action='/data/upload'] button[type=submit]")
    jx.wait_for_url("**/data/batches/*")
    jx.wait_for_load_state("networkidle")
    assert jx.locator("table.data tbody tr").count() >= len(truth.supply.entry.defects) > 0
    shot(jx, "medical-supply-batch")
    _go(sheng, f"{base}/medical/suppliers")
    board = sheng.locator("#supplier-board tbody")
    assert board.locator(".badge-bad").count() == len(truth.missing_reports)
    assert "批次" in board.inner_text()
    shot(sheng, "medical-suppliers")
    _go(sheng, f"{base}/medical/dispatch")
    sheng.fill("#d-on", date.today().isoformat())
    _submit(sheng, "form[action='/medical/dispatch'] button")
    assert "求解状态 Optimal" in sheng.content()
    _submit(sheng, "form[action$='/approve'] button")
    _submit(sheng, "form[action$='/execute'] button")
    assert "已执行" in sheng.content()
    shot(sheng, "medical-dispatch")
    assert sheng.js_errors == [] and jx.js_errors == []
