"""Schemathesis against /openapi.json, in process, logged in as the admin: no answer is a 5xx and
every answer matches its documented schema (SQLite and PostgreSQL)."""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from jingxin.web.deps import SESSION_COOKIE
from jingxin.web.testing import login, seed_batches

pytest_plugins = ["jingxin.web.pytest_fixtures"]

EXAMPLES = int(os.environ.get("JINGXIN_SCHEMATHESIS_EXAMPLES", "25"))


def test_api_schema_has_no_server_errors(web_app, web_client, web_settings, demo_users) -> None:
    seed_batches(web_settings.warehouse_url)
    csrf = login(web_client, "admin")
    cookie = web_client.cookies.get(SESSION_COOKIE)
    schema = schemathesis.openapi.from_asgi("/openapi.json", web_app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:
            response = case.call(headers={"X-CSRF-Token": csrf}, cookies={SESSION_COOKIE: cookie})
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
    # the fuzzing did not take the admin's own session or account away
    assert web_client.get("/api/v1/me").json()["username"] == "admin"
