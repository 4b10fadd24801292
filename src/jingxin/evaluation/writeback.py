"""Runs evaluated on Spark (在集群上计算的评价批次) brought back into the serving warehouse.

A run evaluated on a Spark warehouse is stored there under `written/` (`eval_runs`,
`eval_results` or `eval_park_results`, `eval_scores`, `eval_references`) with its lineage: the configuration
and its hash, the batch ids it read (the serving warehouse's own ids, since the version it
read was published from there) and `backend = 'spark'`. `collect_spark_runs` copies every such
run the serving warehouse does not have yet, each table in one transaction, so the web app
lists it like any other run. The Parquet files are read directly (no Spark session needed);
running it twice copies nothing twice.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from jingxin.core.spark.storage import WRITTEN, Storage
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.runs import EVAL_SCHEMAS, ensure_eval_schema

RUN_TABLES = ("eval_runs", "eval_results", "eval_park_results", "eval_scores", "eval_references")


def _written(storage: Storage, name: str, run_ids: pa.Array | None = None) -> pa.Table:
    schema = EVAL_SCHEMAS[name].to_pyarrow()
    if name not in storage.written_tables():
        return schema.empty_table()
    data = ds.dataset(storage.path(WRITTEN, name), filesystem=storage.fs, format="parquet")
    table = data.to_table(filter=ds.field("run_id").isin(run_ids) if run_ids is not None else None)
    return table.select(schema.names).cast(schema)


def collect_spark_runs(storage: Storage, serving: Warehouse) -> list[str]:
    """Copy the runs written on the Spark warehouse at `storage` that `serving` lacks;
    returns their run ids."""
    ensure_eval_schema(serving)
    runs = _written(storage, "eval_runs")
    if runs.num_rows == 0:
        return []
    have = serving.to_pyarrow(serving.table("eval_runs").select("run_id"))["run_id"]
    new = runs.filter(pc.invert(pc.is_in(runs["run_id"], value_set=have)))
    if new.num_rows == 0:
        return []
    ids = new["run_id"].combine_chunks()
    with serving.transaction():
        serving.insert_arrow("eval_runs", new)
        for name in RUN_TABLES[1:]:
            serving.insert_arrow(name, _written(storage, name, ids))
    return sorted(ids.to_pylist())
