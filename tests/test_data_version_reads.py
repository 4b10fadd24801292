"""Concurrent requests on PostgreSQL share their data-version reads, and none gets a version
read before it arrived (`jingxin.web.data_version`)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import pytest

from jingxin.web import data_version as module
from jingxin.web.data_version import VersionReads


@dataclass
class FakeWarehouse:
    """What `VersionReads` looks at: a PostgreSQL-like warehouse (no local write count)."""

    local_writes: int | None = None
    pinned_version: tuple | None = None


class Store:
    """A store whose version read blocks until released, counting the reads sent."""

    def __init__(self) -> None:
        self.version = 1
        self.reads = 0
        self.release = threading.Event()
        self.fail: Exception | None = None

    def read(self, wh: FakeWarehouse) -> tuple:
        self.reads += 1
        seen = self.version  # what the store holds when the read is sent
        assert self.release.wait(5)
        if self.fail is not None:
            raise self.fail
        wh.pinned_version = (seen,)
        return (seen,)


@pytest.fixture()
def store(monkeypatch) -> Store:
    s = Store()
    monkeypatch.setattr(module, "data_version", s.read)
    return s


async def _until(condition) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


def test_fifty_requests_send_two_reads_and_none_is_older_than_its_arrival(store: Store) -> None:
    async def scenario() -> list[tuple | None]:
        reads = VersionReads()
        first = asyncio.create_task(reads.read(FakeWarehouse()))
        await _until(lambda: store.reads == 1)
        store.version = 2  # a commit lands while the first read is under way
        later = [asyncio.create_task(reads.read(FakeWarehouse())) for _ in range(49)]
        await asyncio.sleep(0.02)
        store.release.set()
        return [await first] + [await t for t in later]

    versions = asyncio.run(scenario())
    assert store.reads == 2
    assert versions[0] == (1,)
    assert set(versions[1:]) == {(2,)}  # those who came after the commit see it


def test_a_read_version_is_pinned_for_the_rest_of_the_request(store: Store) -> None:
    store.release.set()

    async def scenario() -> tuple[tuple | None, tuple | None]:
        reads, wh = VersionReads(), FakeWarehouse()
        return await reads.read(wh), await reads.read(wh)

    assert asyncio.run(scenario()) == ((1,), (1,))
    assert store.reads == 1


def test_a_failed_read_fails_its_riders_and_the_next_read_goes_ahead(store: Store) -> None:
    async def scenario() -> tuple[list, tuple | None]:
        reads = VersionReads()
        first = asyncio.create_task(reads.read(FakeWarehouse()))
        await _until(lambda: store.reads == 1)
        riders = [asyncio.create_task(reads.read(FakeWarehouse())) for _ in range(3)]
        await asyncio.sleep(0.02)
        store.fail = ConnectionError("server closed the connection")
        store.release.set()
        outcomes = await asyncio.gather(first, *riders, return_exceptions=True)
        store.fail = None
        return outcomes, await reads.read(FakeWarehouse())

    outcomes, after = asyncio.run(scenario())
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    assert after == (1,)


def test_a_request_cancelled_while_waiting_does_not_stall_the_others(store: Store) -> None:
    async def scenario() -> list[tuple | None]:
        reads = VersionReads()
        first = asyncio.create_task(reads.read(FakeWarehouse()))
        await _until(lambda: store.reads == 1)
        gone = asyncio.create_task(reads.read(FakeWarehouse()))  # would lead the next read
        others = [asyncio.create_task(reads.read(FakeWarehouse())) for _ in range(3)]
        await asyncio.sleep(0.02)
        gone.cancel()
        store.release.set()
        return [await first] + list(await asyncio.wait_for(asyncio.gather(*others), 5))

    versions = asyncio.run(scenario())
    assert len(versions) == 4
    assert store.reads == 2


def test_a_reading_request_cancelled_hands_the_read_to_the_next(store: Store) -> None:
    async def scenario() -> list[tuple | None]:
        reads = VersionReads()
        store.release.set()
        await reads.read(FakeWarehouse())
        store.release.clear()
        leader = asyncio.create_task(reads.read(FakeWarehouse()))
        await _until(lambda: store.reads == 2)
        waiting = [asyncio.create_task(reads.read(FakeWarehouse())) for _ in range(2)]
        await asyncio.sleep(0.01)
        leader.cancel()  # its read is under way: those waiting must not be left behind
        store.release.set()
        return list(await asyncio.wait_for(asyncio.gather(*waiting), 5))

    assert asyncio.run(scenario()) == [(1,), (1,)]
    assert store.reads == 3  # the cancelled request's read, then one for both others
