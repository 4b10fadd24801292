"""Vintages (`core/vintage.py`) on hand-made batches, the same answers on DuckDB and PostgreSQL:
what the platform held on a date (system time) and what had been published by a date."""

from __future__ import annotations

import datetime as dt
import uuid

import pyarrow as pa
import pytest

from jingxin.core.vintage import as_loaded, as_released
from jingxin.core.warehouse import open_warehouse

PG = "postgresql://postgres@127.0.0.1:5432/test"
D = dt.date


def _fill(wh) -> None:
    batches = pa.table(
        {
            "batch_id": [1, 2, 3],
            "source": ["official", "official", "power"],
            "period": ["2021-02..2021-03", "2021-02..2021-03", "2021-01..2021-12"],
            "loaded_at": [dt.datetime(2021, 4, 20, 9), dt.datetime(2021, 5, 20, 9), dt.datetime(2021, 4, 1)],
            "supersedes": pa.array([None, 1, None], pa.int64()),
            "superseded_by": pa.array([2, None, None], pa.int64()),
        }
    )
    rows = [  # batch, month, growth, released: batch 2 republishes with March revised on 5-14
        (1, D(2021, 2, 1), 40.0, D(2021, 3, 16)),
        (1, D(2021, 3, 1), 20.0, D(2021, 4, 15)),
        (2, D(2021, 2, 1), 40.0, D(2021, 3, 16)),
        (2, D(2021, 3, 1), 20.0, D(2021, 4, 15)),
        (2, D(2021, 3, 1), 21.5, D(2021, 5, 14)),
    ]
    facts = pa.table(
        {
            "batch_id": [r[0] for r in rows],
            "source_row": list(range(2, 2 + len(rows))),
            "region_code": ["330000"] * len(rows),
            "month": [r[1] for r in rows],
            "growth_month": [r[2] for r in rows],
            "growth_ytd": [r[2] for r in rows],
            "released_on": [r[3] for r in rows],
        }
    )
    with wh.transaction():
        wh.insert_arrow("batches", batches)
        wh.insert_arrow("official_growth", facts)


@pytest.fixture(
    scope="module",
    params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def wh(request):
    if request.param == "duckdb":
        w = open_warehouse("duckdb://")
        _fill(w)
        yield w
        w.close()
        return
    schema = f"t_{uuid.uuid4().hex[:10]}"
    w = open_warehouse(f"{PG}?schema={schema}")
    _fill(w)
    yield w
    w.sql(f'DROP SCHEMA "{schema}" CASCADE')
    w.close()


def _march(wh, expr) -> list[float]:
    df = wh.execute(expr)
    df = df[df["month"].astype(str).str.startswith("2021-03")]
    return sorted(df["growth_month"].tolist())


def test_as_released_first_release_then_revision(wh) -> None:
    key = ["region_code", "month"]
    assert _march(wh, as_released(wh, "official_growth", D(2021, 4, 14), key)) == []  # not out yet
    assert _march(wh, as_released(wh, "official_growth", D(2021, 4, 15), key)) == [20.0]
    assert _march(wh, as_released(wh, "official_growth", D(2021, 5, 13), key)) == [20.0]
    assert _march(wh, as_released(wh, "official_growth", D(2021, 5, 14), key)) == [21.5]
    # February: the same release in both files, the later batch wins the tie
    feb = wh.execute(as_released(wh, "official_growth", D(2021, 6, 1), key))
    assert feb[feb["month"].astype(str).str.startswith("2021-02")]["batch_id"].tolist() == [2]


def test_as_loaded_follows_supersession_in_time(wh) -> None:
    def batches(when):
        return sorted(set(wh.execute(as_loaded(wh, "official_growth", when))["batch_id"]))

    assert batches(dt.datetime(2021, 4, 20, 8)) == []
    assert batches(D(2021, 4, 20)) == [1]
    assert batches(D(2021, 5, 19)) == [1]  # the correction came later
    assert batches(D(2021, 5, 20)) == [2]
    assert len(wh.execute(as_loaded(wh, "official_growth", D(2030, 1, 1)))) == len(
        wh.execute(wh.current("official_growth"))
    )
