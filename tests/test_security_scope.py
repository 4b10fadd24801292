"""Region scope: every role against every API route with ids outside its scope (SQLite and PostgreSQL).

The world: three batches from three departments, with a secret file name and secret values in
their rejected rows. Each role asks for objects it must not see; the answer is 403 or 404 and
contains none of the secrets. Then the Scope rules themselves, unit by unit.
"""

from __future__ import annotations

from typing import Any

import ibis
import pytest

from jingxin.core.auth import Role, scope_for
from jingxin.core.scope import Scope
from jingxin.web.testing import BATCH_WORLD, login, seed_batches

pytest_plugins = ["jingxin.web.pytest_fixtures"]

SECRETS = [v for b in BATCH_WORLD.values() for v in (b[2], b[3])]

ROLES_USERS = {
    "admin": Role.ADMIN,
    "sheng": Role.PROVINCE_ANALYST,
    "hangzhou": Role.CITY_ANALYST,
    "xihu": Role.COUNTY_ANALYST,
    "liaison-sw": Role.LIAISON,
    "liaison-dl": Role.LIAISON,
    "fuwu": Role.SERVICE_STAFF,
    "qiye": Role.ENTERPRISE,
    "caizheng": Role.FINANCE,
    "yidong": Role.OPERATOR,
}
OWN_BATCH = {"liaison-sw": 11, "liaison-dl": 12}


@pytest.fixture
def world(web_settings, web_app, demo_users) -> dict[str, Any]:
    seed_batches(web_settings.warehouse_url)
    return demo_users


def _foreign_batch(username: str) -> int:
    """A batch this user must not see."""
    return {"liaison-sw": 12, "liaison-dl": 11}.get(username, 11)


