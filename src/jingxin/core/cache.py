"""Read cache keyed by the warehouse's data version (查询结果缓存).

Dashboards and lists ask the same questions again and again between two loads of data. A
read-only service function decorated with `cached_read` answers a repeated question from
memory as long as the warehouse has not changed; any new batch, correction or evaluation run
changes the data version and so misses the cache. The version is one cheap SQL query, so a
cached answer is always as fresh as an uncached one.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import pyarrow as pa
from cachetools import LRUCache

from jingxin.core import metrics
from jingxin.core.warehouse import Warehouse, WarehouseError

F = TypeVar("F", bound=Callable[..., Any])
V = TypeVar("V")


class SizedLRU(Generic[V]):
    """A thread-safe least-recently-used map bounded by the total size of its values
    (`size_of`); a value larger than `max_item` is not kept at all.

    cachetools' `LRUCache` with `getsizeof` does the bookkeeping; this adds the lock (it is
    not thread-safe by itself) and the per-item bound (it would raise on an oversized value)."""

    def __init__(self, max_size: int, max_item: int, size_of: Callable[[V], int]) -> None:
        self.max_size = max_size
        self.max_item = max_item
        self._size_of = size_of
        self._entries: LRUCache[tuple, V] = LRUCache(maxsize=max_size, getsizeof=size_of)
        self._lock = threading.Lock()

    def get(self, key: tuple) -> V | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: tuple, value: V) -> None:
        if self._size_of(value) > self.max_item:
            return
        with self._lock:
            self._entries[key] = value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


MAX_ENTRIES = 2048
MAX_TABLE_BYTES = 512 * 1024 * 1024

_entries: LRUCache[tuple, Any] = LRUCache(maxsize=MAX_ENTRIES)
_tables: SizedLRU[pa.Table] = SizedLRU(MAX_TABLE_BYTES, MAX_TABLE_BYTES // 4, lambda t: t.nbytes)
_lock = threading.Lock()
_MISSING = object()

_VERSION_SQL = (  # also read by /metrics (jingxin.ops.metrics_view)
    "SELECT (SELECT coalesce(max(batch_id), 0) FROM batches), "
    "(SELECT count(*) FROM batches WHERE superseded_by IS NOT NULL), "
    "(SELECT count(*) FROM information_schema.tables "
    "WHERE table_name = 'eval_runs' AND table_schema = current_schema())"
)

_VERSION_WITH_RUNS_SQL = (
    "SELECT (SELECT coalesce(max(batch_id), 0) FROM batches), "
    "(SELECT count(*) FROM batches WHERE superseded_by IS NOT NULL), "
    "(SELECT count(*) FROM eval_runs)"
)
_has_runs: set[str] = set()  # warehouses (store keys) known to have the run table


def data_version(wh: Warehouse) -> tuple | None:
    """What changes whenever the facts or derived results change; None where it cannot be
    read cheaply (Spark), which disables caching.

    On DuckDB this process is the only writer while it has the file open, so its own count of
    writes is the version (`Warehouse.local_writes`). On PostgreSQL other processes write too,
    so the version is read from the batch registry and the run table.

    A warehouse with `pin_version` set (the web server's per-request reader) reads it once and
    keeps it until a write through the same object: one request sees one state of the data.
    """
    if wh.local_writes is not None:
        return ("local", wh.local_writes)
    if wh.pin_version and wh.pinned_version is not None:
        return wh.pinned_version
    version = _read_version(wh)
    if version is None:
        return None
    if wh.pin_version:
        wh.pinned_version = version
    return version


def _read_version(wh: Warehouse) -> tuple | None:
    if wh.store_key in _has_runs:  # one round trip once the run table exists
        try:
            return tuple(wh.sql(_VERSION_WITH_RUNS_SQL)[0])
        except Exception:  # noqa: BLE001 - the schema was reset meanwhile: ask the long way
            _has_runs.discard(wh.store_key)
    try:
        batches, superseded, has_runs = wh.sql(_VERSION_SQL)[0]
        runs = wh.sql("SELECT count(*) FROM eval_runs")[0][0] if has_runs else -1
    except WarehouseError:
        return None
    if has_runs:
        _has_runs.add(wh.store_key)
    return (batches, superseded, runs)


def _key(fn: Callable[..., Any], wh: Warehouse, args: tuple, kwargs: dict[str, Any]) -> tuple | None:
    """The cache key of a call, or None when it cannot be cached (no data version, or an
    unhashable argument)."""
    version = data_version(wh)
    if version is None:
        return None
    key = (fn.__module__, fn.__qualname__, wh.store_key, version, args, tuple(sorted(kwargs.items())))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def cached_read(fn: F) -> F:
    """Cache `fn(wh, *args, **kwargs)` by its arguments and the warehouse's data version.

    Arguments must be hashable (a `Scope` is); calls with unhashable ones are simply not
    cached. Answers are deep-copied both ways, so a caller may change what it gets.
    """

    @functools.wraps(fn)
    def wrapper(wh: Warehouse, *args: Any, **kwargs: Any) -> Any:
        key = _key(fn, wh, args, kwargs)
        if key is None:
            return fn(wh, *args, **kwargs)
        with _lock:
            found = _entries.get(key, _MISSING)  # a hit counts as the most recent use
        metrics.count_cache("read", found is not _MISSING)
        if found is not _MISSING:
            return copy.deepcopy(found)
        answer = fn(wh, *args, **kwargs)
        with _lock:
            _entries[key] = copy.deepcopy(answer)  # the least recently used entry goes
        return answer

    return wrapper  # type: ignore[return-value]


def cached_table(fn: F) -> F:
    """As `cached_read`, for functions that answer an Arrow table (a whole result set that
    pages are sliced from). Tables are immutable, so they are kept and handed out without
    copying; the store is bounded by their size (`MAX_TABLE_BYTES`), not their number."""

    @functools.wraps(fn)
    def wrapper(wh: Warehouse, *args: Any, **kwargs: Any) -> pa.Table:
        key = _key(fn, wh, args, kwargs)
        if key is None:
            return fn(wh, *args, **kwargs)
        table = _tables.get(key)
        metrics.count_cache("table", table is not None)
        if table is None:
            table = fn(wh, *args, **kwargs)
            _tables.put(key, table)
        return table

    return wrapper  # type: ignore[return-value]


def clear() -> None:
    with _lock:
        _entries.clear()
    _tables.clear()
