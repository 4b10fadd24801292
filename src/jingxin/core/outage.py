"""Store outages (存储不可用): which failures mean "a store is unreachable", in one place.

A PostgreSQL restart, a failover or a network blip shows up as the driver's connection errors
(psycopg's `OperationalError`, of which `AdminShutdown` is one, and `InterfaceError` for a
connection already closed), wrapped by SQLAlchemy for the platform database. They say nothing
about the request: the same request succeeds once the store is back. The web layer therefore
answers them with 503 and a Retry-After hint (`jingxin.web.outage`), retries a read-only
request once, and `/readyz` reports them; they must never become a 500.

`StoreBusy` is the other 503: every connection of this process's pool is lent and none came
back within `pool_timeout` (the pools are bounded so that several processes stay under
PostgreSQL's `max_connections`).
"""

from __future__ import annotations

STORE_DOWN_MESSAGE = "数据库暂时无法连接，系统正在恢复，请 {seconds} 秒后重试。如果一再出现，请联系管理员。"
STORE_BUSY_MESSAGE = "系统繁忙（数据库连接已满），请 {seconds} 秒后重试。"


class StoreBusy(RuntimeError):
    """No pooled connection became free within the pool timeout."""


def _driver_errors() -> tuple[type[BaseException], ...]:
    import psycopg
    import sqlalchemy.exc

    return (
        psycopg.OperationalError,  # cannot connect, connection lost, AdminShutdown, …
        psycopg.InterfaceError,  # the connection is already closed
        sqlalchemy.exc.OperationalError,  # the same, raised through SQLAlchemy
        sqlalchemy.exc.InterfaceError,
    )


def is_store_down(exc: BaseException) -> bool:
    """Whether `exc` (or what it was raised from) is a store connection failure."""
    kinds = _driver_errors()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, kinds):
            return not _is_sqlite(current)
        if isinstance(current, BaseExceptionGroup):
            return any(is_store_down(e) for e in current.exceptions)
        current = current.__cause__ or current.__context__
    return False


def _is_sqlite(exc: BaseException) -> bool:
    """SQLite's own OperationalError (a locked file, a bad statement) is no outage."""
    import sqlite3

    orig = getattr(exc, "orig", None)
    return isinstance(orig, sqlite3.Error)


def is_store_busy(exc: BaseException) -> bool:
    import sqlalchemy.exc

    return isinstance(exc, StoreBusy | sqlalchemy.exc.TimeoutError)


def outage_message(exc: BaseException, seconds: int) -> str:
    template = STORE_BUSY_MESSAGE if is_store_busy(exc) else STORE_DOWN_MESSAGE
    return template.format(seconds=seconds)