def _requests(username: str, users: dict[str, Any]) -> list[tuple[str, str, dict]]:
    batch = _foreign_batch(username)
    other = users["admin"].id if username != "admin" else users["xihu"].id
    foreign_source = "power" if username == "liaison-sw" else "tax"
    new_user = {"username": "intruder", "display_name": "I", "role": "admin", "password": "Abcdefgh12345"}
    region = {"xihu": "330281", "hangzhou": "330281"}.get(username, "339999")  # 余姚: outside 杭州
    return [
        ("GET", f"/api/v1/nowcast/runs/2021-05-0123456789?region={region}", {}),
        ("GET", f"/api/v1/nowcast/latest?region={region}", {}),
        ("GET", f"/nowcast?region={region}", {}),
        ("GET", f"/nowcast/export.xlsx?region={region}", {}),
        ("GET", "/api/v1/users", {}),
        ("POST", "/api/v1/users", {"json": new_user}),
        ("GET", f"/api/v1/users/{other}", {}),
        ("PATCH", f"/api/v1/users/{other}", {"json": {"role": "county_analyst", "division_code": "330106"}}),
        ("POST", f"/api/v1/users/{other}/password", {"json": {"password": "Taken-over-123"}}),
        ("GET", "/api/v1/audit", {}),
        ("GET", f"/api/v1/batches/{batch}", {}),
        ("GET", f"/api/v1/batches/{batch}/rejected", {}),
        ("GET", f"/api/v1/batches/{batch}/rejected.csv", {}),
        (
            "POST",
            "/api/v1/batches",
            {
                "data": {"source": foreign_source},
                "files": {"file": ("x.csv", "统一社会信用代码,年度,实缴税收\n".encode())},
            },
        ),
        ("GET", f"/data/batches/{batch}", {}),
        ("GET", f"/data/batches/{batch}/rejected.csv", {}),
        ("GET", f"/users/{other}", {}),
        ("GET", "/users", {}),
        ("GET", "/audit", {}),
        ("GET", "/api/docs", {}),  # Swagger UI: admins only
        ("GET", "/metrics", {}),  # no token configured: refused to every role
        # enterprise code and policies: an enterprise outside every scope, cases that are not theirs
        ("GET", f"/qiye/{FOREIGN_CODE}", {}),
        ("GET", f"/qiye/{FOREIGN_CODE}/qr.svg", {}),
        ("GET", f"/policies/land_tax_relief/enterprises/{FOREIGN_CODE}?day=2022-06-01", {}),
        ("GET", f"/api/v1/policies/land_tax_relief/enterprises/{FOREIGN_CODE}?day=2022-06-01", {}),
        ("GET", "/policies/payouts/999999", {}),
        ("POST", "/policies/payouts/999999/confirm", {}),
        ("POST", "/policies/payouts/999999/record_payment", {"data": {"payment_ref": "X"}}),
        ("POST", "/policies/payouts", {"data": {"policy": "land_tax_relief", "county": "110101"}}),
        (
            "POST",
            "/policies/budgets",
            {"data": {"policy": "land_tax_relief", "county": "110101", "year": "2022", "total": "1"}},
        ),
        # risk grades (risk scenario): an enterprise outside every scope; grades of a month
        ("GET", "/api/v1/risk/enterprises/913300007000000000?month=2021-06", {}),
        ("GET", "/risk/enterprises/913300007000000000?month=2021-06", {}),
        ("POST", "/risk/cases/open", {"data": {"month": "2021-06"}}),
        # 首台(套): a compensation claim on an item that is in no scope's recognition list
        ("POST", "/cultivation/first-set/SZ20999999/claims", {"data": {"kind": "reward", "year": "2021"}}),
        *_monitoring_requests(username),
        # 5G 一件事: an application that is not the user's, a map of a region outside its scope
        ("GET", "/fiveg/999999", {}),
        ("POST", "/fiveg/999999/schedule_survey", {"data": {"survey_on": "2021-10-08"}}),
        ("POST", "/fiveg/999999/report_built", {"data": {"value": "2021-10-08"}}),
        ("POST", "/fiveg/approvals/999999", {"data": {"decision": "approve"}}),
        ("GET", f"/fiveg/map?region={region}", {}),
        ("GET", f"/fiveg/map/geo/{region}", {}),
        ("GET", "/fiveg/map/geo/110101", {}),
        *_places_requests(username),
        *_chain_task_requests(username),
    ]


def _places_requests(username: str) -> list[tuple[str, str, dict]]:
    """县域评价 and 制造业园区: a county and a park in 鹿城区, outside 杭州市 and 西湖区; the pages
    are closed to the roles that are not analysts."""
    if username == "sheng":
        return []
    outside, park = "330302", "KF330302001"
    return [
        ("GET", f"/places/county/{outside}", {}),
        ("GET", f"/api/v1/places/county/{outside}", {}),
        ("GET", f"/manufacturing-parks/{park}?year=2021", {}),
        ("GET", f"/api/v1/parks/manufacturing/{park}?year=2021", {}),
    ]


def _chain_task_requests(username: str) -> list[tuple[str, str, dict]]:
    """链长制: a task in a region outside the user's scope, and issuing a plan without the role
    (the province analyst may do both; a city bureau may issue its own city's plan tasks)."""
    if username == "sheng":
        return []
    task = {
        "division": "330302",  # 鹿城区: outside 杭州市 and 西湖区
        "title": "越权任务",
        "task_type": "bu",
        "owner": "鹿城区经信局",
        "content": "内容",
        "term": "m1",
    }
    out = [("POST", "/chains/chiefs/modern_textile/tasks", {"data": task})]
    if username != "hangzhou":
        out.append(("POST", "/api/v1/chains/plans/modern_textile/issue", {}))
    return out


