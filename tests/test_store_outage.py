"""Store outages and pools in one process (fast): which errors count as an outage, the 503
answers with Retry-After and the read retried once, the bounded and pre-pinged warehouse pool,
`/livez` and `/readyz`, an upload cut inside its transaction leaving nothing, and the demo
accounts bound to the current province. The same behaviour with real server processes and
a real outage is `tests/test_resilience.py`."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pyarrow as pa
import pytest
import sqlalchemy.exc
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jingxin.core.outage import StoreBusy, is_store_busy, is_store_down
from jingxin.core.warehouse import open_warehouse
from jingxin.web.outage import StoreOutage
from jingxin.web.warehouse import WarehouseAccess


def test_connection_errors_count_as_outage_and_others_do_not() -> None:
    cut = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    assert is_store_down(cut)
    assert is_store_down(psycopg.OperationalError("connection refused"))
    wrapped = sqlalchemy.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("gone"))
    assert is_store_down(wrapped)
    try:
        try:
            raise cut
        except psycopg.Error as exc:
            raise RuntimeError("while reading the batches") from exc
    except RuntimeError as chained:
        assert is_store_down(chained)
    # SQLite's own errors (a locked file) and ordinary bugs are no outage
    assert not is_store_down(sqlalchemy.exc.OperationalError("x", {}, sqlite3.OperationalError("locked")))
    assert not is_store_down(ValueError("bad"))
    assert not is_store_down(psycopg.errors.UniqueViolation("duplicate"))
    assert is_store_busy(StoreBusy("full")) and is_store_busy(sqlalchemy.exc.TimeoutError())


@pytest.fixture
def flaky_app() -> tuple[FastAPI, dict[str, int]]:
    """Routes failing with a dropped connection: `/api/once` and `/page-once` the first time
    only, `/api/always` and POST every time."""
    app = FastAPI()
    calls: dict[str, int] = {}

    def fail(name: str, times: int) -> None:
        calls[name] = calls.get(name, 0) + 1
        if calls[name] <= times:
            raise psycopg.errors.AdminShutdown("terminating connection due to administrator command")

    @app.get("/api/once")
    def once() -> dict[str, str]:
        fail("once", 1)
        return {"ok": "yes"}

    @app.get("/api/always")
    def always() -> dict[str, str]:
        fail("always", 99)
        return {"ok": "no"}

    @app.post("/api/write")
    def write() -> dict[str, str]:
        fail("write", 1)
        return {"ok": "written"}

    @app.get("/page")
    def page() -> dict[str, str]:
        fail("page", 99)
        return {}

    @app.get("/api/busy")
    def busy() -> dict[str, str]:
        raise StoreBusy("pool full")

    app.add_middleware(StoreOutage, retry_after=7)
    return app, calls


def test_read_is_retried_once_then_503_with_retry_after(flaky_app) -> None:
    app, calls = flaky_app
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/api/once").json() == {"ok": "yes"}  # the blip is not seen
        assert calls["once"] == 2

        answer = client.get("/api/always")
        assert answer.status_code == 503 and calls["always"] == 2
        assert answer.headers["Retry-After"] == "7"
        assert "数据库暂时无法连接" in answer.json()["detail"] and "7 秒" in answer.json()["detail"]

        # a write is never run twice: refused, to be sent again by the user
        written = client.post("/api/write")
        assert written.status_code == 503 and calls["write"] == 1

        page = client.get("/page")
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert "503 服务暂不可用" in page.text and page.headers["Retry-After"] == "7"

        busy = client.get("/api/busy")
        assert busy.status_code == 503 and "系统繁忙" in busy.json()["detail"]


@pytest.mark.postgres
def test_warehouse_pool_is_bounded_and_drops_cut_connections(postgres_schema_url: str) -> None:
    access = WarehouseAccess(postgres_schema_url, pool_size=2, timeout=0.3)
    try:
        held = threading.Event()
        release = threading.Event()

        def hold() -> None:
            with access.reader():
                held.set()
                release.wait(10)

        holders = [threading.Thread(target=hold) for _ in range(2)]
        for t in holders:
            t.start()
        held.wait(10)
        while access.connection_count() < 2:
            pass
        with pytest.raises(StoreBusy), access.reader():
            pass
        release.set()
        for t in holders:
            t.join()
        assert access.connection_count() == 2

        # a restart cuts every connection: the pool drops them instead of failing a request
        pids = []
        for _ in range(2):
            with access.reader() as wh:
                pids.append(wh.sql("SELECT pg_backend_pid()")[0][0])
        with psycopg.connect(postgres_schema_url.split("?")[0], autocommit=True) as admin:
            for pid in set(pids):
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with access.reader() as wh:
            assert wh.sql("SELECT 1") == [(1,)]
            assert wh.sql("SELECT pg_backend_pid()")[0][0] not in pids
        assert access.connection_count() <= 2
    finally:
        access.close()


@pytest.mark.postgres
def test_requests_waiting_for_the_pool_do_not_starve_its_holders(postgres_schema_url: str) -> None:
    """More requests than connections and than worker threads: the waiting ones wait on the
    event loop, so the holders always find a thread to finish on and give back."""
    import anyio
    import anyio.to_thread

    access = WarehouseAccess(postgres_schema_url, pool_size=2, timeout=20)
    done: list[int] = []

    async def one_request(i: int) -> None:
        async with access.lend() as wh:
            rows = await anyio.to_thread.run_sync(wh.sql, "SELECT pg_sleep(0.01), 1")
            done.append(rows[0][1])

    async def main() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 3
        async with anyio.create_task_group() as tasks:
            for i in range(30):
                tasks.start_soon(one_request, i)

    try:
        with access.reader():  # the first connection creates the schema; then the rush
            pass
        anyio.run(main)
        assert done == [1] * 30
        assert access.connection_count() <= 2
    finally:
        access.close()


@pytest.mark.postgres
def test_upload_cut_inside_its_transaction_leaves_nothing(postgres_schema_url: str, tmp_path) -> None:
    """The batch row and the facts are written in one transaction: the connection terminated
    after the facts are in, before the commit, leaves neither."""
    import random

    from jingxin.core.credit_code import generate
    from jingxin.ingest import service

    wh = open_warehouse(postgres_schema_url)
    file = tmp_path / "税务.csv"
    file.write_text(
        "统一社会信用代码,年度,实缴税收\n"
        + "".join(f"{generate('330106', random.Random(i))},2021,{i + 1}\n" for i in range(10)),
        encoding="utf-8",
    )
    real_insert = wh._insert_arrow

    def insert_then_cut(name: str, data: pa.Table) -> None:
        real_insert(name, data)
        if name == "tax":  # the facts are written; the database goes away before the commit
            with psycopg.connect(postgres_schema_url.split("?")[0], autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (wh.con.con.info.backend_pid,))

    wh._insert_arrow = insert_then_cut  # type: ignore[method-assign]
    with pytest.raises(psycopg.OperationalError) as failure:
        service.ingest_file(wh, "tax", file, loaded_by="test")
    assert is_store_down(failure.value)
    fresh = open_warehouse(postgres_schema_url, create=False)
    try:
        assert fresh.sql("SELECT count(*) FROM batches") == [(0,)]
        assert fresh.sql("SELECT count(*) FROM tax") == [(0,)]
        assert fresh.sql("SELECT count(*) FROM rejected_rows") == [(0,)]
    finally:
        fresh.close()


@pytest.fixture
def health_client(tmp_path) -> Iterator[TestClient]:
    from jingxin.core.settings import Settings
    from jingxin.web.app import create_app

    settings = Settings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'platform.sqlite'}",
        warehouse=f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
    )
    with TestClient(create_app(settings, run_jobs=False)) as client:
        yield client


def test_livez_and_readyz(health_client: TestClient, monkeypatch) -> None:
    assert health_client.get("/livez").json() == {"status": "ok"}
    ready = health_client.get("/readyz")
    assert ready.status_code == 200, ready.json()
    assert set(ready.json()["checks"]) == {"platform_database", "warehouse", "static_assets", "job_queue"}
    assert health_client.get("/api/v1/health").json() == {"status": "ok"}

    # a failing check is named, with its reason, as JSON with 503
    from jingxin.web import health

    def down(_app: Any) -> str:
        raise psycopg.OperationalError(
            'connection failed: database "x" is not currently accepting connections'
        )

    monkeypatch.setitem(health.CHECKS, "warehouse", down)
    failing = health_client.get("/readyz")
    assert failing.status_code == 503
    body = failing.json()
    assert body["status"] == "fail" and body["failed"] == ["warehouse"]
    # the reason names the failure, not the database's address (anyone may ask)
    assert body["checks"]["warehouse"]["detail"].startswith("无法连接（OperationalError）")
    assert '"x"' not in failing.text
    assert health_client.get("/livez").status_code == 200


def test_readyz_reports_a_warehouse_table_missing(health_client: TestClient) -> None:
    wh_access = health_client.app.state.warehouse  # type: ignore[attr-defined]
    with wh_access.reader() as wh:
        wh.sql("DROP TABLE invoices")
    failing = health_client.get("/readyz").json()
    assert failing["failed"] == ["warehouse"] and "invoices" in failing["checks"]["warehouse"]["detail"]


def _registry(wh: Any, codes: list[tuple[str, str]]) -> None:
    wh.insert_arrow(
        "batches",
        pa.table(
            {
                "batch_id": [1],
                "source": ["registry"],
                "period": ["current"],
                "file_name": ["登记.csv"],
                "content_hash": [uuid.uuid4().hex],
                "row_count": [len(codes)],
                "accepted": [len(codes)],
                "rejected": [0],
                "loaded_by": ["test"],
                "loaded_at": [dt.datetime(2024, 1, 1)],
            }
        ),
    )
    wh.insert_arrow(
        "registry",
        pa.table(
            {
                "batch_id": [1] * len(codes),
                "source_row": list(range(len(codes))),
                "credit_code": [c for c, _ in codes],
                "county_code": [county for _, county in codes],
            }
        ),
    )


def test_demo_accounts_follow_the_current_province(tmp_path) -> None:
    import random

    from jingxin.accounts.demo import create_demo_users
    from jingxin.accounts.demo_bindings import demo_user_options
    from jingxin.accounts.service import get_user_by_username
    from jingxin.core.credit_code import generate
    from jingxin.core.db import Database, upgrade

    url = f"sqlite:///{tmp_path / 'platform.sqlite'}"
    upgrade(url)
    database = Database(url)
    rng = random.Random(5)
    first = open_warehouse(f"duckdb:///{tmp_path / 'first.duckdb'}")
    _registry(first, [(generate("330106", rng), "330106") for _ in range(4)])
    # a later province with no enterprise in 西湖区: the county with the most is chosen
    second = open_warehouse(f"duckdb:///{tmp_path / 'second.duckdb'}")
    second_codes = [generate("330302", rng) for _ in range(3)] + [generate("330110", rng)]
    _registry(second, [(c, c[2:8]) for c in second_codes])
    try:
        with database.session() as db:
            create_demo_users(db, **demo_user_options(first))
            qiye, fuwu = get_user_by_username(db, "qiye"), get_user_by_username(db, "fuwu")
            registered = set(first.execute(first.table("registry").credit_code))
            assert qiye.credit_code in registered and set(fuwu.enterprises) <= registered
            assert len(fuwu.enterprises) == 3 and fuwu.division_code == "330106"

            create_demo_users(db, **demo_user_options(second))  # the province changed
            qiye, fuwu = get_user_by_username(db, "qiye"), get_user_by_username(db, "fuwu")
            assert qiye.credit_code in second_codes
            assert fuwu.division_code == "330302" and set(fuwu.enterprises) == set(second_codes[:3])

            kept = fuwu.enterprises
            create_demo_users(db, **demo_user_options(second))  # same province: left as it is
            assert get_user_by_username(db, "fuwu").enterprises == kept
    finally:
        first.close()
        second.close()
        database.dispose()
