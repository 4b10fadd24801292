"""The what-if engine (情景推演引擎): prepared statements per system, parameters as data.

A stored run (`runs.run_evaluation`) builds its Ibis expressions, compiles them and stages the
facts every time: seconds of fixed cost, whatever the size of the county. A what-if asks the
same question again and again with other numbers, so the engine splits the work by what
changes:

- **facts** (the evaluation units of the division, last year's results, the vetoes) and the
  **parameter-free part of the scoring** (indicator values and the group statistics of the
  references, `compute.score_built`'s steps 1–2, through its `prepared` hook) are staged once
  per (system, year, division, data version) and kept while the data version
  (`core.cache.data_version`) does not change;
- **the expression** is the stored run's own (`compute.score_built` + `runs.assemble`, the same
  Ibis code on DuckDB, PostgreSQL and PySpark), built once with every number a county may
  change read from a **parameter table** (`TableParams`: one row per county, one column per
  parameter) instead of being written into the query, compiled to SQL once and **prepared**
  (`_Statement`): two statements, the scoring (refilling a small scored table) and the final
  one (ranks, classes, last year, policies);
- **a run** replaces the changed rows of the parameter table and executes the two prepared
  statements: no Ibis, no compilation, no staging, and on DuckDB and PostgreSQL no binding or
  optimising either (see docs/benchmarks.md).

On DuckDB the engine has a connection of its own to the same database (a cursor): its
temporary tables and prepared statements are its own, and DuckDB binds a prepared statement
again at every execution once the connection's catalog changed after `PREPARE`, which other
queries on a shared connection would do all the time.

A division is a county, a city or the province: the computation covers what its references and
class groups need (a county's city when small groups are pooled with the city's), a scenario
changes the parameters of every county inside the division, and a run returns those counties.
When no scoring group crosses a county line, the other counties of the computation are scored
once at build (their parameters never change) and a run scores only the division's counties.

The result has the columns of a stored run (`runs.result_columns`) plus `kwh` (the unit's
electricity, for the surcharge money in `compare`); the same parameters give the same totals
and classes as a stored run (tests/test_evaluation_whatif.py, county, city and province, on all
three backends).
"""

from __future__ import annotations

import contextlib
import threading
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import ibis
import pyarrow as pa

from jingxin.core.cache import data_version
from jingxin.core.scope import Scope, division_prefix
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.classes import vetoes_for
from jingxin.evaluation.compute import Params, _flatten, class_key, compute_prefix, score_built
from jingxin.evaluation.config import GROUP_COLUMNS, System
from jingxin.evaluation.policy import History
from jingxin.evaluation.population import build_units
from jingxin.evaluation.runs import assemble, ensure_eval_schema, last_year, result_columns
from jingxin.evaluation.staging import Release, collecting, register_memtables, release_stages, stage


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
        """Join the parameter columns; without a table (the scoring's start, before its
        parameter-free part is materialised, see `build_engine`) nothing is joined."""
        if self.table is None:
            return table
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
        self.held: dict[str, dict[str, float | None]] = {}
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
        """Make the table hold `by_county`; on DuckDB and PostgreSQL only the rows that differ
        from what it holds are replaced (a county's run changes one row)."""
        kind = self.wh.kind
        if kind == "spark":
            data = self.rows(by_county)
            session = self.wh.con._session
            session.createDataFrame(data.to_pandas(), schema=self._spark_schema()).createOrReplaceTempView(
                self.name
            )
            return
        held = self.held
        changed = {c: r for c, r in by_county.items() if held.get(c) != r}
        gone = [c for c in held if c not in by_county]
        if not changed and not gone:
            return
        drop = [*changed, *gone]
        data = self.rows(changed)
        if kind == "duckdb":
            raw = self.wh.con.con
            marks = ", ".join(["?"] * len(drop))
            raw.execute(f'DELETE FROM "{self.name}" WHERE p__county IN ({marks})', drop)
            if changed:
                raw.from_arrow(data).insert_into(f'"{self.name}"')
        else:
            marks = "(" + ", ".join(["%s"] * len(self.schema)) + ")"
            values = [tuple(r.values()) for r in data.to_pylist()]
            with self.wh.con.con.cursor() as cur:
                cur.execute(f'DELETE FROM "{self.name}" WHERE p__county = ANY(%s)', [drop])
                if values:
                    cur.execute(
                        f'INSERT INTO "{self.name}" VALUES ' + ", ".join([marks] * len(values)),
                        [v for row in values for v in row],
                    )
            self.wh.con.con.commit()
        self.held = {c: r for c, r in {**held, **changed}.items() if c not in gone}

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


