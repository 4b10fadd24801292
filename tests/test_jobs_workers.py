"""`jingxin serve --workers 2` on PostgreSQL (warehouse and platform database): two processes
behind one port share sessions, login throttling, the read caches' invalidation and the job
queue (huey's PostgreSQL queue in the platform database)."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobs_helpers import PASSWORD, Server, api_login, cli, environment, free_port

from jingxin.core.credit_code import generate
from jingxin.web.testing import csrf_from

# Two server processes on PostgreSQL: run by `make test-heavy`.
pytestmark = [pytest.mark.slow, pytest.mark.heavy, pytest.mark.postgres]


@pytest.fixture
def postgres_stores() -> Iterator[dict[str, str]]:
    import psycopg
    from conftest import POSTGRES_URL, _skip_without_postgres

    _skip_without_postgres()
    name = f"jingxin_w_{uuid.uuid4().hex[:10]}"
    base = POSTGRES_URL.split("?")[0]
    with psycopg.connect(base, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    server = base.rsplit("/", 1)[0]
    try:
        yield {
            "JINGXIN_WAREHOUSE": f"{server}/{name}?schema=warehouse",
            "JINGXIN_DATABASE_URL": f"{server}/{name}".replace("postgresql://", "postgresql+psycopg://", 1),
        }
    finally:
        with psycopg.connect(base, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh(url: str, cookies: httpx.Cookies, token: str) -> httpx.Client:
    """A client on a new connection (the kernel hands it to either process)."""
    return httpx.Client(base_url=url, cookies=cookies, headers={"X-CSRF-Token": token}, timeout=60)


def answering_worker(url: str, cookies: httpx.Cookies, token: str) -> tuple[int, str]:
    with fresh(url, cookies, token) as http:
        answer = http.get("/api/v1/jobs/workers")
        this = [w["id"] for w in answer.json() if w["this"]] if answer.status_code == 200 else [""]
        return answer.status_code, this[0]


def attempt_login(url: str, username: str, password: str) -> int:
    """One login through the form on a new connection; its status (303 ok, 401, 429)."""
    with httpx.Client(base_url=url, timeout=30) as anon:
        form = anon.get("/login")
        data = {"username": username, "password": password, "csrf_token": csrf_from(form.text)}
        return anon.post("/login", data=data).status_code


def wait_jobs(http: httpx.Client, ids: list[int], timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = [http.get(f"/api/v1/jobs/{i}").json() for i in ids]
        if all(j["status"] in ("succeeded", "failed") for j in jobs):
            return jobs
        time.sleep(0.3)
    raise AssertionError(jobs)


def test_two_workers_share_sessions_throttles_caches_and_queue(tmp_path: Path, postgres_stores) -> None:
    env = environment(tmp_path, **postgres_stores)
    cli(tmp_path, "users", "demo", env=env)
    server = Server(tmp_path, free_port(), env, ("--workers", "2"))
    try:
        admin = api_login(server.url, "admin")
        cookies, token = admin.cookies, admin.headers["X-CSRF-Token"]
        deadline = time.monotonic() + 60
        while len(admin.get("/api/v1/jobs/workers").json()) < 2:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.5)

        # sessions: one login is honoured by both processes
        seen = [answering_worker(server.url, cookies, token) for _ in range(40)]
        assert {status for status, _ in seen} == {200}
        assert len({worker for _, worker in seen}) == 2, seen

        # throttling: five wrong passwords, spread over both processes, lock the account
        for _ in range(5):
            with httpx.Client(base_url=server.url, timeout=30) as anon:
                form = anon.get("/login")
                anon.post(
                    "/login",
                    data={"username": "xihu", "password": "wrong-1234", "csrf_token": csrf_from(form.text)},
                )
        for _ in range(4):
            with httpx.Client(base_url=server.url, timeout=30) as anon:
                form = anon.get("/login")
                locked = anon.post(
                    "/login",
                    data={"username": "xihu", "password": PASSWORD, "csrf_token": csrf_from(form.text)},
                )
                assert locked.status_code == 429

        # cache invalidation: both processes have answered "no batches"; a batch ingested by a
        # job is then seen by every process at once
        for _ in range(10):
            with fresh(server.url, cookies, token) as http:
                assert http.get("/api/v1/batches").json()["total"] == 0
        liaison = api_login(server.url, "liaison-sw")
        code = generate("330106", random.Random(1))
        body = f"统一社会信用代码,年度,实缴税收\n{code},2021,5\n".encode()
        up = liaison.post("/api/v1/jobs/uploads", files={"file": ("税务.csv", body, "text/csv")}).json()
        job = liaison.post(
            "/api/v1/jobs", json={"kind": "ingest", "params": {"files": [{"source": "tax", **up}]}}
        )
        assert wait_jobs(liaison, [job.json()["id"]])[0]["status"] == "succeeded"
        for _ in range(10):
            with fresh(server.url, cookies, token) as http:
                assert http.get("/api/v1/batches").json()["total"] == 1

        # the queue: jobs submitted through either process each run exactly once
        ids = []
        for i in range(8):
            with fresh(server.url, cookies, token) as http:
                answer = http.post(
                    "/api/v1/jobs", json={"kind": "jobs.cleanup", "params": {"keep_days": 30 + i}}
                )
                assert answer.status_code == 202
                ids.append(answer.json()["id"])
        jobs = wait_jobs(admin, ids)
        assert all(j["status"] == "succeeded" and j["attempts"] == 1 for j in jobs), jobs
        for j in jobs:
            assert sum("开始运行" in line["message"] for line in j["logs"]) == 1

        # logging out in one process ends the session in both at once (notified, no cache window)
        admin.post("/logout")
        assert {answering_worker(server.url, cookies, token)[0] for _ in range(10)} == {401}
    finally:
        server.stop()
