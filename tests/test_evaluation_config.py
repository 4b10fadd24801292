"""Indicator systems as configuration: shipped systems, validation, overrides, formulas."""

from __future__ import annotations

import ibis
import pytest

from jingxin.evaluation.config import (
    ClassRule,
    ConfigError,
    Scoring,
    System,
    list_systems,
    load_system,
    parse_system,
)
from jingxin.evaluation.config_policies import Deductions, PowerSurcharge
from jingxin.evaluation.formula import FormulaError, parse_formula

SHIPPED = {
    "zhejiang_industry_above",
    "zhejiang_industry_below",
    "zhejiang_industry_minmax",
    "zhejiang_services",
    "zhejiang_parks",
}


def test_shipped_systems_load_and_validate() -> None:
    assert set(list_systems()) >= SHIPPED
    for name in SHIPPED:
        system = load_system(name)
        assert system.id == name
        assert len(system.config_hash) == 64
        # the resolved configuration round-trips through the YAML a run stores
        again = parse_system(system.to_yaml())
        assert again == system
        assert again.config_hash == system.config_hash


def test_huangyan_defaults() -> None:
    s = load_system("zhejiang_industry_above")
    weights = {i.id: i.weight for i in s.indicators if i.weight}
    assert weights == {
        "tax_per_mu": 30,
        "value_added_per_mu": 20,
        "value_added_per_energy": 20,
        "value_added_per_discharge": 10,
        "labour_productivity": 10,
        "rd_intensity": 10,
    }
    # 黄岩's published references are 黄岩's own (a county override); other counties use their
    # own statistic of the year
    hy = s.for_county("331003")
    assert hy.reference_rule(hy.indicator("tax_per_mu")).fixed_for(2021) == 26.01
    assert hy.reference_rule(hy.indicator("tax_per_mu")).fixed_for(2022) == 24.097
    assert hy.reference_rule(hy.indicator("tax_per_mu")).fixed_for(2023) is None
    other = s.for_county("330102")
    assert other.reference_rule(other.indicator("tax_per_mu")).fixed_for(2021) is None
    assert other.reference_rule(other.indicator("tax_per_mu")).statistic == "sum_over_sum"
    assert s.missing_rule(s.indicator("value_added_per_discharge")) == "average"
    assert s.classes.shares == {"A": 20, "B": 60, "C": 15, "D": 5}
    assert s.policies.land_tax_relief_pct == {"A": 100, "B": 80, "C": 0, "D": 0}
    assert s.policies.power_surcharge is not None
    assert s.policies.power_surcharge.rate(1) == 0.3 and s.policies.power_surcharge.rate(3) == 0.4
    below = load_system("zhejiang_industry_below")
    assert below.population.min_land_mu == 3 and below.population.scale == "below"
    assert below.classes.shares == {"A": 5, "B": 70, "C": 20, "D": 5}
    assert {i.id: i.weight for i in below.indicators} == {"tax_per_mu": 50, "tax_per_kwh": 50}
    services = load_system("zhejiang_services")
    assert {"F51", "F52", "H61", "H62", "J", "K7010"} <= set(services.population.exclude)


def test_deduction_and_surcharge_rules() -> None:
    above, below = Deductions(sublet_first=5, sublet_further=5), Deductions(sublet_first=10, sublet_further=5)
    assert [above.points(n) for n in range(4)] == [0, 5, 10, 15]
    assert [below.points(n) for n in range(4)] == [0, 10, 15, 20]
    shandong = PowerSurcharge.model_validate(
        {
            "class": "D",
            "steps": [
                {"min_years": 1, "yuan_per_kwh": 0.05},
                {"min_years": 2, "yuan_per_kwh": 0.1},
                {"min_years": 3, "yuan_per_kwh": 0.15},
            ],
        }
    )
    assert [shandong.rate(n) for n in range(5)] == [None, 0.05, 0.1, 0.15, 0.15]


@pytest.mark.parametrize(
    "bad",
    [
        {"shares": {"A": 20, "B": 60, "C": 15, "D": 6}},  # does not sum to 100
        {"shares": {"B": 60, "A": 20, "C": 15, "D": 5}},  # out of order
        {"method": "thresholds", "thresholds": {"A": 80, "B": 90, "C": 60}},  # not decreasing
    ],
)
def test_class_rule_validation(bad: dict) -> None:
    with pytest.raises(ValueError):
        ClassRule(**bad)


def _system_dict(**changes) -> dict:
    base = load_system("zhejiang_industry_above").model_dump(by_alias=True)
    base.update(changes)
    return base


