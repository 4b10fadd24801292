"""Operations: /metrics (protected, counts requests by route template and ingested rows),
structured request logs whose request id is the one stored in the audit log and on jobs,
and the admins-only Swagger UI."""

from __future__ import annotations

import io
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from jingxin.core.audit import AuditEntry
from jingxin.core.settings import Settings
from jingxin.web.app import create_app
from jingxin.web.testing import login

pytest_plugins = ["jingxin.web.pytest_fixtures"]

TOKEN = "scrape-secret-1"


def make_app(tmp_path: Path, template: Path, **extra: Any) -> Any:
    target = tmp_path / "platform.sqlite"
    shutil.copyfile(template, target)
    settings = Settings(
        home=tmp_path,
        database_url=f"sqlite:///{target}",
        warehouse=f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        secret_key="test-secret",
        **extra,
    )
    return create_app(settings, migrate=False, run_jobs=False)


@pytest.fixture
def client(tmp_path: Path, _sqlite_template: Path, fast_password_hashing: None) -> Iterator[TestClient]:
    from jingxin.accounts.demo import DEMO_PASSWORD, create_demo_users

    app = make_app(tmp_path, _sqlite_template, metrics_token=TOKEN)
    with app.state.db.session() as db:
        create_demo_users(db, DEMO_PASSWORD)
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def sample(text: str, name: str, labels: dict[str, str]) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def scrape(client: TestClient) -> str:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    return answer.text


def test_metrics_refused_without_token_or_allowed_address(
    client: TestClient, tmp_path: Path, _sqlite_template: Path
) -> None:
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    # nothing configured: nobody, not even localhost
    bare = make_app(tmp_path / "bare", _sqlite_template) if (tmp_path / "bare").mkdir() is None else None
    with TestClient(bare) as c:
        assert c.get("/metrics").status_code == 403
    # an allowed network instead of a token (the TestClient's address is "testclient": refused)
    allowed = (
        make_app(tmp_path / "net", _sqlite_template, metrics_allow="10.0.0.0/8")
        if (tmp_path / "net").mkdir() is None
        else None
    )
    with TestClient(allowed) as c:
        assert c.get("/metrics").status_code == 403


def test_metrics_count_requests_by_route_template_and_ingested_rows(
    client: TestClient, tmp_path: Path
) -> None:
    from test_ingest_service import CODES, tax_file

    from jingxin.ingest import ingest_file

    before = scrape(client)
    route = {"method": "GET", "route": "/jobs/{job_id}", "status": "404"}
    base_requests = sample(before, "jingxin_http_requests_total", route)
    base_accepted = sample(before, "jingxin_ingest_rows_total", {"source": "tax", "outcome": "accepted"})
    base_rejected = sample(before, "jingxin_ingest_rows_total", {"source": "tax", "outcome": "rejected"})

    base_audit = sample(before, "jingxin_audit_write_seconds_count", {})
    login(client, "hangzhou")
    assert client.get("/api/docs").status_code == 403  # a refusal: audited
    client.cookies.clear()
    login(client, "admin")
    assert client.get("/jobs/987654").status_code == 404
    assert client.get("/jobs/987655").status_code == 404
    path = tax_file(
        tmp_path / "tax.csv", [(CODES[0], 2021, 10), (CODES[1], 2021, 20), (CODES[2], 2021, "十万")]
    )
    with client.app.state.warehouse.writer() as wh:  # type: ignore[attr-defined]
        result = ingest_file(wh, "tax", path)
    assert (result.accepted, result.rejected) == (2, 1)

    after = scrape(client)
    assert sample(after, "jingxin_http_requests_total", route) == base_requests + 2
    assert (
        sample(
            after, "jingxin_http_request_duration_seconds_count", {"method": "GET", "route": "/jobs/{job_id}"}
        )
        >= 2
    )
    # raw paths never become labels
    assert "987654" not in after
    assert (
        sample(after, "jingxin_ingest_rows_total", {"source": "tax", "outcome": "accepted"})
        == base_accepted + 2
    )
    assert (
        sample(after, "jingxin_ingest_rows_total", {"source": "tax", "outcome": "rejected"})
        == base_rejected + 1
    )
    assert sample(after, "jingxin_warehouse_data_version", {"part": "batches"}) == result.batch_id
    assert sample(after, "jingxin_audit_write_seconds_count", {}) >= base_audit + 1


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    from jingxin.ops.logs import _route_structlog_to_logging, configure_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    configure_logging("json", "info", stream)
    try:
        yield stream
    finally:
        root.handlers, level = saved
        root.setLevel(level)
        logging.getLogger("uvicorn.access").disabled = False
        structlog.reset_defaults()
        _route_structlog_to_logging()


