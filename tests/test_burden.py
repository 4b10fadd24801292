"""Cost burden (减负降本): indicators and relief on hand-made facts whose answers are worked out
by hand (golden), the classification rule at its thresholds, and the confirmation of a review
(recorded and audited)."""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import pytest

from jingxin.burden import compute
from jingxin.burden.config import load_config

pytest_plugins = ["jingxin.web.pytest_fixtures"]

A, B, C = "A" * 18, "B" * 18, "C" * 18


def facts() -> dict[str, ibis.Table]:
    return {
        "registry": ibis.memtable(
            {
                "credit_code": [A, B, C],
                "county_code": ["330106", "330106", "330102"],
                "industry_code": ["C3311", "C3399", "C2611"],
            }
        ),
        "statistics": ibis.memtable(
            {
                "credit_code": [A, B, C, A, B, C],
                "year": [2021] * 3 + [2020] * 3,
                "revenue": [1000.0, 500.0, 2000.0, 800.0, 500.0, 2000.0],
                "employees": [10, 5, 20, 10, 5, 20],
            }
        ),
        "tax": ibis.memtable({"credit_code": [A, B, C], "year": [2021] * 3, "tax_paid": [50.0, 10.0, 100.0]}),
        "monthly": ibis.memtable(
            {
                "credit_code": [A, A, B, C],
                "month": [date(2021, 1, 1), date(2021, 2, 1), date(2021, 1, 1), date(2020, 12, 1)],
                "revenue": [100.0, 100.0, 50.0, 999.0],
                "profit": [10.0, 20.0, 5.0, 1.0],
            }
        ),
        "power": ibis.memtable(
            {"credit_code": [A, B, C], "month": [date(2021, 1, 1)] * 3, "kwh": [100000.0, 200000.0, 0.0]}
        ),
        "land": ibis.memtable({"credit_code": [A, B, C], "area_mu": [10.0, 20.0, 5.0]}),
        "results": ibis.memtable(
            {
                "credit_code": [A, B, C],
                "land_tax_relief_pct": [100.0, None, 80.0],
                "power_surcharge_yuan_per_kwh": [None, 0.3, None],
            }
        ),
    }


def test_annual_indicators_golden() -> None:
    f, cfg = facts(), load_config()
    rows = (
        compute.annual(
            f["registry"], f["statistics"], f["tax"], f["monthly"], f["power"], f["results"], 2021, cfg
        )
        .to_pyarrow()
        .to_pylist()
    )
    xihu = next(r for r in rows if r["county_code"] == "330106" and r["industry"] == "C3")
    assert xihu["enterprises"] == 2 and xihu["revenue"] == 1500.0
    # monthly: revenue 250, profit 35 -> cost 215 per 250 -> 86 yuan per 100 yuan
    assert xihu["cost_per_100"] == pytest.approx(86.0)
    assert xihu["tax_burden_pct"] == pytest.approx(60.0 / 1500.0 * 100)
    # 300,000 kWh × 0.65 = 19.5 万元, plus B's surcharge 200,000 × 0.3 = 6 万元
    assert xihu["electricity_cost"] == pytest.approx(25.5)
    assert xihu["electricity_per_100"] == pytest.approx(25.5 / 1500.0 * 100)
    shangcheng = next(r for r in rows if r["county_code"] == "330102")
    assert shangcheng["cost_per_100"] is None  # its only month is in 2020


def social() -> ibis.Table:
    """人社's 社保缴费 rows: A pays all year for 10 people, B half a year for 4, C nothing."""
    months = [date(2021, m, 1) for m in range(1, 13)]
    return ibis.memtable(
        {
            "credit_code": [A] * 12 + [B] * 6 + [B],
            "month": months + months[6:] + [date(2020, 12, 1)],
            "insured_count": [10] * 12 + [4] * 6 + [99],
            "contributions": [1500.0] * 12 + [1200.0] * 6 + [99999.0],
        }
    )


def test_social_insurance_per_employee_golden() -> None:
    """人均社保缴费 by county and industry: contributions ÷ insured staff averaged over the year.
    西湖区 C3: A 12 × 1,500 = 18,000 元 for 120 person-months, B 6 × 1,200 = 7,200 元 for 24
    person-months (it paid half a year and counts for half); B's December 2020 row is another
    year. (18,000 + 7,200) 元 ÷ (144 / 12) persons = 2,100 元 per person and year."""
    f, cfg = facts(), load_config()
    rows = (
        compute.annual(
            f["registry"],
            f["statistics"],
            f["tax"],
            f["monthly"],
            f["power"],
            f["results"],
            2021,
            cfg,
            social(),
        )
        .to_pyarrow()
        .to_pylist()
    )
    xihu = next(r for r in rows if r["county_code"] == "330106")
    assert xihu["insured"] == pytest.approx(12.0)
    assert xihu["social_contributions"] == pytest.approx(2.52)  # 万元
    assert xihu["social_per_employee"] == pytest.approx(2100.0)
    shangcheng = next(r for r in rows if r["county_code"] == "330102")
    assert shangcheng["social_per_employee"] is None and shangcheng["insured"] is None  # no data: no figure
    # the other indicators are what they were without the social insurance facts
    without = (
        compute.annual(
            f["registry"], f["statistics"], f["tax"], f["monthly"], f["power"], f["results"], 2021, cfg
        )
        .to_pyarrow()
        .to_pylist()
    )
    same = next(r for r in without if r["county_code"] == "330106")
    assert same["social_per_employee"] is None
    assert {k: same[k] for k in ("enterprises", "revenue", "cost_per_100", "electricity_cost")} == {
        k: xihu[k] for k in ("enterprises", "revenue", "cost_per_100", "electricity_cost")
    }
    assert "financing_cost" not in xihu  # no source carries interest paid: never estimated


