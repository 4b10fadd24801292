"""Several server processes on PostgreSQL that hold under a database outage and start together.

Two real `jingxin serve` processes (different ports) share one dedicated, empty PostgreSQL
database for both stores. The tests, in order:

- both processes, started at the same moment on the empty database, come up (the warehouse
  schema and the platform migrations are made under advisory locks) and report ready;
- eight simultaneous wrong passwords for one account, on one process and across both, are
  checked against the limit of five one at a time: exactly five are counted, the rest refused
  as locked;
- a logout on one process, and an account disabled by the CLI (a third process), are refused
  on the other process at the next request (no cache window);
- the outage drill: while clients read from both processes and a liaison's upload is inside
  its transaction, the database refuses connections and every connection to it is terminated
  for a few seconds. During it: 503s with Retry-After (JSON for the API, a page for pages), no
  500 and no cut connection, `/readyz` fails naming the stores, `/livez` answers; the upload is
  refused whole (no batch, no fact row). After it: the next request on each process answers
  normally, `/readyz` recovers, the same file uploads; the connection count stays within the
  configured per-process bounds throughout.

The shared PostgreSQL server is never stopped: the outage is `ALTER DATABASE … ALLOW_CONNECTIONS
false` plus `pg_terminate_backend` on this test's own database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobs_helpers import JINGXIN, PASSWORD, api_login, environment, free_port

from jingxin.web.testing import csrf_from

pytestmark = [pytest.mark.slow, pytest.mark.heavy, pytest.mark.postgres]

# Per-process bounds for this test (small, so that exceeding them would show).
POOLS = {
    "JINGXIN_DB_POOL_SIZE": "2",
    "JINGXIN_DB_POOL_OVERFLOW": "2",
    "JINGXIN_WAREHOUSE_POOL_SIZE": "3",
    "JINGXIN_JOB_THREADS": "1",
    "JINGXIN_RETRY_AFTER": "2",
    "JINGXIN_POOL_TIMEOUT": "5",
    "JINGXIN_CONNECT_TIMEOUT": "2",
    # the ingest pauses inside its transaction, after the facts are written, for the drill
    "JINGXIN_INGEST_TEST_PAUSE": "3",
}
# platform pool + warehouse pool + job thread + the queue's own + the session listener
PER_PROCESS = 2 + 2 + 3 + 1 + 1 + 1


class Proc:
    """`jingxin serve` started without waiting, so two can start at the same moment."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = home / f"server-{port}.log"
        self.log = self.log_path.open("w+")
        self.proc = subprocess.Popen(
            [JINGXIN, "serve", "--port", str(port)],
            cwd=home,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def wait_ready(self, timeout: float = 120) -> httpx.Response:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                answer = httpx.get(self.url + "/readyz", timeout=5)
                if answer.status_code == 200:
                    return answer
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError("not ready:\n" + self.output())

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


class Cluster:
    def __init__(self, home: Path, name: str, admin_dsn: str, env: dict[str, str]) -> None:
        self.home, self.name, self.admin_dsn, self.env = home, name, admin_dsn, env
        self.procs: list[Proc] = []
        self.ready: list[dict] = []

    def sql(self, statement: str, database: str | None = None) -> list[tuple]:
        import psycopg

        dsn = self.admin_dsn if database is None else self.admin_dsn.rsplit("/", 1)[0] + "/" + database
        with psycopg.connect(dsn, autocommit=True) as con:
            cur = con.execute(statement)
            return cur.fetchall() if cur.description else []

    def connections(self) -> int:
        return int(self.sql(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{self.name}'")[0][0])

    def cut(self) -> None:
        """The outage: no new connections, every existing one terminated."""
        self.sql(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        self.sql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}'"
            " AND pid <> pg_backend_pid()"
        )

    def restore(self) -> None:
        self.sql(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    import psycopg
    from conftest import POSTGRES_URL, _skip_without_postgres

    _skip_without_postgres()
    home = tmp_path_factory.mktemp("resilience")
    name = f"jingxin_r_{uuid.uuid4().hex[:10]}"
    base = POSTGRES_URL.split("?")[0]
    server = base.rsplit("/", 1)[0]
    with psycopg.connect(base, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    env = environment(
        home,
        JINGXIN_WAREHOUSE=f"{server}/{name}?schema=warehouse",
        JINGXIN_DATABASE_URL=f"{server}/{name}".replace("postgresql://", "postgresql+psycopg://", 1),
        **POOLS,
    )
    c = Cluster(home, name, base, env)
    # Both processes start at once on the empty database: each tries to create the schema.
    c.procs = [Proc(home, env), Proc(home, env)]
    try:
        c.ready = [proc.wait_ready().json() for proc in c.procs]
        _demo_users(env["JINGXIN_DATABASE_URL"])
        yield c
    finally:
        for p in c.procs:
            p.stop()
        with psycopg.connect(base, autocommit=True) as con:
            con.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_processes_start_together_on_an_empty_database(cluster: Cluster) -> None:
    from jingxin.core.db import head_revision
    from jingxin.core.schema import all_schemas

    for proc, ready in zip(cluster.procs, cluster.ready, strict=True):
        assert ready["status"] == "ok" and all(c["ok"] for c in ready["checks"].values()), ready
        assert "Traceback" not in proc.output(), proc.output()
    tables = cluster.sql(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'warehouse'", cluster.name
    )
    assert tables[0][0] == len(all_schemas())
    assert cluster.sql("SELECT version_num FROM alembic_version", cluster.name) == [(head_revision(),)]


def _demo_users(url: str) -> None:
    """The demo accounts, made in this process (as `jingxin users demo` does, faster)."""
    from jingxin.accounts.demo import create_demo_users
    from jingxin.core.db import Database

    database = Database(url)
    try:
        with database.session() as db:
            create_demo_users(db)
            db.commit()
    finally:
        database.dispose()


def _disable(url: str, username: str) -> None:
    from jingxin.accounts.service import get_user_by_username, set_active
    from jingxin.core.audit import CLI_ACTOR
    from jingxin.core.db import Database

    database = Database(url)
    try:
        with database.session() as db:
            user = get_user_by_username(db, username)
            assert user is not None
            set_active(db, user.id, False, CLI_ACTOR)
    finally:
        database.dispose()


def _wrong_passwords(urls: list[str], username: str, count: int = 8) -> list[int]:
    """`count` logins with a wrong password sent at the same moment (after each has its form)."""
    barrier = threading.Barrier(count)
    statuses: list[int] = []

    def attempt(url: str) -> None:
        with httpx.Client(base_url=url, timeout=60) as anon:
            token = csrf_from(anon.get("/login").text)
            barrier.wait()
            answer = anon.post(
                "/login", data={"username": username, "password": "wrong-9876", "csrf_token": token}
            )
            statuses.append(answer.status_code)

    threads = [threading.Thread(target=attempt, args=(urls[i % len(urls)],)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


@pytest.mark.parametrize("processes", [1, 2], ids=["one-process", "two-processes"])
def test_simultaneous_wrong_passwords_never_exceed_the_limit(cluster: Cluster, processes: int) -> None:
    username = {1: "xihu", 2: "hangzhou"}[processes]
    statuses = _wrong_passwords([p.url for p in cluster.procs[:processes]], username)
    outcomes = dict(
        cluster.sql(
            f"SELECT outcome, count(*) FROM login_attempts WHERE username = '{username}' GROUP BY outcome",
            cluster.name,
        )
    )
    assert outcomes == {"bad_password": 5, "locked": 3}, outcomes
    assert Counter(statuses) == {401: 4, 429: 4}, statuses  # the fifth wrong one locks (429)
    with httpx.Client(base_url=cluster.procs[-1].url, timeout=30) as anon:
        token = csrf_from(anon.get("/login").text)
        right = anon.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert right.status_code == 429


def _me(url: str, client: httpx.Client) -> int:
    with httpx.Client(base_url=url, cookies=client.cookies, timeout=30) as other:
        return other.get("/api/v1/me").status_code


def test_logout_and_disable_are_refused_on_the_other_process_at_once(cluster: Cluster) -> None:
    a, b = cluster.procs
    user = api_login(a.url, "sheng")
    assert [_me(b.url, user) for _ in range(3)] == [200, 200, 200]  # now kept in B's memory
    assert user.post("/logout").status_code in (200, 303)
    assert _me(b.url, user) == 401
    assert _me(a.url, user) == 401

    # a role and region change by an administrator on A: B answers with the new ones at once
    analyst = api_login(b.url, "sheng")
    admin = api_login(a.url, "admin")
    users = admin.get("/api/v1/users", params={"q": "sheng"}).json()
    user_id = next(u["id"] for u in users["items"] if u["username"] == "sheng")
    for _ in range(3):
        assert analyst.get("/api/v1/me").json()["division_code"] == "330000"
    change = {"role": "city_analyst", "division_code": "330100"}
    assert admin.patch(f"/api/v1/users/{user_id}", json=change).status_code == 200, change
    me = analyst.get("/api/v1/me").json()
    assert (me["role"], me["division_code"]) == ("city_analyst", "330100")

    # an account disabled from a third process (this one, as `jingxin users disable` does)
    # is refused by both at once
    liaison = api_login(b.url, "liaison-tj")
    assert [_me(b.url, liaison) for _ in range(3)] == [200, 200, 200]
    _disable(cluster.env["JINGXIN_DATABASE_URL"], "liaison-tj")
    assert _me(b.url, liaison) == 401
    assert _me(a.url, liaison) == 401


class Readers:
    """Clients reading from every process in a loop, recording what they get."""

    PATHS = ("/api/v1/batches", "/api/v1/me", "/")

    def __init__(self, urls: list[str], cookies: httpx.Cookies, per_url: int = 4) -> None:
        self.results: list[tuple[str, int, str, str | None]] = []  # path, status, body start, Retry-After
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(url, cookies, i), daemon=True)
            for url in urls
            for i in range(per_url)
        ]

    def _run(self, url: str, cookies: httpx.Cookies, i: int) -> None:
        with httpx.Client(base_url=url, cookies=cookies, timeout=60) as http:
            n = i
            while not self._stop.is_set():
                path = self.PATHS[n % len(self.PATHS)]
                n += 1
                try:
                    answer = http.get(path)
                except httpx.HTTPError as exc:  # a cut connection: never acceptable
                    self.errors.append(f"{path}: {exc!r}")
                    continue
                self.results.append(
                    (path, answer.status_code, answer.text[:400], answer.headers.get("Retry-After"))
                )

    def __enter__(self) -> Readers:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)


def _wait_for(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_outage_drill(cluster: Cluster) -> None:
    a, b = cluster.procs
    reader = api_login(a.url, "admin")
    liaison = api_login(a.url, "liaison-sw")
    import random

    from jingxin.core.credit_code import generate

    body = "统一社会信用代码,年度,实缴税收\n" + "".join(
        f"{generate('330106', random.Random(i))},2021,{i + 1}\n" for i in range(20)
    )
    upload: dict[str, Any] = {}

    def send_upload() -> None:
        try:
            answer = liaison.post(
                "/api/v1/batches",
                data={"source": "tax"},
                files={"file": ("税务.csv", body.encode(), "text/csv")},
            )
            upload["status"], upload["text"] = answer.status_code, answer.text
        except httpx.HTTPError as exc:
            upload["error"] = repr(exc)

    peak = 0
    with Readers([a.url, b.url], reader.cookies) as readers:
        # load before the outage: the connection count stays within the pools' bounds
        for _ in range(20):
            peak = max(peak, cluster.connections())
            time.sleep(0.1)
        marker_at = len(a.output())
        sender = threading.Thread(target=send_upload)
        sender.start()
        _wait_for(lambda: "JINGXIN-INGEST-IN-TRANSACTION" in a.output()[marker_at:])
        before_cut = len(readers.results)
        cluster.cut()
        try:
            time.sleep(1.5)
            during = [httpx.get(p.url + "/readyz", timeout=30) for p in cluster.procs]
            alive = [httpx.get(p.url + "/livez", timeout=30).status_code for p in cluster.procs]
            time.sleep(2.5)
            sender.join(timeout=60)
        finally:
            cluster.restore()
        outage_results = readers.results[before_cut:]

    statuses = Counter(status for _, status, _, _ in readers.results)
    assert not readers.errors, readers.errors[:5]
    assert 500 not in statuses, [r for r in readers.results if r[1] == 500][:3]
    assert set(statuses) <= {200, 503}, statuses
    failed = [r for r in outage_results if r[1] == 503]
    assert failed, Counter(s for _, s, _, _ in outage_results)
    for path, _, text, retry_after in failed:
        assert retry_after == "2"
        assert ("数据库暂时无法连接" in text) or ("系统繁忙" in text), text
        if path.startswith("/api/"):
            assert text.startswith('{"detail":')
        else:
            assert "503 服务暂不可用" in text
    for answer in during:
        assert answer.status_code == 503
        assert {"platform_database", "warehouse"} <= set(answer.json()["failed"]), answer.json()
    assert alive == [200, 200]
    # the upload was inside its transaction when the database went away: refused whole
    assert upload.get("status") == 503, upload
    assert cluster.sql("SELECT count(*) FROM warehouse.batches", cluster.name) == [(0,)]
    assert cluster.sql("SELECT count(*) FROM warehouse.tax", cluster.name) == [(0,)]
    assert peak <= 2 * PER_PROCESS, peak

    # back: the next request on each process answers normally, readiness recovers
    for proc in cluster.procs:
        with httpx.Client(base_url=proc.url, cookies=reader.cookies, timeout=60) as http:
            assert http.get("/api/v1/batches").status_code == 200
        proc.wait_ready(timeout=30)
    again = liaison.post(
        "/api/v1/batches", data={"source": "tax"}, files={"file": ("税务.csv", body.encode(), "text/csv")}
    )
    assert again.status_code == 201, again.text
    assert cluster.sql("SELECT count(*) FROM warehouse.tax", cluster.name) == [(20,)]
    assert cluster.connections() <= 2 * PER_PROCESS
    for proc in cluster.procs:
        assert " 500 " not in proc.output()
