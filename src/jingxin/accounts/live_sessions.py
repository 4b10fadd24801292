"""Live sessions kept in memory for a few seconds (会话缓存).

Every request names its session by cookie, and reading the session and its user from the
platform database costs more than answering a cached page. `load_session` therefore keeps each
session it read here for `SessionPolicy.cache_for` (default 5 s) and answers repeats from
memory, without a database round trip and without a worker thread.

What keeps this safe:

- Everything in this process that ends or changes a session or its user drops the entry at
  once: logout, login (the replaced session), disabling a user, a password change or reset,
  any change of a user's role, region or binding, a new flash message. Time-based expiry is
  checked on every hit against the session's own end.
- A change made by another process (a second server worker, a CLI command) is seen at most
  `cache_for` after it: that is the whole cost, and `cache_for=0` switches the cache off.
- Only sessions without pending flash messages are kept, so a message is never lost or
  shown twice; a session due for its sliding-expiry update is read again.
- Entries are detached ORM objects, read but never changed by requests.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from cachetools import LRUCache

if TYPE_CHECKING:
    from jingxin.accounts.models import WebSession

MAX_ENTRIES = 10_000

# Bounded least-recently-used (cachetools): many short-lived sessions push out the oldest.
# Not a TTLCache: how long an entry may answer is the caller's policy, checked on every read.
_entries: LRUCache[str, tuple[float, WebSession]] = LRUCache(maxsize=MAX_ENTRIES)
_lock = threading.Lock()


def get(digest: str, max_age: float) -> WebSession | None:
    """The session stored under `digest` if it was read from the database within `max_age`
    seconds."""
    if max_age <= 0:
        return None
    with _lock:
        found = _entries.get(digest)
    if found is None or time.monotonic() - found[0] > max_age:
        return None
    return found[1]


def keep(digest: str, ws: WebSession) -> None:
    with _lock:
        _entries[digest] = (time.monotonic(), ws)


def drop(digest: str) -> None:
    with _lock:
        _entries.pop(digest, None)


def drop_user(user_id: int) -> None:
    """Forget every session of a user (their role, region or password changed)."""
    with _lock:
        for digest in [d for d, (_, ws) in _entries.items() if ws.user_id == user_id]:
            del _entries[digest]
