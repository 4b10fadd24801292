"""Work items and notifications over HTTP: the JSON API and the pages, with scope, CSRF and
the header's unread count; and the models agree with migration 0003."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient

from jingxin.core import db as coredb
from jingxin.core.workflow.testing import make_people
from jingxin.web.testing import login

pytest_plugins = ["jingxin.web.pytest_fixtures"]

OWN_TABLES = {
    "workflow_items",
    "workflow_steps",
    "workflow_clocks",
    "notifications",
    "notification_preferences",
}


@pytest.fixture
def people(web_app: Any) -> dict[str, Any]:
    with web_app.state.db.session() as db:
        return make_people(db)


@pytest.fixture
def as_user(web_app: Any, people: dict[str, Any]) -> Iterator[Any]:
    clients: list[TestClient] = []

    def make(username: str) -> tuple[TestClient, str]:
        client = TestClient(web_app, base_url="http://testserver")
        client.__enter__()
        clients.append(client)
        return client, login(client, username)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


APPEAL = {"fields": {"title": "用电增容咨询", "content": "新产线需要增容，如何办理？"}, "key": "web-001"}


def test_work_items_api_and_pages(as_user: Any) -> None:
    qiye, qiye_csrf = as_user("qiye")
    created = qiye.post("/api/v1/workflows/appeal/items", json=APPEAL, headers={"X-CSRF-Token": qiye_csrf})
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["state"] == "submitted" and item["level"] == "county" and item["title"] == "用电增容咨询"
    retried = qiye.post("/api/v1/workflows/appeal/items", json=APPEAL, headers={"X-CSRF-Token": qiye_csrf})
    assert retried.json()["id"] == item["id"]
    assert qiye.post("/api/v1/workflows/appeal/items", json=APPEAL).status_code == 403  # no CSRF token
    # The department an appeal goes to is routed, never chosen by the filer.
    forged = {"fields": {**APPEAL["fields"], "department": "税务"}, "key": "web-forged"}
    chose = qiye.post("/api/v1/workflows/appeal/items", json=forged, headers={"X-CSRF-Token": qiye_csrf})
    assert chose.status_code == 422 and set(chose.json()["fields"]) == {"department"}

    xihu, csrf = as_user("xihu")
    todo = xihu.get("/api/v1/work-items").json()
    assert [i["id"] for i in todo] == [item["id"]]
    assert [a["name"] for a in todo[0]["actions"]] == ["accept"]
    url = f"/api/v1/work-items/{item['id']}/actions/accept"
    refused = xihu.post(url, json={"fields": {"department": "区经信局"}}, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 422 and set(refused.json()["fields"]) == {"complexity"}
    done = xihu.post(
        url,
        json={"fields": {"complexity": "simple", "department": "区经信局"}, "version": item["version"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert done.status_code == 200 and done.json()["state"] == "accepted"
    stale = xihu.post(
        f"/api/v1/work-items/{item['id']}/actions/request_info",
        json={"comment": "x", "version": item["version"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert stale.status_code == 409
    history = xihu.get(f"/api/v1/work-items/{item['id']}/history").json()
    assert [(s["action"], s["actor_name"]) for s in history] == [("start", "qiye"), ("accept", "xihu")]

    page = xihu.get(f"/work/{item['id']}")
    assert page.status_code == 200 and "用电增容咨询" in page.text and "办理记录" in page.text
    assert f'action="/work/{item["id"]}/act/answer"' in page.text
    assert "用电增容咨询" in xihu.get("/work").text  # still to be answered
    form = xihu.post(
        f"/work/{item['id']}/act/answer",
        data={"csrf_token": csrf, "f.answer": "请向供电公司提交增容申请。", "comment": ""},
        follow_redirects=False,
    )
    assert form.status_code == 303
    assert qiye.get(f"/api/v1/work-items/{item['id']}").json()["state"] == "answered"

    for outsider in ("shangcheng", "wenzhou", "qiye2"):
        other, other_csrf = as_user(outsider)
        assert other.get(f"/api/v1/work-items/{item['id']}").status_code == 404
        assert other.get(f"/api/v1/work-items/{item['id']}/history").status_code == 404
        assert other.get(f"/work/{item['id']}").status_code == 404
        hit = other.post(
            f"/api/v1/work-items/{item['id']}/actions/close",
            json={"fields": {"rating": "satisfied"}},
            headers={"X-CSRF-Token": other_csrf},
        )
        assert hit.status_code == 404
        assert other.get("/api/v1/work-items").json() == []


def test_inbox_api_badge_and_preferences(as_user: Any) -> None:
    qiye, qiye_csrf = as_user("qiye")
    qiye.post("/api/v1/workflows/appeal/items", json=APPEAL, headers={"X-CSRF-Token": qiye_csrf})
    fuwu, _ = as_user("fuwu")
    fuwu_note = fuwu.get("/api/v1/notifications").json()["items"][0]

    xihu, csrf = as_user("xihu")
    home = xihu.get("/")
    assert 'hx-get="/notifications/badge"' in home.text
    assert re.search(r'id="unread-count"[^>]*>1<', xihu.get("/notifications/badge").text)
    listed = xihu.get("/api/v1/notifications").json()
    assert listed["total"] == 1 and listed["items"][0]["event"] == "assigned"
    assert listed["items"][0]["title"] == "新诉求待受理：用电增容咨询"
    own = listed["items"][0]["id"]
    assert (
        xihu.post(f"/api/v1/notifications/{fuwu_note['id']}/read", headers={"X-CSRF-Token": csrf}).status_code
        == 404
    )
    assert fuwu.get("/api/v1/notifications/unread-count").json() == {"unread": 1}
    page = xihu.get("/notifications")
    assert "新诉求待受理：用电增容咨询" in page.text and "标为已读" in page.text
    marked = xihu.post(
        f"/notifications/{own}/read", data={"csrf_token": csrf}, headers={"HX-Request": "true"}
    )
    assert marked.status_code == 200 and marked.headers["HX-Trigger"] == "notifications-changed"
    assert "已读" in marked.text
    assert xihu.get("/api/v1/notifications/unread-count").json() == {"unread": 0}
    assert 'id="unread-count"' not in xihu.get("/notifications/badge").text

    bad = xihu.put(
        "/api/v1/notifications/preferences",
        json={"email": "nope", "channels": {}},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status_code == 422 and "邮箱地址格式不正确" in bad.json()["detail"]
    good = xihu.put(
        "/api/v1/notifications/preferences",
        json={"email": "xihu@example.gov.cn", "channels": {"overdue": ["inbox", "email"], "due_soon": []}},
        headers={"X-CSRF-Token": csrf},
    )
    assert good.status_code == 200 and good.json()["channels"]["due_soon"] == []
    assert xihu.get("/api/v1/notifications/preferences").json()["email"] == "xihu@example.gov.cn"
    form = xihu.post(
        "/notifications/preferences",
        data={"csrf_token": csrf, "email": "", "assigned.email": "on"},
        follow_redirects=False,
    )
    assert form.status_code == 422 and "请先填写邮箱地址" in form.text


def test_models_match_migration(platform_url: str) -> None:
    import jingxin.core.notify.models  # noqa: F401
    import jingxin.core.workflow.models  # noqa: F401

    engine = coredb.make_engine(platform_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, coredb.Base.metadata)
    finally:
        engine.dispose()
    ours = [d for d in diff if any(t in repr(d) for t in OWN_TABLES)]
    assert ours == []


def test_downgrade_removes_the_tables_and_upgrade_restores_them(platform_url: str) -> None:
    from sqlalchemy import inspect

    coredb.downgrade(platform_url, "0001_platform_core")
    assert not OWN_TABLES & set(inspect(coredb.make_engine(platform_url)).get_table_names())
    coredb.upgrade(platform_url)
    assert set(inspect(coredb.make_engine(platform_url)).get_table_names()) >= OWN_TABLES