def _monitoring_requests(username: str) -> list[tuple[str, str, dict]]:
    """运行监测: a region and an enterprise outside the user's scope (the province analyst has
    none in the province, so only the industry page of a narrower scope and the pages closed
    to its role are left for the others)."""
    if username == "sheng":
        return []
    outside = "330302"  # 鹿城区: outside 杭州市 and 西湖区; regional pages closed to the other roles
    return [
        ("GET", f"/monitoring?region={outside}", {}),
        ("GET", f"/monitoring/regions/{outside}", {}),
        ("GET", "/monitoring/industries/26", {}),
        ("GET", f"/monitoring/export.xlsx?table=indicators&region={outside}", {}),
        ("GET", "/monitoring/enterprises/91330302MA2AAAAAA0", {}),
    ]


NON_ADMINS = [u for u in ROLES_USERS if u != "admin"]
FOREIGN_CODE = "91110101000000001X"  # registered in 北京 (110101): outside every scope


@pytest.mark.parametrize("username", NON_ADMINS)
def test_out_of_scope_requests_are_refused_and_leak_nothing(web_client, world, username: str) -> None:
    """The matrix: this role × every route of `_requests`, each with an id outside its scope.

    One test per role (and backend) walks all routes and reports every violation at once; a
    new route joins the matrix by being added to `_requests`.
    """
    token = login(web_client, username)
    problems = []
    for method, path, kwargs in _requests(username, world):
        response = web_client.request(
            method, path, headers={"X-CSRF-Token": token}, follow_redirects=False, **kwargs
        )
        if response.status_code not in (403, 404):
            problems.append(f"{method} {path} -> {response.status_code}: {response.text[:200]}")
        leaked = [s for s in SECRETS if s in response.text]
        if path.startswith("/api/v1/users") and "intruder" in response.text:
            leaked.append("intruder")
        if leaked:
            problems.append(f"{method} {path} leaks {leaked}")
    assert not problems, "\n".join(problems)
    assert web_client.get("/api/v1/me").json()["username"] == username  # nothing took the session over


@pytest.mark.parametrize("username", NON_ADMINS)
def test_batch_lists_show_only_the_own_department(web_client, world, username: str) -> None:
    login(web_client, username)
    response = web_client.get("/api/v1/batches")
    page = web_client.get("/data")
    sources = web_client.get("/api/v1/sources")
    if username not in OWN_BATCH:
        assert response.status_code == page.status_code == sources.status_code == 403
        return
    own = OWN_BATCH[username]
    assert [b["batch_id"] for b in response.json()["items"]] == [own]
    assert response.json()["total"] == 1
    own_secret_name = BATCH_WORLD[own][2]
    assert own_secret_name in page.text
    for bid, (_src, _dept, name, _secret) in BATCH_WORLD.items():
        if bid != own:
            assert name not in response.text and name not in page.text
    assert {s["department"] for s in sources.json()} == {BATCH_WORLD[own][1]}
    rejected = web_client.get(f"/api/v1/batches/{own}/rejected").json()
    assert rejected["items"][0]["value"] == BATCH_WORLD[own][3]
    # filtering by another department's source gives nothing, not that source's batches
    other_source = "tax" if username == "liaison-dl" else "power"
    assert web_client.get(f"/api/v1/batches?source={other_source}").json()["total"] == 0


def test_admin_sees_everything_and_missing_ids_are_404(web_client, world) -> None:
    login(web_client, "admin")
    assert web_client.get("/api/v1/batches").json()["total"] == 3
    for bid in BATCH_WORLD:
        assert web_client.get(f"/api/v1/batches/{bid}").status_code == 200
    assert web_client.get("/api/v1/batches/999").status_code == 404
    assert web_client.get("/api/v1/users/999999").status_code == 404
    assert web_client.get("/api/v1/batches/99999999999999999999").status_code == 422


def test_liaison_cannot_upload_to_another_department_through_the_page(web_client, world) -> None:
    token = login(web_client, "liaison-dl")
    response = web_client.post(
        "/data/upload",
        data={"source": "tax", "csrf_token": token},
        files={"file": ("tax.csv", "统一社会信用代码,年度,实缴税收\n".encode())},
        follow_redirects=False,
    )
    assert response.status_code == 403


