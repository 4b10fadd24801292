"""Benchmark of the 亩均 evaluation engine against hand-written SQL and a plain pandas baseline.

Inputs are generated at a stated scale with `jingxin.evaluation.sample.province` (n enterprises
over 2020–2021; about 40 % of them are 规上 manufacturers and are evaluated by
`zhejiang_industry_above`). For each backend the 2020 run is stored first, then the 2021 run is
timed end to end (`run_evaluation`: read facts, merge shared parcels, score, rank, classify,
join last year's stored run, apply policies, write the derived tables): the first run builds
and compiles its queries; then next year's tax file comes in (a new batch, 2022), and the
following runs reuse the first one's build (`evaluation.reuse`: every answer the build was
made on is asked again, and the new batch leaves them unchanged) and its compiled SQL; they
are timed three times and the median kept. Beside it, on the same DuckDB warehouse, the
hand-written DuckDB SQL of the same rules (`reference_sql.py`: reads the facts, evaluates,
writes its result and score tables) is timed three times (the median kept), and a
straightforward pandas implementation is timed from in-memory frames (no warehouse I/O, no
writes). Totals and classes of both are compared with the engine's. Every timing is given as
wall seconds and as CPU seconds of the process (all threads): the machine may be shared, and
CPU seconds are the fairer figure then; the load average is recorded before and after.

    .venv/bin/python bench/bench_evaluation.py --sizes 5000 100000 1000000 --backends duckdb

Prints one JSON line per size and one JSON document at the end. Targets: 1M enterprises on
DuckDB in under 10 s; the stored run within 1.3 × the hand-written SQL.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from jingxin.core.warehouse import open_warehouse, publish_parquet
from jingxin.evaluation.config import System, load_system
from jingxin.evaluation.formula import parse_formula
from jingxin.evaluation.population import FACT_TABLES
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province
from jingxin.reference import industries

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_sql import reference_run  # noqa: E402

SYSTEM = "zhejiang_industry_above"
YEARS = (2020, 2021)


# ---- the pandas baseline -----------------------------------------------------------------------
def _latest(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df.sort_values(["batch_id", "source_row"]).drop_duplicates(keys, keep="last")


def _formula(node: ast.expr, df: pd.DataFrame) -> pd.Series:
    if isinstance(node, ast.BinOp):
        a, b = _formula(node.left, df), _formula(node.right, df)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        return a / b.where(b != 0)
    if isinstance(node, ast.Name):
        return df[node.id].astype(float)
    if isinstance(node, ast.Constant):
        return pd.Series(float(node.value), index=df.index)
    if isinstance(node, ast.UnaryOp):
        return -_formula(node.operand, df)
    raise ValueError(ast.dump(node))


def pandas_evaluate(
    facts: dict[str, pd.DataFrame], system: System, year: int, prev: pd.DataFrame | None
) -> pd.DataFrame:
    """The rules of a ratio-scored, share-classed system (as zhejiang_industry_above) in pandas."""
    pop = system.population
    reg = _latest(facts["registry"], ["credit_code"])
    reg = reg[~reg.status.isin(pop.excluded_statuses)]
    ent = reg[["credit_code", "name", "county_code", "industry_code", "founded_on"]]
    for name, cols in {
        "tax": ["tax_paid"],
        "statistics": ["above_scale", "value_added", "revenue", "rd_expense", "employees", "college_staff"],
        "energy": ["energy_tce"],
        "discharge": ["discharge_t"],
    }.items():
        df = facts[name]
        df = _latest(df[df.year == year], ["credit_code"])
        ent = ent.merge(df[["credit_code", *cols]], on="credit_code", how="left")
    power = facts["power_monthly"]
    power = power[(power.month >= pd.Timestamp(year, 1, 1)) & (power.month < pd.Timestamp(year + 1, 1, 1))]
    power = _latest(power, ["credit_code", "month"]).groupby("credit_code", as_index=False).kwh.sum()
    ent = ent.merge(power, on="credit_code", how="left")
    land = _latest(facts["land"], ["credit_code", "parcel_id"])
    land = land[land.credit_code.isin(reg.credit_code)][["credit_code", "parcel_id", "area_mu"]]
    # shared parcels: smallest credit code reachable through them
    users = land.groupby("parcel_id").credit_code.transform("size")
    links = land.loc[users > 1, ["credit_code", "parcel_id"]]
    label = (
        links.groupby("credit_code", as_index=False)
        .credit_code.min()
        .rename(columns={"credit_code": "label"})
    )
    label["credit_code"] = label["label"]
    for _ in range(pop.merge_rounds):
        by_parcel = links.merge(label, on="credit_code").groupby("parcel_id", as_index=False).label.min()
        label = links.merge(by_parcel, on="parcel_id").groupby("credit_code", as_index=False).label.min()
    ent = ent.merge(label, on="credit_code", how="left")
    ent["unit_id"] = ent.label.fillna(ent.credit_code)
    parcels = land.merge(ent[["credit_code", "unit_id"]], on="credit_code")
    unit_land = (
        parcels.groupby(["unit_id", "parcel_id"]).area_mu.max().groupby("unit_id").sum().rename("land_mu")
    )
    sums = [
        "tax_paid",
        "value_added",
        "revenue",
        "rd_expense",
        "employees",
        "college_staff",
        "energy_tce",
        "discharge_t",
        "kwh",
    ]
    g = ent.groupby("unit_id")
    agg = g[sums].sum(min_count=1)
    agg["above_scale"] = ent.above_scale.fillna(False).astype(int).groupby(ent.unit_id).max() == 1
    agg["member_count"] = g.size()
    lead = ent[ent.credit_code == ent.unit_id].set_index("unit_id")[
        ["county_code", "industry_code", "founded_on"]
    ]
    u = lead.join(agg).join(unit_land)
    u["division_code"] = u.industry_code.str[:2].fillna("")
    # population
    manufacturing = {i.code for i in industries() if i.level == "division" and i.section == "C"}
    founded = pd.to_datetime(u.founded_on)
    idle = (u.revenue.fillna(0) <= 0) & (u.tax_paid.fillna(0) <= 0)
    young = founded >= pd.Timestamp(year - pop.not_producing.grace_years + 1, 1, 1)
    keep = u.above_scale & (u.land_mu.fillna(0) > 0) & u.division_code.isin(manufacturing)
    keep &= founded.isna() | (founded <= pd.Timestamp(year, 12, 31))
    keep &= ~(idle & young.fillna(False))
    u = u[keep].copy()
    u["area_mu"] = u.land_mu
    # indicators, references, scores
    total = pd.Series(0.0, index=u.index)
    for ind in system.indicators:
        v = _formula(parse_formula(ind.formula).tree, u)
        fixed = system.reference_rule(ind).fixed_for(year)
        ref = (
            pd.Series(fixed, index=u.index)
            if fixed is not None
            else v.groupby(u.county_code).transform("mean")
        )
        score_u = (v / ref.where(ref != 0)).clip(lower=0)
        if system.missing_rule(ind) == "average":
            score_u = score_u.fillna(score_u.groupby(u.county_code).transform("mean")).fillna(0)
        else:
            score_u = score_u.fillna(0)
        total += ind.weight * score_u
    u["total_score"] = total.round(6)
    u = u.reset_index().sort_values(["county_code", "total_score", "unit_id"], ascending=[True, False, True])
    u["rank_in_county"] = u.groupby("county_code").cumcount() + 1
    u = u.sort_values(
        ["county_code", "division_code", "total_score", "unit_id"], ascending=[True, True, False, True]
    )
    u["rank_in_industry"] = u.groupby(["county_code", "division_code"]).cumcount() + 1
    n = u.groupby(["county_code", "division_code"]).unit_id.transform("size")
    u["class"] = system.classes.order[-1]
    for cls, cum in reversed(list(system.classes.cumulative_shares().items())[:-1]):
        u.loc[u.rank_in_industry <= np.floor(n * cum / 100 + 0.5), "class"] = cls
    res = ent[["credit_code", "name", "unit_id"]].merge(
        u.drop(columns=["name"], errors="ignore"), on="unit_id"
    )
    if prev is not None:
        res = res.merge(
            prev[["credit_code", "total_score", "class", "consecutive_d_years"]].rename(
                columns={"total_score": "prev_score", "class": "prev_class", "consecutive_d_years": "prev_d"}
            ),
            on="credit_code",
            how="left",
        )
    else:
        res["prev_score"], res["prev_class"], res["prev_d"] = np.nan, None, np.nan
    is_d = res["class"] == "D"
    res["consecutive_d_years"] = np.where(
        is_d, np.where(res.prev_class == "D", res.prev_d.fillna(0), 0) + 1, 0
    )
    relief = system.policies.land_tax_relief_pct
    res["land_tax_relief_pct"] = res["class"].map(relief)
    steps = system.policies.power_surcharge.steps if system.policies.power_surcharge else []
    surcharge = pd.Series(np.nan, index=res.index)
    for step in steps:
        surcharge[is_d & (res.consecutive_d_years >= step.min_years)] = step.yuan_per_kwh
    res["power_surcharge_yuan_per_kwh"] = surcharge
    return res


# ---- runs ------------------------------------------------------------------------------------------
def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(fn) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    out = fn()
    return out, round(time.perf_counter() - wall, 2), round(_cpu() - cpu, 2)


REPEATS = 3
"""Timed repeats of the reused run and of the hand-written SQL; the medians are compared."""


def _median_run(runs: list[tuple[Any, float, float]]) -> tuple[Any, float, float]:
    """The median run's output, with the median wall seconds and the median CPU seconds."""
    mid = len(runs) // 2
    return runs[mid][0], sorted(r[1] for r in runs)[mid], sorted(r[2] for r in runs)[mid]


