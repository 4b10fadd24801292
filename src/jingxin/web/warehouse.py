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
  request (`jingxin.core.cache.data_version`; on DuckDB it needs no query at all).
- **Writes are serialised by a lock.** DuckDB's optimistic concurrency would abort one of two
  simultaneous ingestions that touch the batch registry, and ingestion assigns batch ids and
  supersedes earlier batches; `writer()` takes a process-wide lock around its connection, so
  two uploads run one after the other, each in its own transaction. Readers are not blocked:
  they see the state before or after a batch, never half of it.
- Spark (a published Parquet folder, read-only): one shared session behind a lock.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from urllib.parse import urlparse

import anyio.to_thread

from jingxin.core.warehouse import Warehouse, open_warehouse


class WarehouseAccess:
    """The server's handle on the warehouse at `url`, opened lazily."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.kind = urlparse(url).scheme.split("+")[0]
        self._root: Warehouse | None = None
        self._open_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._spark_lock = threading.Lock()
        self._idle: list[Warehouse] = []  # connections not lent to a request now
        self._lent: list[Warehouse] = []  # every connection made, to close them at shutdown

    def _root_warehouse(self) -> Warehouse:
        if self._root is None:
            with self._open_lock:
                if self._root is None:
                    self._root = open_warehouse(self.url, create=True)
        return self._root

    def _new_connection(self) -> Warehouse:
        root = self._root_warehouse()  # creates the file or schema once
        if self.kind == "duckdb":
            import ibis

            cursor = root.con.con.cursor()
            wh = Warehouse(self.url, "duckdb", ibis.duckdb.from_connection(cursor), store_key=root.store_key)
        else:
            wh = open_warehouse(self.url, create=False)
        wh.pin_version = True
        with self._open_lock:
            self._lent.append(wh)
        return wh

    def _idle_connection(self) -> Warehouse | None:
        with self._open_lock:
            return self._idle.pop() if self._idle else None

    def _give_back(self, wh: Warehouse) -> None:
        with self._open_lock:
            if not any(w is wh for w in self._lent):  # closed by a shutdown meanwhile
                return
            if wh.kind == "postgres" and (wh.con.con.closed or wh.con.con.broken):
                self._lent = [w for w in self._lent if w is not wh]  # the server went away
                return
            wh.pinned_version = None  # the next request reads the data version afresh
            self._idle.append(wh)

    @contextmanager
    def reader(self) -> Iterator[Warehouse]:
        """A warehouse for one job's reads (blocking while Spark serves another)."""
        if self.kind == "spark":
            with self._spark_lock:
                yield self._root_warehouse()
            return
        wh = self._idle_connection() or self._new_connection()
        try:
            yield wh
        finally:
            self._give_back(wh)

    @asynccontextmanager
    async def lend(self) -> AsyncIterator[Warehouse]:
        """A warehouse for one request, for use from the event loop: a pooled connection is
        lent at once; waiting for Spark, or connecting to PostgreSQL, happens on a thread."""
        if self.kind == "spark":
            await anyio.to_thread.run_sync(self._spark_lock.acquire)
            try:
                yield await anyio.to_thread.run_sync(self._root_warehouse)
            finally:
                self._spark_lock.release()
            return
        wh = self._idle_connection()
        if wh is None:
            wh = await anyio.to_thread.run_sync(self._new_connection)
        try:
            yield wh
        finally:
            self._give_back(wh)

    @contextmanager
    def writer(self) -> Iterator[Warehouse]:
        """A warehouse for one write job (an ingestion), one job at a time in this process."""
        with self._write_lock, self.reader() as wh:
            yield wh

    def close(self) -> None:
        """Release the warehouse file and connections (server shutdown)."""
        with self._open_lock:
            for wh in self._lent:
                wh.close()
            self._lent.clear()
            self._idle.clear()
            if self._root is not None:
                self._root.close()
                self._root = None
