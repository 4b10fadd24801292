"""The matching is portable: the same expressions over the warehouse give the same decisions on
DuckDB and PostgreSQL, and they agree with a direct computation from the loaded facts."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from jingxin.core.scope import EVERYTHING
from jingxin.evaluation.sample import load_facts, province
from jingxin.policies import service
from jingxin.policies.config import load_catalogue

pytestmark = pytest.mark.xdist_group("policies")

DAY = dt.date(2022, 6, 1)


def test_same_decisions_on_every_backend(warehouse) -> None:
    tables = province(150, years=(2020, 2021), seed=3, counties=["330106", "330302"])
    # two enterprises become 规上 in 2021 (小升规)
    stats = tables["statistics"].to_pandas()
    grow = stats[(stats.year == 2021)].credit_code.iloc[:2].tolist()
    stats.loc[(stats.year == 2020) & stats.credit_code.isin(grow), "above_scale"] = False
    stats.loc[(stats.year == 2021) & stats.credit_code.isin(grow), "above_scale"] = True
    tables["statistics"] = pa.Table.from_pandas(stats, preserve_index=False)
    tables["support"] = pa.table(
        {
            "credit_code": grow,
            "year": [2021, 2021],
            "tech_investment": [None, 900.0],
            "first_set_premium": [25.0, None],
            "specialized_level": ["国家级专精特新小巨人", "无"],
        }
    )
    load_facts(warehouse, tables)

    rd = service.summary(warehouse, EVERYTHING, "rd_reward", DAY)
    s21 = stats[stats.year == 2021]
    expected = s21[s21.above_scale & (s21.rd_expense / s21.revenue.where(s21.revenue > 0) >= 0.03)]
    assert rd["eligible"] == len(expected)
    assert rd["amount"] == pytest.approx(
        sum(min(x * 10000 * 0.05, 1_000_000) for x in expected.rd_expense), abs=0.05
    )

    upgrade = service.beneficiaries(warehouse, EVERYTHING, "upgrade_reward", DAY)
    manufacturing = {
        c
        for c, i in zip(
            tables["registry"]["credit_code"].to_pylist(),
            tables["registry"]["industry_code"].to_pylist(),
            strict=True,
        )
        if "13" <= i[:2] <= "43"
    }
    assert {r["credit_code"] for r in upgrade} == set(grow) & manufacturing
    assert all(r["amount"] == 150000 for r in upgrade)

    first = service.decision(warehouse, EVERYTHING, "first_set_insurance", grow[0], DAY)
    assert first["eligible"] and first["amount"] == 200000
    assert first["conditions"][0]["facts"][0]["batch"] is not None
    special = service.decision(warehouse, EVERYTHING, "specialized_reward", grow[0], DAY)
    assert special["amount"] == 1_000_000
    # without an evaluation run, class-based policies qualify nobody and say the class is missing
    land = service.decision(warehouse, EVERYTHING, "land_tax_relief", grow[1], DAY)
    assert land["eligible"] is False
    assert any(c["missing"] == ["亩均评价类别"] for c in land["conditions"])
    assert set(load_catalogue()) >= {"rd_reward", "upgrade_reward"}
