"""Uncertainty analysis of the 亩均 evaluation (不确定性分析): properties of the Monte Carlo over
weights and scoring methods, and the exact mirror of the evaluation's ranks and classes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation.classes import classes_from_totals
from jingxin.evaluation.config import load_system
from jingxin.evaluation.config_classes import APlus, ClassRule
from jingxin.evaluation.runs import load_inputs, run_evaluation
from jingxin.evaluation.sample import credit_codes, facts_from_columns, load_facts, province
from jingxin.evaluation.uncertainty import (
    ClassRanker,
    UncertaintyAnalysis,
    UnitScores,
    _resolve,
    analyse,
    default_methods,
    parse_method,
)

HUANGYAN = "331003"
REF_2021 = {
    "tax": 26.01,
    "va_mu": 132.27,
    "va_energy": 2.54,
    "va_discharge": 4861.08,
    "lp": 17.45,
    "rd": 3.05,
}
SYSTEMS = Path(__file__).resolve().parents[1] / "src" / "jingxin" / "evaluation" / "systems"


def enterprise(
    code: str,
    *,
    tax: float = 1.0,
    va_mu: float = 1.0,
    energy: float = 1.0,
    discharge: float = 1.0,
    lp: float = 1.0,
    rd: float = 1.0,
    county: str = HUANGYAN,
) -> dict:
    """An enterprise whose six indicators are 黄岩's 2021 references times the given factors."""
    employees = 100
    va = REF_2021["lp"] * lp * employees
    area = va / (REF_2021["va_mu"] * va_mu)
    return {
        "credit_code": code,
        "county_code": county,
        "industry_code": "3821",
        "year": 2021,
        "area_mu": area,
        "tax_paid": REF_2021["tax"] * tax * area,
        "value_added": va,
        "revenue": 1000.0,
        "rd_expense": REF_2021["rd"] * rd * 10,
        "employees": employees,
        "college_staff": 20,
        "energy_tce": va / (REF_2021["va_energy"] * energy),
        "discharge_t": va / (REF_2021["va_discharge"] * discharge),
        "kwh": 1_000_000.0,
    }


def warehouse_with(rows: list[dict], url: str = "duckdb:///:memory:"):
    wh = open_warehouse(url)
    load_facts(wh, facts_from_columns({k: [r.get(k) for r in rows] for k in rows[0]}))
    return wh


def boundary_group() -> tuple[list[dict], list[str]]:
    """Ten enterprises of one industry in 黄岩 (A = top 2): one far above everything, two tied at
    130 with different profiles (tax × 2 against value added per mu and R&D × 2, all within the
    cap of 2 × weight), seven below 100."""
    codes = [str(c) for c in credit_codes([HUANGYAN] * 10)]
    rows = [
        enterprise(codes[0], tax=10, va_mu=10, energy=10, discharge=10, lp=10, rd=10),
        enterprise(codes[1], tax=2.0),
        enterprise(codes[2], va_mu=2.0, rd=2.0),
        *(enterprise(c, tax=0.5 + i / 20) for i, c in enumerate(codes[3:])),
    ]
    return rows, codes


@pytest.fixture(scope="module")
def sample_wh():
    """A small province of two counties (about 250 evaluated enterprises)."""
    wh = open_warehouse("duckdb:///:memory:")
    load_facts(wh, province(700, years=(2021,), seed=7, counties=[HUANGYAN, "330102"]))
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def above(sample_wh) -> UncertaintyAnalysis:
    """The 规上 evaluation of the sample province, read once for several analyses."""
    return UncertaintyAnalysis(sample_wh, (2021, "zhejiang_industry_above"))


# ---- properties ------------------------------------------------------------------------------
def test_spread_zero_and_nominal_method_is_certain(above) -> None:
    res = above.run(draws=25, weight_spread=0, methods=["nominal=1"])
    df = res.enterprises
    assert len(df) > 100 and res.source == "live"
    assert res.nominal_mismatches == 0
    assert (df["p_nominal"] == 1.0).all() and df["robust"].all()
    assert (df["modal_class"] == df["nominal_class"]).all()
    # the rank never moves, and it is the evaluation's own rank in the class group
    assert (df["rank_min"] == df["rank_max"]).all() and (df["rank_p05"] == df["rank_p95"]).all()
    assert (df["rank_min"] == df["class_rank"]).all()
    assert res.not_robust == 0 and res.by_class["not_robust"].sum() == 0


