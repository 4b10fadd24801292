"""Golden tests from the published notices (DOMAIN.md §3): 黄岩 weights and reference values,
温岭 class shares, the 海宁 electricity surcharge and the 62号 land-tax relief."""

from __future__ import annotations

import numpy as np
import pytest

from jingxin.core.scope import Scope
from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation.config import load_system
from jingxin.evaluation.runs import evaluate, run_evaluation
from jingxin.evaluation.sample import credit_codes, facts_from_columns, load_facts

HUANGYAN = "331003"
# 黄岩 reference values for 2021 data (亩均税收, 亩均增加值, 单位能耗增加值, 单位排放增加值,
# 全员劳动生产率, R&D 占比 in %).
REF_2021 = {
    "tax": 26.01,
    "va_mu": 132.27,
    "va_energy": 2.54,
    "va_discharge": 4861.08,
    "lp": 17.45,
    "rd": 3.05,
}


def at_reference(code: str, employees: int = 100, tax_factor: float = 1.0, year: int = 2021) -> dict:
    """An enterprise whose six indicators sit exactly at 黄岩's 2021 references (× tax_factor)."""
    va = REF_2021["lp"] * employees
    area = va / REF_2021["va_mu"]
    return {
        "credit_code": code,
        "county_code": HUANGYAN,
        "industry_code": "3821",
        "year": year,
        "area_mu": area,
        "tax_paid": REF_2021["tax"] * area * tax_factor,
        "value_added": va,
        "revenue": 1000.0,
        "rd_expense": REF_2021["rd"] * 10,
        "employees": employees,
        "college_staff": 20,
        "energy_tce": va / REF_2021["va_energy"],
        "discharge_t": va / REF_2021["va_discharge"],
        "kwh": 1_000_000.0,
    }


def warehouse_with(rows: list[dict]):
    wh = open_warehouse("duckdb:///:memory:")
    cols = {k: [r.get(k) for r in rows] for k in rows[0]}
    load_facts(wh, facts_from_columns(cols))
    return wh


def totals(wh, system, year: int = 2021, **kw) -> dict[str, dict]:
    ev = evaluate(wh, system, year, **kw)
    df = wh.execute(ev.results)
    return {row["credit_code"]: row for row in df.to_dict("records")}


def test_at_reference_scores_100_and_double_tax_scores_130() -> None:
    codes = credit_codes([HUANGYAN] * 2)
    wh = warehouse_with([at_reference(codes[0]), at_reference(codes[1], employees=80, tax_factor=2.0)])
    system = load_system("zhejiang_industry_above")
    res = totals(wh, system)
    assert res[codes[0]]["total_score"] == pytest.approx(100.0, abs=1e-6)
    assert res[codes[1]]["total_score"] == pytest.approx(130.0, abs=1e-6)
    assert res[codes[0]]["s_tax_per_mu"] == pytest.approx(30.0)
    assert res[codes[1]]["s_tax_per_mu"] == pytest.approx(60.0)
    assert res[codes[0]]["ref_value_added_per_discharge"] == pytest.approx(4861.08)
    # the informational indicators are computed but earn nothing
    assert res[codes[0]]["v_talent_density"] == pytest.approx(20.0)
    assert res[codes[0]]["s_talent_density"] == 0.0


def test_missing_discharge_gets_the_average_score() -> None:
    codes = credit_codes([HUANGYAN] * 3)
    rows = [at_reference(codes[0]), at_reference(codes[1]), at_reference(codes[2])]
    rows[1]["discharge_t"] = rows[1]["discharge_t"] / 2  # twice the reference: 20 points
    rows[2]["discharge_t"] = None
    wh = warehouse_with(rows)
    res = totals(wh, load_system("zhejiang_industry_above"))
    assert res[codes[1]]["s_value_added_per_discharge"] == pytest.approx(20.0)
    assert res[codes[2]]["m_value_added_per_discharge"]
    assert res[codes[2]]["s_value_added_per_discharge"] == pytest.approx(15.0)  # mean of 10 and 20


