"""Built evaluations kept for reuse (评价构建复用): Ibis expressions built once per system, year
and scope, and used again while what they were built on still holds.

Building an evaluation's expressions is Python work of about half a second whatever the size
(a few thousand Ibis operations, docs/benchmarks.md), against about a second of DuckDB work at
100,000 enterprises. Most of what a build decides comes from the data only through a handful
of small answers: which tables exist and their columns, which periods have more than one live
batch (`population.crowded_periods`), last year's stored runs, the latest year of park data.
The facts themselves are read by the staged queries, not by the build. So a build is a function
of the configuration, the year, the scope and those answers:

- while building, every read through the `Warehouse` is recorded with its answer
  (`core.warehouse.observing_reads`), and so is each stage's query (`staging.StageStep`);
- a function marked `decision` records its result instead of the reads inside it: it is asked
  again as a whole. `crowded_periods` is one: its reads list the live batches (the lineage of
  the run), and a new batch for another period leaves its result, and so the build, unchanged;
- an evaluation of the same (system configuration, year, scope, pinned batches, history) on
  the same connection asks every recorded question again, in order; when every answer is the
  same it remakes the stages from their recorded queries and returns the kept expressions.
  The first different answer ends the attempt, releases what was remade, and it builds anew.

The stored run and a rebuilt one are the same by construction, and tests check it (a new
batch, a correction, a newer run of last year, a new optional input). Spark keeps building:
its stages are checkpoints named per build.
"""

from __future__ import annotations

import contextvars
import functools
import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa

from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse, observing_reads
from jingxin.evaluation.staging import (
    Collected,
    StageStep,
    claim_slots,
    compiled,
    free_slots,
    register_memtables,
    release_stages,
    restage,
)

KEPT_PER_CONNECTION = 8
"""Builds kept per warehouse connection (each holds its expressions and stage queries)."""


@dataclass(frozen=True)
class _Read:
    method: str
    args: tuple
    answer: Any


@dataclass(frozen=True)
class _Decision:
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict[str, Any]
    result: Any


@dataclass
class Trace:
    """What one build asked and made, in order: reads, decisions and stages; and the tables
    and columns of the warehouse when it started (`catalog`), which the build looked up."""

    catalog: list[tuple] = field(default_factory=list)
    events: list[_Read | _Decision | StageStep] = field(default_factory=list)
    replayable: bool = True
    built: Any = None


_TRACE: contextvars.ContextVar[tuple[Warehouse, Trace] | None] = contextvars.ContextVar(
    "evaluation_trace", default=None
)
_IN_DECISION: contextvars.ContextVar[bool] = contextvars.ContextVar("in_decision", default=False)

F = TypeVar("F", bound=Callable[..., Any])


def decision(fn: F) -> F:
    """Mark `fn(wh, *args, **kwargs)` as a question a build asks of the data: while recording,
    its result is recorded (not the reads inside it) and asked again before a reuse. Its
    result must compare with `==`; its arguments are kept with the build."""

    @functools.wraps(fn)
    def asked(wh: Warehouse, *args: Any, **kwargs: Any) -> Any:
        found = _TRACE.get()
        if found is None or _IN_DECISION.get():
            return fn(wh, *args, **kwargs)
        token = _IN_DECISION.set(True)
        try:
            result = fn(wh, *args, **kwargs)
        finally:
            _IN_DECISION.reset(token)
        traced_wh, trace = found
        if wh is traced_wh:
            trace.events.append(_Decision(fn, args, kwargs, result))
        else:
            trace.replayable = False
        return result

    return asked  # type: ignore[return-value]


def _observer(traced_wh: Warehouse, trace: Trace) -> Callable[[Warehouse, str, tuple, Any], None]:
    def seen(wh: Warehouse, method: str, args: tuple, answer: Any) -> None:
        if _IN_DECISION.get() or method == "table":  # columns: in the catalog taken at the start
            return
        if wh is not traced_wh or method == "sql":  # another store, or SQL text: not replayed
            trace.replayable = False
            return
        found = _canonical(answer)
        if found is _UNKNOWN:
            trace.replayable = False
            return
        trace.events.append(_Read(method, args, found))

    return seen


_UNKNOWN = object()


def _canonical(answer: Any) -> Any:
    """An answer as plain Python values: rows as tuples, a NULL or NaN scalar as None. Two
    ways of reading the same answer give the same form; where they would not, a reuse is only
    refused, never wrongly granted."""
    if isinstance(answer, pa.Table):
        return [tuple(row.values()) for row in answer.to_pylist()]
    if isinstance(answer, bool | str | int) or answer is None:
        return answer
    if isinstance(answer, float):
        return None if math.isnan(answer) else answer
    item = getattr(answer, "item", None)  # a NumPy scalar
    if callable(item) and getattr(answer, "ndim", None) == 0:
        return _canonical(item())
    return _UNKNOWN


