"""Arrears (清欠): the regulation's due-date rule at its boundaries (30 days for bodies and
institutions, contract terms capped at 60; 60 days for large enterprises; the regime in force at
signing), and the ledger on SQLite and PostgreSQL: record, repay, overdue lists by debtor and
county, a disputed debt as a workflow case until settled, a 清欠 appeal that opens an entry, scope."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from jingxin.appeals import service as appeals
from jingxin.arrears import service
from jingxin.arrears.rules import due_date, is_overdue
from jingxin.core.audit import Actor
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.testing import bj, make_people

pytest_plugins = ["jingxin.web.pytest_fixtures"]


@pytest.mark.parametrize(
    "kind,signed,delivered,days,due,capped",
    [
        ("government", date(2021, 3, 1), date(2021, 3, 10), None, date(2021, 4, 9), False),
        ("institution", date(2021, 3, 1), date(2021, 3, 10), 60, date(2021, 5, 9), False),
        ("government", date(2021, 3, 1), date(2021, 3, 10), 61, date(2021, 5, 9), True),
        ("government", date(2021, 3, 1), date(2021, 3, 10), 15, date(2021, 3, 25), False),
        ("large", date(2021, 3, 1), date(2021, 3, 10), None, date(2021, 5, 9), False),
        ("large", date(2025, 6, 1), date(2025, 6, 10), 90, date(2025, 9, 8), False),
        ("government", date(2020, 9, 1), date(2020, 12, 31), None, date(2021, 1, 30), False),
    ],
)
def test_due_date_rule(
    kind: str, signed: date, delivered: date, days: int | None, due: date, capped: bool
) -> None:
    found = due_date(kind, signed, delivered, days)
    assert (found.due_date, found.capped) == (due, capped)
    assert not is_overdue(found.due_date, found.due_date)  # on the due date it is still on time
    assert is_overdue(found.due_date, date.fromordinal(found.due_date.toordinal() + 1))


def test_regime_by_signing_day() -> None:
    assert "728号" in due_date("large", date(2025, 5, 31), date(2025, 6, 2)).rule
    assert "802号" in due_date("large", date(2025, 6, 1), date(2025, 6, 2)).rule
    assert "61日超过机关最长60日" in due_date("government", date(2021, 1, 1), date(2021, 1, 2), 61).rule
    with pytest.raises(ValueError, match="早于条例施行日期"):
        due_date("government", date(2020, 8, 31), date(2020, 9, 2))


def debt(creditor: str, **over: Any) -> dict[str, Any]:
    data = {
        "debtor_name": "某区城市建设管理局",
        "debtor_kind": "government",
        "contract_no": "HT-2021-001",
        "signed_on": "2021-03-01",
        "delivered_on": "2021-03-10",
        "amount": "120000.00",
        "creditor_code": creditor,
        "creditor_name": "示例企业",
        "division_code": "330106",
    }
    return {**data, **over}


def test_ledger_lists_disputes_and_scope(
    db_session: Any, people_arrears: dict[str, Any], tmp_path: Path
) -> None:
    db, p = db_session, people_arrears
    xihu, qiye = p["xihu"], p["qiye"]
    actor = Actor(xihu.id, xihu.username)
    with pytest.raises(service.ArrearsError) as bad:
        service.record_entry(db, xihu, debt(qiye.credit_code, signed_on="2021-13-01", amount="-5"), actor)
    assert set(bad.value.problems) == {"signed_on", "amount"}
    a = service.record_entry(db, xihu, debt(qiye.credit_code), actor)
    assert a.due_date == date(2021, 4, 9)
    b = service.record_entry(
        db,
        xihu,
        debt(
            qiye.credit_code,
            debtor_name="某集团有限公司",
            debtor_kind="large",
            contract_no="HT-2",
            amount="50000",
        ),
        actor,
    )
    with pytest.raises(service.ArrearsError, match="超过未还金额"):
        service.repay(db, xihu, a.id, {"paid_on": "2021-04-01", "amount": "120000.01"}, actor)
    service.repay(db, xihu, a.id, {"paid_on": "2021-04-01", "amount": "20000"}, actor)
    # on 9 April nothing is overdue; on 10 April the government debt is (100,000 left)
    assert service.entries(db, xihu, overdue_on=date(2021, 4, 9)) == []
    assert [(e.id, left) for e, _r, left in service.entries(db, xihu, overdue_on=date(2021, 4, 10))] == [
        (a.id, Decimal("100000.00"))
    ]
    lines = service.by_debtor(db, xihu, date(2021, 5, 10))
    assert [(ln.key, ln.overdue) for ln in lines] == [
        ("某区城市建设管理局", Decimal("100000.00")),
        ("某集团有限公司", Decimal("50000.00")),
    ]
    county = service.by_county(db, p["sheng"], date(2021, 4, 10))
    assert [(c.label, c.amount, c.repaid, c.overdue) for c in county] == [
        ("西湖区", Decimal("170000.00"), Decimal("20000.00"), Decimal("100000.00"))
    ]
    # scope: another county, another enterprise and a department user see none of it
    assert service.entries(db, p["shangcheng"]) == [] and service.entries(db, p["qiye2"]) == []
    assert service.entries(db, p["liaison-jx"]) == []
    assert {e.id for e, _r, _l in service.entries(db, qiye)} == {a.id, b.id}
    with pytest.raises(service.ArrearsError):
        service.get(db, p["lucheng"], a.id)
    with pytest.raises(service.ArrearsError):
        service.record_entry(db, qiye, debt(qiye.credit_code), Actor(qiye.id, qiye.username))

    # an enterprise reports a disputed debt through a 清欠 appeal: ledger entry + dispute case
    item = appeals.submit(
        db,
        qiye,
        title="货款被拖欠",
        content="某集团欠我司货款8万元，对金额有分歧",
        category="arrears",
        store=tmp_path,
        arrear={
            "debtor_name": "某集团有限公司",
            "debtor_kind": "large",
            "contract_no": "HT-9",
            "signed_on": "2021-01-05",
            "delivered_on": "2021-02-01",
            "amount": "80000",
            "disputed": "1",
        },
        now=bj(2021, 6, 1, 9),
    )
    assert item.fields["department"] == "经信"
    disputed = service.entries(db, xihu, disputed=True)
    assert len(disputed) == 1 and disputed[0][0].appeal_item_id == item.id
    entry = disputed[0][0]
    case = wf.get_item(db, xihu.scope, entry.dispute_item_id)
    assert case.workflow == "arrears_dispute" and case.state == "open"
    settled = service.settle(
        db,
        xihu,
        entry.id,
        outcome="agreed",
        agreed_amount="75000",
        comment="双方确认7.5万元",
        now=bj(2021, 6, 8, 9),
    )
    assert settled.disputed is False and Decimal(settled.amount) == Decimal("75000.00")
    with pytest.raises(service.ArrearsError, match="合同签订日期"):
        appeals.submit(
            db,
            qiye,
            title="欠款",
            content="x",
            category="arrears",
            store=tmp_path,
            arrear={
                "debtor_name": "甲",
                "debtor_kind": "large",
                "contract_no": "1",
                "signed_on": "bad",
                "delivered_on": "2021-02-01",
                "amount": "1",
            },
        )


@pytest.fixture
def people_arrears(db_session: Any) -> dict[str, Any]:
    return make_people(db_session)