def test_wenling_shares_split_100_enterprises_20_60_15_5() -> None:
    codes = credit_codes([HUANGYAN] * 100)
    # tax per mu from 0.5 to 1.49 × the reference: below the system's cap of 2 × weight, so
    # every enterprise has its own total (capped points would tie the best ones)
    rows = [at_reference(c, tax_factor=0.5 + i / 100) for i, c in enumerate(codes)]
    wh = warehouse_with(rows)
    res = totals(wh, load_system("zhejiang_industry_above"))
    classes = [res[c]["class"] for c in codes]
    assert {k: classes.count(k) for k in "ABCD"} == {"A": 20, "B": 60, "C": 15, "D": 5}
    # the best tax per mu is rank 1 and class A; the worst is D
    assert res[codes[-1]]["rank_in_industry"] == 1 and res[codes[-1]]["class"] == "A"
    assert res[codes[0]]["rank_in_industry"] == 100 and res[codes[0]]["class"] == "D"
    # 62号: A 100 %, B 80 %, C and D none
    relief = {res[c]["class"]: res[c]["land_tax_relief_pct"] for c in codes}
    assert relief == {"A": 100.0, "B": 80.0, "C": 0.0, "D": 0.0}


def _d_every_year(years: list[int]) -> tuple[list[dict], str]:
    """20 enterprises in one industry over `years`; the same one is last (D) every year."""
    codes = credit_codes([HUANGYAN] * 20)
    rows = [at_reference(c, tax_factor=1.0 + i / 10, year=y) for y in years for i, c in enumerate(codes)]
    for r in rows:
        if r["credit_code"] == codes[0]:
            r["tax_paid"] = 0.0
    return rows, str(codes[0])


@pytest.mark.parametrize("history", ["runs", "evaluate"])
def test_d_surcharge_escalates_in_the_third_consecutive_year(history: str) -> None:
    rows, worst = _d_every_year([2019, 2020, 2021])
    wh = warehouse_with(rows)
    system = load_system("zhejiang_industry_above")
    if history == "runs":
        for year in (2019, 2020, 2021):
            run_evaluation(wh, system, year)
        df = wh.execute(wh.table("eval_results").join(wh.table("eval_runs"), "run_id"))
        got = {
            int(r["year"]): (r["class"], int(r["consecutive_d_years"]), r["power_surcharge_yuan_per_kwh"])
            for r in df[df.credit_code == worst].to_dict("records")
        }
    else:
        got = {}
        for year in (2019, 2020, 2021):
            r = totals(wh, system, year, history="evaluate")[worst]
            got[year] = (r["class"], int(r["consecutive_d_years"]), r["power_surcharge_yuan_per_kwh"])
    assert got == {2019: ("D", 1, 0.3), 2020: ("D", 2, 0.3), 2021: ("D", 3, 0.4)}


def test_surcharge_only_for_d_and_change_since_last_year() -> None:
    rows, worst = _d_every_year([2020, 2021])
    wh = warehouse_with(rows)
    res = totals(wh, load_system("zhejiang_industry_above"), 2021)
    others = [r for c, r in res.items() if c != worst]
    assert all(np.isnan(r["power_surcharge_yuan_per_kwh"]) for r in others)
    assert all(r["prev_class"] == r["class"] and r["class_change"] == 0 for r in others)
    assert res[worst]["energy_quota_change_pct"] == -20.0


def test_county_override_changes_weights_for_that_county_only(tmp_path) -> None:
    other = "330102"
    codes = credit_codes([HUANGYAN, other])
    rows = [
        at_reference(codes[0], tax_factor=2.0),
        {**at_reference(codes[1], tax_factor=2.0), "county_code": other},
    ]
    wh = warehouse_with(rows)
    folder = tmp_path / "overrides" / "zhejiang_industry_above"
    folder.mkdir(parents=True)
    (folder / f"{other}.yaml").write_text(
        "weights: {tax_per_mu: 40, value_added_per_mu: 10}\nreferences: {tax_per_mu: {2021: 52.02}}\n",
        encoding="utf-8",
    )
    system = load_system("zhejiang_industry_above", systems_dir=tmp_path)
    res = totals(wh, system)
    assert res[codes[0]]["total_score"] == pytest.approx(130.0)
    # 40 × (52.02 / 52.02) + 10 + 20 + 10 + 10 + 10 = 100
    assert res[codes[1]]["total_score"] == pytest.approx(100.0)
    assert res[codes[1]]["ref_tax_per_mu"] == pytest.approx(52.02)
    # a county scope computes that county only
    scoped = totals(wh, system, scope=Scope(division=other))
    assert list(scoped) == [codes[1]]