class _Statement:
    """A compiled statement run again and again: prepared on DuckDB and PostgreSQL, so a run
    skips binding and optimising (most of the cost of a statement over a few hundred rows);
    planned by Spark each time.

    DuckDB binds a prepared statement again at every execution once its connection's catalog
    changed after `PREPARE` (a table created or a view registered); the engine's connection is
    its own and prepares at the first run, after the build created every table it needs.
    """

    def __init__(self, wh: Warehouse, sql: str):
        self.wh = wh
        self.sql = sql
        self.name = f"jingxin_whatif_q_{uuid.uuid4().hex[:12]}"
        self.prepared = False

    def run(self) -> Any:
        """Execute; the DuckDB or psycopg cursor, or the Spark DataFrame."""
        kind = self.wh.kind
        if kind == "duckdb":
            raw = self.wh.con.con
            if not self.prepared:
                raw.execute(f"PREPARE {self.name} AS {self.sql}")
                self.prepared = True
            return raw.execute(f"EXECUTE {self.name}")
        if kind == "postgres":
            cur = self.wh.con.con.cursor()
            cur.execute(self.sql, prepare=True)
            return cur
        return self.wh.con._session.sql(self.sql)

    def close(self) -> None:
        if self.wh.kind == "duckdb" and self.prepared:
            with contextlib.suppress(Exception):  # the connection may already be closed
                self.wh.con.con.execute(f"DEALLOCATE {self.name}")


class _ScoredTable:
    """The scored units of a run, refilled from their compiled statement before the final one
    (the stored run stages the same table, `compute.score_units`): compiled as one statement,
    every window and join over it would repeat the whole scoring."""

    def __init__(self, wh: Warehouse, sql: str):
        self.wh = wh
        self.sql = sql
        self.name = f"jingxin_whatif_s_{uuid.uuid4().hex[:12]}"
        self.insert: _Statement | None = None

    def create(self) -> ibis.Table:
        kind = self.wh.kind
        if kind == "duckdb":
            self.wh.con.con.execute(f'CREATE TEMP TABLE "{self.name}" AS {self.sql}')
            # DuckDB binds and optimises a prepared INSERT … SELECT again at every execution;
            # a prepared SELECT keeps its plan, and its rows go in as Arrow
            self.insert = _Statement(self.wh, self.sql)
            return self.wh.con.table(self.name, database=("temp", "main"))
        if kind == "postgres":
            with self.wh.con.con.cursor() as cur:
                cur.execute(f'CREATE TEMP TABLE "{self.name}" AS {self.sql}')
                cur.execute(f'ANALYZE "{self.name}"')
            self.insert = _Statement(self.wh, f'INSERT INTO "{self.name}" {self.sql}')
            return self.wh.con.table(self.name)
        self.fill()
        return self.wh.con.table(self.name)

    def fill(self) -> None:
        kind = self.wh.kind
        if kind == "duckdb":
            assert self.insert is not None
            rows = self.insert.run().to_arrow_table()
            raw = self.wh.con.con
            raw.execute(f'DELETE FROM "{self.name}"')
            raw.from_arrow(rows).insert_into(f'"{self.name}"')
        elif kind == "postgres":
            assert self.insert is not None
            with self.wh.con.con.cursor() as cur:
                cur.execute(f'DELETE FROM "{self.name}"')
            self.insert.run().close()
        else:
            session = self.wh.con._session
            old = getattr(self, "_frame", None)
            self._frame = session.sql(self.sql).localCheckpoint(eager=True)
            self._frame.createOrReplaceTempView(self.name)
            if old is not None:
                old.unpersist()

    def drop(self) -> None:
        if self.insert is not None:
            self.insert.close()
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