def test_relief_and_policy_summary_golden() -> None:
    f, cfg = facts(), load_config()
    per = compute.relief(f["registry"], f["land"], f["power"], f["results"], 2021, cfg)
    got = {r["credit_code"]: r for r in per.to_pyarrow().to_pylist()}
    # A: 10 亩 × 666.67 m² × 6 元 = 40,000.2 元 = 4.00002 万元, relieved 100 %
    assert got[A]["land_tax_relief"] == pytest.approx(10 * 666.67 * 6 / 10000)
    assert got[C]["land_tax_relief"] == pytest.approx(5 * 666.67 * 6 / 10000 * 0.8)
    assert got[B]["power_surcharge"] == pytest.approx(-6.0)
    summary = {
        r["policy"]: r for r in compute.policy_summary(per, f["statistics"], 2021).to_pyarrow().to_pylist()
    }
    land = summary["land_tax_relief"]
    assert (land["population"], land["beneficiaries"]) == (3, 2)
    # beneficiaries A (+25 %) and C (0 %) against B (0 %): +12.5 points
    assert land["effect_pp"] == pytest.approx(12.5)
    assert summary["power_surcharge"]["cost"] == pytest.approx(-6.0)


def test_paid_catalogue_relief_golden() -> None:
    """Relief paid through the catalogue's payouts: 万元 per enterprise and policy, enterprises
    of the registry without a payment count as not reached."""
    f = facts()
    paid = ibis.memtable(
        {
            "credit_code": [A, A, C],
            "policy_id": ["xiaoshenggui_reward", "xiaoshenggui_reward", "rd_reward"],
            "amount_fen": [200_000, 100_000, 50_000],
        }
    )
    policies = ("rd_reward", "xiaoshenggui_reward")
    per = compute.paid_relief(f["registry"], paid, policies)
    got = {r["credit_code"]: r for r in per.to_pyarrow().to_pylist()}
    assert got[A]["xiaoshenggui_reward"] == pytest.approx(0.3)  # 3,000 元 = 0.3 万元
    assert got[B]["xiaoshenggui_reward"] == 0.0 and got[B]["rd_reward"] == 0.0
    assert got[C]["rd_reward"] == pytest.approx(0.05)
    summary = {
        r["policy"]: r
        for r in compute.policy_summary(per, f["statistics"], 2021, policies).to_pyarrow().to_pylist()
    }
    reward = summary["xiaoshenggui_reward"]
    assert (reward["population"], reward["beneficiaries"]) == (3, 1)
    assert reward["cost"] == pytest.approx(0.3)
    # A grew 25 %, B and C 0 %: +25 points
    assert reward["effect_pp"] == pytest.approx(25.0)
    assert summary["rd_reward"]["effect_pp"] == pytest.approx(0.0 - 12.5)


@pytest.mark.parametrize(
    "uptake,effect,cost,expected",
    [
        (0.02, 5.0, 1.0, "stop"),
        (0.021, 5.0, 1.0, "extend"),
        (0.10, 5.0, 1.0, "keep"),
        (0.5, -1.0, 1.0, "stop"),
        (0.5, 1.99, 1.0, "extend"),
        (0.5, 2.0, 50.0, "keep"),
        (0.5, 2.0, 50.01, "extend"),
        (0.09, 3.0, 1.0, "extend"),
        (0.5, None, 1.0, "extend"),
    ],
)
def test_classification_thresholds(uptake: float, effect: float | None, cost: float, expected: str) -> None:
    assert load_config().classify(uptake, effect, cost) == expected


def test_confirmation_is_recorded_and_audited(db_session: Any) -> None:
    from sqlalchemy import select

    from jingxin.burden import service
    from jingxin.core.audit import Actor, AuditEntry
    from jingxin.core.workflow.testing import make_people

    people = make_people(db_session)
    sheng, xihu = people["sheng"], people["xihu"]
    with pytest.raises(service.BurdenError, match="省级分析员"):
        service.confirm(
            db_session,
            xihu,
            Actor(xihu.id, "xihu"),
            policy_id="land_tax_relief",
            year=2021,
            decision="keep",
            suggested="keep",
        )
    with pytest.raises(service.BurdenError, match="理由"):
        service.confirm(
            db_session,
            sheng,
            Actor(sheng.id, "sheng"),
            policy_id="land_tax_relief",
            year=2021,
            decision="stop",
            suggested="keep",
        )
    service.confirm(
        db_session,
        sheng,
        Actor(sheng.id, "sheng"),
        policy_id="land_tax_relief",
        year=2021,
        decision="extend",
        suggested="keep",
        reason="再观察一年",
    )
    assert [(r.policy_id, r.decision) for r in service.reviews(db_session, 2021)] == [
        ("land_tax_relief", "extend")
    ]
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.object_type == "burden_review")).one()
    assert entry.detail["decision"] == "extend"