@pytest.mark.parametrize("username,role", list(ROLES_USERS.items()))
def test_me_reports_the_scope(web_client, world, username: str, role: Role) -> None:
    login(web_client, username)
    me = web_client.get("/api/v1/me").json()
    assert me["role"] == role.value
    assert me["clearance"] == role.clearance
    scope = me["scope"]
    if role in (Role.ENTERPRISE, Role.OPERATOR):
        assert scope["credit_code"] == world[username].credit_code
    if role is Role.SERVICE_STAFF:
        assert scope["enterprises"] == sorted(world[username].enterprises)
    if role is Role.LIAISON:
        assert scope["department"] == world[username].department
    if role is Role.FINANCE:
        assert scope["division"] == "330106" and scope["workflows"] == ["policy_application", "policy_payout"]


def test_nav_items_follow_the_role(web_client, world) -> None:
    expected = {
        "admin": {"首页", "数据归集", "用户管理", "审计日志"},
        "liaison-sw": {"首页", "数据归集"},
        "xihu": {"首页"},
        "qiye": {"首页"},
        "caizheng": {"首页", "政策兑现"},
    }
    for username, items in expected.items():
        web_client.cookies.clear()
        login(web_client, username)
        page = web_client.get("/").text
        nav = page.split('<nav class="sidenav"', 1)[1].split("</nav>", 1)[0]
        for title in ("数据归集", "用户管理", "审计日志"):
            assert (title in nav) == (title in items), (username, title)
        if username == "caizheng":  # finance: its payout lists and its inbox, nothing to analyse
            assert "政策兑现" in nav
            for title in ("惠企政策", "企业诉求", "亩均评价", "运行监测", "减负降本", "清欠"):
                assert title not in nav, title


# ---- the Scope rules ----------------------------------------------------------------------------


def _table() -> ibis.Table:
    return ibis.memtable(
        {
            "credit_code": ["A", "B", "C", "D"],
            "county_code": ["330106", "330102", "330212", "330106"],
        }
    )


def _codes(expr: ibis.Table) -> list[str]:
    return sorted(expr.execute()["credit_code"].tolist())


def test_scope_for_each_role() -> None:
    assert scope_for(Role.ADMIN, "330000") == Scope()
    assert scope_for(Role.PROVINCE_ANALYST, "330000").prefix == "33"
    assert scope_for(Role.CITY_ANALYST, "330100").prefix == "3301"
    assert scope_for(Role.COUNTY_ANALYST, "330106").prefix == "330106"
    assert scope_for(Role.LIAISON, "330000", department="税务").department == "税务"
    assert scope_for(Role.ENTERPRISE, "330106", credit_code="A").credit_code == "A"
    assert scope_for(Role.SERVICE_STAFF, "330106", enterprises={"A", "D"}).enterprises == frozenset(
        {"A", "D"}
    )
    with pytest.raises(ValueError):
        scope_for(Role.ENTERPRISE, "330106")
    with pytest.raises(ValueError):
        scope_for(Role.LIAISON, "330000")


def test_restrict_by_region_enterprise_and_assignment() -> None:
    t = _table()
    assert _codes(Scope().restrict(t)) == ["A", "B", "C", "D"]
    assert _codes(Scope(division="330100").restrict(t)) == ["A", "B", "D"]
    assert _codes(Scope(division="330106").restrict(t)) == ["A", "D"]
    assert _codes(Scope(division="330106", credit_code="B").restrict(t)) == ["B"]
    assert _codes(Scope(division="330106", enterprises=frozenset({"C", "D"})).restrict(t)) == ["C", "D"]
    assert _codes(Scope(division="330106", enterprises=frozenset()).restrict(t)) == []


