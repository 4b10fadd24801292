"""The what-if engine (情景推演引擎): one compiled statement per system, parameters as data.

A stored run (`runs.run_evaluation`) builds its Ibis expressions, compiles them and stages the
facts every time: about a second of fixed cost, whatever the size of the county. A what-if asks
the same question again and again with other numbers, so the engine splits the work by what
changes:

- **facts** (the evaluation units of the county and last year's results) are built and staged
  once per (system, year, county, data version) and kept while the data version
  (`core.cache.data_version`) does not change;
- **the expression** is the stored run's own (`compute.score_built` + `runs.assemble`, the same
  Ibis code on DuckDB, PostgreSQL and PySpark), built once with every number a county may
  change read from a **parameter table** (`TableParams`: one row per county, one column per
  parameter) instead of being written into the query, and compiled to SQL once;
- **a run** replaces the rows of the parameter table and executes the compiled SQL: no Ibis,
  no compilation, no staging (tens of milliseconds for a county on DuckDB, see
  docs/benchmarks.md).

The result has the columns of a stored run (`runs.result_columns`) plus `kwh` (the unit's
electricity, for the surcharge money in `compare`); the same parameters give the same totals
and classes as a stored run (tests/test_evaluation_whatif.py, on all three backends).
"""

from __future__ import annotations

import threading
import uuid
import weakref
from dataclasses import dataclass, field, replace
from typing import Any

import ibis
import pyarrow as pa

from jingxin.core.cache import data_version
from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.classes import vetoes_for
from jingxin.evaluation.compute import Params, _flatten, class_key, compute_prefix, score_built
from jingxin.evaluation.config import System
from jingxin.evaluation.policy import History
from jingxin.evaluation.population import build_units
from jingxin.evaluation.runs import assemble, ensure_eval_schema, last_year, result_columns
from jingxin.evaluation.staging import Release, collecting, release_stages, stage


class WhatIfError(ValueError):
    """A what-if that cannot be computed as asked (message in Chinese)."""


def param_names(system: System, year: int) -> list[str]:
    """Every parameter the what-if may set: the stored run's (`compute._flatten`) plus both
    class methods' cut-offs, so a scenario may switch between shares and thresholds."""
    names = set(_flatten(system.model_copy(update={"overrides": {}}), year))
    for code in system.overrides:
        names |= set(_flatten(system.for_county(code), year))
    order = system.classes.order
    names |= {f"cum_{class_key(c)}" for c in order} | {f"thr_{class_key(c)}" for c in order[:-1]}
    names.add("cls_thr")
    return sorted(names)


@dataclass(frozen=True)
class TableParams(Params):
    """Parameters read from a warehouse table (`p__county` + one `p__<name>` per parameter).

    Every parameter is a column (`overridden` names them all and `defaults` are unknown), so the
    expression built on it holds no number of the configuration: the same compiled statement
    answers for any values written into the table.
    """

    table: ibis.Table | None = None
    names: tuple[str, ...] = ()

    @property
    def overridden(self) -> list[str]:
        return list(self.names)

    def attach(self, table: ibis.Table) -> ibis.Table:
        assert self.table is not None
        p = self.table
        return table.left_join(p, table.county_code == p.p__county).drop("p__county")

    def get(self, table: ibis.Table, name: str) -> ibis.Value:
        col = f"p__{name}"
        return table[col] if col in table.columns else ibis.null("float64")


