"""The medical and 5G pages through HTTP on a generated set of reserves (SQLite): stock map,
warnings, supplier board with a form report, the dispatch planner from proposal to ledger;
5G filed by an operator, surveyed, approved by three departments, built; what each role may
reach (an operator another's application, a county another county's stock: 404)."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jingxin.core.calendar import CHINA_TZ, default_calendar
from jingxin.core.workflow.testing import make_people
from jingxin.synth import medical as synth
from jingxin.web.testing import DEMO_PASSWORD, login

pytest_plugins = ["jingxin.web.pytest_fixtures"]
AS_OF = date(2021, 6, 1)


def next_working_day() -> str:
    """Today or the next working day (Beijing), on the platform's calendar."""
    cal = default_calendar()
    today = datetime.now(CHINA_TZ).date()
    return (today if cal.is_working_day(today) else cal.next_working_day(today)).isoformat()


def next_holiday() -> str:
    """The next day off (weekend or holiday) from today (Beijing)."""
    cal = default_calendar()
    day = datetime.now(CHINA_TZ).date()
    while cal.is_working_day(day):
        day += timedelta(days=1)
    return day.isoformat()


@pytest.fixture
def platform_url(tmp_path: Path, _sqlite_template: Path, fast_password_hashing: None) -> str:
    target = tmp_path / "platform.sqlite"
    shutil.copyfile(_sqlite_template, target)
    return f"sqlite:///{target}"


def _csrf(client: Any, user: str) -> str:
    client.cookies.clear()
    return login(client, user)


def test_medical_pages_and_dispatch(
    web_app: Any, web_client: Any, demo_users: dict[str, Any], tmp_path: Path
) -> None:
    with web_app.state.db.session() as db:
        truth = synth.load(
            db,
            seed=3,
            as_of=AS_OF,
            counties=["330106", "330102", "330127", "330302"],
            items=["mask_n95", "pcr_kit", "ventilator_icu"],
            share_injected=0.3,
            out_dir=tmp_path / "reports",
        )
    c = web_client
    assert truth.supply is not None and truth.supply.path is not None
    token = _csrf(c, "liaison-jx")  # the 经信 liaison uploads the suppliers' daily reports
    sent = c.post(
        "/api/v1/batches",
        data={"source": "medical-supply"},
        files={"file": (truth.supply.path.name, truth.supply.path.read_bytes())},
        headers={"X-CSRF-Token": token},
    )
    assert sent.status_code in (200, 201), sent.text
    assert sent.json()["batch"]["accepted"] == len(truth.supply.reported)
    token = _csrf(c, "sheng")
    page = c.get(f"/medical?item=pcr_kit&on={AS_OF}")
    assert page.status_code == 200 and "西湖区" in page.text and "鹿城区" in page.text
    assert '"map_name": "medical-330000"' in page.text and "温州市" in page.text
    warn = c.get(f"/medical/warnings?on={AS_OF}")
    assert warn.status_code == 200
    for _code, lot in truth.expiring:
        assert lot in warn.text
    board = c.get(f"/medical/suppliers?on={AS_OF}")
    assert board.text.count("缺报") - 1 == len(truth.missing_reports) > 0  # one in the hint
    assert f"/data/batches/{sent.json()['batch']['batch_id']}" in board.text  # each figure names its batch
    made = c.post(
        "/medical/dispatch",
        data={"on": AS_OF.isoformat(), "scenario": "surge", "csrf_token": token},
        follow_redirects=False,
    )
    assert made.status_code == 303
    plan_url = made.headers["location"]
    plan = c.get(plan_url)
    assert "求解状态 Optimal" in plan.text and "补其" in plan.text
    assert c.post(plan_url + "/execute", data={"csrf_token": token}).status_code == 409  # not approved yet
    assert (
        c.post(plan_url + "/approve", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    )
    assert (
        c.post(plan_url + "/execute", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    )
    assert "已执行" in c.get(plan_url).text
    _csrf(c, "xihu")
    assert "鹿城区" not in c.get(f"/medical?item=pcr_kit&on={AS_OF}").text
    assert c.get(f"/medical?item=pcr_kit&on={AS_OF}&region=330300").status_code == 404
    assert c.get(plan_url).status_code == 404  # a province plan is not the county's
    _csrf(c, "qiye")
    assert c.get("/medical").status_code == 403


def test_fiveg_pages_end_to_end(web_app: Any, web_client: Any, demo_users: dict[str, Any]) -> None:
    with web_app.state.db.session() as db:
        make_people(db, DEMO_PASSWORD)  # the demo operator yidong and a second operator, liantong
    c = web_client
    token = _csrf(c, "yidong")
    assert c.get("/").status_code == 200  # the home page of the new role
    assert c.get("/medical").status_code == 403 and c.get("/monitoring").status_code == 403
    bad = c.post(
        "/fiveg",
        data={
            "site_name": "机场站",
            "county": "330109",
            "site_type": "tower",
            "power": "grid",
            "lon": "120.434",
            "lat": "30.229",
            "csrf_token": token,
        },
    )
    assert bad.status_code == 422 and "机场净空" in bad.text
    made = c.post(
        "/fiveg",
        data={
            "site_name": "文三路灯杆站",
            "county": "330106",
            "site_type": "tower",
            "power": "grid",
            "lon": "120.13",
            "lat": "30.28",
            "csrf_token": token,
        },
        files={"attachment": ("图纸.pdf", b"%PDF-1.4", "application/pdf")},
        follow_redirects=False,
    )
    assert made.status_code == 303
    url = made.headers["location"]
    assert "图纸.pdf" in c.get(url).text
    _csrf(c, "liantong")
    assert c.get(url).status_code == 404 and "文三路" not in c.get("/fiveg").text
    token = _csrf(c, "xihu")
    holiday = next_holiday()
    refused = c.post(url + "/schedule_survey", data={"survey_on": holiday, "csrf_token": token})
    assert refused.status_code == 422 and "不是工作日" in refused.text
    done = c.post(
        url + "/schedule_survey",
        data={"survey_on": next_working_day(), "survey_place": "站址北门", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303 and "站址北门" in c.get(url).text
    c.post(url + "/record_survey", data={"value": "可行", "csrf_token": token})
    assert "并联审批中" in c.get(url).text
    for liaison in ("liaison-zrzy", "liaison-sthj", "liaison-dl"):
        token = _csrf(c, liaison)
        page = c.get(url)
        assert page.status_code == 404  # a department sees its approval, not the operator's file
        listing = c.get("/fiveg").text
        assert "文三路灯杆站" in listing
        from jingxin.core.workflow.models import WorkItem

        with web_app.state.db.session() as db:
            dept = {"liaison-zrzy": "自然资源", "liaison-sthj": "生态环境", "liaison-dl": "电力"}[liaison]
            branch = next(
                i
                for i in db.query(WorkItem).filter_by(workflow="fiveg_approval")
                if i.fields["department"] == dept
            )
        assert (
            c.post(
                f"/fiveg/approvals/{branch.id}",
                data={"decision": "approve", "csrf_token": token},
                follow_redirects=False,
            ).status_code
            == 303
        )
    _csrf(c, "hangzhou")
    assert "审批通过" in c.get(url).text
    token = _csrf(c, "yidong")
    c.post(url + "/report_built", data={"value": "2021-11-01", "csrf_token": token})
    assert "已建成" in c.get(url).text
    _csrf(c, "sheng")
    progress = c.get("/fiveg").text
    assert "建设进度" in progress and "各部门平均审批用时" in progress