def _engine(wh, system: System, facts: dict[str, pa.Table] | None = None) -> dict[str, Any]:
    """The stored runs: the first of YEARS[1] builds; with `facts`, next year's tax file is
    loaded then (a warehouse that takes new batches: not Spark), and the repeats reuse the
    build."""
    run_evaluation(wh, system, YEARS[0])
    first, first_wall, first_cpu = _timed(lambda: run_evaluation(wh, system, YEARS[1]))
    if facts is not None:
        tax = facts["tax"].filter(pc.equal(facts["tax"]["year"], YEARS[1]))
        next_year = pa.array(np.full(tax.num_rows, YEARS[1] + 1), pa.int32())
        load_facts(wh, {"tax": tax.set_column(tax.schema.get_field_index("year"), "year", next_year)}, 1000)
    runs = [_timed(lambda: run_evaluation(wh, system, YEARS[1])) for _ in range(REPEATS)]
    summary, wall, cpu = _median_run(runs)
    res = wh.table("eval_results")
    compute = wh.to_pyarrow(
        res.filter(res.run_id == summary.run_id).select("credit_code", "total_score", "class")
    )
    return {
        "engine_first_seconds": first_wall,
        "engine_first_cpu_seconds": first_cpu,
        "engine_first_phases": first.timings,
        "engine_seconds": wall,
        "engine_cpu_seconds": cpu,
        "engine_phases": summary.timings,
        "engine_runs": [{"seconds": r[1], "cpu_seconds": r[2], "reused": r[0].reused} for r in runs],
        "engine_first_reused": first.reused,
        "engine_reused": summary.reused,
        "evaluated": summary.enterprise_count,
        "units": summary.unit_count,
        "classes": summary.class_counts,
        "result": compute.to_pandas(),
    }