Changes = System | Mapping[str, System] | None
"""What a run changes: nothing (the official parameters), one system for the engine's only
county, or a system per county (`scenario.apply` of each county in a city or the province)."""


@dataclass
class Engine:
    """Staged facts and the prepared statements of one (system, year, division, data version).

    `division` is a county, a city or the province (6-digit code); `counties` the counties of
    the computation (a county's computation covers its city when class groups are pooled with
    the city's), `targets` those inside `division`, whose parameters a scenario changes and
    whose results a run returns.
    """

    wh: Warehouse
    system: System
    year: int
    division: str
    version: tuple | None
    counties: list[str]
    targets: list[str]
    final: _Statement
    schema: pa.Schema
    params: _ParamTable
    scored: _ScoredTable
    history: list[dict[str, Any]]
    stages: list[Release] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    baseline: pa.Table | None = None
    _official_rows: dict[str, dict[str, float | None]] | None = None
    _defaults: dict[str, float | None] | None = None

    @property
    def county(self) -> str:
        """The division (kept for callers that work on one county)."""
        return self.division

    @property
    def sql(self) -> str:
        return self.final.sql

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

    def run(self, changes: Changes = None) -> pa.Table:
        """Results of the engine's division with the official parameters, or with `changes`:
        one system (the county's with the scenario applied, `scenario.apply`) for a county
        engine, or a system per county of the division."""
        rows = self.official_rows()
        if isinstance(changes, System):
            if len(self.targets) != 1:
                raise WhatIfError("情景推演：多个区县时应逐县给出参数")
            changes = {self.targets[0]: changes}
        resolved: dict[int, dict[str, float | None]] = {}
        for county, county_system in (changes or {}).items():
            if county not in self.targets:
                raise WhatIfError(f"区县 {county} 不在本次推演范围 {self.division} 内")
            key = id(county_system)  # counties without overrides share one system: resolve it once
            if key not in resolved:
                resolved[key] = self._resolved(county_system)
            rows[county] = resolved[key]
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
        found = self.final.run()
        if kind == "duckdb":
            data = found.to_arrow_table()
        elif kind == "postgres":
            with found as cur:
                names = [d.name for d in cur.description]
                rows = cur.fetchall()
            cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
            data = pa.table(
                {
                    n: pa.array(list(c), type=self.schema.field(n).type)
                    for n, c in zip(names, cols, strict=True)
                }
            )
        else:
            data = found.toArrow()
        return data.select(self.schema.names).cast(self.schema)

    def close(self) -> None:
        self.final.close()
        self.scored.drop()
        self.params.drop()
        release_stages(self.stages)
        if self.wh.kind == "duckdb":
            with contextlib.suppress(Exception):  # its own connection (see `build_engine`)
                self.wh.con.disconnect()


def _scored_within_county(system: System) -> bool:
    """True when every group of the scoring (references, min–max ranges, the average for
    missing data) lies within one county, so a county's scores never depend on another's
    parameters; class groups may still be pooled with the city's."""
    groups = {system.reference_rule(i).group for i in system.indicators} | {system.scoring.missing_group}
    return all("county_code" in GROUP_COLUMNS[g] for g in groups)


def division_level(division: str) -> str:
    """county, city or province of a 6-digit division code."""
    prefix = division_prefix(division)
    return {2: "province", 4: "city"}.get(len(prefix), "county")