def test_allows_single_objects() -> None:
    staff = Scope(division="330106", enterprises=frozenset({"C"}))
    assert staff.allows_enterprise("C", "330212") and not staff.allows_enterprise("A", "330106")
    assert not staff.allows_division("330106")
    county = Scope(division="330106")
    assert county.allows_enterprise("A", "330106") and not county.allows_enterprise("C", "330212")
    assert county.allows_division("330106") and not county.allows_division("330102")


def test_batches_by_department() -> None:
    assert Scope().allows_department("税务")
    assert Scope(division="330000").allows_department("电力")  # province-wide
    assert not Scope(division="330100").allows_department("电力")  # below the province
    assert Scope(division="330000", department="税务").allows_department("税务")
    assert not Scope(division="330000", department="税务").allows_department("电力")
    assert not Scope(division="330106", credit_code="A").allows_department("税务")
    assert not Scope(division="330106", enterprises=frozenset({"A"})).allows_department("税务")
    tax_sources = Scope(division="330000", department="税务").visible_sources()
    assert set(tax_sources) == {"tax", "invoices"} or "tax" in tax_sources
    batches = ibis.memtable({"batch_id": [1, 2, 3], "source": ["tax", "power", "registry"]})
    visible = Scope(division="330000", department="电力").restrict_batches(batches).execute()
    assert visible["batch_id"].tolist() == [2]
    assert len(Scope(division="330106", credit_code="A").restrict_batches(batches).execute()) == 0
    assert len(Scope().restrict_batches(batches).execute()) == 3


# ---- appeals (诉求直办), arrears (清欠), cost burden (减负降本) -----------------------------------

# An appeal of `qiye` (西湖区) routed to 税务, with an attachment, and a ledger entry owed to it.
# Who may read it: admin, the province, 杭州市, 西湖区, the tax department, the enterprise itself
# and its service worker; nobody else (another county, city, department or enterprise).
APPEAL_READERS = {"admin", "sheng", "hangzhou", "xihu", "liaison-sw", "fuwu", "qiye"}
ARREARS_READERS = {"admin", "sheng", "hangzhou", "xihu", "qiye"}
BURDEN_READERS = {"admin", "sheng", "hangzhou", "xihu"}
SUPERVISORS = {"admin", "sheng", "hangzhou", "xihu", "liaison-sw"}


@pytest.fixture
def appeal_world(web_app, demo_users, tmp_path) -> dict[str, Any]:
    from jingxin.appeals import service as appeals
    from jingxin.core.workflow.testing import make_people

    with web_app.state.db.session() as db:
        people = make_people(db, password="jingxin2024demo")
        qiye = people["qiye"]
        store = web_app.state.settings.home / "attachments"
        item = appeals.submit(
            db,
            qiye,
            title="SECRET-APPEAL",
            content="出口退税",
            category="arrears",
            store=store,
            uploads=[("a.pdf", b"%PDF-1.4 SECRET-FILE")],
            arrear={
                "debtor_name": "SECRET-DEBTOR",
                "debtor_kind": "government",
                "contract_no": "HT-1",
                "signed_on": "2021-03-01",
                "delivered_on": "2021-03-10",
                "amount": "1000",
            },
        )
        # route it to the tax department (a tax question filed under 清欠 for the test)
        item.fields = {**item.fields, "department": "税务"}
        db.commit()
        from jingxin.appeals.models import ArrearsEntry

        entry_id = db.query(ArrearsEntry.id).scalar()
        return {"item": item.id, "entry": entry_id}


SECRETS_APPEALS = ("SECRET-APPEAL", "SECRET-FILE", "SECRET-DEBTOR")
MATRIX_USERS = sorted(
    APPEAL_READERS | SUPERVISORS | {"liaison-dl", "qiye2", "lucheng", "caizheng", "caizheng-sc"}
)