def _reference(wh, system: System) -> dict[str, Any]:
    """The hand-written SQL on the same DuckDB warehouse, timed REPEATS times (the median kept)."""
    con = wh.con.con
    runs = [_timed(lambda: reference_run(con, system, YEARS[1])) for _ in range(REPEATS)]
    median = _median_run(runs)
    return {
        "reference_seconds": median[1],
        "reference_cpu_seconds": median[2],
        "reference_phases": median[0].seconds,
        "reference_runs": [{"seconds": r[1], "cpu_seconds": r[2]} for r in runs],
        "result": median[0].results.select(["credit_code", "total_score", "class"]).to_pandas(),
    }


def _baseline(frames: dict[str, pd.DataFrame], system: System) -> dict[str, Any]:
    prev = pandas_evaluate(frames, system, YEARS[0], None)
    res, wall, cpu = _timed(lambda: pandas_evaluate(frames, system, YEARS[1], prev))
    return {"pandas_seconds": wall, "pandas_cpu_seconds": cpu, "result": res}


def _agreement(engine: pd.DataFrame, baseline: pd.DataFrame, prefix: str = "") -> dict[str, Any]:
    merged = engine.merge(
        baseline[["credit_code", "total_score", "class"]],
        on="credit_code",
        how="outer",
        suffixes=("_engine", "_pandas"),
        indicator=True,
    )
    both = merged[merged["_merge"] == "both"]
    return {
        f"{prefix}same_population": bool((merged["_merge"] == "both").all()),
        f"{prefix}max_total_difference": float(
            (both.total_score_engine - both.total_score_pandas).abs().max()
        ),
        f"{prefix}same_class_share": float((both.class_engine == both.class_pandas).mean()),
    }


