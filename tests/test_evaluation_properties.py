"""Invariants of the engine, checked with hypothesis on small in-memory DuckDB warehouses.

Each example builds a fresh warehouse and evaluates it, which takes about a second, so the
example counts are kept small; the properties are simple enough that a handful of examples
across methods and group shapes exercise them.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation.compute import score_arrays
from jingxin.evaluation.config import Scoring, load_system
from jingxin.evaluation.config_classes import Pooling
from jingxin.evaluation.runs import evaluate
from jingxin.evaluation.sample import credit_codes, facts_from_columns, load_facts

COUNTIES = ["331003", "331004"]
INDUSTRIES = ["3821", "2614"]
SETTINGS = settings(
    max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

enterprise = st.tuples(
    st.integers(0, 1),  # county
    st.integers(0, 1),  # industry
    st.floats(0.05, 5.0),  # tax factor
    st.floats(0.05, 5.0),  # value-added factor
    st.floats(0.2, 3.0),  # energy factor
    st.booleans(),  # discharge reported
    st.floats(0.5, 60.0),  # land (亩)
)
provinces = st.lists(enterprise, min_size=3, max_size=40)
methods = st.sampled_from(["ratio", "ratio_capped", "minmax", "benchmark"])


def build(rows: list[tuple], year: int = 2021):
    """A warehouse with one row per drawn enterprise (规上 manufacturers)."""
    counties = [COUNTIES[r[0]] for r in rows]
    codes = credit_codes(counties)
    area = np.array([r[6] for r in rows])
    va = 130 * area * np.array([r[3] for r in rows])
    cols = {
        "credit_code": codes,
        "county_code": counties,
        "industry_code": [INDUSTRIES[r[1]] for r in rows],
        "year": [year] * len(rows),
        "area_mu": area,
        "tax_paid": 26 * area * np.array([r[2] for r in rows]),
        "value_added": va,
        "revenue": va * 4,
        "rd_expense": va * 0.1,
        "employees": np.maximum(1, np.round(va / 17)).astype(int),
        "energy_tce": va / 2.5 / np.array([r[4] for r in rows]),
        "discharge_t": [v / 4800 if r[5] else None for v, r in zip(va, rows, strict=True)],
    }
    wh = open_warehouse("duckdb:///:memory:")
    load_facts(wh, facts_from_columns(cols))
    return wh, list(codes), cols


def results(wh, system, **kw):
    ev = evaluate(wh, system, 2021, history="none", **kw)
    try:
        return wh.execute(ev.results)
    finally:
        ev.release()


@SETTINGS
@given(rows=provinces, method=methods, k=st.floats(0.1, 10.0))
def test_scaling_all_weights_scales_every_score(rows, method, k) -> None:
    wh, _, _ = build(rows)
    system = load_system("zhejiang_industry_above").with_changes(scoring=Scoring(method=method, cap=2.0))
    weights = {i.id: i.weight for i in system.indicators}
    base = score_arrays(wh, system, 2021)
    scaled = score_arrays(wh, system, 2021, weights={i: w * k for i, w in weights.items()})
    assert np.array_equal(base.unit_id, scaled.unit_id)
    np.testing.assert_allclose(scaled.scores, base.scores * k, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(scaled.total, base.total * k, rtol=1e-9, atol=1e-5)
    # the NumPy re-scoring hook agrees with the engine
    np.testing.assert_allclose(base.totals({i: w * k for i, w in weights.items()}), scaled.total, atol=1e-5)


@SETTINGS
@given(rows=provinces, method=methods)
def test_ranks_are_permutations(rows, method) -> None:
    wh, codes, _ = build(rows)
    system = load_system("zhejiang_industry_above").with_changes(scoring=Scoring(method=method))
    df = results(wh, system)
    assert sorted(df.credit_code) == sorted(codes)
    for _, g in df.groupby("county_code"):
        assert sorted(g.rank_in_county) == list(range(1, len(g) + 1))
        assert (g.county_count == len(g)).all()
        # higher total, better (smaller) rank
        ordered = g.sort_values("rank_in_county")
        assert (np.diff(ordered.total_score.to_numpy()) <= 1e-9).all()
    for _, g in df.groupby(["county_code", "division_code"]):
        assert sorted(g.rank_in_industry) == list(range(1, len(g) + 1))


@SETTINGS
@given(
    rows=provinces,
    shares=st.sampled_from([(20, 60, 15, 5), (5, 70, 20, 5), (10, 40, 40, 10), (25, 25, 25, 25)]),
)
def test_class_shares_hold_within_rounding(rows, shares) -> None:
    wh, _, _ = build(rows)
    base = load_system("zhejiang_industry_above")
    # the rounding rule itself, on the groups as they are (pooling is tested on its own)
    rule = base.classes.model_copy(
        update={"shares": dict(zip("ABCD", shares, strict=True)), "pooling": Pooling(min_size=0)}
    )
    system = base.model_copy(update={"classes": rule, "overrides": {}})
    df = results(wh, system)
    cumulative = np.cumsum(shares)
    for _, g in df.groupby(["county_code", "division_code"]):
        n = len(g)
        counts = Counter(g["class"])
        for cls, share in zip("ABCD", shares, strict=True):
            assert abs(counts.get(cls, 0) - n * share / 100) < 1 + 1e-9
        # cumulative counts are the rounded cumulative shares
        got = np.cumsum([counts.get(c, 0) for c in "ABCD"])
        assert list(got) == [int(np.floor(n * c / 100 + 0.5)) for c in cumulative]
        # classes follow the rank order
        order = g.sort_values("rank_in_industry")["class"].map("ABCD".index).to_numpy()
        assert (np.diff(order) >= 0).all()


@settings(max_examples=5, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=provinces,
    who=st.integers(0, 39),
    fact=st.sampled_from(["tax_paid", "value_added", "rd_expense"]),
    factor=st.floats(1.05, 5.0),
    system_id=st.sampled_from(["zhejiang_industry_above", "zhejiang_industry_minmax"]),
    year=st.sampled_from([2021, 2023]),
)
def test_improving_a_higher_is_better_indicator_never_lowers_the_class(
    rows, who, fact, factor, system_id, year
) -> None:
    """With fixed references (2021) or county means (2023) alike: more tax, value added or
    R&D never moves an enterprise to a worse class."""
    system = load_system(system_id)
    wh, codes, cols = build(rows, year)
    target = codes[who % len(codes)]
    before = _classes(wh, system, year)
    better = dict(cols)
    better[fact] = np.array(cols[fact], dtype=float).copy()
    better[fact][codes.index(target)] *= factor
    wh2 = open_warehouse("duckdb:///:memory:")
    load_facts(wh2, facts_from_columns(better))
    after = _classes(wh2, system, year)
    order = system.classes.all_classes
    assert order.index(after[target]) <= order.index(before[target])


def _classes(wh, system, year: int) -> dict[str, str]:
    ev = evaluate(wh, system, year, history="none")
    try:
        df = wh.execute(ev.results.select("credit_code", "class"))
    finally:
        ev.release()
    return dict(zip(df.credit_code, df["class"], strict=True))


def test_numpy_classes_match_the_engine() -> None:
    """`classes_from_totals` (for repeated re-scoring) reproduces the engine's classes."""
    from jingxin.evaluation.classes import classes_from_totals, pooled_labels

    rng = np.random.default_rng(3)
    rows = [
        (
            int(rng.integers(0, 2)),
            int(rng.integers(0, 2)),
            *rng.uniform(0.1, 4, 3),
            bool(rng.random() > 0.2),
            float(rng.uniform(1, 50)),
        )
        for _ in range(60)
    ]
    wh, _, _ = build(rows)
    system = load_system("zhejiang_industry_above")
    df = results(wh, system)
    arrays = score_arrays(wh, system, 2021)
    groups = pooled_labels(system.classes, arrays.county_code, arrays.division_code, tenant=arrays.tenant)
    got = classes_from_totals(arrays.total, groups, arrays.unit_id, system.classes, arrays.tiebreak)
    engine = dict(zip(df.unit_id, df["class"], strict=True))
    assert [engine[u] for u in arrays.unit_id] == list(got)
    by_group = defaultdict(list)
    for g, c in zip(groups, got, strict=True):
        by_group[g].append(c)
    assert by_group