def test_log_line_and_audit_entry_share_the_request_id(
    json_log: io.StringIO, tmp_path: Path, _sqlite_template: Path, fast_password_hashing: None
) -> None:
    from jingxin.accounts.demo import DEMO_PASSWORD, create_demo_users
    from jingxin.web.testing import csrf_from

    app = make_app(tmp_path, _sqlite_template)
    with app.state.db.session() as db:
        create_demo_users(db, DEMO_PASSWORD)
    with TestClient(app, base_url="http://testserver") as client:
        page = client.get("/login")
        answer = client.post(
            "/login",
            data={
                "username": "admin",
                "password": DEMO_PASSWORD,
                "csrf_token": csrf_from(page.text),
                "next": "/",
            },
            headers={"X-Request-ID": "trace-4711-abc"},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert answer.headers["X-Request-ID"] == "trace-4711-abc"
        generated = client.get("/api/v1/me").headers["X-Request-ID"]
        assert len(generated) == 32  # made up when none is sent
        # a header that is not plain short text is replaced, never written to the logs
        odd = client.get("/api/v1/me", headers={"X-Request-ID": "bad id\nforged-line"})
        assert odd.headers["X-Request-ID"] != "bad id\nforged-line"
        admin_id = client.get("/api/v1/me").json()["id"]

    lines = [json.loads(line) for line in json_log.getvalue().splitlines() if line.startswith("{")]
    login_line = next(
        line
        for line in lines
        if line.get("event") == "request" and line.get("request_id") == "trace-4711-abc"
    )
    assert login_line["route"] == "/login"
    assert login_line["status"] == 303
    assert login_line["method"] == "POST"
    assert isinstance(login_line["duration_ms"], float)
    assert DEMO_PASSWORD not in json_log.getvalue()
    me_line = next(line for line in lines if line.get("request_id") == generated)
    assert me_line["user_id"] == admin_id
    assert "forged-line" not in json_log.getvalue()

    with app.state.db.session() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "login")).one()
    assert entry.request_id == "trace-4711-abc"
    app.state.warehouse.close()
    app.state.db.dispose()


def test_job_carries_the_submitting_request_id(client: TestClient) -> None:
    from jingxin.core.jobs.models import Job, JobLog

    csrf = login(client, "admin")
    kinds = client.get("/api/v1/jobs/kinds")
    assert kinds.status_code == 200, kinds.text
    answer = client.post(
        "/api/v1/jobs",
        json={"kind": "workflows.sweep", "params": {}},
        headers={"X-CSRF-Token": csrf, "X-Request-ID": "job-trace-1"},
    )
    assert answer.status_code in (200, 201, 202), answer.text
    with client.app.state.db.session() as db:  # type: ignore[attr-defined]
        job = db.scalars(select(Job)).one()
        assert job.request_id == "job-trace-1"
        assert {log.request_id for log in db.scalars(select(JobLog).where(JobLog.job_id == job.id))} == {
            "job-trace-1"
        }


def test_swagger_ui_is_self_hosted_and_for_admins_only(client: TestClient) -> None:
    anonymous = client.get("/api/docs", follow_redirects=False)
    assert anonymous.status_code in (303, 401)
    login(client, "hangzhou")
    assert client.get("/api/docs").status_code == 403
    client.cookies.clear()
    login(client, "admin")
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "/static/vendor/swagger-ui-bundle.js" in page.text
    assert "http" not in page.text.split("<body>")[1].replace("data-spec", "")  # nothing from elsewhere
    assert client.get("/static/vendor/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/js/api-docs.js").status_code == 200
    assert client.get("/openapi.json").json()["paths"]


def test_only_admins_may_start_a_backup_job(client: TestClient, tmp_path: Path) -> None:
    csrf = login(client, "hangzhou")
    answer = client.post(
        "/api/v1/jobs",
        json={"kind": "ops.backup", "params": {"out_dir": str(tmp_path / "bk")}},
        headers={"X-CSRF-Token": csrf},
    )
    assert answer.status_code == 422 and "无权" in answer.json()["detail"]
    assert not (tmp_path / "bk").exists()
