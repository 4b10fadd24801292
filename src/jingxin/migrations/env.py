"""Alembic environment of the platform database.

Run by `jingxin.core.db.upgrade(url)` (which hands over an open connection) or by the `alembic`
command (which connects to JINGXIN_DATABASE_URL, or the SQLite default under var/).

MODEL_MODULES lists every module that defines platform-database tables, so that
`alembic revision --autogenerate` and the test that compares models with migrations see them
all. A scenario that adds tables adds its `models` module here, beside its migration.
"""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy import Connection

from jingxin.core.db import Base, make_engine

MODEL_MODULES = (
    "jingxin.core.audit",
    "jingxin.accounts.models",
    "jingxin.core.workflow.models",
    "jingxin.core.notify.models",
    "jingxin.appeals.models",
    "jingxin.policies.models",
    "jingxin.medical.models",
    "jingxin.fiveg.models",
    "jingxin.cultivation.models",
    "jingxin.evaluation.whatif.models",
)

for _module in MODEL_MODULES:
    importlib.import_module(_module)

target_metadata = Base.metadata


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from jingxin.core.settings import get_settings

    return get_settings().platform_database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, dialect_opts={"paramstyle": "named"}
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
