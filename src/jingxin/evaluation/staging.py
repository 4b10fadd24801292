"""Materialised stages and lineage collection of an evaluation (物化中间结果与数据血缘).

An evaluation builds its unit table in a few staged, set-based queries (`stage`) and records
which fact batches it read; both are collected per evaluation (`collecting`), so the caller
can release the stages and store the lineage with the run. Used by `population`, `compute`,
`runs` and the what-if engine, on every backend.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import ibis
import pyarrow as pa

from jingxin.core.warehouse import Warehouse

Release = Callable[[], None]


@dataclass
class Collected:
    """What an evaluation collects while it builds: how to release its materialised stages,
    and the batch ids of the fact rows it read (its lineage, stored with a run)."""

    stages: list[Release] = field(default_factory=list)
    batches: dict[str, set[int]] = field(default_factory=dict)


COLLECTED: contextvars.ContextVar[Collected | None] = contextvars.ContextVar("collected", default=None)


@contextmanager
def collecting() -> Iterator[Collected]:
    """Collect the stages `stage` materialises and the batches read inside the block, so the
    caller can drop the stages (`release_stages`) before the connection closes."""
    collected = Collected()
    token = COLLECTED.set(collected)
    try:
        yield collected
    finally:
        COLLECTED.reset(token)


def release_stages(stages: list[Release]) -> None:
    """Drop the temporary tables (or unpersist the checkpointed DataFrames) of `stages`."""
    while stages:
        stages.pop()()


def stage(table: ibis.Table) -> ibis.Table:
    """Materialise an intermediate result so that later stages read it instead of re-deriving it.

    Why: an evaluation refers to its unit table many times (group statistics are joined back,
    ranks are windows over it); compiled as one statement, every reference would repeat the
    whole derivation and the SQL grows multiplicatively. A few staged, set-based queries keep
    each plan small.

    - DuckDB: a temporary table (`Table.cache()`).
    - PostgreSQL: a temporary table, ANALYZEd (without statistics it plans nested loops).
    - Spark: a local checkpoint registered as a temporary view. Spark's own cache keeps the
      whole logical plan behind each cached view, so every later query would re-analyse the
      plans of all earlier stages (minutes at 10,000 enterprises); a checkpoint cuts it.

    The table lives until released (see `collecting`); DuckDB and PostgreSQL ones also
    when the expression that uses them is garbage-collected.
    """
    backend = table._find_backend()
    release: Release
    if backend.name == "pyspark":
        backend._run_pre_execute_hooks(table)  # register in-memory tables used by the query
        name = f"jingxin_stage_{uuid.uuid4().hex}"
        frame = backend._session.sql(backend.compile(table)).localCheckpoint(eager=True)
        frame.createOrReplaceTempView(name)
        staged = backend.table(name)
        session = backend._session

        def release() -> None:
            session.catalog.dropTempView(name)
            frame.unpersist()

    else:
        staged = table.cache()
        release = staged.release
        if backend.name == "postgres":
            backend.raw_sql(f'ANALYZE "{staged.op().name}"').close()
    collected = COLLECTED.get()
    if collected is not None:
        collected.stages.append(release)
    return staged


def fetch_arrow(wh: Warehouse, expr: ibis.Table) -> pa.Table:
    """`expr` as an Arrow table. On Spark through `DataFrame.toArrow()`: Ibis goes through
    pandas there, which at a million rows takes minutes instead of seconds."""
    if wh.kind != "spark":
        return wh.to_pyarrow(expr)
    backend = wh.con
    backend._run_pre_execute_hooks(expr)
    return backend._session.sql(backend.compile(expr)).toArrow()


def refresh_statistics(wh: Warehouse, tables: Sequence[str]) -> None:
    """ANALYZE the tables an evaluation reads on PostgreSQL when rows changed since the last
    ANALYZE: right after a bulk load the planner's estimates are off by orders of magnitude
    and it picks nested-loop joins (minutes instead of a fraction of a second)."""
    if wh.kind != "postgres":
        return
    rows = wh.sql(
        "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
        "AND (n_mod_since_analyze > 0 OR (last_analyze IS NULL AND last_autoanalyze IS NULL))"
    )
    stale = sorted({r[0] for r in rows} & set(tables))
    if stale:
        wh.sql("ANALYZE " + ", ".join(f'"{name}"' for name in stale))
