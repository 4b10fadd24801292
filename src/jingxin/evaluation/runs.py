"""Evaluation runs (评价批次): compute, store with lineage, reload, recompute.

A run is stored in three derived tables, written in one transaction through
`Warehouse.insert_arrow`:

- `eval_runs`: one row per run with the resolved configuration (YAML) and its hash, the batch
  ids of every fact table it read (`batches_used`, JSON) and how last year's results were
  obtained (`history`, JSON). With these a past run can be recomputed exactly (`recompute`),
  even after corrections superseded some batches;
- `eval_results`: one row per enterprise (members of a merged parcel unit share one result);
- `eval_scores`: one row per enterprise and indicator (value, score, missing), with the
  references and weights of its groups once per run in `eval_references` (see `stored`; read
  them back together with `stored.stored_scores`).

Park systems write `eval_park_results` instead of `eval_results` (and use the park id as the
`credit_code` of their `eval_scores` rows).

An evaluation is built as Ibis expressions over a few materialised stages (see
`staging.stage`); its result (`evaluate(...).results`) is fetched once, and the long score
table is cut from its columns with Arrow, not recomputed.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jingxin.core.cache import cached_read
from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.classes import rank_and_classify, vetoes_for
from jingxin.evaluation.compute import Scored, score_units
from jingxin.evaluation.config import Scoring, System, load_system, parse_system
from jingxin.evaluation.policy import History, apply_policies, previous_results
from jingxin.evaluation.population import (
    FACT_TABLES,
    INPUT_SCHEMAS,
    PARK_TABLES,
    Batches,
    attach,
    attach_all,
    live,
)
from jingxin.evaluation.reuse import Builds
from jingxin.evaluation.staging import Release, collecting, fetch_arrow, release_stages
from jingxin.evaluation.stored import REFERENCE_SCHEMA, SCORE_SCHEMA, split_scores, upgrade_scores

EVAL_SCHEMAS: dict[str, ibis.Schema] = {
    "eval_runs": ibis.schema(
        {
            "run_id": "string",
            "system": "string",
            "system_version": "string",
            "title": "string",
            "level": "string",
            "year": "int32",
            "scope": "string",
            "config_hash": "string",
            "config_yaml": "string",
            "batches_used": "string",
            "history": "string",
            "created_at": "timestamp",
            "enterprise_count": "int64",
            "unit_count": "int64",
            "backend": "string",
            "seconds": "float64",
        }
    ),
    "eval_results": ibis.schema(
        {
            "run_id": "string",
            "credit_code": "string",
            "name": "string",
            "unit_id": "string",
            "member_count": "int64",
            "is_lead": "boolean",
            "county_code": "string",
            "city_code": "string",
            "industry_code": "string",
            "division_code": "string",
            "above_scale": "boolean",
            "land_mu": "float64",
            "tax_paid": "float64",
            "value_added": "float64",
            "revenue": "float64",
            "energy_tce": "float64",
            "score": "float64",
            "sublet_tenants": "int64",
            "deduction": "float64",
            "total_score": "float64",
            "rank_in_county": "int64",
            "county_count": "int64",
            "rank_in_industry": "int64",
            "industry_count": "int64",
            "class_rank": "int64",
            "class_n": "int64",
            "class_group": "string",
            "class_key": "string",
            "tenant": "boolean",
            "score_class": "string",
            "class": "string",
            "veto_reason": "string",
            "prev_score": "float64",
            "prev_class": "string",
            "score_change": "float64",
            "class_change": "int64",
            "consecutive_d_years": "int64",
            "land_tax_relief_pct": "float64",
            "power_surcharge_yuan_per_kwh": "float64",
            "energy_quota_change_pct": "float64",
            "priority_land": "boolean",
            "priority_funds": "boolean",
        }
    ),
    "eval_scores": SCORE_SCHEMA,
    "eval_references": REFERENCE_SCHEMA,
    "eval_park_results": ibis.schema(
        {
            "run_id": "string",
            "park_id": "string",
            "park_name": "string",
            "kind": "string",
            "county_code": "string",
            "city_code": "string",
            "member_count": "int64",
            "land_mu": "float64",
            "tax_paid": "float64",
            "value_added": "float64",
            "revenue": "float64",
            "energy_tce": "float64",
            "score": "float64",
            "total_score": "float64",
            "rank_in_province": "int64",
            "rank_in_county": "int64",
            "county_count": "int64",
            "rank_in_kind": "int64",
            "kind_count": "int64",
            "class_rank": "int64",
            "class_n": "int64",
            "class_group": "string",
            "class_key": "string",
            "class": "string",
        }
    ),
}
"""Derived tables of the evaluation (and, created empty, its optional inputs)."""

ALL_SCHEMAS = {**EVAL_SCHEMAS, **INPUT_SCHEMAS}


def ensure_eval_schema(wh: Warehouse) -> None:
    """Create the evaluation's tables, and add the columns a newer version stores to tables an
    older version created (a warehouse kept across upgrades keeps its past runs)."""
    wh.ensure_schema(ALL_SCHEMAS)
    if wh.kind == "spark":
        return
    for name, schema in EVAL_SCHEMAS.items():
        have = set(wh.table(name).columns)
        for col, dtype in schema.items():
            if col not in have:
                if dtype.is_boolean():
                    sql_type = "BOOLEAN"
                elif dtype.is_string():
                    sql_type = "VARCHAR"
                else:
                    sql_type = "DOUBLE PRECISION" if dtype.is_floating() else "BIGINT"
                wh.sql(f'ALTER TABLE "{name}" ADD COLUMN "{col}" {sql_type}')
    upgrade_scores(wh)


INDICATOR_PREFIXES = ("v_", "ref_", "lo_", "w_", "u_", "s_", "m_")


def result_columns(system: System) -> list[str]:
    """Columns of `Evaluation.results`: the stored result table's, then per indicator
    value, reference, low reference, weight, score per unit of weight, score, missing."""
    target = "eval_park_results" if system.population.level == "park" else "eval_results"
    cols = [c for c in EVAL_SCHEMAS[target].names if c != "run_id"]
    for ind in system.indicators:
        cols += [f"{p}{ind.id}" for p in INDICATOR_PREFIXES]
    return cols


@dataclass(frozen=True)
class Evaluation:
    """An evaluation as Ibis expressions over its materialised stages.

    `results`: one row per enterprise (per park for park systems) with the columns of
    `eval_results` plus, per indicator, ``v_ ref_ lo_ w_ u_ s_ m_<id>`` (see compute.py).
    `history`: where last year's results came from; `batches_used`: the batch ids read per
    fact table. Call `release()` when done (drops the stages).
    """

    system: System
    year: int
    scope: Scope
    scored: Scored
    results: ibis.Table
    history: list[dict[str, Any]] = field(default_factory=list)
    stages: list[Release] = field(default_factory=list)
    batches_used: dict[str, list[int]] = field(default_factory=dict)
    reused: bool = False
    """True when the expressions of an earlier, identical build were used again (`reuse`)."""

    @property
    def is_park(self) -> bool:
        return self.system.population.level == "park"

    def release(self) -> None:
        """Drop the intermediate tables this evaluation materialised (call when done)."""
        release_stages(self.stages)


def _classes_for_year(
    wh: Warehouse, system: System, year: int, scope: Scope, batches: Batches | None
) -> ibis.Table:
    """credit_code, total, cls of `year` computed now (no history, no policies)."""
    scored = score_units(wh, system, year, scope, batches=batches)
    ranked = rank_and_classify(scored)
    res = scored.members.select("credit_code", "unit_id").join(
        ranked.select("unit_id", "total", "score_class"), "unit_id"
    )
    res = attach(res, vetoes_for(wh, system, year))
    return res.select("credit_code", "total", cls=ibis.coalesce(res.veto_class, res.score_class))


def last_year(
    wh: Warehouse, system: System, year: int, scope: Scope, batches: Batches | None, history: History
) -> tuple[ibis.Table | None, list[dict[str, Any]]]:
    """Last year's results (`policy.previous_results`) as this evaluation reads them."""
    return previous_results(
        wh,
        system,
        year,
        history,
        lambda y: _classes_for_year(wh, system, y, scope, batches),
        lambda y: _has_data(wh, y, batches),
    )