@pytest.mark.parametrize("rule", ["average", "zero", "reweight"])
def test_missing_rules(rule: str) -> None:
    rows = [
        (0, 0, 1.0, 1.0, 1.0, True, 10.0),
        (0, 0, 1.0, 1.0, 1.0, True, 10.0),
        (0, 0, 1.0, 1.0, 1.0, False, 10.0),
    ]
    wh, codes, _ = build(rows)
    base = load_system("zhejiang_industry_above")
    inds = [
        i.model_copy(update={"missing": rule}) if i.id == "value_added_per_discharge" else i
        for i in base.indicators
    ]
    system = base.model_copy(update={"indicators": inds})
    df = results(wh, system).set_index("credit_code")
    present, missing = df.loc[codes[0]], df.loc[codes[2]]
    assert missing["m_value_added_per_discharge"] and not present["m_value_added_per_discharge"]
    if rule == "average":
        assert missing.s_value_added_per_discharge == pytest.approx(present.s_value_added_per_discharge)
    elif rule == "zero":
        assert missing.s_value_added_per_discharge == 0
    else:
        # left out: the other indicators' weights are scaled up to the full 100
        assert missing.w_value_added_per_discharge == 0
        assert missing.w_tax_per_mu == pytest.approx(30 * 100 / 90)
        others = [
            c for c in df.columns if c.startswith("w_") and c not in ("w_talent_density", "w_rd_per_employee")
        ]
        assert sum(missing[c] for c in others) == pytest.approx(100)
