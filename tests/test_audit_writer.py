"""The audit log's group writer: entries of many concurrent requests saved together, each
request answered only once its entry is saved (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

from jingxin.core import audit
from jingxin.core.audit import Action, Actor, GroupWriter

pytest_plugins = ["jingxin.web.pytest_fixtures"]


@pytest.mark.parametrize("on_loop", [False, True])
def test_entries_of_many_concurrent_requests_are_all_saved(platform_db, on_loop: bool) -> None:
    writer = GroupWriter(platform_db.session, on_loop=on_loop)

    async def request(i: int) -> None:
        actor = Actor(i, f"user{i % 7}", "10.0.0.1")
        await writer.save_sensitive_views(actor, [("enterprise", f"E{i}", ["tax_paid", "name"])])
        with platform_db.session() as db:  # saved before the request would be answered
            assert audit.search(db, action=Action.VIEW_SENSITIVE, object_id=f"E{i}")[1] == 1

    async def burst() -> None:
        await asyncio.gather(*(request(i) for i in range(300)))

    asyncio.run(burst())
    with platform_db.session() as db:
        entries, total = audit.search(db, action=Action.VIEW_SENSITIVE, limit=1000)
    assert total == 300
    assert {e.object_id for e in entries} == {f"E{i}" for i in range(300)}
    assert all(e.detail == {"fields": ["tax_paid"]} for e in entries)


def test_nothing_is_written_for_fields_that_are_not_sensitive(platform_db) -> None:
    writer = GroupWriter(platform_db.session)
    asyncio.run(writer.save_sensitive_views(Actor(1, "a"), [("enterprise", "E1", ["name"])]))
    with platform_db.session() as db:
        assert audit.search(db, action=Action.VIEW_SENSITIVE)[1] == 0


def test_a_failed_save_fails_every_waiting_request(platform_db) -> None:
    def broken_session():
        raise RuntimeError("数据库不可用")

    writer = GroupWriter(broken_session)

    async def burst() -> list[BaseException | None]:
        views = [("enterprise", "E1", ["tax_paid"])]
        return await asyncio.gather(
            *(writer.save_sensitive_views(Actor(i, "a"), views) for i in range(5)), return_exceptions=True
        )

    outcomes = asyncio.run(burst())
    assert all(isinstance(o, RuntimeError) and "数据库不可用" in str(o) for o in outcomes)


def test_the_writer_follows_a_new_event_loop(platform_db) -> None:
    """A test client runs each request in a loop of its own: the writer must not wait on a
    flusher of a loop that is gone."""
    writer = GroupWriter(platform_db.session)
    for i in range(3):
        asyncio.run(writer.save_sensitive_views(Actor(i, "a"), [("enterprise", f"E{i}", ["tax_paid"])]))
    with platform_db.session() as db:
        assert audit.search(db, action=Action.VIEW_SENSITIVE)[1] == 3


@pytest.mark.parametrize("platform_url", ["sqlite"], indirect=True)
def test_rows_are_written_in_batches(platform_db, monkeypatch) -> None:
    writer = GroupWriter(platform_db.session)
    batches: list[int] = []
    write = writer._write
    monkeypatch.setattr(writer, "_write", lambda rows: (batches.append(len(rows)), write(rows))[1])

    async def burst() -> None:
        views = [("enterprise", "E", ["tax_paid"])]
        await asyncio.gather(*(writer.save_sensitive_views(Actor(i, "a"), views) for i in range(200)))

    asyncio.run(burst())
    assert sum(batches) == 200 and len(batches) < 200