def test_appeal_arrears_burden_routes_by_role(web_client, appeal_world) -> None:
    """Every role × every appeals, arrears and burden route: readers get the object, everyone
    else 403 or 404 with none of the secrets; lists show it only to readers. One app for all
    users (a login each), all violations reported at once."""
    problems: list[str] = []
    for username in MATRIX_USERS:
        web_client.cookies.clear()
        problems += _appeal_matrix_row(web_client, appeal_world, username)
    assert not problems, "\n".join(problems)


def _appeal_matrix_row(web_client, appeal_world, username: str) -> list[str]:
    from jingxin.core.workflow.testing import PASSWORD

    token = login(web_client, username, PASSWORD)
    item, entry = appeal_world["item"], appeal_world["entry"]
    analysts = {"admin", "sheng", "hangzhou", "xihu", "shangcheng", "wenzhou", "lucheng"}
    # (method, path, users who get the object, users who get the page (role) but not the object)
    single = [
        ("GET", f"/api/v1/work-items/{item}", APPEAL_READERS, set()),
        ("GET", f"/work/{item}", APPEAL_READERS, set()),
        ("GET", f"/appeals/{item}/attachments/1", APPEAL_READERS, set()),
        ("POST", f"/api/v1/arrears/{entry}/repayments", {"admin", "sheng", "hangzhou", "xihu"}, set()),
        ("GET", "/burden?year=2021", BURDEN_READERS, analysts),
        ("GET", "/api/v1/burden/indicators?year=2021", BURDEN_READERS, analysts),
        ("GET", "/arrears", ARREARS_READERS, analysts | {"qiye2"}),
        ("GET", "/appeals/supervision", SUPERVISORS, analysts | {"liaison-dl"}),
    ]
    problems = []
    for method, path, readers, role_only in single:
        kwargs: dict[str, Any] = (
            {"json": {"paid_on": "2021-04-01", "amount": "1"}} if method == "POST" else {}
        )
        headers = {"X-CSRF-Token": token}
        r = web_client.request(method, path, headers=headers, follow_redirects=False, **kwargs)
        if username in readers or username in role_only:
            if r.status_code not in (200, 201):
                problems.append(f"{method} {path} -> {r.status_code} for an allowed role")
        elif r.status_code not in (403, 404):
            problems.append(f"{method} {path} -> {r.status_code}: {r.text[:200]}")
        if username not in readers and any(s in r.text for s in SECRETS_APPEALS):
            problems.append(f"{method} {path} leaks a secret")
    lists = [
        ("/api/v1/appeals", APPEAL_READERS, "SECRET-APPEAL"),
        ("/api/v1/arrears", ARREARS_READERS, "SECRET-DEBTOR"),
        ("/api/v1/appeals/overdue", SUPERVISORS, None),
    ]
    for path, readers, secret in lists:
        r = web_client.get(path)
        if r.status_code == 200 and secret is not None and (secret in r.text) != (username in readers):
            problems.append(f"GET {path} shows the object: {secret in r.text}")
        if r.status_code != 200 and username in readers:
            problems.append(f"GET {path} -> {r.status_code} for a reader")
    return [f"{username}: {p}" for p in problems]


def test_department_scope_rule() -> None:
    tax = Scope(division="330000", department="税务")
    assert tax.allows_record("330106", "A", "税务") and not tax.allows_record("330106", "A", "电力")
    assert not tax.allows_record("330106", "A", None)  # an unrouted case is the county's
    county_tax = Scope(division="330106", department="税务")
    assert not county_tax.allows_record("330102", "A", "税务")
    assert Scope(division="330106").allows_record("330106", "A", "电力")  # a county sees every department


