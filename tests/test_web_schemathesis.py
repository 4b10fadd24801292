"""Schemathesis drives every route's parameters, in process, as several roles: no answer is a 5xx,
every answer carries the security headers, and every API answer matches its documented schema
(SQLite and PostgreSQL).

The API comes from /openapi.json. The HTML pages are left out of that spec (they are not an
interface for programs), so a second spec is made from the page routes themselves
(`page_schema`) and fuzzed the same way, checked for 5xx and headers only. The warehouse holds a
small evaluated province and three departmental batches, so that the routes reach real data.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
import schemathesis
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from jingxin.web.deps import SESSION_COOKIE
from jingxin.web.testing import DEMO_PASSWORD, login, seed_batches

pytest_plugins = ["jingxin.web.pytest_fixtures"]
# Minutes per role and store: run by `make test-heavy` (and CI), not by `make test`.
pytestmark = [pytest.mark.slow, pytest.mark.heavy]
# Each test builds its own province and server: they can run on any worker.
SPREAD_OVER_WORKERS = True

EXAMPLES = int(os.environ.get("JINGXIN_SCHEMATHESIS_EXAMPLES", "25"))
# Other roles meet mostly 403/404 answers: fewer examples each find the same.
ROLE_EXAMPLES = max(4, EXAMPLES // 3)

# The admin goes last: its fuzzing creates, changes and disables other accounts.
ROLES = ("qiye", "fuwu", "liaison-sw", "caizheng", "xihu", "sheng", "admin")

# Routes that would end the fuzzing session itself.
SKIP_PAGES = {("POST", "/login"), ("POST", "/logout")}

HEADERS = {
    "content-security-policy": "frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
}

XIHU, SHANGCHENG = "330106", "330102"


@pytest.fixture
def evaluated(web_settings) -> dict[str, Any]:
    """A small province of two counties, evaluated for 2021, and three departmental batches."""
    from jingxin.core.warehouse import open_warehouse
    from jingxin.evaluation import service
    from jingxin.evaluation.runs import run_evaluation
    from jingxin.evaluation.sample import load_facts, province

    wh = open_warehouse(web_settings.warehouse_url)
    try:
        load_facts(wh, province(160, years=(2021,), seed=3, counties=[XIHU, SHANGCHENG]), first_batch=100)
        run = run_evaluation(wh, "zhejiang_industry_above", 2021).run_id
        rows = wh.execute(
            service.results(wh, run).select("credit_code", "county_code").order_by("credit_code")
        )
    finally:
        wh.close()
    seed_batches(web_settings.warehouse_url)
    xihu = list(rows[rows.county_code == XIHU].credit_code)
    return {"own": xihu[0], "staff": xihu[:2]}


@pytest.fixture
def accounts(evaluated, web_app) -> None:
    from jingxin.accounts.demo import create_demo_users

    with web_app.state.db.session() as db:
        create_demo_users(
            db, DEMO_PASSWORD, enterprise_code=evaluated["own"], staff_enterprises=evaluated["staff"]
        )
        db.commit()


def page_schema(app: Any) -> dict[str, Any]:
    """An OpenAPI document of the HTML page routes (which /openapi.json leaves out)."""
    from jingxin.web.app import load_scenarios

    routes = []
    for scenario in load_scenarios():
        for route in scenario.pages.routes if scenario.pages is not None else ():
            if not isinstance(route, APIRoute):
                continue
            methods = {m for m in route.methods if m != "HEAD"}
            if all((m, route.path) in SKIP_PAGES for m in methods):
                continue
            shown = copy.copy(route)
            shown.include_in_schema = True
            shown.methods = {m for m in methods if (m, route.path) not in SKIP_PAGES}
            routes.append(shown)
    return get_openapi(title="数字经信页面", version="1", routes=routes)


def _fuzz(schema: Any, cookie: str, csrf: str, examples: int, *, conformance: bool) -> list[str]:
    """Every operation of `schema` with generated parameters, in the session of `cookie`;
    the failures, described."""
    checks = [not_a_server_error, response_schema_conformance] if conformance else [not_a_server_error]
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # report what was found, do not shrink it
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:
            response = case.call(headers={"X-CSRF-Token": csrf}, cookies={SESSION_COOKIE: cookie})
            case.validate_response(response, checks=checks)
            headers = {k.lower(): " ".join(v) for k, v in response.headers.items()}
            for name, part in HEADERS.items():
                assert part in headers.get(name, ""), (response.status_code, name, headers)
            assert headers.get("cache-control") == "no-store", (response.status_code, headers)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # collect every failure, then report them all
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    return failures


def test_every_route_as_every_role_has_no_server_errors(accounts, web_app) -> None:
    api = schemathesis.openapi.from_asgi("/openapi.json", web_app)
    pages = schemathesis.openapi.from_dict(page_schema(web_app))
    pages.app = web_app
    assert len(list(api.get_all_operations())) >= 23
    assert len(list(pages.get_all_operations())) >= 18
    failures: list[str] = []
    with TestClient(web_app, base_url="http://testserver") as client:
        # Everyone logs in first: wrong old passwords sent while fuzzing count as failed logins
        # of this one client address, which soon locks it for the next login (as it should).
        sessions = {}
        for username in ROLES:
            client.cookies.clear()
            sessions[username] = (login(client, username), client.cookies.get(SESSION_COOKIE))
        client.cookies.clear()
        for username, (csrf, cookie) in sessions.items():
            examples = EXAMPLES if username == "admin" else ROLE_EXAMPLES
            for schema, conformance in ((api, True), (pages, False)):
                found = _fuzz(schema, cookie, csrf, examples, conformance=conformance)
                failures += [f"[{username}] {f}" for f in found]
            # the fuzzing did not take this user's own session or account away
            me = client.get("/api/v1/me", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
            assert me.json()["username"] == username
    assert not failures, "\n\n".join(failures)


# Values generated schemas rarely reach: a NUL, the ends of the date range, numbers past any
# integer type, very long text, LIKE and SQL characters, the names of columns.
HOSTILE = [
    "\x00",
    "9999-12-31",
    "0001-01-01",
    "-1",
    "99999999999999999999999",
    "1e309",
    "",
    "x" * 5000,
    "%_\\'\"",
    "credit_code",
    "330106",
]


def _get_routes(app: Any) -> list[tuple[str, list[str]]]:
    """(path, query parameter names) of every GET route, API and pages, with path parameters
    filled by a plausible value."""
    from jingxin.web.app import API_PREFIX, load_scenarios

    found = []
    for scenario in load_scenarios():
        for router, prefix in ((scenario.pages, ""), (scenario.api, API_PREFIX)):
            for route in router.routes if router is not None else ():
                if isinstance(route, APIRoute) and "GET" in route.methods:
                    path = prefix + route.path
                    for param in route.dependant.path_params:
                        path = path.replace("{" + param.name + "}", "1")
                    found.append((path, [p.name for p in route.dependant.query_params]))
    return found


@pytest.mark.parametrize("username", ["admin", "xihu"])
def test_hostile_values_in_every_query_parameter(accounts, web_app, username: str) -> None:
    client = TestClient(web_app, base_url="http://testserver", raise_server_exceptions=False)
    login(client, username)
    routes = _get_routes(web_app)
    assert len(routes) >= 30
    failures = []
    for path, names in routes:
        for name in names:
            for value in HOSTILE:
                answer = client.get(path, params={name: value}, follow_redirects=False)
                if answer.status_code >= 500 or "frame-ancestors" not in answer.headers.get(
                    "content-security-policy", ""
                ):
                    failures.append(f"{path}?{name}={value[:20]!r}: {answer.status_code} {answer.text[:200]}")
    assert not failures, "\n".join(failures)
