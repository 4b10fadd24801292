"""The platform database: migrations, models and column types, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from jingxin.core import db as coredb
from jingxin.core.audit import Action, Actor, AuditEntry, record

pytest_plugins = ["jingxin.web.pytest_fixtures"]

MODEL_MODULES = ("jingxin.core.audit", "jingxin.accounts.models")
CORE_TABLES = {"users", "user_enterprises", "web_sessions", "login_attempts", "audit_log", "alembic_version"}


def _models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)


def test_database_is_at_head(platform_url: str) -> None:
    assert coredb.current_revision(platform_url) == coredb.head_revision()
    tables = set(inspect(coredb.make_engine(platform_url)).get_table_names())
    assert tables >= CORE_TABLES


def test_models_match_migrations(platform_url: str) -> None:
    """Autogenerate finds nothing to do: the models and the migration scripts agree."""
    _models()
    engine = coredb.make_engine(platform_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, coredb.Base.metadata)
    finally:
        engine.dispose()
    own = [d for d in diff if _table_of(d) in CORE_TABLES]
    assert own == []


def _table_of(diff: object) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:] if isinstance(item, tuple) else ():
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None:
            return table.name
        if isinstance(part, str):
            return part
        if name:
            return name
    return None


def test_downgrade_to_base_and_upgrade_again(platform_url: str) -> None:
    coredb.downgrade(platform_url, "base")
    tables = set(inspect(coredb.make_engine(platform_url)).get_table_names())
    assert not (CORE_TABLES - {"alembic_version"}) & tables
    coredb.upgrade(platform_url)
    coredb.upgrade(platform_url)  # idempotent
    assert coredb.current_revision(platform_url) == coredb.head_revision()


def test_upgrade_creates_a_fresh_sqlite_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'platform.sqlite'}"
    coredb.upgrade(url)
    assert coredb.current_revision(url) == coredb.head_revision()


def test_timestamps_come_back_aware_in_utc(db_session) -> None:
    beijing = timezone(timedelta(hours=8))
    moment = datetime(2021, 3, 5, 14, 5, 0, tzinfo=beijing)
    entry = record(
        db_session,
        Actor(1, "admin", "10.0.0.1"),
        Action.CONFIG_CHANGE,
        "config",
        "weights",
        {"县": "西湖区", "权重": [30, 20], "nested": {"a": None}},
        commit=True,
    )
    entry.at = moment
    db_session.commit()
    db_session.expunge_all()
    loaded = db_session.scalar(select(AuditEntry).where(AuditEntry.id == entry.id))
    assert loaded.at == moment
    assert loaded.at.tzinfo is not None and loaded.at.utcoffset() == timedelta(0)
    assert loaded.detail == {"县": "西湖区", "权重": [30, 20], "nested": {"a": None}}


def test_naive_datetimes_are_refused(db_session) -> None:
    entry = record(db_session, Actor(None, "x"), Action.LOGIN)
    entry.at = datetime(2021, 1, 1)
    with pytest.raises(Exception, match="timezone-aware"):
        db_session.commit()
    db_session.rollback()


def test_text_that_postgres_refuses_is_cleaned(db_session) -> None:
    record(
        db_session,
        Actor(None, "bad\x00name\ud800"),
        Action.LOGIN_FAILED,
        "user",
        "1\x00",
        {"k\x00": "v\x00", "list": ["\x00"]},
        commit=True,
    )
    entry = db_session.scalar(select(AuditEntry))
    assert entry.username == "badname"
    assert entry.object_id == "1"
    assert entry.detail == {"k": "v", "list": [""]}


def test_utcnow_is_aware() -> None:
    assert coredb.utcnow().tzinfo is UTC


def test_postgres_urls_use_psycopg3() -> None:
    assert coredb.normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert coredb.normalise_url("sqlite:///x") == "sqlite:///x"
