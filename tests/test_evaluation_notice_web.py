"""Downloading the result notice (评价结果告知书) from the web app: scope, roles, audit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jingxin.core import audit
from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province
from jingxin.web.testing import DEMO_PASSWORD, login

pytest_plugins = ["jingxin.web.pytest_fixtures"]

XIHU, SHANGCHENG = "330106", "330102"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, fast_password_hashing: None) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import create_demo_users
    from jingxin.core.db import upgrade
    from jingxin.core.settings import Settings
    from jingxin.web.app import create_app

    home = tmp_path_factory.mktemp("notice_web")
    wh_url = f"duckdb:///{home / 'warehouse.duckdb'}"
    wh = open_warehouse(wh_url)
    try:
        load_facts(wh, province(500, years=(2021,), seed=6, counties=[XIHU, SHANGCHENG]))
        run_id = run_evaluation(wh, "zhejiang_industry_above", 2021, history="none").run_id
        t = wh.table("eval_results")
        rows = wh.execute(
            t.filter(t.run_id == run_id).select("credit_code", "county_code").order_by("credit_code")
        )
    finally:
        wh.close()
    xihu = rows[rows.county_code == XIHU].credit_code.tolist()
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    app = create_app(
        Settings(home=home, database_url=db_url, warehouse=wh_url, secret_key="test"), migrate=False
    )
    with app.state.db.session() as db:
        create_demo_users(db, DEMO_PASSWORD, enterprise_code=xihu[0], staff_enterprises=xihu[:2])
        db.commit()
    clients: dict[str, TestClient] = {}

    def client(username: str) -> TestClient:
        if username not in clients:
            c = TestClient(app, base_url="http://testserver")
            login(c, username)
            clients[username] = c
        return clients[username]

    yield {
        "app": app,
        "client": client,
        "run_id": run_id,
        "own": xihu[0],
        "neighbour": xihu[1],
        "other": rows[rows.county_code == SHANGCHENG].credit_code.iloc[0],
    }
    app.state.warehouse.close()
    app.state.db.dispose()


def _url(world: dict[str, Any], code: str, api: bool = False) -> str:
    return f"{'/api/v1' if api else ''}/evaluation/runs/{world['run_id']}/notices/{code}.pdf"


def test_enterprise_downloads_its_own_notice_only(world) -> None:
    qiye = world["client"]("qiye")
    got = qiye.get(_url(world, world["own"]))
    assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
    assert got.content.startswith(b"%PDF") and "no-store" in got.headers["cache-control"]
    assert qiye.get(_url(world, world["neighbour"])).status_code == 404
    assert qiye.get(_url(world, world["other"], api=True)).status_code == 404


def test_county_analyst_downloads_in_the_county_and_it_is_audited(world) -> None:
    xihu = world["client"]("xihu")
    assert xihu.get(_url(world, world["neighbour"], api=True)).status_code == 200
    assert xihu.get(_url(world, world["other"])).status_code == 404  # another county: as if absent
    assert world["client"]("sheng").get(_url(world, world["other"])).status_code == 200
    assert world["client"]("fuwu").get(_url(world, world["own"])).status_code == 403
    bad = world["client"]("sheng").get(f"/evaluation/runs/{world['run_id']}/notices/not-a-code.pdf")
    assert bad.status_code == 422
    with world["app"].state.db.session() as db:
        entries = audit.search(db, action=audit.Action.EXPORT, username="xihu", limit=50)[0]
    assert any(e.object_type == "eval_notice" and world["neighbour"] in (e.object_id or "") for e in entries)
