"""How a run's per-indicator figures are stored and read back (单项指标得分的存储).

The reference value (参照值), the low reference of min–max scoring and the weight are the same for
every enterprise of a reference group, so a run stores them once per group instead of once per
enterprise and indicator:

- `eval_scores`: one row per enterprise (park, for park systems) and indicator with what varies
  per enterprise: value, score, missing, and `weight` only where the effective weight varies per
  enterprise (systems with the re-weight rule for missing data; NULL otherwise);
- `eval_references`: one row per run, indicator and cell — county × industry division
  (enterprise systems) or county × park kind (park systems) — with reference, low reference
  and weight. Every reference group (province, city, county, county × industry, industry,
  park kind) and every county override is constant on such a cell, so the cell is the finest
  group any system uses and the table's key needs no knowledge of the system.

`stored_scores` joins them back into the per-indicator rows every reader used before (run_id,
credit_code, indicator, value, reference, low_reference, weight, score, missing); it is the one
place that knows the layout. `upgrade_scores` moves a warehouse written by an older version
(reference and low reference on every `eval_scores` row) to this layout, keeping its runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.config import System

SCORE_SCHEMA = ibis.schema(
    {
        "run_id": "string",
        "credit_code": "string",
        "indicator": "string",
        "value": "float64",
        "score": "float64",
        "missing": "boolean",
        "weight": "float64",
    }
)
REFERENCE_SCHEMA = ibis.schema(
    {
        "run_id": "string",
        "indicator": "string",
        "county_code": "string",
        "sector": "string",
        "reference": "float64",
        "low_reference": "float64",
        "weight": "float64",
    }
)
"""`sector`: the industry division of enterprise runs, the park kind of park runs."""

SCORE_COLUMNS = ["run_id", "credit_code", "indicator", "value", "reference", "low_reference", "weight"]
SCORE_COLUMNS += ["score", "missing"]
LEGACY_COLUMNS = ("reference", "low_reference")
_NONE = "~"  # a NULL county or sector, kept apart from every code in the join


def _constant(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value])).cast(
        pa.string()
    )


def weights_vary(system: System) -> bool:
    """True when effective weights vary per enterprise (an indicator re-weighted when missing)."""
    return any(system.missing_rule(i) == "reweight" for i in system.indicators)


def split_scores(system: System, data: pa.Table, run_id: str, park: bool) -> tuple[pa.Table, pa.Table]:
    """(eval_scores rows, eval_references rows) of a run from its wide result (`runs.evaluate`)."""
    n = data.num_rows
    key = "park_id" if park else "credit_code"
    per_row_weight = weights_vary(system)
    county = pc.fill_null(data["county_code"].cast(pa.string()), _NONE)
    sector = pc.fill_null(data["kind" if park else "division_code"].cast(pa.string()), _NONE)
    score_schema, ref_schema = SCORE_SCHEMA.to_pyarrow(), REFERENCE_SCHEMA.to_pyarrow()
    scores, refs = [], []
    for ind in system.indicators:
        i = ind.id
        weight = data[f"w_{i}"].cast(pa.float64())
        scores.append(
            pa.table(
                {
                    "run_id": _constant(run_id, n),
                    "credit_code": data[key],
                    "indicator": _constant(i, n),
                    "value": data[f"v_{i}"].cast(pa.float64()),
                    "score": data[f"s_{i}"].cast(pa.float64()),
                    "missing": data[f"m_{i}"].cast(pa.bool_()),
                    "weight": weight if per_row_weight else pa.nulls(n, pa.float64()),
                },
                schema=score_schema,
            )
        )
        cells = pa.table(
            {
                "county_code": county,
                "sector": sector,
                "reference": data[f"ref_{i}"].cast(pa.float64()),
                "low_reference": data[f"lo_{i}"].cast(pa.float64()),
                "weight": weight if not per_row_weight else pa.nulls(n, pa.float64()),
            }
        )
        by_cell = cells.group_by(["county_code", "sector"]).aggregate(
            [(c, agg) for c in ("reference", "low_reference", "weight") for agg in ("min", "max")]
        )
        for c in ("reference", "low_reference", "weight"):
            same = pc.fill_null(pc.equal(by_cell[f"{c}_min"], by_cell[f"{c}_max"]), True)
            if not pc.all(same, min_count=0).as_py():  # an invariant of the engine, checked before storing
                raise RuntimeError(
                    f"指标 {i} 的 {c} 在同一区县同一行业内不一致，无法按分组存储（评价引擎错误）"
                )
        m = by_cell.num_rows
        refs.append(
            pa.table(
                {
                    "run_id": _constant(run_id, m),
                    "indicator": _constant(i, m),
                    "county_code": by_cell["county_code"],
                    "sector": by_cell["sector"],
                    "reference": by_cell["reference_min"],
                    "low_reference": by_cell["low_reference_min"],
                    "weight": by_cell["weight_min"],
                },
                schema=ref_schema,
            )
        )
    score_table = pa.concat_tables(scores) if scores else score_schema.empty_table()
    ref_table = pa.concat_tables(refs) if refs else ref_schema.empty_table()
    return score_table, ref_table


def _cells(wh: Warehouse, ids: list[str]) -> ibis.Table:
    """run_id, credit_code (park id for park runs), county_code, sector of the runs' results."""
    runs = wh.table("eval_runs")
    levels = {
        r["level"] for r in wh.to_pyarrow(runs.filter(runs.run_id.isin(ids)).select("level")).to_pylist()
    }
    parts = []
    for name, key, sector in (
        ("eval_results", "credit_code", "division_code"),
        ("eval_park_results", "park_id", "kind"),
    ):
        # only the results table the runs wrote: a union would keep planners from a plain join
        if (
            not wh.has_table(name)
            or (name == "eval_park_results") != (levels == {"park"})
            and len(levels) == 1
        ):
            continue
        r = wh.table(name)
        parts.append(
            r.filter(r.run_id.isin(ids)).select(
                c_run=r.run_id,
                c_code=r[key],
                c_county=r.county_code.fill_null(_NONE),
                c_sector=r[sector].fill_null(_NONE),
            )
        )
    return parts[0] if len(parts) == 1 else parts[0].union(parts[1])