class _ParamTable:
    """The parameter table of one engine on one connection, replaced row by row per run."""

    def __init__(self, wh: Warehouse, names: list[str]):
        self.wh = wh
        self.names = names
        self.name = f"jingxin_whatif_p_{uuid.uuid4().hex[:12]}"
        self.schema = pa.schema(
            [pa.field("p__county", pa.string()), *(pa.field(f"p__{n}", pa.float64()) for n in names)]
        )

    def rows(self, by_county: dict[str, dict[str, float | None]]) -> pa.Table:
        data: dict[str, list[Any]] = {"p__county": list(by_county)}
        for n in self.names:
            data[f"p__{n}"] = [by_county[c].get(n) for c in by_county]
        return pa.table(data, schema=self.schema)

    def create(self, by_county: dict[str, dict[str, float | None]]) -> ibis.Table:
        data = self.rows(by_county)
        kind = self.wh.kind
        if kind == "duckdb":
            raw = self.wh.con.con
            cols = ", ".join(
                f'"{f.name}" {"VARCHAR" if f.name == "p__county" else "DOUBLE"}' for f in self.schema
            )
            raw.execute(f'CREATE TEMP TABLE "{self.name}" ({cols})')
            self.write(by_county)
            return self.wh.con.table(self.name, database=("temp", "main"))
        if kind == "postgres":
            cols = ", ".join(
                f'"{f.name}" {"TEXT" if f.name == "p__county" else "DOUBLE PRECISION"}' for f in self.schema
            )
            with self.wh.con.con.cursor() as cur:
                cur.execute(f'CREATE TEMP TABLE "{self.name}" ({cols})')
            self.write(by_county)
            return self.wh.con.table(self.name)
        session = self.wh.con._session
        session.createDataFrame(data.to_pandas()).createOrReplaceTempView(self.name)
        return self.wh.con.table(self.name)

    def write(self, by_county: dict[str, dict[str, float | None]]) -> None:
        data = self.rows(by_county)
        kind = self.wh.kind
        if kind == "duckdb":
            raw = self.wh.con.con
            raw.register("jingxin_whatif_src", data)
            try:
                raw.execute(f'DELETE FROM "{self.name}"')
                raw.execute(f'INSERT INTO "{self.name}" SELECT * FROM jingxin_whatif_src')
            finally:
                raw.unregister("jingxin_whatif_src")
        elif kind == "postgres":
            marks = "(" + ", ".join(["%s"] * len(self.schema)) + ")"
            values = [tuple(r.values()) for r in data.to_pylist()]
            with self.wh.con.con.cursor() as cur:
                cur.execute(f'DELETE FROM "{self.name}"')
                cur.execute(
                    f'INSERT INTO "{self.name}" VALUES ' + ", ".join([marks] * len(values)),
                    [v for row in values for v in row],
                )
            self.wh.con.con.commit()
        else:
            session = self.wh.con._session
            session.createDataFrame(data.to_pandas(), schema=self._spark_schema()).createOrReplaceTempView(
                self.name
            )

    def _spark_schema(self) -> str:
        return ", ".join(f"`{f.name}` {'string' if f.name == 'p__county' else 'double'}" for f in self.schema)

    def drop(self) -> None:
        try:
            if self.wh.kind == "spark":
                self.wh.con._session.catalog.dropTempView(self.name)
            elif self.wh.kind == "duckdb":
                self.wh.con.con.execute(f'DROP TABLE IF EXISTS temp.main."{self.name}"')
            else:
                with self.wh.con.con.cursor() as cur:
                    cur.execute(f'DROP TABLE IF EXISTS "{self.name}"')
        except Exception:  # noqa: BLE001 - the connection may already be closed; temp objects go with it
            pass


