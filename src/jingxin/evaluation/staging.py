"""Materialised stages and lineage collection of an evaluation (物化中间结果与数据血缘).

An evaluation builds its unit table in a few staged, set-based queries (`stage`) and records
which fact batches it read; both are collected per evaluation (`collecting`), so the caller
can release the stages and store the lineage with the run. Used by `population`, `compute`,
`runs` and the what-if engine, on every backend.
"""

from __future__ import annotations

import contextvars
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.operations as ops
import pyarrow as pa

from jingxin.core.warehouse import Warehouse

Release = Callable[[], None]


@dataclass(frozen=True)
class StageStep:
    """How one stage was made: its slot on the connection, its column definitions and its
    query (`table`, for the in-memory tables the query reads). Replayed by `restage`."""

    slot: int
    columns: str
    sql: str
    table: ibis.Table
    schema: ibis.Schema


@dataclass
class Collected:
    """What an evaluation collects while it builds: how to release its materialised stages,
    and the batch ids of the fact rows it read (its lineage, stored with a run). `steps`, when
    a list, receives how each stage was made (`evaluation.reuse` keeps them in order with the
    other events of a build)."""

    stages: list[Release] = field(default_factory=list)
    batches: dict[str, set[int]] = field(default_factory=dict)
    steps: list[Any] | None = None


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


_LOCK = threading.Lock()
_SQL: OrderedDict[tuple[int, Any], str] = OrderedDict()
_SQL_SIZE = 64
_IN_USE: dict[int, set[int]] = {}
_MEMTABLES: OrderedDict[tuple[str, str], ibis.Table] = OrderedDict()


def compiled(backend: Any, expr: ibis.Table) -> str:
    """`expr` compiled to SQL, remembered per backend and expression (a few dozen kept).

    Why: compiling the evaluation's expressions costs about as much as running them at 100,000
    enterprises. An evaluation repeated on the same data version and configuration builds
    structurally equal expressions — its stages have fixed names (`stage`) and its small
    in-memory tables are shared (`memtable`) — so the SQL of the first run is reused.
    """
    key = (id(backend), expr.op())
    with _LOCK:
        sql = _SQL.get(key)
        if sql is not None:
            _SQL.move_to_end(key)
            return sql
    sql = str(backend.compile(expr))
    with _LOCK:
        _SQL[key] = sql
        while len(_SQL) > _SQL_SIZE:
            _SQL.popitem(last=False)
    return sql


def memtable(data: pa.Table) -> ibis.Table:
    """An in-memory table, the same expression for the same content (see `compiled`)."""
    key = (str(data.schema), repr(data.to_pydict()))
    with _LOCK:
        found = _MEMTABLES.get(key)
        if found is None:
            found = _MEMTABLES[key] = ibis.memtable(data)
            while len(_MEMTABLES) > 256:
                _MEMTABLES.popitem(last=False)
        return found


def _slot(backend: Any) -> int:
    """The lowest stage number free on this connection (stage names are reused, see `compiled`)."""
    with _LOCK:
        used = _IN_USE.setdefault(id(backend), set())
        k = next(i for i in range(len(used) + 1) if i not in used)
        used.add(k)
        return k


def stage(table: ibis.Table) -> ibis.Table:
    """Materialise an intermediate result so that later stages read it instead of re-deriving it.

    Why: an evaluation refers to its unit table many times (group statistics are joined back,
    ranks are windows over it); compiled as one statement, every reference would repeat the
    whole derivation and the SQL grows multiplicatively. A few staged, set-based queries keep
    each plan small.

    - DuckDB and PostgreSQL: a temporary table named ``jingxin_stage_<k>`` with the lowest k free
      on the connection, so that a repeated evaluation compiles to the same SQL (`compiled`);
      ANALYZEd on PostgreSQL (without statistics it plans nested loops).
    - Spark: a local checkpoint registered as a temporary view. Spark's own cache keeps the
      whole logical plan behind each cached view, so every later query would re-analyse the
      plans of all earlier stages (minutes at 10,000 enterprises); a checkpoint cuts it.

    The table lives until released: call this inside `collecting` and release the stages
    (`release_stages`) when done; outside it the table is dropped when the expression that
    uses it is garbage-collected.
    """
    backend = table._find_backend()
    release: Release
    collected = COLLECTED.get()
    if backend.name == "pyspark":
        register_memtables(backend, table)
        name = f"jingxin_stage_{uuid.uuid4().hex}"
        frame = backend._session.sql(backend.compile(table)).localCheckpoint(eager=True)
        frame.createOrReplaceTempView(name)
        staged = backend.table(name)
        session = backend._session

        def release() -> None:
            session.catalog.dropTempView(name)
            frame.unpersist()

    elif collected is None:
        staged = table.cache()
        release = staged.release
        if backend.name == "postgres":
            backend.raw_sql(f'ANALYZE "{staged.op().name}"').close()
    else:
        k = _slot(backend)
        try:
            schema = _stored_schema(backend, table.schema())
            step = StageStep(k, _columns(backend, schema), compiled(backend, table), table, schema)
            staged = _materialise(backend, step)
        except BaseException:
            _free(backend, k)
            raise
        release = _releaser(backend, k)
        if collected.steps is not None:
            collected.steps.append(step)

    if collected is not None:
        collected.stages.append(release)
    return staged