def stored_scores(wh: Warehouse, run_ids: str | Sequence[str], credit_code: str | None = None) -> ibis.Table:
    """The per-indicator rows of `run_ids` (of one enterprise or park when `credit_code` is given)
    with their group's reference, low reference and weight: columns `SCORE_COLUMNS`."""
    ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
    s = wh.table("eval_scores")
    s = s.filter(s.run_id.isin(ids) if len(ids) != 1 else s.run_id == ids[0])
    if credit_code is not None:
        s = s.filter(s.credit_code == credit_code)
    if LEGACY_COLUMNS[0] in s.columns:  # not upgraded yet (`upgrade_scores`): every row has them
        return s.select(*SCORE_COLUMNS)
    cells = _cells(wh, ids)
    if credit_code is not None:
        cells = cells.filter(cells.c_code == credit_code)
    j = s.join(cells, [s.run_id == cells.c_run, s.credit_code == cells.c_code])
    r = wh.table("eval_references").filter(ibis._.run_id.isin(ids))
    r = r.select(
        r_run=r.run_id,
        r_ind=r.indicator,
        r_county=r.county_code,
        r_sector=r.sector,
        reference=r.reference,
        low_reference=r.low_reference,
        r_weight=r.weight,
    )
    j = j.left_join(
        r,
        [j.run_id == r.r_run, j.indicator == r.r_ind, j.c_county == r.r_county, j.c_sector == r.r_sector],
    )
    return j.select(
        "run_id",
        "credit_code",
        "indicator",
        "value",
        "reference",
        "low_reference",
        weight=ibis.coalesce(j.weight, j.r_weight),
        score=j.score,
        missing=j.missing,
    )


def upgrade_scores(wh: Warehouse) -> None:
    """Move an older warehouse's `eval_scores` (reference and low reference on every row) to
    the grouped layout: the values go to `eval_references` once per run, indicator and cell,
    the per-row weight stays where it was (so every past run reads back unchanged)."""
    have = set(wh.table("eval_scores").columns)
    if not set(LEGACY_COLUMNS) <= have:
        return
    with wh.transaction():
        for table, key, sector in (
            ("eval_results", "credit_code", "division_code"),
            ("eval_park_results", "park_id", "kind"),
        ):
            if not wh.has_table(table):
                continue
            wh.sql(
                f"""INSERT INTO eval_references
                (run_id, indicator, county_code, sector, reference, low_reference, weight)
                SELECT s.run_id, s.indicator,
                       coalesce(r.county_code, '{_NONE}'), coalesce(r.{sector}, '{_NONE}'),
                       min(s.reference), min(s.low_reference), NULL
                FROM eval_scores s JOIN {table} r ON r.run_id = s.run_id AND r.{key} = s.credit_code
                GROUP BY 1, 2, 3, 4"""
            )
        for col in LEGACY_COLUMNS:
            wh.sql(f'ALTER TABLE eval_scores DROP COLUMN "{col}"')