def test_system_validation_errors() -> None:
    base = _system_dict()
    bad_weight = dict(base)
    bad_weight["indicators"] = [{**base["indicators"][0], "weight": -1}]
    with pytest.raises(ValueError):
        System.model_validate(bad_weight)
    bad_formula = dict(base)
    bad_formula["indicators"] = [{**base["indicators"][0], "formula": "__import__('os').system('x')"}]
    with pytest.raises(ValueError, match="只允许|不是可用"):
        System.model_validate(bad_formula)
    bad_sos = dict(base)
    bad_sos["indicators"] = [
        {**base["indicators"][0], "formula": "tax_paid + 1", "reference": {"statistic": "sum_over_sum"}}
    ]
    with pytest.raises(ValueError, match="sum_over_sum"):
        System.model_validate(bad_sos)
    bad_veto = dict(base)
    bad_veto["vetoes"] = [{"credit_code": "X", "class": "E", "reason": "r"}]
    with pytest.raises(ValueError, match="unknown class"):
        System.model_validate(bad_veto)
    bad_override = dict(base)
    bad_override["overrides"] = {"331003": {"weights": {"nope": 1}}}
    with pytest.raises(ValueError, match="unknown indicators"):
        System.model_validate(bad_override)


def test_override_files_are_resolved(tmp_path) -> None:
    folder = tmp_path / "overrides" / "zhejiang_industry_above"
    folder.mkdir(parents=True)
    (folder / "330282.yaml").write_text(
        "note: 慈溪\nweights: {tax_per_mu: 40}\nshares: {A: 10, B: 70, C: 15, D: 5}\n"
        "vetoes: [{credit_code: '91330282MA2AAAAA0X', year: 2021, class: D, reason: 发生较大环境污染事故}]\n",
        encoding="utf-8",
    )
    system = load_system("zhejiang_industry_above", systems_dir=tmp_path)
    assert {"331003", "330282"} <= set(system.overrides)
    cixi = system.for_county("330282")
    assert cixi.indicator("tax_per_mu").weight == 40
    assert cixi.indicator("value_added_per_mu").weight == 20
    assert cixi.classes.shares["A"] == 10
    assert system.for_county("330102").indicator("tax_per_mu").weight == 30
    assert any(v.reason == "发生较大环境污染事故" for v in system.all_vetoes())
    # the override changes the configuration hash
    assert system.config_hash != load_system("zhejiang_industry_above").config_hash
    (folder / "330283.yaml").write_text("county: '330282'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="不符"):
        load_system("zhejiang_industry_above", systems_dir=tmp_path)


def test_with_changes_replaces_weights_and_scoring() -> None:
    s = load_system("zhejiang_industry_above")
    changed = s.with_changes(weights={"tax_per_mu": 60}, scoring=Scoring(method="minmax"))
    assert changed.indicator("tax_per_mu").weight == 60
    assert changed.scoring.method == "minmax"
    assert all(not o.weights for o in changed.overrides.values())
    assert changed.config_hash != s.config_hash
    with pytest.raises(KeyError):
        s.with_changes(weights={"unknown": 1})


def test_unknown_system_has_a_chinese_message() -> None:
    with pytest.raises(ConfigError, match="找不到评价体系"):
        load_system("no_such_system")


@pytest.mark.parametrize(
    "formula",
    [
        "tax_paid / area_mu",
        "tax_paid / (kwh / 10000)",
        "rd_expense / revenue * 100",
        "max(value_added, 0) / area_mu",
        "coalesce(tax_paid, 0) / area_mu - -1",
    ],
)
def test_formulas_parse(formula: str) -> None:
    assert parse_formula(formula).columns


@pytest.mark.parametrize(
    "formula",
    [
        "__import__('os')",
        "tax_paid.real",
        "tax_paid ** 2",
        "open('x')",
        "[tax_paid]",
        "tax_paid if area_mu else 0",
        "lambda: 1",
        "unknown_column / area_mu",
        "'text'",
        "tax_paid / ",
    ],
)
def test_unsafe_or_unknown_formulas_are_refused(formula: str) -> None:
    with pytest.raises(FormulaError):
        parse_formula(formula)


def test_formula_division_by_zero_is_missing_not_an_error() -> None:
    t = ibis.memtable({"tax_paid": [10.0, 5.0, None], "area_mu": [2.0, 0.0, 1.0]})
    expr = t.select(v=parse_formula("tax_paid / area_mu").to_ibis(t))
    con = ibis.duckdb.connect()
    values = con.to_pyarrow(expr)["v"].to_pylist()
    assert values == [5.0, None, None]
    assert parse_formula("tax_paid / area_mu").ratio is not None
    assert parse_formula("tax_paid + area_mu").ratio is None
