"""Pytest fixtures for the platform database and the web app (a pytest plugin).

Load it in a test module with `pytest_plugins = ["jingxin.web.pytest_fixtures"]` (or once in
the root conftest). Fixtures:

- `platform_url`: a migrated, empty platform database, once on SQLite and once on PostgreSQL
  (marked `postgres`). PostgreSQL uses a fresh database `jingxin_t_<random>` per test session,
  created on the server named by JINGXIN_TEST_POSTGRES (default
  postgresql://postgres@127.0.0.1:5432/test), emptied before each test and dropped at the end.
  Without a server the PostgreSQL half is skipped (failed with JINGXIN_REQUIRE_POSTGRES=1).
- `platform_db`: a `Database` on it; `db_session`: a session.
- `web_settings`, `web_app`, `web_client`: the app on that database and a DuckDB warehouse in
  the test's tmp folder; `demo_users`: the demo accounts (password `DEMO_PASSWORD`).

Helpers to use with them (`login`, `csrf_from`, `DEMO_PASSWORD`) are in `jingxin.web.testing`.

Password hashing uses cheap argon2 parameters in tests (the production defaults cost tens of
milliseconds per hash, which a matrix of logins would multiply).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from jingxin.core import auth
from jingxin.core.db import Base, Database, upgrade
from jingxin.web.testing import DEMO_PASSWORD, FAST_HASHER

POSTGRES_URL = os.environ.get("JINGXIN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _model_modules() -> None:
    import jingxin.accounts.models  # noqa: F401
    import jingxin.appeals.models  # noqa: F401
    import jingxin.core.audit  # noqa: F401
    import jingxin.core.jobs.models  # noqa: F401
    import jingxin.core.notify.models  # noqa: F401
    import jingxin.core.workflow.models  # noqa: F401
    import jingxin.cultivation.models  # noqa: F401
    import jingxin.evaluation.whatif.models  # noqa: F401
    import jingxin.exchange.models  # noqa: F401
    import jingxin.fiveg.models  # noqa: F401
    import jingxin.medical.models  # noqa: F401
    import jingxin.policies.models  # noqa: F401


@cache
def _admin_dsn() -> str | None:
    """A DSN on the test server for CREATE/DROP DATABASE: the configured database, or the
    server's `postgres` database when the configured one does not exist yet."""
    import psycopg

    base = POSTGRES_URL.split("?")[0]
    for dsn in (base, base.rsplit("/", 1)[0] + "/postgres"):
        try:
            with psycopg.connect(dsn, connect_timeout=3):
                return dsn
        except psycopg.OperationalError:
            continue
    return None


def _server_url(database: str) -> str:
    base = POSTGRES_URL.split("?")[0].rsplit("/", 1)[0]
    return f"{base}/{database}".replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session", autouse=False)
def fast_password_hashing() -> Iterator[None]:
    auth.configure_hasher(FAST_HASHER)
    yield
    auth.configure_hasher(PasswordHasher())


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("platform") / "template.sqlite"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated; dropped at the end."""
    import psycopg

    admin = _admin_dsn()
    if admin is None:
        problem = f"PostgreSQL unavailable at {POSTGRES_URL}"
        if os.environ.get("JINGXIN_REQUIRE_POSTGRES") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    name = f"jingxin_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    url = _server_url(name)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_postgres(url: str) -> None:
    from sqlalchemy import text

    _model_modules()
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    database = Database(url)
    try:
        with database.engine.begin() as con:
            con.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        database.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite"),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def platform_url(request: pytest.FixtureRequest, tmp_path: Path, fast_password_hashing: None) -> str:
    """The URL of a migrated, empty platform database (SQLite, then PostgreSQL)."""
    if request.param == "sqlite":
        target = tmp_path / "platform.sqlite"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("_postgres_database")
    _empty_postgres(url)
    return url


@pytest.fixture
def platform_db(platform_url: str) -> Iterator[Database]:
    database = Database(platform_url)
    yield database
    database.dispose()


@pytest.fixture
def db_session(platform_db: Database) -> Iterator[Any]:
    session = platform_db.session()
    yield session
    session.close()


@pytest.fixture
def web_settings(tmp_path: Path, platform_url: str) -> Any:
    from jingxin.core.settings import Settings

    return Settings(
        home=tmp_path,
        database_url=platform_url,
        warehouse=f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
    )


@pytest.fixture
def web_app(web_settings: Any) -> Iterator[Any]:
    from jingxin.web.app import create_app

    app = create_app(web_settings, migrate=False)
    yield app
    app.state.warehouse.close()
    app.state.db.dispose()


@pytest.fixture
def demo_users(web_app: Any) -> dict[str, Any]:
    """The demo accounts by username (see `jingxin.accounts.demo.create_demo_users`)."""
    from jingxin.accounts import demo as account_demo

    with web_app.state.db.session() as db:
        users = account_demo.create_demo_users(db, DEMO_PASSWORD)
        return {u.username: u for u in users}


@pytest.fixture
def web_client(web_app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(web_app, base_url="http://testserver") as client:
        yield client
