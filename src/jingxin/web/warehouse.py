"""How the web server shares the warehouse between requests (仓库访问).

Decision, and why:

- **The server owns the warehouse.** DuckDB lets one process open a file for writing, so the
  running server opens it once (at the first request that needs it) and keeps it; uploads go
  through the server. A CLI command that tries to write meanwhile gets `WarehouseBusyError`
  with a message saying so, at once (see `jingxin.core.warehouse`), never a wait or a corrupt
  file.
- **Each request has a connection to itself, lent from a pool.** A DuckDB connection is not
  thread-safe, and FastAPI runs sync routes on a thread pool. A request borrows a *cursor* of
  the one DuckDB connection (`duckdb_connection.cursor()`: a separate connection to the same
  database instance) wrapped in an Ibis backend, and gives it back when it ends. On
  PostgreSQL it borrows a connection of its own the same way. Connections are kept rather than
  made per request, because making one costs milliseconds (a network round trip and Ibis's
  set-up on PostgreSQL); they are not tied to threads, because FastAPI may open a dependency
  on one thread and run the route on another. Reads therefore run in parallel without sharing
  a connection object.
- **One request, one data version.** The read cache's data version is read at most once per
  request (`jingxin.core.cache.data_version`; on DuckDB it needs no query at all), and on
  PostgreSQL concurrent requests share their reads (`jingxin.web.data_version`).
- **Writes are serialised by a lock.** DuckDB's optimistic concurrency would abort one of two
  simultaneous ingestions that touch the batch registry, and ingestion assigns batch ids and
  supersedes earlier batches; `writer()` takes a process-wide lock around its connection, so
  two uploads run one after the other, each in its own transaction. Readers are not blocked:
  they see the state before or after a batch, never half of it.
- **On PostgreSQL the pool is bounded and checked** (see docs/deployment.md, "Connections and
  pools"): at most `warehouse_pool_size` connections per process; a request beyond that waits
  up to `pool_timeout` for one to come back, then gets `StoreBusy` (503, 繁忙), never a new
  connection past PostgreSQL's `max_connections`. An idle connection is checked with
  `SELECT 1` before it is lent unless it was in use less than a second ago (a database
  restart cuts every connection; the cut ones are dropped here instead of failing one request
  each), and connections unused for `pool_idle`
  seconds are closed. The first connection of the process creates or checks the schema,
  under an advisory lock (`jingxin.core.warehouse._open_postgres`).
- Spark (a published Parquet folder, read-only): one shared session behind a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from urllib.parse import urlparse

import anyio
import anyio.to_thread

from jingxin.core.outage import StoreBusy
from jingxin.core.warehouse import Warehouse, open_warehouse

# A pooled connection given back within this many seconds is lent without the pre-ping: it
# answered a moment ago, and under load the ping would be a round trip and a thread hand-over
# per request. (HikariCP skips its check in the same way, for 0.5 s.) A restart in that window
# fails at most the requests already holding such a connection, with 503 (`StoreOutage`).
PING_AFTER = 1.0


class WarehouseAccess:
    """The server's handle on the warehouse at `url`, opened lazily."""

    def __init__(
        self, url: str, pool_size: int | None = None, timeout: float | None = None, idle: float | None = None
    ) -> None:
        from jingxin.core.settings import get_settings

        settings = get_settings()
        self.url = url
        self.kind = urlparse(url).scheme.split("+")[0]
        self.pool_size = pool_size or settings.warehouse_pool_size
        self.timeout = timeout if timeout is not None else settings.pool_timeout
        self.idle_for = idle if idle is not None else settings.pool_idle
        self._root: Warehouse | None = None
        self._open_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._spark_lock = threading.Lock()
        # PostgreSQL: one slot per connection lent; DuckDB cursors are in-process and unbounded.
        self._pooled = self.kind in ("postgresql", "postgres")
        self._slots = threading.BoundedSemaphore(self.pool_size) if self._pooled else None
        self._gates: dict[int, anyio.Semaphore] = {}  # per event loop: requests in arrival order
        self._schema_done = False
        self._idle: list[tuple[float, Warehouse]] = []  # (returned at, connection) not lent now
        self._lent: list[Warehouse] = []  # every connection made, to close them at shutdown

    def connection_count(self) -> int:
        """Connections this process holds open (lent and idle)."""
        with self._open_lock:
            return len(self._lent)

    def _root_warehouse(self) -> Warehouse:
        if self._root is None:
            with self._open_lock:
                if self._root is None:
                    self._root = open_warehouse(self.url, create=True)
        return self._root

    def _new_connection(self) -> Warehouse:
        if self._pooled:
            # The first connection creates or checks the schema (under the advisory lock).
            wh = open_warehouse(self.url, create=not self._schema_done)
            self._schema_done = True
        else:
            import ibis

            root = self._root_warehouse()  # creates the file once
            cursor = root.con.con.cursor()
            wh = Warehouse(self.url, "duckdb", ibis.duckdb.from_connection(cursor), store_key=root.store_key)
        wh.pin_version = True
        with self._open_lock:
            self._lent.append(wh)
        return wh

    def _forget(self, wh: Warehouse) -> None:
        with self._open_lock:
            self._lent = [w for w in self._lent if w is not wh]
        with contextlib.suppress(Exception):  # a connection cut by the server may fail to close
            wh.close()

    def _idle_connection(self) -> Warehouse | None:
        """An idle connection, checked before use on PostgreSQL (pre-ping); None if none is
        left. Connections idle longer than `idle_for` are closed on the way."""
        now = time.monotonic()
        with self._open_lock:
            stale = [wh for at, wh in self._idle if now - at > self.idle_for]
            self._idle = [(at, wh) for at, wh in self._idle if now - at <= self.idle_for]
        for wh in stale:
            self._forget(wh)
        while True:
            with self._open_lock:
                if not self._idle:
                    return None
                _, wh = self._idle.pop()  # the most recently used: the oldest age out
            if not self._pooled or _alive(wh):
                return wh
            self._forget(wh)  # cut by a restart or a network failure: not lent again

    def _fresh_connection(self) -> Warehouse | None:
        """An idle PostgreSQL connection given back less than `PING_AFTER` seconds ago, lent
        without the pre-ping (and so without a worker thread); None if there is none."""
        now = time.monotonic()
        with self._open_lock:
            if not self._idle or now - self._idle[-1][0] > PING_AFTER:
                return None
            _, wh = self._idle.pop()
        raw = wh.con.con
        if raw.closed or raw.broken:
            self._forget(wh)
            return None
        return wh

    def _checkout(self) -> Warehouse:
        return self._idle_connection() or self._new_connection()

    def _give_back(self, wh: Warehouse) -> None:
        with self._open_lock:
            if not any(w is wh for w in self._lent):  # closed by a shutdown meanwhile
                return
        if self._pooled and (wh.con.con.closed or wh.con.con.broken):
            self._forget(wh)  # the server went away
            return
        wh.pinned_version = None  # the next request reads the data version afresh
        with self._open_lock:
            self._idle.append((time.monotonic(), wh))

    def _take_slot(self) -> None:
        if self._slots is not None and not self._slots.acquire(timeout=self.timeout):
            raise StoreBusy(f"仓库连接池已满（{self.pool_size} 个连接），{self.timeout:g} 秒内无空闲连接")

    def _free_slot(self) -> None:
        if self._slots is not None:
            self._slots.release()

    @contextmanager
    def reader(self) -> Iterator[Warehouse]:
        """A warehouse for one job's reads (blocking while Spark serves another)."""
        if self.kind == "spark":
            with self._spark_lock:
                yield self._root_warehouse()
            return
        self._take_slot()
        try:
            wh = self._checkout()
            try:
                yield wh
            finally:
                self._give_back(wh)
        finally:
            self._free_slot()

    @asynccontextmanager
    async def lend(self) -> AsyncIterator[Warehouse]:
        """A warehouse for one request, for use from the event loop: a pooled DuckDB cursor is
        lent at once; waiting for Spark or for a free PostgreSQL slot, checking a PostgreSQL
        connection and connecting happen on a thread."""
        if self.kind == "spark":
            await anyio.to_thread.run_sync(self._spark_lock.acquire)
            try:
                yield await anyio.to_thread.run_sync(self._root_warehouse)
            finally:
                self._spark_lock.release()
            return
        gate = self._gate()
        if gate is not None:
            # requests queue here in arrival order (anyio's semaphore is fair), so that none
            # waits much longer than the others under load
            with anyio.move_on_after(self.timeout) as waited:
                await gate.acquire()
            if waited.cancelled_caught:
                raise StoreBusy(f"仓库连接池已满（{self.pool_size} 个连接），{self.timeout:g} 秒内无空闲连接")
        try:
            if self._slots is not None and not self._slots.acquire(blocking=False):
                await self._wait_for_slot()  # a job or a download holds one: rare, short
        except BaseException:
            if gate is not None:
                gate.release()
            raise
        try:
            # DuckDB needs no check; a PostgreSQL connection used a moment ago needs no ping
            found = self._fresh_connection() if self._pooled else self._idle_connection()
            wh: Warehouse = found if found is not None else await anyio.to_thread.run_sync(self._checkout)
            try:
                yield wh
            finally:
                self._give_back(wh)
        finally:
            self._free_slot()
            if gate is not None:
                gate.release()

    def _gate(self) -> anyio.Semaphore | None:
        """The fair queue of this event loop's requests for a connection (PostgreSQL)."""
        if self._slots is None:
            return None
        loop = id(asyncio.get_running_loop())
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates.setdefault(loop, anyio.Semaphore(self.pool_size))
        return gate

    async def _wait_for_slot(self) -> None:
        """Wait on the event loop, not on a worker thread, for a slot taken by a job or a
        download: a thread blocked here would be one fewer for the requests that hold the
        slots and need a thread to finish (with every thread waiting, nothing would ever be
        given back). Slots are given back from threads, so this looks again in short, growing
        steps (2 to 20 ms)."""
        assert self._slots is not None
        deadline = time.monotonic() + self.timeout
        step = 0.002
        while not self._slots.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise StoreBusy(f"仓库连接池已满（{self.pool_size} 个连接），{self.timeout:g} 秒内无空闲连接")
            await anyio.sleep(step)
            step = min(step * 1.5, 0.02)

    @contextmanager
    def writer(self) -> Iterator[Warehouse]:
        """A warehouse for one write job (an ingestion), one job at a time in this process."""
        with self._write_lock, self.reader() as wh:
            yield wh

    def close(self) -> None:
        """Release the warehouse file and connections (server shutdown)."""
        with self._open_lock:
            lent, self._lent, self._idle = self._lent, [], []
        for wh in lent:
            with contextlib.suppress(Exception):  # already cut by the server
                wh.close()
        if self._root is not None:
            self._root.close()
            self._root = None


def _alive(wh: Warehouse) -> bool:
    """Pre-ping: whether a pooled PostgreSQL connection still answers."""
    raw = wh.con.con
    if raw.closed or raw.broken:
        return False
    try:
        raw.execute("SELECT 1").fetchall()
    except Exception:  # noqa: BLE001 - any failure means: do not lend this connection
        return False
    return True