def _materialise(backend: Any, step: StageStep) -> ibis.Table:
    """Make the stage of `step` in its slot; the table expression of the stage."""
    name = f"jingxin_stage_{step.slot}"
    register_memtables(backend, step.table)
    _raw(backend, f'DROP TABLE IF EXISTS "{name}"')
    _raw(backend, f'CREATE TEMPORARY TABLE "{name}" ({step.columns})')
    _raw(backend, f'INSERT INTO "{name}" {step.sql}')
    if backend.name == "postgres":
        _raw(backend, f'ANALYZE "{name}"')
    # made here with these columns: no need to ask the database for them
    return ops.DatabaseTable(name, schema=step.schema, source=backend, namespace=ops.Namespace()).to_expr()


def _releaser(backend: Any, k: int) -> Release:
    def release() -> None:
        try:
            _raw(backend, f'DROP TABLE IF EXISTS "jingxin_stage_{k}"')
        finally:
            _free(backend, k)

    return release


def claim_slots(backend: Any, slots: list[int]) -> bool:
    """Take exactly these stage slots on the connection, all or none (False when one is in
    use: an evaluation running beside this one holds it)."""
    with _LOCK:
        used = _IN_USE.setdefault(id(backend), set())
        if used & set(slots):
            return False
        used.update(slots)
        return True


def restage(backend: Any, step: StageStep) -> Release:
    """Make a stage again as `step` recorded it, in the slot claimed for it (`claim_slots`);
    how to release it. On failure the slot is freed."""
    try:
        _materialise(backend, step)
    except BaseException:
        _free(backend, step.slot)
        raise
    return _releaser(backend, step.slot)


def free_slots(backend: Any, slots: list[int]) -> None:
    """Give back claimed slots that were never made into stages."""
    with _LOCK:
        _IN_USE.get(id(backend), set()).difference_update(slots)


def _stored_schema(backend: Any, schema: ibis.Schema) -> ibis.Schema:
    """`schema` as the backend stores it (each type through its SQL type and back), which is
    what the database would answer if asked for the columns of a table made with it."""
    mapper = backend.compiler.type_mapper
    return ibis.schema({col: mapper.to_ibis(mapper.from_ibis(dtype)) for col, dtype in schema.items()})


def register_memtables(backend: Any, expr: ibis.Expr) -> None:
    """Register the in-memory tables `expr` reads before its compiled SQL runs.

    Why not Ibis's `_run_pre_execute_hooks`: on DuckDB it walks the whole expression three
    times (record-batch readers, spatial types, in-memory tables), a tenth of a second per
    evaluation for graphs of thousands of nodes; the evaluation uses in-memory tables only.
    Spark keeps Ibis's hooks (its registration is its own)."""
    if backend.name == "pyspark":
        backend._run_pre_execute_hooks(expr)
    else:
        backend._register_in_memory_tables(expr)


def _columns(backend: Any, schema: ibis.Schema) -> str:
    """Column definitions of `schema` in the backend's SQL. Why not `CREATE TABLE … AS`: the
    compiled SQL writes a float literal such as a weight as `0.15`, which DuckDB types DECIMAL,
    and the stage would then hold decimals where the expression declares float64."""
    mapper = backend.compiler.type_mapper
    types = {col: mapper.from_ibis(dtype).sql(backend.dialect) for col, dtype in schema.items()}
    return ", ".join(f'"{col}" {sql_type}' for col, sql_type in types.items())


def _raw(backend: Any, sql: str) -> None:
    result = backend.raw_sql(sql)
    if backend.name == "postgres":  # a cursor; DuckDB returns the connection itself
        result.close()


def _free(backend: Any, k: int) -> None:
    with _LOCK:
        _IN_USE.get(id(backend), set()).discard(k)


def fetch_arrow(wh: Warehouse, expr: ibis.Table) -> pa.Table:
    """`expr` as an Arrow table. On DuckDB with the SQL remembered (`compiled`); on Spark
    through `DataFrame.toArrow()`: Ibis goes through pandas there, which at a million rows
    takes minutes instead of seconds."""
    backend = wh.con
    if wh.kind == "duckdb":
        from ibis.backends.duckdb.converter import DuckDBPyArrowData

        register_memtables(backend, expr)
        data = backend.con.sql(compiled(backend, expr)).to_arrow_table()
        return expr.__pyarrow_result__(data, data_mapper=DuckDBPyArrowData)
    if wh.kind != "spark":
        return wh.to_pyarrow(expr)
    backend._run_pre_execute_hooks(expr)
    return backend._session.sql(backend.compile(expr)).toArrow()