def _three_by_tax(taxes: list[float], year: int = 2021) -> tuple[object, list[str]]:
    codes = credit_codes([HUANGYAN] * len(taxes))
    rows = [
        at_reference(c, tax_factor=t / REF_2021["tax"], year=year) for c, t in zip(codes, taxes, strict=True)
    ]
    return warehouse_with(rows), [str(c) for c in codes]


def test_jingde_minmax_formula() -> None:
    """旌德: weight × [20 + 80 × (x − min)/(max − min)] / 100 within the county."""
    wh, codes = _three_by_tax([10.0, 20.0, 30.0])
    res = totals(wh, load_system("zhejiang_industry_minmax"))
    assert [res[c]["s_tax_per_mu"] for c in codes] == pytest.approx([6.0, 18.0, 30.0])
    # all other indicators are equal: max == min earns the full weight
    assert res[codes[0]]["total_score"] == pytest.approx(6.0 + 70.0)
    assert res[codes[2]]["ref_tax_per_mu"] == pytest.approx(30.0)
    assert res[codes[2]]["lo_tax_per_mu"] == pytest.approx(10.0)


def test_huaian_benchmark_and_capped_ratio() -> None:
    """淮安: the benchmark is 2 × the county average; points = weight × min(1, x / benchmark).
    The capped ratio stops at cap × weight."""
    from jingxin.evaluation.config import Scoring

    wh, codes = _three_by_tax([10.0, 20.0, 90.0], year=2023)  # mean 40, benchmark 80
    system = load_system("zhejiang_industry_above")
    bench = totals(wh, system, 2023, scoring=Scoring(method="benchmark", benchmark_multiple=2))
    assert [bench[c]["s_tax_per_mu"] for c in codes] == pytest.approx([30 * 10 / 80, 30 * 20 / 80, 30.0])
    assert bench[codes[0]]["ref_tax_per_mu"] == pytest.approx(80.0)
    wh, codes = _three_by_tax([10.0, 20.0, 90.0])
    capped = totals(wh, system, 2021, scoring=Scoring(method="ratio_capped", cap=2))
    assert capped[codes[2]]["s_tax_per_mu"] == pytest.approx(60.0)  # 90/26.01 > 2: capped at 2 × 30
    assert capped[codes[0]]["s_tax_per_mu"] == pytest.approx(30 * 10 / 26.01)


def test_thresholds_a_plus_and_yaml_veto() -> None:
    from jingxin.evaluation.config_classes import APlus

    wh, codes = _three_by_tax([5.0, 26.01, 60.0])  # totals about 75.8, 100, 139.2
    base = load_system("zhejiang_industry_above")
    rule = base.classes.model_copy(
        update={
            "method": "thresholds",
            "thresholds": {"A": 110, "B": 95, "C": 80},
            "a_plus": APlus(threshold=130),
        }
    )
    veto = {"credit_code": codes[1], "year": 2021, "class": "D", "reason": "发生较大安全生产事故"}
    system = base.model_validate({**base.model_dump(by_alias=True), "vetoes": [veto]}).model_copy(
        update={"classes": rule}
    )
    res = totals(wh, system)
    assert [res[c]["score_class"] for c in codes] == ["D", "B", "A+"]
    assert [res[c]["class"] for c in codes] == ["D", "D", "A+"]
    assert res[codes[1]]["veto_reason"] == "发生较大安全生产事故"
    # A+ has A's policies unless configured itself
    assert res[codes[2]]["priority_land"] and res[codes[2]]["land_tax_relief_pct"] == 100.0