def _has_data(wh: Warehouse, year: int, batches: Batches | None) -> bool:
    stats = live(wh, "statistics", batches)
    tax = live(wh, "tax", batches)
    n = (
        stats.filter(stats.year == year)
        .select("credit_code")
        .union(tax.filter(tax.year == year).select("credit_code"))
        .limit(1)
        .count()
    )
    return int(wh.execute(n)) > 0


def evaluate(
    wh: Warehouse,
    system: System,
    year: int,
    scope: Scope = EVERYTHING,
    *,
    weights: Mapping[str, float] | None = None,
    scoring: Scoring | None = None,
    batches: Batches | None = None,
    history: History = "auto",
) -> Evaluation:
    """The complete evaluation of `system` for `year` within `scope`, as Ibis expressions over
    a few materialised stages; call `Evaluation.release()` when done with it.

    The expressions of an earlier evaluation with the same configuration, year, scope and
    history on this connection are used again while every answer they were built on is the
    same (`reuse`); `Evaluation.reused` says so."""
    wh.analyze([*FACT_TABLES, *PARK_TABLES, "batches", *INPUT_SCHEMAS, *EVAL_SCHEMAS], changed=False)
    system = system.with_changes(weights=weights, scoring=scoring)
    builds = Builds.of(wh, system.config_hash, year, scope, batches, history)
    with collecting() as collected, wh.same_tables():
        try:
            ev = builds.reuse(collected) if builds is not None else None
            if ev is not None:
                ev = replace(ev, reused=True)
            elif builds is None:
                ev = _evaluate(wh, system, year, scope, batches, history)
            else:
                with builds.recording(collected) as trace:
                    ev = _evaluate(wh, system, year, scope, batches, history)
                builds.keep(trace, ev)
        except BaseException:
            release_stages(collected.stages)
            raise
    used = {name: sorted(collected.batches.get(name, ())) for name in FACT_TABLES}
    used.update({n: sorted(collected.batches[n]) for n in PARK_TABLES if collected.batches.get(n)})
    return replace(ev, stages=collected.stages, batches_used=used)


