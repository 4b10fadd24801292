"""The same monitoring indicators on DuckDB, PostgreSQL and PySpark for a small province:
levels, 当月同比, 累计同比 and 企业增减面 of every group and measure."""

from __future__ import annotations

import pandas as pd
import pytest

from jingxin.core.warehouse import open_warehouse, publish_parquet
from jingxin.ingest.directory import ingest_directory
from jingxin.monitoring.indicators import compute
from jingxin.synth.generator import generate_province

TABLES = ["registry", "monthly", "power_monthly", "invoices", "customs_exports", "batches"]
MONTH = (2021, 3)
KEY = ["month", "level", "code", "measure"]
EXACT = ["enterprises", "compared", "growing", "shrinking"]
CLOSE = [
    "value",
    "value_month",
    "value_month_ly",
    "yoy_month",
    "value_ytd",
    "value_ytd_ly",
    "yoy_ytd",
    "growing_share",
]


def _canon(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(KEY).reset_index(drop=True)


def assert_same(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    e, g = _canon(expected), _canon(got)
    assert len(e) == len(g) and (e[KEY].astype(str).to_numpy() == g[KEY].astype(str).to_numpy()).all()
    for col in EXACT:
        assert (e[col].fillna(-1).astype(int) == g[col].fillna(-1).astype(int)).all(), col
    for col in CLOSE:
        pd.testing.assert_series_equal(
            e[col].astype(float), g[col].astype(float), check_names=False, rtol=1e-9, atol=1e-6
        )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    base = tmp_path_factory.mktemp("monitor_backends")
    generate_province(base / "p", 600, "2020-2021", 4, defects=0.0, daily_days=5)
    wh = open_warehouse(f"duckdb:///{base / 'wh.duckdb'}")
    ingest_directory(wh, base / "p")
    expected = compute(wh, *MONTH, history=3)
    folder = base / "parquet"
    publish_parquet(wh, folder, TABLES)
    arrow = {t: wh.to_pyarrow(wh.table(t)) for t in TABLES}
    wh.close()
    return expected, folder, arrow


@pytest.mark.duckdb
def test_duckdb_indicators_are_plausible(reference) -> None:
    expected, _, _ = reference
    assert set(expected.level) == {"province", "city", "county", "industry", "chain", "cluster"}
    assert {"customs_export", "kwh", "output_value", "cost_per_100"} <= set(expected.measure)
    assert expected.yoy_month.notna().sum() > 100


@pytest.mark.postgres
def test_postgres_gives_the_same_indicators(reference, postgres_schema_url) -> None:
    expected, _, arrow = reference
    wh = open_warehouse(postgres_schema_url)
    try:
        wh.ensure_schema()
        for name, table in arrow.items():
            wh.insert_arrow(name, table)
        got = compute(wh, *MONTH, history=3)
    finally:
        wh.close()
    assert_same(expected, got)


@pytest.mark.spark
@pytest.mark.heavy  # over a minute in Spark local mode on two cores: `make test-heavy`
@pytest.mark.xdist_group("spark")
def test_spark_gives_the_same_indicators(reference) -> None:
    expected, folder, _ = reference
    wh = open_warehouse(f"spark://{folder}")
    got = compute(wh, *MONTH, history=3)
    assert_same(expected, got)