def test_finance_scope_rule() -> None:
    """A finance bureau (财政部门) sees the payout cases of its region and nothing else."""
    from sqlalchemy import column

    from jingxin.core.auth import FINANCE_WORKFLOWS

    county = scope_for(Role.FINANCE, "330106")
    city = scope_for(Role.FINANCE, "330100")
    assert county.workflows == FINANCE_WORKFLOWS and county.pinned and not Role.FINANCE.clearance
    assert county.allows_record("330106", None, None, "policy_payout")
    assert county.allows_record("330106", "A", None, "policy_application")  # an application
    assert city.allows_record("330106", None, None, "policy_payout")
    assert not county.allows_record("330102", None, None, "policy_payout")  # another county
    assert not county.allows_record("330106", "A", None, "appeal")  # no appeal, no risk case
    assert not county.allows_record("330106", "A")  # a record that is not a case
    assert not county.allows_enterprise("A", "330106") and not county.allows_division("330106")
    assert not county.allows_department("税务")
    assert _codes(county.restrict(_table())) == []
    where = county.where(column("division_code"), column("credit_code"), None, column("workflow"))
    sql = str(where.compile(compile_kwargs={"literal_binds": True}))
    assert "policy_payout" in sql and "330106" in sql and "appeal" not in sql
    assert str(county.where(column("county_code"), column("credit_code"))) == "false"


PAYOUT_READERS = {"admin", "sheng", "hangzhou", "xihu", "caizheng"}


@pytest.fixture
def payout_world(web_app, demo_users) -> dict[str, Any]:
    """A 直兑 list of 西湖区 confirmed by the county and awaiting payment, with one line."""
    from jingxin.core.workflow import service as workflow
    from jingxin.core.workflow.testing import make_people
    from jingxin.policies import payouts
    from jingxin.policies.models import PayoutLine, PolicyBudget

    with web_app.state.db.session() as db:
        people = make_people(db, password="jingxin2024demo")
        xihu = people["xihu"]
        item = workflow.start_item(
            db,
            payouts.DIRECT,
            xihu,
            division_code="330106",
            fields={"title": "SECRET-PAYOUT", "policy": "land_tax_relief", "data_year": "2021"},
        )
        db.add(
            PayoutLine(
                item_id=item.id,
                policy_id="land_tax_relief",
                data_year=2021,
                credit_code=people["qiye"].credit_code,
                name="",
                county_code="330106",
                amount_fen=12_345,
                status="listed",
                reason="",
            )
        )
        db.add(
            PolicyBudget(
                policy_id="land_tax_relief",
                county_code="330106",
                year=2022,
                total_fen=10**6,
                committed_fen=0,
                paid_fen=0,
            )
        )
        db.commit()
        payouts.confirm(db, xihu, item.id)
        return {"item": item.id}


