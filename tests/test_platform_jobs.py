"""The platform's own job kinds run in the server: the notices of a county as a zip of PDFs (a
result file downloaded from the job's page, audited, refused outside the caller's scope), the
workflow sweep escalating an overdue case, the reminder sweep reminding a liaison, and their
default schedules."""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select

from jingxin.core import audit
from jingxin.core.db import utcnow
from jingxin.core.jobs.results import result_file
from jingxin.core.notify.models import Notification
from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province
from jingxin.jobs.cli import _value
from jingxin.web.testing import DEMO_PASSWORD, login

pytest_plugins = ["jingxin.web.pytest_fixtures"]

XIHU, SHANGCHENG = "330106", "330102"


def wait_for(client: TestClient, job_id: int, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def submit(client: TestClient, token: str, kind: str, params: dict[str, Any]) -> Any:
    return client.post("/api/v1/jobs", json={"kind": kind, "params": params}, headers={"X-CSRF-Token": token})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, fast_password_hashing: None) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import create_demo_users
    from jingxin.core.db import upgrade
    from jingxin.core.settings import Settings
    from jingxin.web.app import create_app

    home = tmp_path_factory.mktemp("platform_jobs")
    wh_url = f"duckdb:///{home / 'warehouse.duckdb'}"
    wh = open_warehouse(wh_url)
    try:
        load_facts(wh, province(300, years=(2021,), seed=6, counties=[XIHU, SHANGCHENG]))
        run_id = run_evaluation(wh, "zhejiang_industry_above", 2021, history="none").run_id
        t = wh.table("eval_results")
        xihu = wh.execute(t.filter((t.run_id == run_id) & (t.county_code == XIHU)).select("credit_code"))
    finally:
        wh.close()
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    app = create_app(
        Settings(home=home, database_url=db_url, warehouse=wh_url, secret_key="test"), migrate=False
    )
    with app.state.db.session() as db:
        create_demo_users(db, DEMO_PASSWORD)
        db.commit()
    with TestClient(app, base_url="http://testserver") as started:  # runs the app's job threads
        yield {"app": app, "home": home, "run_id": run_id, "xihu": set(xihu.credit_code), "started": started}
    app.state.warehouse.close()
    app.state.db.dispose()


def client_as(world: dict[str, Any], username: str) -> tuple[TestClient, str]:
    client = TestClient(world["app"], base_url="http://testserver")
    return client, login(client, username)


def test_county_notices_job_writes_a_zip_its_owner_downloads(world) -> None:
    client, token = client_as(world, "xihu")  # county analyst of 西湖区
    # the CLI sends `county=330106` as a JSON number
    response = submit(
        client, token, "evaluation.notices", {"run_id": world["run_id"], "county": _value(XIHU)}
    )
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["result"]["notices"] == len(world["xihu"]) > 0 and job["percent"] == 100
    name = job["result"]["file"]
    page = client.get(f"/jobs/{job['id']}")
    assert "结果文件" in page.text and name in page.text
    download = client.get(job["result"]["download"])
    assert download.status_code == 200 and download.headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(download.content)) as zf:
        names = zf.namelist()
        assert len(names) == len(world["xihu"])
        assert {n.split("_")[0] for n in names} == world["xihu"]  # only 西湖区's enterprises
        for n in names:
            reader = PdfReader(io.BytesIO(zf.read(n)))
            assert "评价结果告知书" in reader.pages[0].extract_text().replace("\n", "")
    with world["app"].state.db.session() as db:
        entries = audit.search(db, action="download", limit=10)[0]
    assert any(e.object_type == "job_result" and e.object_id == f"{job['id']}/{name}" for e in entries)
    # nobody else's: another analyst (whose region covers 西湖区) gets 404
    other, _ = client_as(world, "hangzhou")
    assert other.get(f"/jobs/{job['id']}/files/{name}").status_code == 404
    assert client.get(f"/jobs/{job['id']}/files/{name}.part").status_code == 404
    settings = world["app"].state.settings
    assert (
        result_file(settings, job["id"], "..") is None and result_file(settings, job["id"], name) is not None
    )


def test_notices_outside_the_scope_or_of_an_unknown_run_are_refused(world) -> None:
    client, token = client_as(world, "xihu")
    outside = submit(client, token, "evaluation.notices", {"run_id": world["run_id"], "county": SHANGCHENG})
    assert outside.status_code == 422 and "不在您的数据范围内" in outside.json()["detail"]
    liaison, liaison_token = client_as(world, "liaison-sw")
    refused = submit(
        liaison, liaison_token, "evaluation.notices", {"run_id": world["run_id"], "county": XIHU}
    )
    assert refused.status_code == 422 and "无权启动" in refused.json()["detail"]
    unknown = submit(
        client, token, "evaluation.notices", {"run_id": "2021-zhejiang_x-abcdef", "county": XIHU}
    )
    job = wait_for(client, unknown.json()["id"])
    assert job["status"] == "failed" and "不存在" in job["error"]


