"""Shared fixtures.

`warehouse_url` runs a test once per warehouse backend: DuckDB (a file in the test's tmp
folder) and PostgreSQL (a fresh schema `t_<random>` in database `test`, dropped afterwards;
marked `postgres`, skipped when no server answers at 127.0.0.1:5432 unless
JINGXIN_REQUIRE_POSTGRES=1). `warehouse` is the same, opened and closed for the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache

import pytest

from jingxin.core.warehouse import Warehouse, open_warehouse

POSTGRES_URL = os.environ.get("JINGXIN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@cache
def postgres_problem() -> str | None:
    """None when the test database answers (creating database `test` if missing), else why not."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            return f"PostgreSQL unavailable at {POSTGRES_URL}: {exc}"
    admin = POSTGRES_URL.rsplit("/", 1)[0] + "/postgres"
    database = POSTGRES_URL.rsplit("/", 1)[1].split("?")[0]
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as con:
            con.execute(f'CREATE DATABASE "{database}"')
    except psycopg.Error as exc:
        if "already exists" not in str(exc):
            return f"cannot create database {database}: {exc}"
    return None


def _skip_without_postgres() -> None:
    problem = postgres_problem()
    if problem is not None:
        if os.environ.get("JINGXIN_REQUIRE_POSTGRES") == "1":
            pytest.fail(problem)
        pytest.skip(problem)


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A fresh PostgreSQL schema as a warehouse URL, dropped after the test."""
    import psycopg

    _skip_without_postgres()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield f"{POSTGRES_URL}?schema={schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(
    params=[
        pytest.param("duckdb", marks=pytest.mark.duckdb),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def warehouse_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A warehouse URL per backend; each test gets an empty warehouse of its own."""
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    else:
        yield request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def warehouse(warehouse_url: str) -> Iterator[Warehouse]:
    """An open warehouse with every table created, closed after the test."""
    wh = open_warehouse(warehouse_url)
    try:
        yield wh
    finally:
        wh.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless chromium (Debian's package) per test worker, shared by the browser tests;
    each test opens contexts of its own (tests/browser_support.py `open_as`), closed after it
    (`_browser_test`)."""
    from pathlib import Path

    from browser_support import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `--dist loadgroup`, keep each module's tests on one worker unless they name a
    group of their own (`xdist_group`, e.g. "spark": one Spark session for every Spark test).
    A module builds its province or server once instead of once on each worker, and different
    modules still run side by side. A module whose tests share nothing costly (each builds its
    own data) says `SPREAD_OVER_WORKERS = True` and its tests go to whichever worker is free."""
    for item in items:
        if getattr(item.module, "SPREAD_OVER_WORKERS", False):
            continue
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__ if item.module else item.nodeid))


@pytest.fixture(autouse=True)
def _browser_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Keeps the shared chromium from leaking into the other tests of its worker.

    A browser test: the contexts (logged-in pages) it opens are closed after it; a page left
    open would keep its scripts, its polling and its memory for the rest of the session.
    Any other test: Playwright's sync API runs an asyncio event loop on the main thread for as
    long as the chromium lives, and a test that starts a loop of its own (`asyncio.run`,
    `anyio.run`) would fail with "cannot be called from a running event loop"; that loop is set
    aside for the test (nothing of Playwright runs meanwhile) and put back after it."""
    import asyncio

    if "browser" not in request.fixturenames:
        playwright_loop = asyncio._get_running_loop()
        asyncio._set_running_loop(None)
        try:
            yield
        finally:
            asyncio._set_running_loop(playwright_loop)
        return
    browser = request.getfixturevalue("browser")
    before = {id(context) for context in browser.contexts}
    yield
    for context in browser.contexts:
        if id(context) not in before:
            context.close()
