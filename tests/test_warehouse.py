"""The warehouse: one writer for a DuckDB file, and the same answers on every backend."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from jingxin.core import credit_code
from jingxin.core.scope import Scope
from jingxin.core.summary import enterprises_by_division, monthly_power, per_mu_by_county, province_per_mu
from jingxin.core.warehouse import WarehouseBusyError, open_warehouse, publish_parquet
from jingxin.reference import counties

PG = "postgresql://postgres@127.0.0.1:5432/test"


def _facts(n: int, seed: int = 7) -> dict[str, pa.Table]:
    """A small province built directly as fact tables: registry, land (with shared parcels),
    statistics, tax in two batches of which the first is superseded, monthly power."""
    rng = np.random.default_rng(seed)
    import random

    r = random.Random(seed)
    county = rng.choice(sorted(c.code for c in counties()), n)
    county[1::10] = county[0::10][: len(county[1::10])]  # parcel sharers sit in one county
    codes = [credit_code.generate(c, r) for c in county]
    rows = np.arange(2, n + 2)
    parcel = np.array([f"P{i:07d}" for i in range(n)])
    parcel[1::10] = parcel[0::10][: len(parcel[1::10])]  # every tenth pair shares a parcel
    area = np.round(rng.lognormal(3.5, 0.8, n), 2)  # each sharer's own share of its parcel
    months = [dt.date(2021, m, 1) for m in range(1, 13)]
    return {
        "registry": pa.table(
            {
                "batch_id": np.full(n, 1),
                "source_row": rows,
                "credit_code": codes,
                "name": [f"企业{i}" for i in range(n)],
                "county_code": county,
                "industry_code": rng.choice(["1711", "3821", "2614", "3670"], n),
                "founded_on": [dt.date(2010, 1, 1)] * n,
                "status": ["存续"] * n,
            }
        ),
        "land": pa.table(
            {
                "batch_id": np.full(n, 2),
                "source_row": rows,
                "credit_code": codes,
                "parcel_id": parcel,
                "area_mu": area,
                "land_use": ["工业"] * n,
                "acquisition": ["出让"] * n,
            }
        ),
        "statistics": pa.table(
            {
                "batch_id": np.full(n, 3),
                "source_row": rows,
                "credit_code": codes,
                "year": pa.array(np.full(n, 2021), pa.int32()),
                "above_scale": rng.random(n) < 0.4,
                "value_added": np.round(area * rng.lognormal(4.8, 0.5, n), 2),
                "revenue": np.round(area * 500, 2),
                "rd_expense": np.round(area * 5, 2),
                "employees": rng.integers(10, 900, n),
                "college_staff": rng.integers(0, 10, n),
            }
        ),
        "tax": pa.table(
            {
                "batch_id": np.r_[np.full(n, 4), np.full(n, 5)],
                "source_row": np.r_[rows, rows],
                "credit_code": codes + codes,
                "year": pa.array(np.full(2 * n, 2021), pa.int32()),
                "tax_paid": np.r_[np.full(n, 9999.0), np.round(area * rng.lognormal(3.2, 0.6, n), 2)],
            }
        ),
        "power_monthly": pa.table(
            {
                "batch_id": np.full(n * 12, 6),
                "source_row": np.arange(2, n * 12 + 2),
                "credit_code": np.repeat(codes, 12),
                "month": months * n,
                "kwh": np.round(rng.lognormal(10, 1, n * 12), 1),
            }
        ),
        "batches": pa.table(
            {
                "batch_id": np.arange(1, 7),
                "source": ["registry", "land", "statistics", "tax", "tax", "power"],
                "period": ["current", "current", "2021", "2021", "2021", "2021-01..2021-12"],
                "loaded_at": [dt.datetime(2022, 3, 1)] * 6,
                "superseded_by": pa.array([None, None, None, 5, None, None], pa.int64()),
            }
        ),
    }


def _fill(wh, facts):
    with wh.transaction():
        for name, data in facts.items():
            wh.insert_arrow(name, data)


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    """The same facts on DuckDB, PostgreSQL and Spark (Parquet published from DuckDB)."""
    folder = tmp_path_factory.mktemp("wh")
    facts = _facts(3000)
    duck = open_warehouse(f"duckdb:///{folder / 'w.duckdb'}")
    _fill(duck, facts)
    schema = f"t_{uuid.uuid4().hex[:10]}"
    pg = open_warehouse(f"{PG}?schema={schema}")
    _fill(pg, facts)
    publish_parquet(duck, folder / "parquet")
    spark = open_warehouse(f"spark:///{folder / 'parquet'}")
    yield {"duckdb": duck, "postgres": pg, "spark": spark}
    pg.sql(f'DROP SCHEMA "{schema}" CASCADE')
    duck.close()


def _frame(wh, expr) -> pd.DataFrame:
    df = wh.execute(expr)
    for col in df.columns:
        if str(df[col].dtype).startswith(("datetime", "date")) or df[col].map(type).eq(dt.date).any():
            df[col] = pd.to_datetime(df[col]).dt.strftime("%Y-%m")
    return df.reset_index(drop=True)


@pytest.mark.postgres
@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize(
    "query",
    [
        lambda wh: per_mu_by_county(wh, 2021),
        lambda wh: per_mu_by_county(wh, 2021, Scope(division="330100")),
        lambda wh: monthly_power(wh),
        lambda wh: monthly_power(wh, Scope(division="330500")),
        lambda wh: enterprises_by_division(wh),
    ],
    ids=["per_mu", "per_mu_hangzhou", "power", "power_huzhou", "by_division"],
)
def test_same_aggregates_on_every_backend(backends, query):
    frames = {name: _frame(wh, query(wh)) for name, wh in backends.items()}
    base = frames["duckdb"]
    assert len(base) > 0
    for name in ("postgres", "spark"):
        pd.testing.assert_frame_equal(frames[name], base, check_dtype=False, rtol=1e-9, obj=name)


@pytest.mark.postgres
@pytest.mark.spark
@pytest.mark.slow
def test_superseded_batch_is_left_out_everywhere(backends):
    for wh in backends.values():
        tax = wh.current("tax")
        assert wh.execute(tax.batch_id.max()) == 5
        assert wh.execute(tax.count()) == 3000


def test_land_is_the_sum_of_each_enterprise_share(tmp_path):
    facts = _facts(200)
    wh = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    _fill(wh, facts)
    land = facts["land"].to_pandas()
    stats = facts["statistics"].to_pandas()
    above = set(stats.loc[stats.above_scale, "credit_code"])
    expected_area = land[land.credit_code.isin(above)].area_mu.sum()
    figures = province_per_mu(wh, 2021)
    assert figures["area_mu"] == pytest.approx(expected_area)
    assert figures["enterprises"] == len(above)


HOLDER = """
import sys, time
from jingxin.core.warehouse import open_warehouse
wh = open_warehouse(sys.argv[1])
print("holding", flush=True)
time.sleep(60)
"""


def test_second_writer_gets_a_clear_message(tmp_path: Path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    open_warehouse(url).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        with pytest.raises(WarehouseBusyError) as err:
            open_warehouse(url)
        assert time.monotonic() - started < 10  # refused, not left waiting
        assert str(holder.pid) in str(err.value)
        assert "只允许一个进程写" in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    open_warehouse(url).close()  # usable again once the holder is gone


@pytest.mark.parametrize("backend", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_large_insert_keeps_every_row_in_order_with_its_constant_columns(backend, tmp_path, request):
    """More rows than one DuckDB row group, in several chunks: every row is stored once, in the
    order given, with the batch id passed as a constant."""
    url = (
        f"duckdb:///{tmp_path / 'w.duckdb'}"
        if backend == "duckdb"
        else request.getfixturevalue("postgres_schema_url")
    )
    wh = open_warehouse(url)
    n = 300_001
    rows = np.arange(n, dtype=np.int64)
    codes = pa.array([f"C{i:07d}" for i in range(n)])
    data = pa.table({"source_row": rows, "credit_code": codes, "year": np.full(n, 2021, np.int32)})
    data = pa.concat_tables([data.slice(0, 1000), data.slice(1000)])  # two chunks of odd sizes
    try:
        with wh.transaction():
            wh.insert_arrow("tax", data, {"batch_id": 7})
        stored = wh.sql("SELECT batch_id, source_row, credit_code FROM tax ORDER BY source_row")
        assert len(stored) == n
        assert {r[0] for r in stored} == {7}
        assert [r[2] for r in stored[:3]] == ["C0000000", "C0000001", "C0000002"]
        assert all(r[2] == f"C{r[1]:07d}" for r in stored[::997])
        if backend == "duckdb":  # scanned without ORDER BY, rows come back as inserted
            assert [r[0] for r in wh.sql("SELECT source_row FROM tax")] == rows.tolist()
    finally:
        wh.close()


def test_tables_are_looked_up_once_only_inside_same_tables(tmp_path: Path) -> None:
    """An evaluation asks for each table's columns once (`Warehouse.same_tables`); outside
    that block a table whose columns changed is seen as it is now."""
    wh = open_warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    wh.sql("CREATE TABLE t (a INTEGER)")
    with wh.same_tables():
        first = wh.table("t")
        assert wh.table("t") is first
        assert wh.has_table("t") and not wh.has_table("u")
    wh.sql("ALTER TABLE t ADD COLUMN b VARCHAR")
    assert list(wh.table("t").columns) == ["a", "b"]
    assert wh.table("t") is not first
    wh.close()