class _ScoredTable:
    """The scored units of a run, refilled from their compiled statement before the final one
    (the stored run stages the same table, `compute.score_units`): compiled as one statement,
    every window and join over it would repeat the whole scoring."""

    def __init__(self, wh: Warehouse, sql: str):
        self.wh = wh
        self.sql = sql
        self.name = f"jingxin_whatif_s_{uuid.uuid4().hex[:12]}"

    def create(self) -> ibis.Table:
        kind = self.wh.kind
        if kind == "duckdb":
            self.wh.con.con.execute(f'CREATE TEMP TABLE "{self.name}" AS {self.sql}')
            return self.wh.con.table(self.name, database=("temp", "main"))
        if kind == "postgres":
            with self.wh.con.con.cursor() as cur:
                cur.execute(f'CREATE TEMP TABLE "{self.name}" AS {self.sql}')
                cur.execute(f'ANALYZE "{self.name}"')
            return self.wh.con.table(self.name)
        self.fill()
        return self.wh.con.table(self.name)

    def fill(self) -> None:
        kind = self.wh.kind
        if kind == "duckdb":
            raw = self.wh.con.con
            raw.execute(f'DELETE FROM "{self.name}"')
            raw.execute(f'INSERT INTO "{self.name}" {self.sql}')
        elif kind == "postgres":
            with self.wh.con.con.cursor() as cur:
                cur.execute(f'DELETE FROM "{self.name}"')
                cur.execute(f'INSERT INTO "{self.name}" {self.sql}')
        else:
            session = self.wh.con._session
            old = self._frame if hasattr(self, "_frame") else None
            self._frame = session.sql(self.sql).localCheckpoint(eager=True)
            self._frame.createOrReplaceTempView(self.name)
            if old is not None:
                old.unpersist()

    def drop(self) -> None:
        try:
            if self.wh.kind == "spark":
                self.wh.con._session.catalog.dropTempView(self.name)
            elif self.wh.kind == "duckdb":
                self.wh.con.con.execute(f'DROP TABLE IF EXISTS temp.main."{self.name}"')
            else:
                with self.wh.con.con.cursor() as cur:
                    cur.execute(f'DROP TABLE IF EXISTS "{self.name}"')
        except Exception:  # noqa: BLE001 - the connection may already be closed; temp objects go with it
            pass


@dataclass
class Engine:
    """Staged facts and the compiled statement of one (system, year, county, data version)."""

    wh: Warehouse
    system: System
    year: int
    county: str
    version: tuple | None
    counties: list[str]
    sql: str
    schema: pa.Schema
    params: _ParamTable
    scored: _ScoredTable
    history: list[dict[str, Any]]
    stages: list[Release] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    baseline: pa.Table | None = None
    _official_rows: dict[str, dict[str, float | None]] | None = None
    _defaults: dict[str, float | None] | None = None

    def official_rows(self) -> dict[str, dict[str, float | None]]:
        """The parameters of the official configuration, per county of the computation (kept)."""
        if self._official_rows is None:
            self._official_rows = {c: self._resolved(self.system.for_county(c)) for c in self.counties}
        return dict(self._official_rows)

    def _resolved(self, county_system: System) -> dict[str, float | None]:
        """A county's parameters as the stored run reads them: a county without a value of its
        own takes the system's (`Params.get`: coalesce(county, default))."""
        if self._defaults is None:
            self._defaults = _flatten(self.system.model_copy(update={"overrides": {}}), self.year)
        defaults = self._defaults
        flat = _flatten(county_system, self.year)
        return {k: (v if v is not None else defaults.get(k)) for k, v in {**defaults, **flat}.items()}

    def run(self, county_system: System | None = None) -> pa.Table:
        """Results with the official parameters, or with `county_system` (the county's system
        with the scenario applied, `scenario.apply`) for this engine's county."""
        rows = self.official_rows()
        if county_system is not None:
            rows[self.county] = self._resolved(county_system)
        with self.lock:
            self.params.write(rows)
            self.scored.fill()
            return self._execute()

    def official(self) -> pa.Table:
        """The official parameters' results (kept: they change only with the data)."""
        if self.baseline is None:
            self.baseline = self.run()
        return self.baseline

    def _execute(self) -> pa.Table:
        kind = self.wh.kind
        if kind == "duckdb":
            data = self.wh.con.con.execute(self.sql).fetch_arrow_table()
        elif kind == "postgres":
            with self.wh.con.con.cursor() as cur:
                cur.execute(self.sql)
                names = [d.name for d in cur.description]
                rows = cur.fetchall()
            cols = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
            data = pa.table(
                {
                    n: pa.array(list(c), type=self.schema.field(n).type)
                    for n, c in zip(names, cols, strict=True)
                }
            )
        else:
            data = self.wh.con._session.sql(self.sql).toArrow()
        return data.select(self.schema.names).cast(self.schema)

    def close(self) -> None:
        self.scored.drop()
        self.params.drop()
        release_stages(self.stages)