def test_payout_routes_by_role(web_client, payout_world) -> None:
    """Every role × the payout routes of a confirmed 西湖区 list: officials of the region and
    西湖区's finance bureau open it; only that finance bureau records the payment (the county
    analyst who confirmed it, the province and the administrator are refused, and so is the
    finance bureau of 上城区, which does not even see the list); finance reaches nothing else of
    the platform's data."""
    from jingxin.core.workflow.testing import PASSWORD

    item = payout_world["item"]
    users = sorted(PAYOUT_READERS | {"caizheng-sc", "lucheng", "qiye", "fuwu", "liaison-sw"})
    problems: list[str] = []
    for username in users:
        web_client.cookies.clear()
        token = login(web_client, username, PASSWORD)
        h = {"X-CSRF-Token": token}
        for path in (f"/policies/payouts/{item}", f"/work/{item}", f"/api/v1/work-items/{item}"):
            r = web_client.get(path, headers=h, follow_redirects=False)
            allowed = username in PAYOUT_READERS
            if allowed and r.status_code != 200 or not allowed and r.status_code not in (403, 404):
                problems.append(f"{username}: GET {path} -> {r.status_code}")
            if not allowed and "SECRET-PAYOUT" in r.text:
                problems.append(f"{username}: GET {path} leaks the list")
        listing = web_client.get("/policies/payouts", headers=h)
        if listing.status_code == 200 and ("SECRET-PAYOUT" in listing.text) != (username in PAYOUT_READERS):
            problems.append(
                f"{username}: /policies/payouts shows the list: {'SECRET-PAYOUT' in listing.text}"
            )
        if username == "caizheng":
            continue  # pays last, below
        for path, kwargs in (
            (f"/policies/payouts/{item}/record_payment", {"data": {"payment_ref": "PZ-X"}}),
            (
                f"/api/v1/work-items/{item}/actions/record_payment",
                {"json": {"fields": {"payment_ref": "PZ-X"}}},
            ),
        ):
            r = web_client.post(path, headers=h, follow_redirects=False, **kwargs)
            if r.status_code not in (403, 404, 409):
                problems.append(f"{username}: POST {path} -> {r.status_code}")
    web_client.cookies.clear()
    token = login(web_client, "caizheng", PASSWORD)
    h = {"X-CSRF-Token": token}
    # finance reaches no analysis, no enterprise, no appeal, no catalogue
    for path in (
        "/policies",
        "/policies/land_tax_relief",
        "/api/v1/policies/land_tax_relief/match",
        "/burden?year=2021",
        "/api/v1/burden/indicators?year=2021",
        "/arrears",
        "/appeals/supervision",
        "/evaluation",
        "/monitoring",
        "/data",
        "/users",
    ):
        r = web_client.get(path, headers=h, follow_redirects=False)
        if r.status_code not in (403, 404):
            problems.append(f"caizheng: GET {path} -> {r.status_code}")
    r = web_client.post(
        f"/policies/payouts/{item}/record_payment",
        data={"payment_ref": "西财拨〔2022〕1号"},
        headers=h,
        follow_redirects=False,
    )
    assert r.status_code == 303 and "error" not in r.headers["location"], r.headers.get("location")
    assert "已拨付" in web_client.get(f"/policies/payouts/{item}").text
    assert not problems, "\n".join(problems)


def test_finance_accounts_from_the_users_page_api_and_cli(
    web_client, world, web_app, tmp_path, monkeypatch
) -> None:
    """The administrator opens finance accounts (财政部门) at any level of the province's tree,
    through the users page, the API and the command line; a finance account needs a division."""
    import json

    from typer.testing import CliRunner

    from jingxin.cli import app
    from jingxin.core.settings import get_settings
    from jingxin.web.testing import csrf_from

    token = login(web_client, "admin")
    form = web_client.get("/users/new").text
    assert '<option value="finance"' in form and "财政部门" in form
    r = web_client.post(
        "/users/new",
        data={
            "username": "czj-hz",
            "display_name": "杭州市财政局",
            "role": "finance",
            "division_code": "330100",
            "password": "Caizheng-2024x",
            "csrf_token": csrf_from(form) or token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    body = {
        "username": "czj-sc",
        "display_name": "上城区财政局",
        "role": "finance",
        "password": "Caizheng-2024x",
    }
    refused = web_client.post("/api/v1/users", json=body, headers={"X-CSRF-Token": token})
    assert refused.status_code == 400 and "区划" in refused.text  # where it pays must be said
    made = web_client.post(
        "/api/v1/users", json={**body, "division_code": "330102"}, headers={"X-CSRF-Token": token}
    )
    assert made.status_code == 201 and made.json()["role_label"] == "财政部门"
    web_client.cookies.clear()
    login(web_client, "czj-hz", "Caizheng-2024x")
    me = web_client.get("/api/v1/me").json()
    assert me["role"] == "finance" and me["scope"]["division"] == "330100" and not me["clearance"]

    monkeypatch.setenv("JINGXIN_DATABASE_URL", web_app.state.settings.database_url)
    monkeypatch.setenv("JINGXIN_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(
            app,
            [
                "users",
                "add",
                "czj-sheng",
                "--role",
                "finance",
                "--division",
                "330000",
                "--password",
                "Caizheng-2024x",
                "--json",
            ],
        )
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["role"] == "finance"
