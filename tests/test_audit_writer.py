"""The audit log's group writer: entries of many concurrent requests saved together, each
request answered only once its entry is saved (SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from jingxin.core import audit
from jingxin.core.audit import Action, Actor, GroupWriter

pytest_plugins = ["jingxin.web.pytest_fixtures"]


def test_entries_from_many_threads_are_all_saved(platform_db) -> None:
    writer = GroupWriter(platform_db.session)

    def view(i: int) -> None:
        done = writer.submit_sensitive_view(
            Actor(i, f"user{i % 7}", "10.0.0.1"), "enterprise", f"E{i}", ["tax_paid"]
        )
        assert done is not None
        done.result(timeout=30)  # saved before the request would be answered

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(view, range(300)))
    writer.close()
    with platform_db.session() as db:
        entries, total = audit.search(db, action=Action.VIEW_SENSITIVE, limit=1000)
    assert total == 300
    assert {e.object_id for e in entries} == {f"E{i}" for i in range(300)}
    assert all(e.detail == {"fields": ["tax_paid"]} for e in entries)


def test_nothing_is_queued_for_fields_that_are_not_sensitive(platform_db) -> None:
    writer = GroupWriter(platform_db.session)
    assert writer.submit_sensitive_view(Actor(1, "a"), "enterprise", "E1", ["name"]) is None
    writer.close()


def test_a_failed_save_fails_every_waiting_request(platform_db) -> None:
    def broken_session():
        raise RuntimeError("数据库不可用")

    writer = GroupWriter(broken_session)
    waiting = [writer.submit(Actor(1, "a"), Action.EXPORT, "eval_results", str(i)) for i in range(5)]
    for done in waiting:
        with pytest.raises(RuntimeError, match="数据库不可用"):
            done.result(timeout=30)
    writer.close()