def build_engine(
    wh: Warehouse, system: System, year: int, division: str, history: History = "auto"
) -> Engine:
    """Stage the division's facts, build the parametrised evaluation, compile and prepare it
    (once). `division`: a county, a city or the province."""
    if len(division) != 6 or not division.isdigit() or system.population.level == "park":
        raise WhatIfError("情景推演按区县、市或全省进行：请选择区划（6 位代码）和企业评价体系")
    scope = Scope(division=division)
    if wh.kind == "duckdb":
        # a connection of its own (same database): its temporary tables and prepared statements
        # are the engine's, and no other query changes its catalog (see `_Statement`)
        wh = Warehouse(
            wh.url, "duckdb", ibis.duckdb.from_connection(wh.con.con.cursor()), store_key=wh.store_key
        )
    # the computation covers what the division's references and class groups need (a county's
    # city when small groups are pooled with the city's); a scenario changes the division's rows
    prefix = compute_prefix(system, scope)
    ensure_eval_schema(wh)
    version = data_version(wh)
    with collecting() as collected:
        try:
            units = build_units(wh, system, year, prefix, None)
            found = wh.to_pyarrow(units.units.select("county_code").distinct())
            counties = sorted(str(c) for c in found["county_code"].to_pylist() if c is not None)
            targets = [c for c in counties if scope.allows_division(c)]
            if not targets:
                raise WhatIfError(f"区划 {division} 在 {year} 年没有参加 {system.id} 评价的企业")
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
            joined = TableParams(defaults=dict.fromkeys(names), table=table, names=tuple(names))

            def prepared(t: ibis.Table) -> ibis.Table:
                # values and group statistics change with the data only: materialised once,
                # the parameters joined onto the small staged table
                return joined.attach(stage(t))

            params = replace(joined, table=None)
            scored = score_built(wh, system, year, units, params, prefix, staged=False, prepared=prepared)
            backend = wh.con
            full = scored.table
            register_memtables(backend, full)  # filtered below, it reads the same ones
            fixed: _ScoredTable | None = None
            if len(targets) < len(counties) and _scored_within_county(system):
                # Counties outside the division keep the official parameters in every run, and
                # no scoring group crosses a county line: their scored rows are made once, and a
                # run scores only the division's (the rest of the city is there for the pooled
                # class groups of the final statement)
                moving = full.county_code.isin(targets)
                fixed = _ScoredTable(wh, str(backend.compile(full.filter(~moving))))
                kept = fixed.create()
                collected.stages.append(fixed.drop)
                full = full.filter(moving)
            stab = _ScoredTable(wh, str(backend.compile(full)))
            table = stab.create()
            scored = replace(scored, table=table if fixed is None else table.union(kept, distinct=False))
            prev, log = last_year(wh, system, year, scope, None, history)
            if prev is not None:  # last year's results of the computation's enterprises only
                prev = stage(prev.semi_join(units.members.select("credit_code").distinct(), "credit_code"))
            vetoes = stage(vetoes_for(wh, system, year))
            ev = assemble(wh, system, year, scope, scored, None, history, (prev, log), vetoes)
            extra = ["kwh"] if "kwh" in scored.table.columns else []
            res = ev.results
            if extra:
                k = scored.table.select(__u="unit_id", kwh="kwh")
                res = res.left_join(k, res.unit_id == k.__u).drop("__u")
            res = res.select(*result_columns(system), *extra)
            register_memtables(backend, res)  # in-memory tables the statement reads
            final = _Statement(wh, str(backend.compile(res)))
        except BaseException:
            release_stages(collected.stages)
            if wh.kind == "duckdb":
                wh.con.disconnect()
            raise
    schema = res.schema().to_pyarrow()
    return Engine(
        wh,
        system,
        year,
        division,
        version,
        counties,
        targets,
        final,
        schema,
        ptab,
        stab,
        ev.history,
        collected.stages,
    )


_ENGINES: weakref.WeakKeyDictionary[Warehouse, dict[tuple, Engine]] = weakref.WeakKeyDictionary()
_ENGINES_LOCK = threading.Lock()
MAX_ENGINES = 8
"""Engines kept per connection (each holds a county's staged facts)."""


def engine_for(wh: Warehouse, system: System, year: int, division: str, history: History = "auto") -> Engine:
    """The kept engine for this connection, system, year and division, rebuilt when the data
    version changed (new facts or a new stored run) or the configuration did."""
    key = (system.config_hash, year, division, history)
    version = data_version(wh)
    with _ENGINES_LOCK:
        kept = _ENGINES.setdefault(wh, {})
        found = kept.get(key)
        if found is not None and found.version == version and version is not None:
            return found
        if found is not None:
            found.close()
            del kept[key]
    engine = build_engine(wh, system, year, division, history)
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
