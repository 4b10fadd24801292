"""The same evaluation on DuckDB, PostgreSQL and PySpark: same scores, ranks and classes.

A province of 10,000 enterprises over two years is built directly as fact tables (NumPy), run
on DuckDB as the reference, then loaded into a fresh PostgreSQL schema and published as a
Parquet folder for a Spark warehouse; each backend evaluates both years (the second year reads
the first year's stored run for the change in class and the consecutive D years).
"""

from __future__ import annotations

import pandas as pd
import pytest

from jingxin.core.warehouse import Warehouse, open_warehouse, publish_parquet
from jingxin.evaluation.population import FACT_TABLES
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province
from jingxin.evaluation.stored import stored_scores

pytestmark = pytest.mark.slow

SYSTEMS = ("zhejiang_industry_above", "zhejiang_industry_minmax")
EXACT = [
    "unit_id",
    "county_code",
    "industry_code",
    "rank_in_county",
    "rank_in_industry",
    "class_rank",
    "class_n",
    "score_class",
    "class",
    "prev_class",
    "class_change",
    "consecutive_d_years",
    "member_count",
]
CLOSE = [
    "land_mu",
    "score",
    "deduction",
    "total_score",
    "prev_score",
    "land_tax_relief_pct",
    "power_surcharge_yuan_per_kwh",
    "energy_quota_change_pct",
]


def evaluate_all(wh: Warehouse, systems=SYSTEMS) -> dict[tuple[str, int], tuple[pd.DataFrame, pd.DataFrame]]:
    out = {}
    for system in systems:
        for year in (2020, 2021):
            run = run_evaluation(wh, system, year)
            res = wh.table("eval_results")
            results = wh.execute(res.filter(res.run_id == run.run_id)).drop(columns="run_id")
            scores = wh.execute(stored_scores(wh, run.run_id)).drop(columns="run_id")
            out[(system, year)] = (
                results.sort_values("credit_code").reset_index(drop=True),
                scores.sort_values(["credit_code", "indicator"]).reset_index(drop=True),
            )
    return out


def assert_same(expected, got) -> None:
    assert got and set(got) <= set(expected)
    for key in got:
        (er, es), (gr, gs) = expected[key], got[key]
        assert list(er.credit_code) == list(gr.credit_code), key
        for col in EXACT:
            left, right = er[col], gr[col]
            same = (left == right) | (left.isna() & right.isna())
            assert same.all(), (key, col, er.loc[~same, ["credit_code", col]].head(), right[~same].head())
        for col in CLOSE:
            pd.testing.assert_series_equal(
                er[col].astype(float), gr[col].astype(float), check_names=False, rtol=1e-9, atol=1e-6
            )
        assert list(es.indicator) == list(gs.indicator)
        for col in ("value", "reference", "low_reference", "weight", "score"):
            pd.testing.assert_series_equal(
                es[col].astype(float), gs[col].astype(float), check_names=False, rtol=1e-9, atol=1e-6
            )
        assert (es.missing.astype(bool) == gs.missing.astype(bool)).all()


@pytest.fixture(scope="module")
def facts():
    return province(10_000, years=(2020, 2021), seed=21)


@pytest.fixture(scope="module")
def reference(facts, tmp_path_factory):
    """The DuckDB warehouse (also published as Parquet for Spark) and its results."""
    path = tmp_path_factory.mktemp("duck") / "wh.duckdb"
    wh = open_warehouse(f"duckdb:///{path}")
    load_facts(wh, facts)
    folder = tmp_path_factory.mktemp("parquet")
    publish_parquet(wh, folder, [*FACT_TABLES, "batches"])
    results = evaluate_all(wh)
    yield results, folder
    wh.close()


@pytest.mark.duckdb
def test_duckdb_results_are_plausible(reference) -> None:
    results, _ = reference
    res, scores = results[("zhejiang_industry_above", 2021)]
    assert len(res) > 3000
    shares = res["class"].value_counts(normalize=True)
    assert 0.1 < shares["A"] < 0.3 and shares["B"] > 0.4
    assert res.prev_class.notna().mean() > 0.8
    assert len(scores) == len(res) * 8


@pytest.mark.postgres
def test_postgres_gives_the_same_results(facts, reference, postgres_schema_url) -> None:
    expected, _ = reference
    wh = open_warehouse(postgres_schema_url)
    try:
        load_facts(wh, facts)
        got = evaluate_all(wh)
    finally:
        wh.close()
    assert_same(expected, got)


@pytest.mark.spark
@pytest.mark.heavy  # minutes in Spark local mode on two cores: `make test-heavy`
@pytest.mark.xdist_group("spark")
def test_spark_gives_the_same_results(reference) -> None:
    expected, folder = reference
    wh = open_warehouse(f"spark://{folder}")
    got = evaluate_all(wh)
    assert_same(expected, got)