def bench(sizes: list[int], backends: list[str], seed: int = 0) -> dict[str, Any]:
    system = load_system(SYSTEM)
    out: dict[str, Any] = {
        "benchmark": "evaluation",
        "system": SYSTEM,
        "years": list(YEARS),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "results": [],
    }
    for n in sizes:
        started = time.perf_counter()
        facts = province(n, years=YEARS, seed=seed)
        generated = time.perf_counter() - started
        frames = {}
        for batch, (name, table) in enumerate(facts.items(), start=1):
            frame = table.to_pandas()
            frame["batch_id"], frame["source_row"] = batch, np.arange(2, len(frame) + 2)
            frames[name] = frame
        frames["power_monthly"]["month"] = pd.to_datetime(frames["power_monthly"]["month"])
        with tempfile.TemporaryDirectory() as tmp:
            duck_path = Path(tmp) / "wh.duckdb"
            wh = open_warehouse(f"duckdb:///{duck_path}")
            load_facts(wh, facts)
            baseline = _baseline(frames, system)
            for backend in backends:
                load_before = os.getloadavg()
                ref: dict[str, Any] = {}
                if backend == "duckdb":
                    eng = _engine(wh, system, facts)
                    ref = _reference(wh, system)
                elif backend == "duckdb-memory":
                    mem = open_warehouse("duckdb:///:memory:")
                    load_facts(mem, facts)
                    eng = _engine(mem, system, facts)
                    mem.close()
                elif backend == "spark":
                    folder = Path(tmp) / "parquet"
                    publish_parquet(wh, folder, [*FACT_TABLES, "batches"])
                    eng = _engine(open_warehouse(f"spark://{folder}"), system)
                else:
                    raise SystemExit(f"unknown backend {backend}")
                engine_result = eng.pop("result")
                agreement = _agreement(engine_result, baseline["result"])
                if ref:
                    agreement.update(_agreement(engine_result, ref.pop("result"), "reference_"))
                    ref["engine_over_reference_cpu"] = round(
                        eng["engine_cpu_seconds"] / ref["reference_cpu_seconds"], 2
                    )
                    ref["engine_over_reference_wall"] = round(
                        eng["engine_seconds"] / ref["reference_seconds"], 2
                    )
                out["results"].append(
                    {
                        "enterprises": n,
                        "backend": backend,
                        "generate_seconds": round(generated, 2),
                        **eng,
                        **ref,
                        "pandas_seconds": baseline["pandas_seconds"],
                        "pandas_cpu_seconds": baseline["pandas_cpu_seconds"],
                        "pandas_over_engine": round(baseline["pandas_seconds"] / eng["engine_seconds"], 2),
                        **agreement,
                        "load_average_before": [round(x, 2) for x in load_before],
                        "load_average_after": [round(x, 2) for x in os.getloadavg()],
                    }
                )
                print(json.dumps(out["results"][-1], ensure_ascii=False), flush=True)
            wh.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 100_000, 1_000_000])
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["duckdb"],
        help="duckdb (file warehouse), duckdb-memory, spark",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(bench(args.sizes, args.backends, args.seed), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
