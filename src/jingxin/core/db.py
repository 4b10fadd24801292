"""Platform database (平台数据库): workflow state behind SQLAlchemy 2, its schema owned by Alembic.

The platform database holds what people do on the platform (users, sessions, the audit log,
later appeals, risk cases, dispatch orders), as opposed to the warehouse, which holds what
departments send. It is a SQLite file by default (one machine runs a province out of the box)
and PostgreSQL in production, chosen by one URL (`JINGXIN_DATABASE_URL`).

The schema is created and changed only by the Alembic migrations in `migrations/`, run by
`upgrade(url)` when the server starts and in tests; there is no `create_all` outside the test
that checks the models and the migrations agree, so a production database can always be
brought forward from any past version.

Every model derives from `Base`. Two column types smooth over the two backends:

- `UTCDateTime`: timestamps are stored in UTC and always come back timezone-aware (SQLite has
  no timezone type and would otherwise hand back naive datetimes that compare wrongly).
- `JSONType`: JSON on SQLite, JSONB on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Engine, Integer, MetaData, create_engine, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Constraint names must be deterministic so that migrations (and SQLite batch mode, which
# rebuilds tables) can refer to them by name on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The Alembic scripts ship inside the package, so an installed wheel can migrate too;
# `alembic.ini` at the repository root is only for running `alembic` by hand.
MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
ALEMBIC_INI = Path(__file__).resolve().parents[3] / "alembic.ini"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC: the only clock the platform database uses."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and returned timezone-aware on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime (use jingxin.core.db.utcnow())")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
"""JSON column: JSONB on PostgreSQL (indexable), JSON text on SQLite."""

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit surrogate key; SQLite only auto-increments a column declared exactly INTEGER."""


class Base(DeclarativeBase):
    """Base of every platform-database model (core and scenario packages alike)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


def clean_text(value: str) -> str:
    """Text both backends can store: PostgreSQL refuses NUL characters (also inside JSONB) and
    no driver can encode a lone surrogate, so both are dropped from anything a user typed."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "ignore").decode("utf-8")
    return value


def clean_json(value: Any) -> Any:
    """`clean_text` applied to every string (keys too) inside a JSON-like value."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def normalise_url(url: str) -> str:
    """Pick the psycopg 3 driver for a bare `postgresql://` URL (psycopg2 is not installed)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the platform database with the settings each backend needs.

    SQLite: the file's folder is created; connections may be used from the web server's thread
    pool (`check_same_thread=False`); foreign keys are switched on (SQLite ignores them by
    default); WAL lets readers run while one request writes, and with synchronous=NORMAL a
    commit does not wait for the disk (SQLite's recommended setting for WAL: the file is never
    corrupted, a power cut may lose the last moments of commits; production runs on PostgreSQL);
    a busy timeout makes a second writer wait briefly instead of failing at once.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"check_same_thread": False, "timeout": 30}
        # One connection per web worker thread (anyio's pool has 40): SQLite connections are
        # cheap to keep, and closing and reopening them under load costs more than the queries.
        kwargs.setdefault("pool_size", 40)
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            if database and database != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, **{**postgres_pool_options(), **kwargs})


def postgres_pool_options() -> dict[str, Any]:
    """The platform database's pool on PostgreSQL, bounded per process (see docs/deployment.md,
    "Connections and pools"): `db_pool_size` kept, up to `db_pool_overflow` more under load
    (closed as soon as they come back), a request waiting at most `pool_timeout` for one (then
    SQLAlchemy's TimeoutError, answered 503 as busy). Each connection is checked before use
    (pre-ping), so connections cut by a database restart are replaced instead of failing a
    request; a new connection gives up after `connect_timeout` while the server is away."""
    from jingxin.core.settings import get_settings

    settings = get_settings()
    return {
        "pool_pre_ping": True,
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_pool_overflow,
        "pool_timeout": settings.pool_timeout,
        "pool_recycle": 3600,  # project default: no connection older than an hour is reused
        "connect_args": {"connect_timeout": settings.connect_timeout},
    }


# Keys of PostgreSQL advisory locks taken by the platform (any fixed 64-bit numbers, unique
# among the platform's locks): processes starting together wait for each other here.
PLATFORM_MIGRATION_LOCK = 7_405_331_001
WAREHOUSE_SCHEMA_LOCK = 7_405_331_002


_sqlite_write_locks: dict[str, threading.Lock] = {}


@contextmanager
def write_turn(session: Session) -> Iterator[None]:
    """Wait for this process's turn to write, on SQLite (a no-op on other databases).

    SQLite lets one connection write at a time, and a second writer waits in SQLite's busy
    handler, which sleeps in growing steps (up to 100 ms each): under load, short writes such
    as audit entries then take seconds. Queueing them on a lock in the process first keeps
    each wait as short as the write before it."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    lock = _sqlite_write_locks.setdefault(str(bind.engine.url), threading.Lock())
    with lock:
        yield


class Database:
    """One platform database: an engine and its session factory.

    Sessions do not expire objects on commit, so a service function can commit and still hand
    the saved object to a template or a response model without another round trip.
    """

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessionmaker()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block or rolls back on error."""
        with self.sessionmaker.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


# ---- migrations ---------------------------------------------------------------------------


def alembic_config(url: str) -> Any:
    """The Alembic configuration for `url`, independent of the working directory."""
    from alembic.config import Config

    if not MIGRATIONS_DIR.is_dir():
        raise RuntimeError(f"找不到数据库迁移脚本目录 {MIGRATIONS_DIR}：安装包不完整，请重新安装 jingxin")
    config = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.is_file() else Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # `%` is ConfigParser's interpolation character; URLs may contain it (escaped passwords).
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the platform database at `url` up to `revision` (default: the newest).

    Called when the server starts and by the test fixtures; safe to call on an up-to-date
    database (it does nothing), and from several processes at once on PostgreSQL (they take
    turns under an advisory lock).
    """
    from alembic import command

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Several processes starting at once on one database: the first migrates, the
                # others wait here and then find it current (the lock ends with the transaction).
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLATFORM_MIGRATION_LOCK}
                )
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> None:
    """Step the platform database back to `revision` (`base` empties it)."""
    from alembic import command

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision among the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