def _evaluate(
    wh: Warehouse, system: System, year: int, scope: Scope, batches: Batches | None, history: History
) -> Evaluation:
    scored = score_units(wh, system, year, scope, batches=batches)
    return assemble(wh, system, year, scope, scored, batches, history)


def assemble(
    wh: Warehouse,
    system: System,
    year: int,
    scope: Scope,
    scored: Scored,
    batches: Batches | None,
    history: History,
    prev_and_log: tuple[ibis.Table | None, list[dict[str, Any]]] | None = None,
    vetoes: ibis.Table | None = None,
) -> Evaluation:
    """Ranks, classes, vetoes, last year's results and policies on scored units: the rest of an
    evaluation after `score_units` (the what-if, `evaluation.whatif`, scores units of its own
    and passes last year's results and the vetoes it staged once)."""
    ranked = rank_and_classify(scored, within=scope.prefix or "")
    if system.population.level == "park":
        res = ranked.rename(
            park_id="unit_id", park_name="name", rank_in_kind="rank_in_industry", kind_count="industry_count"
        )
        res = res.mutate(
            rank_in_province=ibis.row_number().over(order_by=[ibis.desc(res.total), res.park_id]) + 1,
            total_score=res.total,
            **{"class": res.score_class},
        )
        res = scope.restrict(res, code_column=None) if not scope.pinned else res.limit(0)
        return Evaluation(system, year, scope, scored, res.select(*result_columns(system)))

    res = scored.members.join(ranked.drop("name"), "unit_id")
    res = res.mutate(is_lead=res.credit_code == res.unit_id, total_score=res.total)
    prev, log = (
        prev_and_log if prev_and_log is not None else last_year(wh, system, year, scope, batches, history)
    )
    vetoes = vetoes if vetoes is not None else vetoes_for(wh, system, year)
    res = attach_all(res, [vetoes] if prev is None else [vetoes, prev])
    res = res.mutate(**{"class": ibis.coalesce(res.veto_class, res.score_class)}).drop("veto_class")
    if prev is None:
        res = res.mutate(
            prev_score=ibis.null("float64"),
            prev_class=ibis.null("string"),
            prev_consecutive=ibis.null("int64"),
        )
    res = apply_policies(res, system, scored.params)
    res = scope.restrict(res).select(*result_columns(system))
    return Evaluation(system, year, scope, scored, res, log)


