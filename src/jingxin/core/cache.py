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
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from jingxin.core.warehouse import Warehouse, WarehouseError

F = TypeVar("F", bound=Callable[..., Any])

MAX_ENTRIES = 2048

_entries: OrderedDict[tuple, Any] = OrderedDict()
_lock = threading.Lock()

_VERSION_SQL = (
    "SELECT (SELECT coalesce(max(batch_id), 0) FROM batches), "
    "(SELECT count(*) FROM batches WHERE superseded_by IS NOT NULL)"
)


def data_version(wh: Warehouse) -> tuple | None:
    """What changes whenever the facts or derived results change; None where it cannot be
    read cheaply (Spark), which disables caching."""
    try:
        facts = tuple(wh.sql(_VERSION_SQL)[0])
        runs = tuple(wh.sql("SELECT count(*) FROM eval_runs")[0]) if wh.has_table("eval_runs") else ()
    except WarehouseError:
        return None
    return facts + runs


def _names_a_store(url: str) -> bool:
    return ":memory:" not in url and url.rstrip("/") not in ("duckdb:", "duckdb:/", "duckdb:")


def cached_read(fn: F) -> F:
    """Cache `fn(wh, *args, **kwargs)` by its arguments and the warehouse's data version.

    Arguments must be hashable (a `Scope` is); calls with unhashable ones are simply not
    cached. Answers are deep-copied both ways, so a caller may change what it gets.
    """

    @functools.wraps(fn)
    def wrapper(wh: Warehouse, *args: Any, **kwargs: Any) -> Any:
        version = data_version(wh)
        # An in-memory warehouse has no name of its own: key it by its connection instead.
        store = wh.url if _names_a_store(wh.url) else id(wh.con)
        key = (fn.__module__, fn.__qualname__, store, version, args, tuple(sorted(kwargs.items())))
        try:
            hash(key)
        except TypeError:
            version = None
        if version is None:
            return fn(wh, *args, **kwargs)
        with _lock:
            if key in _entries:
                _entries.move_to_end(key)
                return copy.deepcopy(_entries[key])
        answer = fn(wh, *args, **kwargs)
        with _lock:
            _entries[key] = copy.deepcopy(answer)
            while len(_entries) > MAX_ENTRIES:
                _entries.popitem(last=False)
        return answer

    return wrapper  # type: ignore[return-value]


def clear() -> None:
    with _lock:
        _entries.clear()
