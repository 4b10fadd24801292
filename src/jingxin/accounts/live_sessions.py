"""Live sessions kept in memory (会话缓存), dropped in every process the moment they change.

Every request names its session by cookie, and reading the session and its user from the
platform database costs more than answering a cached page. `load_session` therefore keeps each
session it read here and answers repeats from memory, without a database round trip and
without a worker thread.

What keeps this safe:

- Everything that ends or changes a session or its user drops the entry: logout, login (the
  replaced session), disabling a user, a password change or reset, any change of a user's
  role, region or binding, a new flash message. `drop` and `drop_user` forget it in this
  process at once and, given the database session of the change, tell every other process:
- **On PostgreSQL** (where several server processes share one platform database) the drop is
  a `pg_notify` on channel `jingxin_sessions` inside the same transaction, so PostgreSQL
  delivers it exactly when the change commits; each process LISTENs on a connection of its
  own (`Listener`) and drops the entry on arrival. Entries are trusted only while that
  connection listens: when it is lost (a database restart) the cache is emptied and not used
  until it listens again, so no notification can be missed. An entry then lives until the
  session's sliding update is due (`SessionPolicy.touch_every`).
- **On SQLite** (one server process) the in-process drop is the whole story; the window
  `SessionPolicy.cache_for` (5 s) bounds only what a CLI command writes to the file while the
  server runs (`jingxin users disable`), which no notification reaches.
- A read that began before a drop is not kept after it (`generation`): a session read just
  before a change commits cannot be cached as if current.
- Only sessions without pending flash messages are kept, so a message is never lost or
  shown twice; a session due for its sliding-expiry update is read again.
- Entries are detached ORM objects, read but never changed by requests.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from jingxin.accounts.models import WebSession

log = logging.getLogger(__name__)

MAX_ENTRIES = 10_000
CHANNEL = "jingxin_sessions"

# Bounded least-recently-used (cachetools): many short-lived sessions push out the oldest.
# Not a TTLCache: how long an entry may answer is the caller's policy, checked on every read.
_entries: LRUCache[str, tuple[float, WebSession]] = LRUCache(maxsize=MAX_ENTRIES)
_lock = threading.Lock()
_generation = 0  # bumped by every drop, local or notified
_needs_listener = False  # a PostgreSQL platform database: trust entries only while listening
_listening = False


def generation() -> int:
    """Take before reading a session from the database; hand to `keep`."""
    return _generation


def get(digest: str, max_age: float) -> WebSession | None:
    """The session stored under `digest`, if memory may answer for it: on PostgreSQL while the
    listener listens (until the session's sliding update), else if read within `max_age` s."""
    if max_age <= 0:
        return None  # the cache is switched off
    if _needs_listener:
        if not _listening:
            return None
        max_age = float("inf")
    with _lock:
        found = _entries.get(digest)
    if found is None or time.monotonic() - found[0] > max_age:
        return None
    return found[1]


def keep(digest: str, ws: WebSession, since: int | None = None) -> None:
    """Store a session read from the database; not if anything was dropped since `since`."""
    with _lock:
        if since is not None and since != _generation:
            return
        _entries[digest] = (time.monotonic(), ws)


def _forget(match: Any) -> None:
    global _generation
    with _lock:
        _generation += 1
        for digest in [d for d, (_, ws) in _entries.items() if match(d, ws)]:
            del _entries[digest]


def drop(digest: str, db: Session | None = None) -> None:
    """Forget a session here, and (with `db`) in every process when `db` commits."""
    _forget(lambda d, _ws: d == digest)
    _publish(db, f"s:{digest}")


def drop_user(user_id: int, db: Session | None = None) -> None:
    """Forget every session of a user (their role, region or password changed), everywhere."""
    _forget(lambda _d, ws: ws.user_id == user_id)
    _publish(db, f"u:{user_id}")


def clear() -> None:
    _forget(lambda _d, _ws: True)


def _publish(db: Session | None, payload: str) -> None:
    if db is None or db.get_bind().dialect.name != "postgresql":
        return
    from sqlalchemy import text

    db.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload})


def _apply(payload: str) -> None:
    kind, _, value = payload.partition(":")
    if kind == "s":
        _forget(lambda d, _ws: d == value)
    elif kind == "u" and value.isdigit():
        user_id = int(value)
        _forget(lambda _d, ws: ws.user_id == user_id)
    else:
        clear()


class Listener:
    """LISTENs on `jingxin_sessions` in a thread of its own (PostgreSQL platform database)."""

    def __init__(self, url: str, connect_timeout: int = 5) -> None:
        self.dsn = "postgresql://" + url.split("://", 1)[1]
        self.connect_timeout = connect_timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        global _needs_listener
        _needs_listener = True
        self._thread = threading.Thread(target=self._run, name="jingxin-session-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        global _needs_listener
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        _needs_listener = False
        clear()

    def _run(self) -> None:
        import psycopg

        global _listening
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=self.connect_timeout) as con:
                    con.execute(f"LISTEN {CHANNEL}")
                    clear()  # anything kept while not listening may be stale
                    _listening = True
                    while not self._stop.is_set():
                        for note in con.notifies(timeout=1.0):
                            _apply(note.payload)
            except Exception as exc:  # noqa: BLE001 - the database went away: retry
                if _listening:
                    log.warning("会话失效通知连接中断，会话缓存暂停使用：%s", exc)
            finally:
                _listening = False
                clear()
            self._stop.wait(1.0)
