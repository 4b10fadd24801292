"""The read cache answers repeated questions from memory until the warehouse changes."""

import datetime as dt

import pyarrow as pa

from jingxin.core.cache import cached_read, cached_table, data_version
from jingxin.core.warehouse import open_warehouse

calls: list[int] = []


@cached_read
def batch_count(wh, label: str) -> dict:
    calls.append(1)
    return {"label": label, "n": int(wh.execute(wh.table("batches").count()))}


def _add_batch(wh, batch_id: int, superseded_by: int | None = None) -> None:
    with wh.transaction():
        wh.insert_arrow(
            "batches",
            pa.table(
                {
                    "batch_id": [batch_id],
                    "source": ["tax"],
                    "period": ["2021"],
                    "loaded_at": [dt.datetime(2022, 1, 1)],
                    "superseded_by": pa.array([superseded_by], pa.int64()),
                }
            ),
        )


def test_repeated_reads_are_cached_until_a_new_batch_arrives(tmp_path):
    wh = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    calls.clear()
    _add_batch(wh, 1)
    first = batch_count(wh, "x")
    first["n"] = 999  # a caller changing its answer does not change the cache
    assert batch_count(wh, "x") == {"label": "x", "n": 1}
    assert len(calls) == 1
    before = data_version(wh)
    _add_batch(wh, 2)
    assert data_version(wh) != before
    assert batch_count(wh, "x")["n"] == 2
    assert len(calls) == 2
    assert batch_count(wh, "y")["n"] == 2  # other arguments, other entry
    assert len(calls) == 3


def test_in_memory_warehouses_do_not_share_answers():
    a, b = open_warehouse("duckdb://"), open_warehouse("duckdb://")
    _add_batch(a, 1)
    assert batch_count(a, "z")["n"] == 1
    assert batch_count(b, "z")["n"] == 0


@cached_table
def batch_table(wh) -> pa.Table:
    calls.append(1)
    return wh.to_pyarrow(wh.table("batches").order_by("batch_id"))


def test_result_sets_are_kept_until_a_write_and_never_copied(tmp_path):
    wh = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    calls.clear()
    _add_batch(wh, 1)
    first = batch_table(wh)
    assert batch_table(wh) is first and len(calls) == 1
    _add_batch(wh, 2)
    second = batch_table(wh)
    assert second.column("batch_id").to_pylist() == [1, 2] and len(calls) == 2
