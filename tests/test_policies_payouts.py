"""直兑 payouts end to end on the platform database (SQLite and PostgreSQL): the list of
beneficiaries, one excluded with its reason, the county's confirmation against the budget, the
payment, the enterprise seeing it; applications with review; budgets that are never overspent,
also when many confirmations race for the last money."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from policies_helpers import DAY, SHANGCHENG, XIHU, province_copy
from sqlalchemy import select

from jingxin.core.warehouse import open_warehouse
from jingxin.core.workflow import service as workflow
from jingxin.policies import payouts, service
from jingxin.policies.models import PayoutLine, PolicyBudget

pytest_plugins = ["jingxin.web.pytest_fixtures", "policies_helpers"]
pytestmark = pytest.mark.xdist_group("policies")

POLICY = "land_tax_relief"


@pytest.fixture(scope="module")
def wh_url(tmp_path_factory: pytest.TempPathFactory, policies_template: Path) -> str:
    return province_copy(policies_template, tmp_path_factory.mktemp("policies_payouts"))


@pytest.fixture
def wh(wh_url: str):
    w = open_warehouse(wh_url)
    yield w
    w.close()


@pytest.fixture
def people(db_session, wh) -> dict[str, Any]:
    from jingxin.accounts.demo import create_demo_users
    from jingxin.core.scope import Scope

    xihu = service.beneficiaries(wh, Scope(division=XIHU), POLICY, DAY, county=XIHU)
    users = create_demo_users(
        db_session,
        "pw-policies-2024",
        enterprise_code=xihu[0]["credit_code"],
        staff_enterprises=[xihu[0]["credit_code"]],
    )
    db_session.commit()
    return {"users": {u.username: u for u in users}, "xihu": xihu}


def test_direct_payout_end_to_end(db_session, wh, people) -> None:
    u, xihu = people["users"], people["xihu"]
    assert len(xihu) >= 3
    total = sum(r["amount"] for r in xihu)
    payouts.set_budget(db_session, u["sheng"], POLICY, XIHU, 2022, total)

    # a county analyst may not list another county's enterprises
    with pytest.raises(workflow.NotAllowed):
        payouts.create_list(db_session, wh, u["xihu"], POLICY, SHANGCHENG, DAY)

    item = payouts.create_list(db_session, wh, u["xihu"], POLICY, XIHU, DAY)
    lines = payouts.lines(db_session, item)
    assert {r.credit_code for r in lines} == {r["credit_code"] for r in xihu}
    assert all(r.county_code == XIHU for r in lines)

    # the enterprise sees nothing while the county is still checking the list
    own = u["qiye"]
    assert payouts.lines_for_enterprise(db_session, own.scope, own.credit_code) == []

    # exclusion needs a reason, and is kept in the case's history
    dropped = next(r for r in lines if r.credit_code != own.credit_code)
    with pytest.raises(workflow.FieldProblems):
        payouts.exclude(db_session, u["xihu"], item.id, dropped.id, "  ")
    payouts.exclude(db_session, u["xihu"], item.id, dropped.id, "企业存在重大安全事故，暂缓兑现")
    steps = workflow.history(db_session, u["xihu"].scope, item.id)
    assert [s.action for s in steps] == ["start", "exclude"]
    assert "安全事故" in steps[-1].comment

    # finance cannot pay before the county confirms; the county confirms
    with pytest.raises(workflow.InvalidTransition):
        payouts.record_payment(db_session, u["caizheng"], item.id, "PZ-1")
    payouts.confirm(db_session, u["xihu"], item.id)
    budget = payouts.budget_of(db_session, POLICY, XIHU, 2022)
    expected = sum(r.amount_fen for r in lines if r.id != dropped.id)
    assert budget.committed_fen == expected <= budget.total_fen

    payouts.record_payment(db_session, u["caizheng"], item.id, "PZ-2022-0001")
    db_session.expire_all()
    budget = payouts.budget_of(db_session, POLICY, XIHU, 2022)
    assert budget.paid_fen == expected
    mine = payouts.lines_for_enterprise(db_session, own.scope, own.credit_code)
    assert [(r.status, r.payment_ref) for r in mine] == [("paid", "PZ-2022-0001")]
    # the cost-burden page reads what was paid, within the reader's scope
    from jingxin.burden.service import paid_lines

    year = lines[0].data_year
    delivered = paid_lines(db_session, u["xihu"].scope, year)
    assert sum(p["amount_fen"] for p in delivered) == expected
    assert paid_lines(db_session, u["qiye"].scope, year) == [
        {"credit_code": own.credit_code, "policy_id": POLICY, "amount_fen": mine[0].amount_fen}
    ]
    assert paid_lines(db_session, u["hangzhou"].scope, year - 1) == []
    # the enterprise sees only itself, the excluded one sees its reason
    assert all(r.credit_code == own.credit_code for r in mine)
    other = payouts.lines_for_enterprise(db_session, own.scope, dropped.credit_code)
    assert other == []
    from jingxin.core.notify.service import inbox

    notes = inbox(db_session, own.id)
    assert any("已拨付" in n.title for n in (notes[0] if isinstance(notes, tuple) else notes))

    # nobody is listed twice for the same policy and year
    with pytest.raises(payouts.PayoutError):
        payouts.create_list(db_session, wh, u["xihu"], POLICY, XIHU, DAY)


def test_a_list_that_would_overspend_cannot_be_confirmed(db_session, wh, people) -> None:
    u, xihu = people["users"], people["xihu"]
    payouts.set_budget(db_session, u["sheng"], POLICY, XIHU, 2022, xihu[0]["amount"] / 2)
    item = payouts.create_list(db_session, wh, u["xihu"], POLICY, XIHU, DAY)
    with pytest.raises(payouts.BudgetExceeded, match="预算不足"):
        payouts.confirm(db_session, u["xihu"], item.id)
    db_session.expire_all()
    assert payouts.budget_of(db_session, POLICY, XIHU, 2022).committed_fen == 0
    assert workflow.get_item(db_session, u["xihu"].scope, item.id).state == "listed"
    # the budget cannot be cut below what is committed
    payouts.set_budget(db_session, u["sheng"], POLICY, XIHU, 2022, 10**9)
    payouts.confirm(db_session, u["xihu"], item.id)
    with pytest.raises(payouts.BudgetExceeded):
        payouts.set_budget(db_session, u["sheng"], POLICY, XIHU, 2022, 1)


def test_concurrent_commitments_never_overspend(platform_db, db_session, people) -> None:
    u = people["users"]
    payouts.set_budget(db_session, u["sheng"], POLICY, SHANGCHENG, 2022, 100.0)  # 10,000 分
    results: list[str] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        with platform_db.session() as s:
            barrier.wait()
            try:
                payouts.reserve(s, POLICY, SHANGCHENG, 2022, 3000)
                results.append("ok")
            except payouts.BudgetExceeded:
                results.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 3 and results.count("refused") == 5
    db_session.expire_all()
    budget = db_session.scalar(select(PolicyBudget).where(PolicyBudget.county_code == SHANGCHENG))
    assert budget.committed_fen == 9000 <= budget.total_fen


def test_application_reviewed_then_paid(db_session, wh, people) -> None:
    from jingxin.accounts import service as accounts
    from jingxin.accounts.schemas import UserCreate
    from jingxin.core.audit import Actor
    from jingxin.core.auth import Role

    u = people["users"]
    first = wh.execute(wh.table("support").filter(lambda t: t.tech_investment >= 500).credit_code).tolist()
    d = [service.decision(wh, u["sheng"].scope, "tech_upgrade_subsidy", c, DAY) for c in first]
    code = next(x["credit_code"] for x in d if x and x["eligible"])
    county = code[2:8]
    applicant = accounts.create_user(
        db_session,
        UserCreate(
            username="qiye-app",
            display_name="申请企业",
            role=Role.ENTERPRISE,
            credit_code=code,
            password="pw-policies-2024",
        ),
        Actor(None, "test", None),
    )
    db_session.commit()
    # a policy paid without application cannot be applied for
    with pytest.raises(payouts.PayoutError):
        payouts.apply(db_session, wh, applicant, POLICY, code, DAY)
    item = payouts.apply(db_session, wh, applicant, "tech_upgrade_subsidy", code, DAY, "技改项目已竣工")
    assert item.credit_code == code and item.division_code == county
    # the applicant follows its own application from the start
    assert [r.status for r in payouts.lines_for_enterprise(db_session, applicant.scope, code)] == ["listed"]
    with pytest.raises(workflow.Conflict):
        payouts.apply(db_session, wh, applicant, "tech_upgrade_subsidy", code, DAY)
    reviewer = u["xihu"] if county == XIHU else None
    if reviewer is None:
        reviewer = accounts.create_user(
            db_session,
            UserCreate(
                username="shangcheng-r",
                display_name="上城区",
                role=Role.COUNTY_ANALYST,
                division_code=county,
                password="pw-policies-2024",
            ),
            Actor(None, "test", None),
        )
        db_session.commit()
    with pytest.raises(payouts.BudgetExceeded, match="尚未设置"):
        payouts.approve(db_session, reviewer, item.id)
    payouts.set_budget(db_session, u["sheng"], "tech_upgrade_subsidy", county, 2022, 10_000_000)
    payouts.approve(db_session, reviewer, item.id)
    payer = u["caizheng"] if county == XIHU else _finance(db_session, county)
    payouts.record_payment(db_session, payer, item.id, "PZ-JG-1")
    mine = payouts.lines_for_enterprise(db_session, applicant.scope, code)
    assert len(mine) == 1 and mine[0].status == "paid" and mine[0].amount_fen > 0
    assert db_session.scalar(select(PayoutLine.status).where(PayoutLine.item_id == item.id)) == "paid"


def _finance(db_session, county: str, username: str | None = None) -> Any:
    """A finance bureau (财政部门) account of `county`."""
    from jingxin.accounts import service as accounts
    from jingxin.accounts.schemas import UserCreate
    from jingxin.core.audit import Actor
    from jingxin.core.auth import Role

    name = username or f"caizheng-{county}"
    user = accounts.get_user_by_username(db_session, name) or accounts.create_user(
        db_session,
        UserCreate(
            username=name,
            display_name="财政局",
            role=Role.FINANCE,
            division_code=county,
            password="pw-policies-2024",
        ),
        Actor(None, "test", None),
    )
    db_session.commit()
    return user


def test_only_finance_of_the_region_records_the_payment(db_session, wh, people) -> None:
    """The payment step is finance's alone (财政部门), and only of a region that holds the list's
    county: the county analyst who confirmed it, the province analyst, an administrator and the
    finance bureau of another county are refused; 杭州市's finance bureau may pay a 西湖区 list.
    Finance sees the payout cases of its region and nothing else: no other case, no warehouse
    row, no enterprise."""
    from jingxin.core.auth import Role, scope_for

    u, xihu = people["users"], people["xihu"]
    payouts.set_budget(db_session, u["sheng"], POLICY, XIHU, 2022, sum(r["amount"] for r in xihu))
    item = payouts.create_list(db_session, wh, u["xihu"], POLICY, XIHU, DAY)
    payouts.confirm(db_session, u["xihu"], item.id)
    caizheng, other = u["caizheng"], _finance(db_session, SHANGCHENG)
    assert caizheng.role == "finance" and not caizheng.clearance

    # finance cannot confirm nor exclude: those are the county's steps
    with pytest.raises(workflow.NotAllowed):
        payouts.exclude(db_session, caizheng, item.id, payouts.lines(db_session, item)[0].id, "不应兑现")
    for who in ("xihu", "sheng", "hangzhou", "admin"):
        with pytest.raises(workflow.NotAllowed):
            payouts.record_payment(db_session, u[who], item.id, "PZ-X")
    with pytest.raises(workflow.ItemNotFound):  # another county's finance does not even see it
        payouts.record_payment(db_session, other, item.id, "PZ-X")
    # neither through the generic work API of the workflow core
    with pytest.raises(workflow.NotAllowed):
        workflow.act(db_session, item.id, "record_payment", u["xihu"], fields={"payment_ref": "PZ-X"})
    db_session.expire_all()
    assert workflow.get_item(db_session, caizheng.scope, item.id).state == "confirmed"
    assert payouts.budget_of(db_session, POLICY, XIHU, 2022).paid_fen == 0

    # the finance bureau is told that the list awaits its payment; the other county's is not
    from jingxin.core.notify.service import inbox

    def titles(user: Any) -> list[str]:
        notes = inbox(db_session, user.id)
        return [n.title for n in (notes[0] if isinstance(notes, tuple) else notes)]

    assert any("待财政拨付" in t for t in titles(caizheng))
    assert not any("待财政拨付" in t for t in titles(other))

    # the city's finance bureau covers 西湖区 too; the payment moves committed money to paid
    city = _finance(db_session, "330100", "caizheng-hz")
    payouts.record_payment(db_session, city, item.id, "杭财拨〔2022〕1号")
    db_session.expire_all()
    budget = payouts.budget_of(db_session, POLICY, XIHU, 2022)
    assert budget.paid_fen == budget.committed_fen > 0
    assert {r.status for r in payouts.lines(db_session, item)} == {"paid"}

    # what finance sees: payout cases of its region, nothing else
    scope = scope_for(Role.FINANCE, XIHU)
    assert scope == caizheng.scope and scope.pinned
    assert workflow.list_items(db_session, scope, workflow=payouts.DIRECT)[1] == 1
    assert workflow.list_items(db_session, other.scope, workflow=payouts.DIRECT)[1] == 0
    assert not scope.allows_enterprise(xihu[0]["credit_code"], XIHU)
    assert not scope.allows_record(XIHU, None, None, "appeal")
    assert scope.allows_record(XIHU, None, None, payouts.DIRECT)
    assert service.beneficiaries(wh, scope, POLICY, DAY) == []
    assert payouts.budgets(db_session, scope) == []


def test_policy_tables_match_their_migration(platform_url: str) -> None:
    """Autogenerate finds nothing to do for the policy tables: model and migration 0010 agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from jingxin.core import db as coredb

    engine = coredb.make_engine(platform_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, coredb.Base.metadata)
    finally:
        engine.dispose()
    own = [d for d in diff if "policy_" in repr(d)]
    assert own == []
