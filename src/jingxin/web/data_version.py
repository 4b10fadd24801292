"""The warehouse's data version for many concurrent requests at once (数据版本的合并读取).

Every cached answer is keyed by the data version (`jingxin.core.cache.data_version`). On
DuckDB the version costs nothing; on PostgreSQL it is a query, because other processes write
too. Under load, fifty requests arriving together would each send that query on a connection
of the pool and a worker thread: most of a cached answer's cost, and a queue for connections.

So requests share their reads, the way the audit log shares commits (`GroupWriter`): while
one read is under way, the requests arriving meanwhile board the next one, which starts when
the current read ends and is sent by the first of them on its own connection. Each request
gets a version read *after* it arrived, so an answer is never older than the data a user
saw committed before asking (no stale read), yet only one version query is in flight per
process at any time, whatever the load.
"""

from __future__ import annotations

import asyncio

import anyio.to_thread

from jingxin.core.cache import data_version
from jingxin.core.warehouse import Warehouse

Waiting = tuple[Warehouse, "asyncio.Future[tuple | None]"]


class VersionReads:
    """Coalesces the data-version reads of one event loop's requests (one per server process)."""

    def __init__(self) -> None:
        self._reading = False
        self._riders: list[Waiting] = []  # served by the read under way
        self._boarding: list[Waiting] = []  # arrived during it: served by the next read

    async def read(self, wh: Warehouse) -> tuple | None:
        """The data version for this request, read after it arrived, pinned on `wh` for the
        rest of the request."""
        if wh.pinned_version is not None:
            return wh.pinned_version  # already read in this request
        if wh.local_writes is not None:
            return data_version(wh)  # DuckDB: no query
        if self._reading:
            future: asyncio.Future[tuple | None] = asyncio.get_running_loop().create_future()
            self._boarding.append((wh, future))
            try:
                answer = await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled() and future.result() is _LEAD:
                    self._boarding[:0] = self._riders  # cancelled when called to lead: pass it on
                    self._riders = []
                    self._start_next()
                raise
            if answer is not _LEAD:
                return answer
        self._reading = True
        try:
            # Runs on this request's own connection; a cancelled request waits for the thread
            # to finish (anyio), so the connection is never given back while in use.
            version = await anyio.to_thread.run_sync(data_version, wh)
        except asyncio.CancelledError:  # this request went away: the next in line reads instead
            self._boarding[:0] = self._riders
            self._riders = []
            self._start_next()
            raise
        except Exception as exc:
            self._land(exc)
            raise
        self._land(version)
        return version

    def _land(self, outcome: tuple | None | Exception) -> None:
        """Serve the riders of the read that ended (its failure fails them too: the store is
        out for them as well), then start the next read with the first request still waiting
        for one, the others riding with it."""
        riders, self._riders = self._riders, []
        for wh, future in riders:
            if future.done():  # the request was cancelled meanwhile
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                wh.pinned_version = outcome
                future.set_result(outcome)
        self._start_next()

    def _start_next(self) -> None:
        waiting = [(w, f) for w, f in self._boarding if not f.done()]
        self._boarding = []
        if not waiting:
            self._reading = False
            return
        (_, leader), self._riders = waiting[0], waiting[1:]
        leader.set_result(_LEAD)


# The answer that tells a waiting request to send the read itself.
_LEAD: tuple = ("lead",)


_per_loop: dict[int, VersionReads] = {}


async def read_version(wh: Warehouse) -> tuple | None:
    """`VersionReads.read` for the running event loop's requests."""
    loop = id(asyncio.get_running_loop())
    reads = _per_loop.get(loop)
    if reads is None:
        reads = _per_loop.setdefault(loop, VersionReads())
    return await reads.read(wh)