# ---- storing --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSummary:
    """What `jingxin evaluate` reports."""

    run_id: str
    system: str
    title: str
    year: int
    scope: str
    enterprise_count: int
    unit_count: int
    class_counts: dict[str, int]
    config_hash: str
    seconds: float
    history: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)
    """build: facts read and the stages materialised; fetch: the result query; write: storing."""
    reused: bool = False
    """True when an earlier build's expressions were used again (`Evaluation.reused`)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _constant(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value])).cast(
        pa.string()
    )


def _to_tables(ev: Evaluation, data: pa.Table, run_id: str) -> tuple[str, pa.Table, pa.Table, pa.Table]:
    """Cut the wide result into the stored result table, the per-indicator scores and the
    references of the groups (see `stored`)."""
    n = data.num_rows
    target = "eval_park_results" if ev.is_park else "eval_results"
    schema = EVAL_SCHEMAS[target].to_pyarrow()
    cols = {f.name: data[f.name].cast(f.type) for f in schema if f.name != "run_id"}
    results = pa.table({"run_id": _constant(run_id, n), **cols}, schema=schema)
    scores, references = split_scores(ev.system, data, run_id, ev.is_park)
    return target, results, scores, references


def run_evaluation(
    wh: Warehouse,
    system: System | str,
    year: int,
    scope: Scope = EVERYTHING,
    *,
    history: History = "auto",
    batches: Batches | None = None,
    weights: Mapping[str, float] | None = None,
    scoring: Scoring | None = None,
) -> RunSummary:
    """Evaluate and store one run; returns its summary. Same inputs, same stored results."""
    started = time.perf_counter()
    if isinstance(system, str):
        system = load_system(system)
    system = system.with_changes(weights=weights, scoring=scoring)
    ensure_eval_schema(wh)
    ev = evaluate(wh, system, year, scope, batches=batches, history=history)
    built = time.perf_counter()
    try:
        data = fetch_arrow(wh, ev.results)
    finally:
        ev.release()
    fetched = time.perf_counter()
    run_id = f"{year}-{system.id}-{uuid.uuid4().hex[:10]}"
    target, results, scores, references = _to_tables(ev, data, run_id)
    units = len(pc.unique(results["park_id" if ev.is_park else "unit_id"]))
    scope_code = scope.division or "330000"
    enterprise_count = (
        results.num_rows if not ev.is_park else int(pc.sum(results["member_count"]).as_py() or 0)
    )
    run: dict[str, Any] = {
        "run_id": run_id,
        "system": system.id,
        "system_version": system.version,
        "title": system.title,
        "level": system.population.level,
        "year": year,
        "scope": scope_code,
        "config_hash": system.config_hash,
        "config_yaml": system.to_yaml(),
        "batches_used": json.dumps(ev.batches_used, sort_keys=True),
        "history": json.dumps(ev.history, ensure_ascii=False, sort_keys=True),
        "created_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "enterprise_count": enterprise_count,
        "unit_count": units,
        "backend": wh.kind,
        "seconds": round(time.perf_counter() - started, 3),
    }
    run_table = pa.Table.from_pylist([run], schema=EVAL_SCHEMAS["eval_runs"].to_pyarrow())
    with wh.transaction():
        wh.insert_arrow("eval_runs", run_table)
        wh.insert_arrow(target, results)
        wh.insert_arrow("eval_scores", scores)
        wh.insert_arrow("eval_references", references)
    # PostgreSQL plans the next reads of the run (`stored.stored_scores`) from fresh statistics
    wh.analyze(["eval_runs", target, "eval_scores", "eval_references"])
    timings = {
        "build": round(built - started, 3),
        "fetch": round(fetched - built, 3),
        "write": round(time.perf_counter() - fetched, 3),
    }
    counts = pc.value_counts(results["class"]).to_pylist() if results.num_rows else []
    by_class = {str(c["values"]): int(c["counts"]) for c in counts}
    return RunSummary(
        run_id=run_id,
        system=system.id,
        title=system.title,
        year=year,
        scope=scope_code,
        enterprise_count=enterprise_count,
        unit_count=units,
        class_counts={c: by_class.get(c, 0) for c in system.classes.all_classes},
        config_hash=system.config_hash,
        seconds=round(time.perf_counter() - started, 3),
        history=ev.history,
        timings=timings,
        reused=ev.reused,
    )


# ---- reading back ---------------------------------------------------------------------------
@cached_read
def load_run(wh: Warehouse, run_id: str) -> dict[str, Any]:
    """The `eval_runs` row of `run_id` (KeyError with a Chinese message if unknown)."""
    if not wh.has_table("eval_runs"):
        raise KeyError(f"没有评价批次 {run_id}")
    runs = wh.table("eval_runs")
    rows = wh.to_pyarrow(runs.filter(runs.run_id == run_id)).to_pylist()
    if not rows:
        raise KeyError(f"没有评价批次 {run_id}")
    return rows[0]


def run_system(wh: Warehouse, run_id: str) -> System:
    """The exact configuration a run used."""
    return parse_system(load_run(wh, run_id)["config_yaml"])


def recompute(wh: Warehouse, run_id: str) -> Evaluation:
    """Re-evaluate a stored run from its stored configuration and exactly the batches it read."""
    run = load_run(wh, run_id)
    system = parse_system(run["config_yaml"])
    batches = {k: v for k, v in json.loads(run["batches_used"]).items()}
    scope = Scope(division=run["scope"]) if run["scope"] != "330000" else EVERYTHING
    return evaluate(wh, system, int(run["year"]), scope, batches=batches, history="auto")


def load_inputs(wh: Warehouse, name: str, data: pa.Table) -> int:
    """Append rows to an optional input table (sublets, vetoes). Park master data and
    membership are departmental sources, ingested with `jingxin ingest` (not here)."""
    if name not in INPUT_SCHEMAS:
        raise KeyError(f"未知输入表 {name!r}：可用 {', '.join(INPUT_SCHEMAS)}")
    wh.ensure_schema(ALL_SCHEMAS)
    schema = INPUT_SCHEMAS[name].to_pyarrow()
    table = data.select(schema.names).cast(schema)
    with wh.transaction():
        wh.insert_arrow(name, table)
    return table.num_rows