def test_probabilities_sum_to_one_and_intervals_are_ordered(above) -> None:
    res = above.run(draws=120, seed=3)
    df = res.enterprises
    probs = df[["p_a", "p_b", "p_c", "p_d"]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    assert ((probs * res.draws) % 1 == 0).all()  # counts of draws
    assert (df["robust"] == (df["p_nominal"] >= 0.8)).all()
    assert (df["rank_min"] >= 1).all() and (df["rank_max"] <= df["class_n"]).all()
    assert (df["rank_min"] <= df["rank_p05"]).all() and (df["rank_p05"] <= df["rank_p95"]).all()
    assert (df["rank_p95"] <= df["rank_max"]).all()
    assert sum(m["draws"] for m in res.methods) == 120
    assert {m["name"] for m in res.methods} == {"nominal", "ratio_capped", "minmax"}
    # something moves under ±20 % weights and three scoring methods, and the counts add up
    assert 0 < res.not_robust < len(df)
    assert res.by_class["not_robust"].sum() == res.not_robust == res.by_county["not_robust"].sum()
    assert res.by_class["enterprises"].sum() == len(df)
    assert set(res.by_county["county_code"]) == {HUANGYAN, "330102"}
    assert res.by_county.set_index("county_code").loc[HUANGYAN, "county_name"] == "黄岩区"


def test_far_above_every_reference_is_robust_a_and_a_tie_on_the_boundary_is_not() -> None:
    rows, codes = boundary_group()
    analysis = UncertaintyAnalysis(warehouse_with(rows), (2021, "zhejiang_industry_above"))
    res = analysis.run(draws=400, methods=["nominal=1"], seed=1)
    df = res.enterprises.set_index("credit_code")
    assert res.nominal_mismatches == 0
    top = df.loc[codes[0]]
    assert top["nominal_class"] == "A" and top["p_a"] == 1.0 and top["robust"]
    assert top["rank_min"] == top["rank_max"] == 1
    # the tie at 130 goes to the smaller credit code in the evaluation; under ±20 % weights
    # either may win, so neither is robust, and exactly one of them is A in every draw
    tied = df.loc[[codes[1], codes[2]]]
    assert sorted(tied["nominal_class"]) == ["A", "B"]
    assert not tied["robust"].any()
    assert ((tied["p_a"] > 0.2) & (tied["p_a"] < 0.8)).all()
    assert tied["p_a"].sum() == pytest.approx(1.0)
    assert (tied["rank_min"] == 2).all() and (tied["rank_max"] == 3).all()
    # the far-above enterprise stays A under every scoring method too
    res = analysis.run(draws=200, seed=2)
    assert res.enterprises.set_index("credit_code").loc[codes[0], "p_a"] == 1.0


def test_threshold_boundary_is_not_robust_and_reference_enterprise_is(tmp_path) -> None:
    data = yaml.safe_load((SYSTEMS / "zhejiang_industry_above.yaml").read_text(encoding="utf-8"))
    data["id"] = "test_thresholds"
    data["classes"] = {
        "method": "thresholds",
        "group": "county",
        "order": ["A", "B", "C", "D"],
        "thresholds": {"A": 130, "B": 90, "C": 70},
    }
    (tmp_path / "test_thresholds.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    # 黄岩's published references, as for the shipped system
    folder = tmp_path / "overrides" / "test_thresholds"
    folder.mkdir(parents=True)
    shipped = SYSTEMS / "overrides" / "zhejiang_industry_above" / f"{HUANGYAN}.yaml"
    (folder / f"{HUANGYAN}.yaml").write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    codes = [str(c) for c in credit_codes([HUANGYAN] * 3)]
    rows = [enterprise(codes[0], tax=2.0), enterprise(codes[1]), enterprise(codes[2], tax=0.1)]
    wh = warehouse_with(rows)
    system = load_system("test_thresholds", systems_dir=tmp_path)
    assert [m.name for m in default_methods(system)] == ["nominal", "ratio_capped"]
    analysis = UncertaintyAnalysis(wh, (2021, system))
    res = analysis.run(draws=300, methods={"nominal": 1.0}, seed=5)
    df = res.enterprises.set_index("credit_code")
    assert res.nominal_mismatches == 0
    assert df.loc[codes[0], "total_score"] == pytest.approx(130.0)
    assert df.loc[codes[0], "nominal_class"] == "A" and not df.loc[codes[0], "robust"]
    assert 0.2 < df.loc[codes[0], "p_a"] < 0.8
    # at every reference the total is Σ weights = 100 whatever the draw (renormalised): robust B
    assert df.loc[codes[1], "nominal_class"] == "B" and df.loc[codes[1], "p_b"] == 1.0
    # without renormalisation the scale moves too: the reference enterprise sometimes drops below 90
    raw = analysis.run(draws=300, methods={"nominal": 1.0}, seed=5, renormalise=False)
    assert 0.8 < raw.enterprises.set_index("credit_code").loc[codes[1], "p_b"] < 1.0
    with pytest.raises(ValueError, match="已保存"):
        res.to_arrow()  # a live analysis has no run to attach to


def test_same_seed_same_result_whatever_the_chunk_size(sample_wh) -> None:
    analysis = UncertaintyAnalysis(sample_wh, (2021, "zhejiang_industry_below"))
    a = analysis.run(draws=60, seed=11)
    b = analysis.run(draws=60, seed=11, chunk=7)
    c = analysis.run(draws=60, seed=12)
    assert a.enterprises.equals(b.enterprises)
    assert a.methods == b.methods
    assert not a.enterprises.equals(c.enterprises)
    assert a.nominal_mismatches == 0


# ---- the mirror of the evaluation ---------------------------------------------------------------
def _mixed_system(tmp_path: Path) -> None:
    """A system with A+ by share, and two county overrides: other weights and shares in 330102,
    thresholds in 黄岩 (the per-county switch between shares and thresholds)."""
    data = yaml.safe_load((SYSTEMS / "zhejiang_industry_above.yaml").read_text(encoding="utf-8"))
    data["id"] = "test_mixed"
    data["classes"]["a_plus"] = {"share": 5}
    data["classes"]["group"] = "county"  # groups large enough for a 5 % A+
    (tmp_path / "test_mixed.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    folder = tmp_path / "overrides" / "test_mixed"
    folder.mkdir(parents=True)
    (folder / "330102.yaml").write_text(
        "weights: {tax_per_mu: 40, value_added_per_mu: 10}\nshares: {A: 30, B: 50, C: 15, D: 5}\n",
        encoding="utf-8",
    )
    (folder / f"{HUANGYAN}.yaml").write_text("thresholds: {A: 120, B: 90, C: 60}\n", encoding="utf-8")


def _reweight_system(tmp_path: Path) -> None:
    """The 规上 system with energy and discharge re-weighted when missing (缺项权重再分配)."""
    data = yaml.safe_load((SYSTEMS / "zhejiang_industry_above.yaml").read_text(encoding="utf-8"))
    data["id"] = "test_reweight"
    for ind in data["indicators"]:
        if ind["id"] in ("value_added_per_energy", "value_added_per_discharge"):
            ind["missing"] = "reweight"
    (tmp_path / "test_reweight.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize("system_name", ["zhejiang_industry_minmax", "zhejiang_services", "test_reweight"])
def test_nominal_draw_reproduces_the_evaluation(sample_wh, tmp_path, system_name) -> None:
    _reweight_system(tmp_path)
    system = load_system(system_name, systems_dir=tmp_path)
    analysis = UncertaintyAnalysis(sample_wh, (2021, system))
    res = analysis.run(draws=40, seed=4, methods=["nominal=1"])
    assert len(res.enterprises) > 0
    assert res.nominal_mismatches == 0
    # the weighted sum with nominal weights is the warehouse's total, bit for bit
    scores = analysis.scores_for(system)
    assert np.array_equal(scores.totals(np.ones((1, len(analysis.indicators))))[0], scores.total)


def test_stored_run_with_veto_and_override(tmp_path) -> None:
    _mixed_system(tmp_path)
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    wh = open_warehouse(url)
    load_facts(wh, province(500, years=(2021,), seed=9, counties=[HUANGYAN, "330102"]))
    system = load_system("test_mixed", systems_dir=tmp_path)
    summary = run_evaluation(wh, system, 2021, history="none")
    stored = wh.execute(wh.table("eval_results").filter(lambda t: t.run_id == summary.run_id))
    victim = str(stored.sort_values("total_score").iloc[-1]["credit_code"])  # the best: A+ or A
    load_inputs(
        wh,
        "vetoes",
        pa.table(
            {"credit_code": [victim], "year": [2021], "class": ["D"], "reason": ["发生较大安全生产事故"]}
        ),
    )
    vetoed_run = run_evaluation(wh, system, 2021, history="none")
    res = analyse(wh, vetoed_run.run_id, draws=50, seed=1)
    assert res.source == "run" and res.run_id == vetoed_run.run_id
    assert res.nominal_mismatches == 0
    assert "A+" in set(res.enterprises["nominal_class"]) and "p_a_plus" in res.enterprises.columns
    assert set(res.enterprises["nominal_class"]) >= {"A", "B", "C"}
    row = res.enterprises.set_index("credit_code").loc[victim]
    assert row["vetoed"] and row["nominal_class"] == "D" and row["p_d"] == 1.0 and row["robust"]
    # (year, system) finds the newest stored run of the same configuration, unless told not to
    assert _resolve(wh, (2021, system), True, None).run_id == vetoed_run.run_id
    assert _resolve(wh, (2021, system), False, None).run_id is None
    assert _resolve(wh, (2021, system, HUANGYAN), True, None).run_id is None  # another scope
    wh.close()


def test_store_and_command_line(tmp_path) -> None:
    from typer.testing import CliRunner

    from jingxin.cli import app

    rows, codes = boundary_group()
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    wh = warehouse_with(rows, url)
    run_id = run_evaluation(wh, "zhejiang_industry_above", 2021, history="none").run_id
    wh.close()

    runner = CliRunner()
    args = ["evaluate-uncertainty", "--year", "2021", "--system", "zhejiang_industry_above"]
    args += ["--draws", "50", "--method", "nominal=1", "--store", "--json", "--warehouse", url]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    assert summary["run_id"] == run_id and summary["enterprises"] == 10
    assert summary["nominal_mismatches"] == 0
    by_class = {r["class"]: r for r in summary["by_class"]}
    assert by_class["A"]["not_robust"] + by_class["B"]["not_robust"] == 2  # the tied pair

    again = runner.invoke(
        app,
        [
            "evaluate-uncertainty",
            "--run",
            run_id,
            "--draws",
            "30",
            "--method",
            "nominal=1",
            "--store",
            "--warehouse",
            url,
        ],
    )
    assert again.exit_code == 0, again.output
    assert "不稳健" in again.output

    wh = open_warehouse(url)
    stored = wh.execute(wh.table("eval_uncertainty"))
    wh.close()
    assert len(stored) == 10  # the second analysis replaced the first
    assert set(stored["draws"]) == {30} and set(stored["run_id"]) == {run_id}
    assert np.allclose(stored[["p_a_plus", "p_a", "p_b", "p_c", "p_d"]].sum(axis=1), 1.0)
    assert (stored["p_a_plus"] == 0).all()
    top = stored.set_index("credit_code").loc[codes[0]]
    assert top["robust"] and top["modal_class"] == "A" and top["rank_max"] == 1

    bad = runner.invoke(app, ["evaluate-uncertainty", "--year", "2021", "--warehouse", url])
    assert bad.exit_code != 0


# ---- building blocks -----------------------------------------------------------------------------
def test_parse_method_forms() -> None:
    system = load_system("zhejiang_industry_above")
    m = parse_method("ratio_capped:3+ref_province_mean=0.2", system)
    assert m.probability == 0.2 and m.scoring is not None and m.scoring.cap_multiple == 3.0
    assert m.reference is not None and m.reference.group == "province" and m.reference.statistic == "mean"
    assert parse_method("minmax:0=1", system).scoring.minmax_floor == 0.0  # type: ignore[union-attr]
    assert parse_method("ref_county_industry_median=1", system).reference.group == "county_industry"  # type: ignore[union-attr]
    assert parse_method("nominal=0.5", system).scoring is None
    for bad in ("minmax", "zscore=1", "ref_county_mode=1", "ratio=x"):
        with pytest.raises(ValueError):
            parse_method(bad, system)


def test_reference_rule_alternative_runs(above) -> None:
    res = above.run(
        draws=40,
        methods=["nominal=0.5", "ref_province_mean=0.25", "ratio_capped+ref_county_median=0.25"],
    )
    assert res.nominal_mismatches == 0
    assert np.allclose(res.enterprises[["p_a", "p_b", "p_c", "p_d"]].sum(axis=1), 1.0)
    assert [m["description"] for m in res.methods][1] == "参照值取全省均值"


def _reference_ranks(totals: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Rank by group, total descending, position (the unit-id order), one lexsort per draw."""
    out = np.empty(totals.shape, dtype=np.int64)
    n = totals.shape[1]
    for b, row in enumerate(totals):
        order = np.lexsort((np.arange(n), -row, group))
        g = group[order]
        starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
        sizes = np.diff(np.r_[starts, n])
        out[b, order] = np.arange(n) - np.repeat(starts, sizes) + 1
    return out


@pytest.mark.parametrize("scale", [1.0, 1e9, 1e12])
def test_ranks_match_a_lexsort_on_every_key_path(scale: float) -> None:
    rng = np.random.default_rng(0)
    n = 300
    group = np.sort(rng.integers(0, 5, n))
    totals = np.round(rng.integers(0, 40, (4, n)) * scale / 7, 6)  # many ties
    ranker = ClassRanker.build(ClassRule(), group)
    assert np.array_equal(ranker.ranks(totals), _reference_ranks(totals, group))


rules = st.one_of(
    st.builds(
        lambda a, b, c, plus: ClassRule(
            shares={"A": a, "B": b, "C": c, "D": 100 - a - b - c},
            a_plus=APlus(share=plus) if plus else None,
        ),
        st.integers(0, 30),
        st.integers(0, 40),
        st.integers(0, 25),
        st.sampled_from([None, 5.0, 50.0]),
    ),
    st.builds(
        lambda hi, gap, plus: ClassRule(
            method="thresholds",
            thresholds={"A": hi, "B": hi - gap, "C": hi - 2 * gap},
            a_plus=APlus(threshold=hi + gap) if plus else None,
        ),
        st.integers(2, 12).map(float),
        st.integers(0, 4).map(float),
        st.booleans(),
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    rule=rules,
    data=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 16)), min_size=1, max_size=60),
    draws=st.integers(1, 3),
)
def test_batched_classes_equal_classes_from_totals(rule: ClassRule, data, draws: int) -> None:
    """The batched ranker gives, draw by draw, what classes.classes_from_totals gives."""
    data = sorted(data, key=lambda t: t[0])
    group = np.array([g for g, _ in data])
    base = np.array([v for _, v in data], dtype=float)
    totals = np.stack([base + (d % 2) * np.arange(len(base)) % 3 for d in range(draws)])
    unit_id = np.array([f"U{i:04d}" for i in range(len(base))])
    ranker = ClassRanker.build(rule, group)
    ranks = ranker.ranks(totals)
    got = ranker.classify(totals, ranks)
    assert ranker.monotone
    assert np.array_equal(got, ranker._classify_first_met(totals, ranks))  # the count = the CASE
    for d in range(draws):
        expected = classes_from_totals(totals[d], group, unit_id, rule)
        assert list(np.array(ranker.classes)[got[d]]) == list(expected)


@pytest.mark.parametrize("renormalise", [True, False])
def test_batched_totals_equal_score_arrays_totals(renormalise: bool) -> None:
    """The batched weighted sum agrees with `ScoreArrays.totals`, re-weighting included, for
    per-unit (county-overridden) weights."""
    from jingxin.evaluation.compute import ScoreArrays

    rng = np.random.default_rng(5)
    n, m = 400, 5
    weights = np.tile([30.0, 20.0, 25.0, 25.0, 0.0], (n, 1))
    weights[: n // 3] = [40.0, 10.0, 25.0, 25.0, 0.0]  # an overriding county
    available = rng.random((n, m)) > 0.2
    reweight = np.array([False, False, True, True, False])
    u = np.where(available, rng.lognormal(0, 0.5, (n, m)), 0.0)
    deduction = np.where(rng.random(n) < 0.1, 5.0, 0.0)
    arrays = ScoreArrays(
        unit_id=np.arange(n).astype(str),
        county_code=np.full(n, HUANGYAN),
        division_code=np.full(n, "38"),
        indicators=[f"i{j}" for j in range(m)],
        values=u,
        references=np.ones((n, m)),
        u=u,
        weights=weights,
        scores=u * weights,
        available=available,
        reweight=reweight,
        deduction=deduction,
        total=np.zeros(n),
    )
    scores = UnitScores(u, weights, available, reweight, deduction, np.zeros(n))
    factors = 1 + rng.uniform(-0.2, 0.2, (7, m))
    got = scores.totals(factors, renormalise)
    for b, f in enumerate(factors):
        w = weights * f
        if renormalise:
            w = w * (weights.sum(axis=1) / w.sum(axis=1))[:, None]
        assert np.allclose(got[b], arrays.totals(w), atol=2e-6)
    # nominal factors: the exact path, equal to ScoreArrays at the nominal weights
    assert np.allclose(scores.totals(np.ones((2, m)))[1], arrays.totals(weights), atol=1e-9)