def test_default_schedules_are_on(world) -> None:
    client, _ = client_as(world, "admin")
    listed = {s["name"]: s for s in client.get("/api/v1/jobs/schedules").json()}
    sweep, remind = listed["workflows-sweep"], listed["exchange-remind"]
    assert (sweep["rule"], sweep["at"], sweep["enabled"]) == ("hourly", "00:05", True)
    assert (remind["rule"], remind["at"], remind["enabled"]) == ("daily", "09:00", True)


def test_sweep_job_escalates_an_overdue_case(world) -> None:
    from jingxin.core.workflow import service as workflow
    from jingxin.core.workflow.models import WorkItem
    from jingxin.core.workflow.testing import make_people

    app = world["app"]
    with app.state.db.session() as db:
        people = make_people(db)
        item = workflow.start_item(
            db,
            "appeal",
            people["qiye"],
            division_code=people["qiye"].division_code,
            credit_code=people["qiye"].credit_code,
            fields={
                "title": "厂房用地指标咨询",
                "content": "新厂房需要增加用地指标，请问如何申请？",
                "category": "land",
            },
            now=utcnow() - dt.timedelta(days=20),  # both clocks long past their deadlines
        )
        item_id, city_id = item.id, people["hangzhou"].id
    liaison, liaison_token = client_as(world, "liaison-sw")
    assert submit(liaison, liaison_token, "workflows.sweep", {}).status_code == 422  # admins only
    client, token = client_as(world, "admin")
    response = submit(client, token, "workflows.sweep", {})
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["result"]["overdue"] >= 2 and job["result"]["escalated"] >= 1
    with app.state.db.session() as db:
        assert db.get(WorkItem, item_id).level >= 1  # gone up from the county
        events = db.scalars(select(Notification.event).where(Notification.user_id == city_id)).all()
        assert "escalated" in events


def test_remind_job_reminds_a_liaison(world) -> None:
    app = world["app"]
    client, token = client_as(world, "admin")
    response = submit(client, token, "exchange.remind", {})
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["result"]["overdue"] >= 1 and job["result"]["notifications"] >= 1
    with app.state.db.session() as db:
        from jingxin.accounts.service import get_user_by_username

        tax_liaison = get_user_by_username(db, "liaison-sw")
        titles = db.scalars(select(Notification.title).where(Notification.user_id == tax_liaison.id)).all()
    # nothing was delivered for last year: the tax liaison is reminded of it
    assert any("企业年度税收" in t and str(utcnow().year - 1) in t for t in titles), titles
    again = wait_for(client, submit(client, token, "exchange.remind", {}).json()["id"])
    assert again["status"] == "succeeded" and again["result"]["notifications"] == 0  # not twice


def test_cleanup_removes_result_files_with_their_job(world) -> None:
    from jingxin.core.jobs.models import Job
    from jingxin.core.jobs.results import result_dir

    app = world["app"]
    client, token = client_as(world, "admin")
    made = wait_for(
        client,
        submit(client, token, "evaluation.notices", {"run_id": world["run_id"], "county": XIHU}).json()["id"],
    )
    folder = result_dir(app.state.settings, made["id"])
    assert made["status"] == "succeeded" and any(folder.iterdir())
    with app.state.db.session() as db:
        db.get(Job, made["id"]).created_at = utcnow() - dt.timedelta(days=10)
        db.commit()
    cleaned = wait_for(client, submit(client, token, "jobs.cleanup", {"keep_days": 5}).json()["id"])
    assert cleaned["status"] == "succeeded" and cleaned["result"]["deleted"] >= 1
    assert not folder.exists()
    assert client.get(f"/jobs/{made['id']}/files/{made['result']['file']}").status_code == 404


def test_results_page_button_starts_the_notices_job(world) -> None:
    from jingxin.web.testing import csrf_from

    client, _ = client_as(world, "xihu")
    page = client.get("/evaluation")
    assert "生成本县告知书（后台作业）" in page.text
    action = f"/evaluation/runs/{world['run_id']}/notices-job"
    assert action in page.text
    started = client.post(
        action, data={"county": XIHU, "csrf_token": csrf_from(page.text)}, follow_redirects=False
    )
    assert started.status_code == 303 and started.headers["location"].startswith("/jobs/")
    job = wait_for(client, int(started.headers["location"].rsplit("/", 1)[1]))
    assert job["status"] == "succeeded" and job["result"]["notices"] == len(world["xihu"])
    refused = client.post(
        action, data={"county": SHANGCHENG, "csrf_token": csrf_from(page.text)}, follow_redirects=False
    )
    assert refused.status_code == 303 and refused.headers["location"] == "/evaluation"
    # the results page was made (and kept in the shared cache) above: the message still shows once
    assert "未能生成告知书：区划 330102 不在您的数据范围内" in client.get("/evaluation").text
    assert "未能生成告知书" not in client.get("/evaluation").text
