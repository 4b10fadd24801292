"""How the web server shares the warehouse between requests (仓库访问).

Decision, and why:

- **The server owns the warehouse.** DuckDB lets one process open a file for writing, so the
  running server opens it once (at the first request that needs it) and keeps it; uploads go
  through the server. A CLI command that tries to write meanwhile gets `WarehouseBusyError`
  with a message saying so, at once (see `jingxin.core.warehouse`), never a wait or a corrupt
  file.
- **Each request gets its own cursor.** A DuckDB connection is not thread-safe, and FastAPI
  runs sync routes on a thread pool. `reader()` hands a request a *cursor* of the one
  connection (`duckdb_connection.cursor()`: a separate connection to the same database
  instance) wrapped in its own Ibis backend, closed when the request ends. Reads therefore run
  in parallel without sharing a connection object.
- **Writes are serialised by a lock.** DuckDB's optimistic concurrency would abort one of two
  simultaneous ingestions that touch the batch registry, and ingestion assigns batch ids and
  supersedes earlier batches; `writer()` takes a process-wide lock around its cursor, so two
  uploads run one after the other, each in its own transaction. Readers are not blocked: they
  see the state before or after a batch, never half of it.
- PostgreSQL: each request opens its own connection (the server may run several workers).
- Spark (a published Parquet folder, read-only): one shared session behind the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

from jingxin.core.warehouse import Warehouse, open_warehouse


class WarehouseAccess:
    """The server's handle on the warehouse at `url`, opened lazily."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.kind = urlparse(url).scheme.split("+")[0]
        self._root: Warehouse | None = None
        self._open_lock = threading.Lock()
        self._write_lock = threading.RLock()

    def _root_warehouse(self) -> Warehouse:
        if self._root is None:
            with self._open_lock:
                if self._root is None:
                    self._root = open_warehouse(self.url, create=True)
        return self._root

    def _cursor_warehouse(self) -> Warehouse:
        import ibis

        root = self._root_warehouse()
        cursor = root.con.con.cursor()
        return Warehouse(self.url, "duckdb", ibis.duckdb.from_connection(cursor))

    @contextmanager
    def reader(self) -> Iterator[Warehouse]:
        """A warehouse for one request's reads."""
        if self.kind == "duckdb":
            wh = self._cursor_warehouse()
            try:
                yield wh
            finally:
                wh.close()
        elif self.kind in ("postgresql", "postgres"):
            self._root_warehouse()  # creates the schema once
            wh = open_warehouse(self.url, create=False)
            try:
                yield wh
            finally:
                wh.close()
        else:
            with self._write_lock:
                yield self._root_warehouse()

    @contextmanager
    def writer(self) -> Iterator[Warehouse]:
        """A warehouse for one write job (an ingestion), one job at a time in this process."""
        with self._write_lock, self.reader() as wh:
            yield wh

    def close(self) -> None:
        """Release the warehouse file (server shutdown)."""
        with self._open_lock:
            if self._root is not None:
                self._root.close()
                self._root = None