def _catalog(wh: Warehouse) -> list[tuple]:
    """Every table of the warehouse's schema with its columns and their types, in order."""
    if wh.kind == "duckdb":
        return wh.sql(
            "SELECT table_name, column_name, data_type FROM duckdb_columns()"
            " WHERE database_name = current_database() AND schema_name = current_schema()"
            " ORDER BY table_name, column_index"
        )
    return wh.sql(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    )


def _key(
    system_hash: str, year: int, scope: Scope, batches: Mapping[str, Sequence[Any]] | None, history: str
) -> tuple:
    pinned = (
        None if batches is None else tuple(sorted((k, tuple(int(b) for b in v)) for k, v in batches.items()))
    )
    return (system_hash, year, scope, pinned, history)


_KEPT: weakref.WeakKeyDictionary[Warehouse, OrderedDict[tuple, Trace]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


class Builds:
    """The builds kept for one warehouse connection (see the module docstring)."""

    def __init__(self, wh: Warehouse, key: tuple):
        self.wh = wh
        self.key = key

    @classmethod
    def of(
        cls,
        wh: Warehouse,
        system_hash: str,
        year: int,
        scope: Scope,
        batches: Mapping[str, Sequence[Any]] | None,
        history: str,
    ) -> Builds | None:
        """None where builds are not kept: on Spark, and for an evaluation built inside
        another's recording (whose record would then miss what this one asks)."""
        outer = _TRACE.get()
        if outer is not None:
            outer[1].replayable = False
            return None
        if wh.kind == "spark":
            return None
        return cls(wh, _key(system_hash, year, scope, batches, history))

    def reuse(self, collected: Collected) -> Any | None:
        """The kept build when every recorded question has the same answer, its stages remade
        (released through `collected`); None otherwise."""
        with _LOCK:
            trace = _KEPT.get(self.wh, OrderedDict()).get(self.key)
        if trace is None:
            return None
        backend = self.wh.con
        slots = [e.slot for e in trace.events if isinstance(e, StageStep)]
        if not claim_slots(backend, slots):
            return None
        pending = list(slots)
        try:
            same = self._replay(trace, collected, pending)
        except BaseException:
            self._drop(collected, pending)
            raise
        if not same:
            self._drop(collected, pending)
            return None
        return trace.built

    def _replay(self, trace: Trace, collected: Collected, pending: list[int]) -> bool:
        """Ask every recorded question again and remake the stages, in the recorded order;
        False at the first different answer."""
        if _catalog(self.wh) != trace.catalog:
            return False
        for event in trace.events:
            if isinstance(event, StageStep):
                pending.remove(event.slot)
                collected.stages.append(restage(self.wh.con, event))
            elif isinstance(event, _Decision):
                if event.fn(self.wh, *event.args, **event.kwargs) != event.result:
                    return False
            elif _ask(self.wh, event) != event.answer:
                return False
        return True

    def _drop(self, collected: Collected, pending: list[int]) -> None:
        """Undo a replay that did not hold, and forget the build."""
        free_slots(self.wh.con, pending)
        release_stages(collected.stages)
        collected.batches.clear()
        with _LOCK:
            _KEPT.get(self.wh, OrderedDict()).pop(self.key, None)

    @contextmanager
    def recording(self, collected: Collected) -> Iterator[Trace]:
        """Record the build made inside the block; `keep` it afterwards."""
        trace = Trace(catalog=_catalog(self.wh))
        collected.steps = trace.events  # stages go in order with the reads and decisions
        token = _TRACE.set((self.wh, trace))
        try:
            with observing_reads(_observer(self.wh, trace)):
                yield trace
        finally:
            _TRACE.reset(token)
            collected.steps = None

    def keep(self, trace: Trace, built: Any) -> None:
        if not trace.replayable:
            return
        trace.built = built
        with _LOCK:
            kept = _KEPT.setdefault(self.wh, OrderedDict())
            kept[self.key] = trace
            kept.move_to_end(self.key)
            while len(kept) > KEPT_PER_CONNECTION:
                kept.popitem(last=False)


def _ask(wh: Warehouse, read: _Read) -> Any:
    """A recorded read asked again, in the recorded form (`_canonical`). On DuckDB the query's
    SQL is compiled once (`staging.compiled`) and read without Ibis's result conversion."""
    if wh.kind != "duckdb" or read.method == "has_table":
        return _canonical(getattr(wh, read.method)(*read.args))
    (expr,) = read.args
    backend = wh.con
    register_memtables(backend, expr)
    rows = backend.con.sql(compiled(backend, expr)).fetchall()
    if read.method == "execute":
        (value,) = rows[0]
        return _canonical(value)
    return [tuple(row) for row in rows]


def forget(wh: Warehouse) -> None:
    """Drop the builds kept for a connection."""
    with _LOCK:
        _KEPT.pop(wh, None)
