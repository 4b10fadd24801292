"""Last year's result and the differentiated policies by class (差别化政策).

The electricity surcharge escalates with consecutive years in class D (海宁: 0.3 元/kWh, 0.4 from
the third consecutive year), so a run needs each enterprise's history. It comes from stored
runs of the same system where they exist (what was published), otherwise from evaluating the
previous years with the current configuration, back as far as the surcharge schedule needs.
The chain is a few joins, so it stays one set-based query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import ibis

from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.classes import class_index
from jingxin.evaluation.compute import Params, class_key
from jingxin.evaluation.config import System

History = Literal["auto", "runs", "evaluate", "none"]


def surcharge_class(system: System) -> str | None:
    """The class whose consecutive years are counted (D); None when no surcharge is set."""
    for pol in (system.policies, *(o.policies for o in system.overrides.values() if o.policies)):
        if pol.power_surcharge:
            return pol.power_surcharge.class_
    return None


def history_depth(system: System) -> int:
    """How many previous years the consecutive count needs (at least one, for the change)."""
    years = [1]
    for pol in (system.policies, *(o.policies for o in system.overrides.values() if o.policies)):
        if pol.power_surcharge:
            years += [s.min_years for s in pol.power_surcharge.steps]
    return max(1, max(years) - 1)


def stored_results(wh: Warehouse, system_id: str, year: int) -> tuple[ibis.Table, list[str]] | None:
    """Per credit code, the result of the latest stored run of `system_id` for `year`, and the
    ids of the runs it comes from; None when there is no such run.

    When the newest run covers the whole province it is the answer for everyone; otherwise
    (runs of single counties) each enterprise takes its newest result across the runs.
    """
    if not (wh.has_table("eval_runs") and wh.has_table("eval_results")):
        return None
    runs = wh.table("eval_runs")
    runs = runs.filter((runs.system == system_id) & (runs.year == year)).select(
        "run_id", "created_at", "scope"
    )
    found = wh.to_pyarrow(runs.order_by([ibis.desc("created_at"), ibis.desc("run_id")])).to_pylist()
    if not found:
        return None
    res = wh.table("eval_results")
    if found[0]["scope"] == "330000":
        run_ids = [str(found[0]["run_id"])]
        res = res.filter(res.run_id == run_ids[0])
    else:
        run_ids = sorted(str(r["run_id"]) for r in found)
        res = res.join(runs.select("run_id", "created_at"), "run_id")
        order = [ibis.desc(res.created_at), ibis.desc(res.run_id)]
        res = res.mutate(__rn=ibis.row_number().over(group_by="credit_code", order_by=order))
        res = res.filter(ibis._.__rn == 0)
    table = res.select(
        "credit_code",
        total=res.total_score,
        cls=res["class"],
        consecutive=res.consecutive_d_years.cast("int64"),
    )
    return table, run_ids


def previous_results(
    wh: Warehouse,
    system: System,
    year: int,
    mode: History,
    evaluate_year: Callable[[int], ibis.Table],
    has_data: Callable[[int], bool],
) -> tuple[ibis.Table | None, list[dict[str, Any]]]:
    """credit_code → prev_score, prev_class, prev_consecutive for `year − 1` (or None), and a
    log of where each previous year came from (stored runs or evaluated now).

    `evaluate_year(y)` returns (credit_code, total, cls) for year y computed now;
    `has_data(y)` says whether the warehouse has facts for y (no point evaluating otherwise).
    """
    log: list[dict[str, Any]] = []
    if mode == "none":
        return None, log
    chain: list[tuple[str, ibis.Table]] = []
    for back in range(1, history_depth(system) + 1):
        y = year - back
        stored = stored_results(wh, system.id, y) if mode in ("auto", "runs") else None
        if stored is not None:
            chain.append(("stored", stored[0]))
            log.append({"year": y, "source": "runs", "run_ids": stored[1]})
            break
        if mode == "runs" or not has_data(y):
            break
        chain.append(("evaluated", evaluate_year(y)))
        log.append({"year": y, "source": "evaluated"})
    if not chain:
        return None, log
    counted = surcharge_class(system) or "D"
    kind, deepest = chain[-1]
    if kind == "stored":
        acc = deepest.select("credit_code", "total", "cls", consecutive=deepest.consecutive.fill_null(0))
    else:
        acc = deepest.select(
            "credit_code", "total", "cls", consecutive=ibis.ifelse(deepest.cls == counted, 1, 0).cast("int64")
        )
    for _, newer in reversed(chain[:-1]):
        older = acc.select(o_code=acc.credit_code, o_cls=acc.cls, o_consecutive=acc.consecutive)
        j = newer.left_join(older, newer.credit_code == older.o_code)
        run = ibis.ifelse(j.o_cls == counted, j.o_consecutive, 0).fill_null(0)
        acc = j.select(
            "credit_code", "total", "cls", consecutive=ibis.ifelse(j.cls == counted, run + 1, 0).cast("int64")
        )
    prev = acc.select(
        "credit_code", prev_score=acc.total, prev_class=acc.cls, prev_consecutive=acc.consecutive
    )
    return prev, log


def apply_policies(t: ibis.Table, system: System, params: Params) -> ibis.Table:
    """Changes since last year, consecutive years in the surcharge class, and the policy columns."""
    rule = system.classes
    counted = surcharge_class(system)
    cls = t["class"]
    prev_run = ibis.ifelse(t.prev_class == (counted or "D"), t.prev_consecutive, 0).fill_null(0)
    consecutive = ibis.ifelse(cls == (counted or "D"), prev_run + 1, 0).cast("int64")
    t = t.mutate(
        consecutive_d_years=consecutive,
        score_change=(t.total_score - t.prev_score).round(6),
        class_change=(class_index(t.prev_class, rule) - class_index(cls, rule)).cast("int64"),
    )

    def by_class(prefix: str) -> ibis.Value:
        cases = []
        for c in rule.all_classes:
            if params.defaults.get(f"{prefix}_{class_key(c)}") is None and f"{prefix}_{class_key(c)}" not in (
                params.overridden
            ):
                continue
            cases.append((t["class"] == c, params.get(t, f"{prefix}_{class_key(c)}")))
        return ibis.cases(*cases, else_=ibis.null("float64")) if cases else ibis.null("float64")

    steps = sorted(
        {
            int(k.rsplit("_", 1)[1])
            for k in [*params.defaults, *params.overridden]
            if k.startswith("sur_years_")
        }
    )
    surcharge: ibis.Value = ibis.null("float64")
    if counted is not None and steps:
        years = t.consecutive_d_years.cast("float64")
        step_cases = [
            (years >= params.get(t, f"sur_years_{i}"), params.get(t, f"sur_rate_{i}"))
            for i in reversed(steps)
        ]
        surcharge = ibis.ifelse(
            cls == counted, ibis.cases(*step_cases, else_=ibis.null("float64")), ibis.null("float64")
        )
    return t.mutate(
        land_tax_relief_pct=by_class("relief"),
        power_surcharge_yuan_per_kwh=surcharge.cast("float64"),
        energy_quota_change_pct=by_class("quota"),
        priority_land=by_class("pland").fill_null(0.0) == 1.0,
        priority_funds=by_class("pfund").fill_null(0.0) == 1.0,
    )
