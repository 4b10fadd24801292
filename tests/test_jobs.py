"""Jobs in the server process: submit through the API, progress, result, scope, retry, the
jobs page; the reaper of jobs whose process died; models and migration agree. On SQLite and
PostgreSQL platform databases (the queue follows the platform database)."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from sqlalchemy import select

from jingxin.core.credit_code import generate
from jingxin.core.db import utcnow
from jingxin.core.jobs import service
from jingxin.core.jobs.models import FAILED, QUEUED, RUNNING, Job, JobLog
from jingxin.core.scope import Scope
from jingxin.web.testing import login

pytest_plugins = ["jingxin.web.pytest_fixtures"]

CODES = [generate("330106", random.Random(i)) for i in range(3)]


def tax_file(rows: list[tuple[str, str, str]]) -> bytes:
    lines = ["统一社会信用代码,年度,实缴税收"] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


GOOD = tax_file([(CODES[0], "2023", "12.5"), (CODES[1], "2023", "7")])


def wait_for(client: Any, job_id: int, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def submit_ingest(client: Any, token: str, body: bytes, name: str = "税务-2023.csv", **extra: Any) -> Any:
    up = client.post(
        "/api/v1/jobs/uploads", files={"file": (name, body, "text/csv")}, headers={"X-CSRF-Token": token}
    )
    assert up.status_code == 201, up.text
    item = {"source": "tax", "upload": up.json()["upload"], "file_name": up.json()["file_name"]}
    return client.post(
        "/api/v1/jobs",
        json={"kind": "ingest", "params": {"files": [item]}, **extra},
        headers={"X-CSRF-Token": token},
    )


def test_ingest_job_runs_in_the_server_and_only_its_owner_sees_it(web_client, demo_users, web_app) -> None:
    token = login(web_client, "liaison-sw")
    response = submit_ingest(web_client, token, GOOD)
    assert response.status_code == 202, response.text
    job = wait_for(web_client, response.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["owner_name"] == "liaison-sw" and job["percent"] == 100 and job["attempts"] == 1
    batch = job["result"]["batches"][0]
    assert (batch["accepted"], batch["rejected"], batch["loaded_by"]) == (2, 0, "liaison-sw")
    assert any("批次 1" in line["message"] for line in job["logs"])
    # the batch is in the warehouse the server owns
    assert web_client.get("/api/v1/batches").json()["total"] == 1

    page = web_client.get("/jobs")
    assert "归集 tax 税务-2023.csv" in page.text and "已完成" in page.text
    detail = web_client.get(f"/jobs/{job['id']}")
    assert "入库批次" in detail.text and 'href="/data/batches/1"' in detail.text

    web_client.post("/logout", headers={"X-CSRF-Token": token})
    login(web_client, "liaison-dl")
    assert web_client.get(f"/api/v1/jobs/{job['id']}").status_code == 404
    assert web_client.get("/api/v1/jobs").json()["total"] == 0
    web_client.cookies.clear()
    login(web_client, "admin")
    assert web_client.get("/api/v1/jobs").json()["total"] == 1
    admin_page = web_client.get("/jobs").text
    assert "liaison-sw" in admin_page and "作业进程" in admin_page
    assert web_app.state.jobs.worker_id in admin_page  # the processes running jobs, for admins


def test_scope_and_role_decide_what_may_be_started(web_client, demo_users) -> None:
    token = login(web_client, "liaison-sw")
    refused = submit_ingest(web_client, token, GOOD)
    assert refused.status_code == 202
    up = web_client.post(
        "/api/v1/jobs/uploads",
        files={"file": ("电力.csv", b"x\n1\n", "text/csv")},
        headers={"X-CSRF-Token": token},
    ).json()
    other = web_client.post(
        "/api/v1/jobs",
        json={"kind": "ingest", "params": {"files": [{"source": "power", **up}]}},
        headers={"X-CSRF-Token": token},
    )
    assert other.status_code == 422 and "无权上传数据源 power" in other.json()["detail"]
    evaluation = web_client.post(
        "/api/v1/jobs",
        json={"kind": "evaluation.run", "params": {"system": "zhejiang_industry_above", "year": 2023}},
        headers={"X-CSRF-Token": token},
    )
    assert evaluation.status_code == 422 and "无权启动" in evaluation.json()["detail"]

    web_client.cookies.clear()
    token = login(web_client, "xihu")  # county analyst of 西湖区 330106
    outside = web_client.post(
        "/api/v1/jobs",
        json={"kind": "evaluation.run", "params": {"system": "zhejiang_industry_above", "scope": "330102"}},
        headers={"X-CSRF-Token": token},
    )
    assert outside.status_code == 422 and "不在您的数据范围内" in outside.json()["detail"]
    bad = web_client.post(
        "/api/v1/jobs",
        json={"kind": "evaluation.run", "params": {"system": "zhejiang_industry_above", "year": "今年"}},
        headers={"X-CSRF-Token": token},
    )
    assert bad.status_code == 422 and "参数不正确" in bad.json()["detail"] and "year" in bad.json()["detail"]


def test_a_retried_request_starts_one_job(web_client, demo_users) -> None:
    token = login(web_client, "liaison-sw")
    first = submit_ingest(web_client, token, GOOD, request_key="cli-7f3a")
    again = submit_ingest(web_client, token, GOOD, request_key="cli-7f3a")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    assert web_client.get("/api/v1/jobs").json()["total"] == 1


def test_a_failed_job_keeps_its_error_and_can_be_retried(web_client, demo_users, web_app) -> None:
    token = login(web_client, "liaison-sw")
    response = submit_ingest(web_client, token, "统一社会信用代码,年度\n".encode(), name="空文件.csv")
    job = wait_for(web_client, response.json()["id"])
    assert job["status"] == "failed" and "整份退回" in job["error"] and "缺少必填列" in job["error"]
    page = web_client.get(f"/jobs/{job['id']}")
    assert "失败原因" in page.text and "重试" in page.text

    retried = web_client.post(f"/api/v1/jobs/{job['id']}/retry", headers={"X-CSRF-Token": token})
    assert retried.status_code == 200 and retried.json()["status"] in ("queued", "running", "failed")
    again = wait_for(web_client, job["id"])
    assert again["status"] == "failed" and again["attempts"] == 1
    assert any("重试作业（上次失败：文件被整份退回" in line["message"] for line in again["logs"])
    assert (
        web_client.post(f"/api/v1/jobs/{job['id']}/retry", headers={"X-CSRF-Token": token}).status_code == 200
    )
    wait_for(web_client, job["id"])


def _running_job(db: Any, worker: str, attempts: int, max_attempts: int, beat_age: float) -> Job:
    job = Job(
        kind="jobs.cleanup",
        title="t",
        status=RUNNING,
        owner_name="admin",
        scope=service.scope_to_json(Scope()),
        params={"keep_days": 90},
        attempts=attempts,
        max_attempts=max_attempts,
        worker=worker,
        heartbeat_at=utcnow() - __import__("datetime").timedelta(seconds=beat_age),
        progress_done=0,
        progress_total=0,
        progress_message="运行中",
        created_at=utcnow(),
    )
    db.add(job)
    db.commit()
    return job


def test_jobs_of_a_dead_process_are_requeued_or_failed(db_session) -> None:
    host = service.this_host()
    dead_pid = f"{host}:999999999:abc"  # no such process on this machine
    alive_elsewhere = "other-host:123:def"  # heartbeat fresh, another machine: left alone
    requeue = _running_job(db_session, dead_pid, attempts=1, max_attempts=2, beat_age=1)
    exhausted = _running_job(db_session, dead_pid, attempts=2, max_attempts=2, beat_age=1)
    stale = _running_job(db_session, "other-host:5:ghi", attempts=1, max_attempts=3, beat_age=120)
    fresh = _running_job(db_session, alive_elsewhere, attempts=1, max_attempts=2, beat_age=1)

    assert sorted(service.reap(db_session, 30, "me")) == sorted([requeue.id, stale.id])
    db_session.expire_all()
    status = {j.id: (j.status, j.error) for j in db_session.scalars(select(Job))}
    assert status[requeue.id] == (QUEUED, None) and status[stale.id] == (QUEUED, None)
    assert status[exhausted.id][0] == FAILED and "进程在运行中终止" in status[exhausted.id][1]
    assert status[fresh.id] == (RUNNING, None)
    notes = [m for (m,) in db_session.execute(select(JobLog.message).where(JobLog.job_id == requeue.id))]
    assert any("重新排队" in n for n in notes)
    # a second reaper (another process) finds nothing more to do
    assert service.reap(db_session, 30, "me") == []
    # the requeued job is claimed once only
    assert service.claim(db_session, requeue.id, "w1") is not None
    assert service.claim(db_session, requeue.id, "w2") is None


def test_job_models_match_the_migration(platform_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import jingxin.accounts.models  # noqa: F401
    import jingxin.core.audit  # noqa: F401
    from jingxin.core import db as coredb

    mine = {"jobs", "job_logs", "job_schedules", "job_schedule_runs", "job_workers"}
    engine = coredb.make_engine(platform_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, coredb.Base.metadata)
    finally:
        engine.dispose()
    assert [d for d in diff if mine & set(str(d).split("'"))] == []


def test_a_big_upload_on_the_data_page_becomes_a_job(web_client, demo_users, monkeypatch) -> None:
    from jingxin.jobs import service as jobs_service
    from jingxin.web.testing import csrf_from

    monkeypatch.setattr(jobs_service, "BIG_UPLOAD_BYTES", 10)
    login(web_client, "liaison-sw")
    token = csrf_from(web_client.get("/data").text)
    response = web_client.post(
        "/data/upload",
        data={"source": "tax", "csrf_token": token},
        files={"file": ("税务-大文件.csv", GOOD, "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/jobs/")
    job = wait_for(web_client, int(response.headers["location"].rsplit("/", 1)[1]))
    assert job["status"] == "succeeded" and job["result"]["batches"][0]["accepted"] == 2
    assert "已转为后台作业" in web_client.get(response.headers["location"]).text


@pytest.fixture
def redis_url(tmp_path) -> Any:
    import shutil
    import subprocess

    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    sock = tmp_path / "redis.sock"
    proc = subprocess.Popen(
        [server, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not sock.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    yield f"unix://{sock}"
    proc.terminate()
    proc.wait(10)


def test_jobs_run_through_a_redis_queue(web_settings, platform_db, redis_url) -> None:
    from jingxin.core.jobs.config import JobSettings
    from jingxin.core.jobs.runner import JobRuntime
    from jingxin.web.warehouse import WarehouseAccess

    warehouse = WarehouseAccess(web_settings.warehouse_url)
    runtime = JobRuntime(web_settings, platform_db, warehouse, job_settings=JobSettings(queue=redis_url))
    runtime.start()
    try:
        with platform_db.session() as db:
            job, _ = service.submit(db, "jobs.cleanup", {"keep_days": 7}, owner_name="admin", scope=Scope())
        runtime.enqueue(job.id)
        runtime.enqueue(job.id)  # delivered twice, run once
        deadline = time.monotonic() + 20
        while True:
            with platform_db.session() as db:
                done = db.get(Job, job.id)
                if done.status == "succeeded":
                    break
            assert time.monotonic() < deadline, done.status
            time.sleep(0.1)
        assert done.attempts == 1 and done.result["deleted"] == 0
    finally:
        runtime.stop()
        warehouse.close()


def test_a_runtime_started_twice_leaves_no_thread_behind(web_settings, platform_db) -> None:
    """Each client of one app enters its lifespan and starts the app's runtime: a second start
    must not replace the first consumer, whose threads would poll a dropped queue forever."""
    import threading

    from jingxin.core.jobs.runner import JobRuntime
    from jingxin.web.warehouse import WarehouseAccess

    before = set(threading.enumerate())
    warehouse = WarehouseAccess(web_settings.warehouse_url)
    runtime = JobRuntime(web_settings, platform_db, warehouse)
    try:
        runtime.start()
        runtime.start()
        assert len(set(threading.enumerate()) - before) > 1  # consumer, workers, supervisor
    finally:
        runtime.stop()
        warehouse.close()
    assert [t.name for t in set(threading.enumerate()) - before if t.is_alive()] == []


def test_a_job_interrupted_by_shutdown_goes_back_to_the_queue(db_session) -> None:
    job, _ = service.submit(db_session, "jobs.cleanup", {"keep_days": 9}, owner_name="admin", scope=Scope())
    assert service.claim(db_session, job.id, "w1").attempts == 1
    assert service.release(db_session, job.id, "other") is False  # not that worker's job
    assert service.release(db_session, job.id, "w1") is True
    db_session.refresh(job)
    assert (job.status, job.attempts, job.worker) == (QUEUED, 0, None)