def build_engine(wh: Warehouse, system: System, year: int, county: str, history: History = "auto") -> Engine:
    """Stage the county's facts, build the parametrised evaluation and compile it (once)."""
    if len(county) != 6 or system.population.level == "park":
        raise WhatIfError("情景推演按区县进行：请选择一个区县（6 位区划代码）和企业评价体系")
    scope = Scope(division=county)
    # the computation covers what the county's references and class groups need (its city when
    # small groups are pooled with the city's); the scenario changes the county's row only
    prefix = compute_prefix(system, scope)
    ensure_eval_schema(wh)
    version = data_version(wh)
    with collecting() as collected:
        try:
            units = build_units(wh, system, year, prefix, None)
            found = wh.to_pyarrow(units.units.select("county_code").distinct())
            counties = sorted(str(c) for c in found["county_code"].to_pylist() if c is not None)
            if county not in counties:
                raise WhatIfError(f"区县 {county} 在 {year} 年没有参加 {system.id} 评价的企业")
            names = param_names(system, year)
            ptab = _ParamTable(wh, names)
            defaults = _flatten(system.model_copy(update={"overrides": {}}), year)
            official = {
                c: {
                    k: (v if v is not None else defaults.get(k))
                    for k, v in _flatten(system.for_county(c), year).items()
                }
                for c in counties
            }
            table = ptab.create(official)
            params = TableParams(defaults=dict.fromkeys(names), table=table, names=tuple(names))
            scored = score_built(wh, system, year, units, params, prefix, staged=False)
            backend = wh.con
            backend._run_pre_execute_hooks(scored.table)
            stab = _ScoredTable(wh, str(backend.compile(scored.table)))
            scored = replace(scored, table=stab.create())
            prev, log = last_year(wh, system, year, scope, None, history)
            prev = stage(prev) if prev is not None else None
            vetoes = stage(vetoes_for(wh, system, year))
            ev = assemble(wh, system, year, scope, scored, None, history, (prev, log), vetoes)
            extra = ["kwh"] if "kwh" in scored.table.columns else []
            res = ev.results
            if extra:
                k = scored.table.select(__u="unit_id", kwh="kwh")
                res = res.left_join(k, res.unit_id == k.__u).drop("__u")
            res = res.select(*result_columns(system), *extra)
            backend._run_pre_execute_hooks(res)  # in-memory tables the statement reads
            sql = str(backend.compile(res))
        except BaseException:
            release_stages(collected.stages)
            raise
    schema = res.schema().to_pyarrow()
    return Engine(
        wh, system, year, county, version, counties, sql, schema, ptab, stab, ev.history, collected.stages
    )


_ENGINES: weakref.WeakKeyDictionary[Warehouse, dict[tuple, Engine]] = weakref.WeakKeyDictionary()
_ENGINES_LOCK = threading.Lock()
MAX_ENGINES = 8
"""Engines kept per connection (each holds a county's staged facts)."""


def engine_for(wh: Warehouse, system: System, year: int, county: str, history: History = "auto") -> Engine:
    """The kept engine for this connection, system, year and county, rebuilt when the data
    version changed (new facts or a new stored run) or the configuration did."""
    key = (system.config_hash, year, county, history)
    version = data_version(wh)
    with _ENGINES_LOCK:
        kept = _ENGINES.setdefault(wh, {})
        found = kept.get(key)
        if found is not None and found.version == version and version is not None:
            return found
        if found is not None:
            found.close()
            del kept[key]
    engine = build_engine(wh, system, year, county, history)
    with _ENGINES_LOCK:
        kept = _ENGINES.setdefault(wh, {})
        while len(kept) >= MAX_ENGINES:
            kept.pop(next(iter(kept))).close()
        kept[key] = engine
    return engine


def forget_engines(wh: Warehouse) -> None:
    """Drop the engines kept for a connection (before it closes)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.pop(wh, {}).values():
            engine.close()
