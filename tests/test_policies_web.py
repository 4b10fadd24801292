"""The enterprise code page and the policy pages: an enterprise sees only itself (its page, its
QR code, its decisions, its payouts); a county its own enterprises; the matching by county and
the what-if before publishing; push; a 直兑 payout through the pages; the generic work pages
cannot take a payout's budget-moving steps."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from policies_helpers import DAY, SHANGCHENG, XIHU, province_copy

from jingxin.core.scope import Scope
from jingxin.core.warehouse import open_warehouse
from jingxin.policies import service
from jingxin.web.testing import DEMO_PASSWORD, login

pytest_plugins = ["jingxin.web.pytest_fixtures", "policies_helpers"]
pytestmark = pytest.mark.xdist_group("policies")

POLICY = "land_tax_relief"


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, fast_password_hashing: None, policies_template: Path
) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import create_demo_users
    from jingxin.core.db import upgrade
    from jingxin.core.settings import Settings
    from jingxin.web.app import create_app

    home = tmp_path_factory.mktemp("policies_web")
    wh_url = province_copy(policies_template, home)
    wh = open_warehouse(wh_url)
    try:
        xihu = service.beneficiaries(wh, Scope(division=XIHU), POLICY, DAY, county=XIHU)
        other = service.beneficiaries(wh, Scope(division=SHANGCHENG), POLICY, DAY, county=SHANGCHENG)
    finally:
        wh.close()
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    app = create_app(
        Settings(home=home, database_url=db_url, warehouse=wh_url, secret_key="test"),
        migrate=False,
        run_jobs=False,
    )
    own = xihu[0]["credit_code"]
    with app.state.db.session() as db:
        create_demo_users(db, DEMO_PASSWORD, enterprise_code=own, staff_enterprises=[own])
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
        "own": own,
        "xihu": xihu,
        "neighbour": xihu[1]["credit_code"],
        "other": other[0]["credit_code"],
    }
    app.state.warehouse.close()
    app.state.db.dispose()


def _csrf(c: TestClient) -> str:
    return c.get("/api/v1/me").json()["csrf_token"]


def test_enterprise_reaches_only_its_own_code_page(world) -> None:
    c = world["client"]("qiye")
    r = c.get("/qiye", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/qiye/{world['own']}"
    page = c.get(f"/qiye/{world['own']}")
    assert page.status_code == 200
    assert (
        world["own"] in page.text and "亩均效益评价" in page.text and "城镇土地使用税差别化减免" in page.text
    )
    assert 'name="viewport"' in page.text and "@media (max-width: 720px)" in page.text
    assert "/appeals/new?credit_code=" in page.text  # the appeals package's slot, by URL
    qr = c.get(f"/qiye/{world['own']}/qr.svg")
    assert (
        qr.status_code == 200
        and qr.headers["content-type"].startswith("image/svg+xml")
        and b"<svg" in qr.content
    )
    for code in (world["neighbour"], world["other"]):
        assert c.get(f"/qiye/{code}").status_code == 404
        assert c.get(f"/qiye/{code}/qr.svg").status_code == 404
        assert c.get(f"/api/v1/policies/{POLICY}/enterprises/{code}").status_code == 404
        assert c.get(f"/policies/{POLICY}/enterprises/{code}").status_code == 404
    own = c.get(f"/api/v1/policies/{POLICY}/enterprises/{world['own']}").json()
    assert own["eligible"] is True and own["credit_code"] == world["own"]
    assert all(f["batch"] for cond in own["conditions"] for f in cond["facts"])
    assert c.get(f"/api/v1/policies/{POLICY}/match").status_code == 403
    assert c.get("/policies/payouts").status_code == 403


def test_officials_and_service_staff_reach_the_same_page_within_scope(world) -> None:
    xihu = world["client"]("xihu")
    assert xihu.get(f"/qiye/{world['neighbour']}").status_code == 200
    assert xihu.get(f"/qiye/{world['other']}").status_code == 404
    assert world["client"]("hangzhou").get(f"/qiye/{world['other']}").status_code == 200
    fuwu = world["client"]("fuwu")
    assert fuwu.get(f"/qiye/{world['own']}").status_code == 200
    assert fuwu.get(f"/qiye/{world['neighbour']}").status_code == 404
    assert world["client"]("liaison-sw").get(f"/qiye/{world['own']}").status_code == 403


def test_matching_by_county_and_what_if(world) -> None:
    xihu = world["client"]("xihu")
    m = xihu.get(f"/api/v1/policies/{POLICY}/match").json()
    assert [r["county_code"] for r in m["by_county"]] == [XIHU]
    assert m["eligible"] == len(world["xihu"])
    sheng = world["client"]("sheng").get(f"/api/v1/policies/{POLICY}/match").json()
    assert {r["county_code"] for r in sheng["by_county"]} == {XIHU, SHANGCHENG}
    page = xihu.get(f"/policies/{POLICY}?set_relief_b=1.0")
    assert page.status_code == 200 and 'id="whatif-table"' in page.text
    # raising the B-class relief to 100% moves money but nobody enters or leaves
    cells = re.search(
        r"<tr><th>合计</th><th class=\"num\">(\d+)→(\d+)</th><th class=\"num\">(\d+)</th><th class=\"num\">(\d+)</th>",  # noqa: E501
        page.text,
    )
    assert cells and cells.group(1) == cells.group(2) and cells.group(3) == cells.group(4) == "0"
    bad = xihu.get(f"/policies/{POLICY}?set_nonsense=1")
    assert bad.status_code == 200 and 'id="whatif-table"' not in bad.text and "relief_a" in bad.text
    wrong = xihu.get(f"/policies/{POLICY}?set_relief_b=abc")
    assert "应为数值" in wrong.text


def test_push_reaches_the_qualifying_enterprise_once_per_version(world) -> None:
    xihu = world["client"]("xihu")
    token = _csrf(xihu)
    assert (
        xihu.post(
            f"/policies/{POLICY}/push", headers={"X-CSRF-Token": token}, follow_redirects=False
        ).status_code
        == 303
    )
    assert (
        xihu.post(
            f"/policies/{POLICY}/push", headers={"X-CSRF-Token": token}, follow_redirects=False
        ).status_code
        == 303
    )
    with world["app"].state.db.session() as db:
        from sqlalchemy import select

        from jingxin.accounts.models import User
        from jingxin.core.notify.models import Notification

        qiye = db.scalar(select(User).where(User.username == "qiye"))
        notes = list(
            db.scalars(
                select(Notification).where(
                    Notification.user_id == qiye.id, Notification.event == "policy_match"
                )
            )
        )
    assert len(notes) == 1 and "城镇土地使用税" in notes[0].title


def test_direct_payout_through_the_pages(world) -> None:
    xihu, sheng, qiye = (world["client"](u) for u in ("xihu", "sheng", "qiye"))
    h = {"X-CSRF-Token": _csrf(sheng)}
    total = sum(r["amount"] for r in world["xihu"])
    r = sheng.post(
        "/policies/budgets",
        data={"policy": POLICY, "county": XIHU, "year": "2022", "total": str(total)},
        headers=h,
        follow_redirects=False,
    )
    assert r.status_code == 303 and "error" not in r.headers["location"]
    hx = {"X-CSRF-Token": _csrf(xihu)}
    r = xihu.post(
        "/policies/payouts", data={"policy": POLICY, "county": XIHU}, headers=hx, follow_redirects=False
    )
    item = int(r.headers["location"].rsplit("/", 1)[1])
    # the generic work API cannot take the budget-moving step
    assert xihu.post(f"/api/v1/work-items/{item}/actions/confirm", json={}, headers=hx).status_code == 409
    page = xihu.get(f"/policies/payouts/{item}").text
    line = re.search(
        r'data-code="' + world["neighbour"] + r'">.*?name="line" value="(\d+)"', page, re.S
    ).group(1)
    xihu.post(f"/policies/payouts/{item}/exclude", data={"line": line, "reason": "已迁出本县"}, headers=hx)
    xihu.post(f"/policies/payouts/{item}/confirm", data={}, headers=hx)
    # finance records the payment: the confirming county may not, the finance bureau does
    caizheng = world["client"]("caizheng")
    hc = {"X-CSRF-Token": _csrf(caizheng)}
    r = xihu.post(
        f"/policies/payouts/{item}/record_payment",
        data={"payment_ref": "PZ-X"},
        headers=hx,
        follow_redirects=False,
    )
    assert r.status_code == 403
    page = caizheng.get(f"/policies/payouts/{item}").text
    assert 'id="step-record_payment"' in page and 'id="step-confirm"' not in page
    assert 'href="/qiye/' not in page  # finance opens no enterprise page
    listing = caizheng.get("/policies/payouts").text
    assert f"/policies/payouts/{item}" in listing and 'id="create-list"' not in listing
    caizheng.post(f"/policies/payouts/{item}/record_payment", data={"payment_ref": "PZ-WEB-1"}, headers=hc)
    page = xihu.get(f"/policies/payouts/{item}").text
    assert "已拨付" in page and "已迁出本县" in page
    mine = qiye.get(f"/qiye/{world['own']}").text
    assert "PZ-WEB-1" in mine and "已拨付" in mine
    assert "已迁出本县" not in mine  # another enterprise's exclusion is not shown
    # a county official of another county cannot see the case
    assert world["client"]("hangzhou").get(f"/policies/payouts/{item}").status_code == 200
    assert qiye.get(f"/policies/payouts/{item}").status_code == 403
