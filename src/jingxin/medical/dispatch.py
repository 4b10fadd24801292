"""Dispatch optimisation (调度优化) with HiGHS (`highspy`): transfers and production orders.

The model (a transportation problem with production, solved lexicographically):

- a region r short of item i by `need[r,i]` units, with a priority p(r,i) (1 is most urgent);
- a source s (a province, city or county reserve) with `avail[s,i]` units it can spare;
- a supplier k of item i that can make `cap[k]` units within the horizon;
- transport time `hours` between places; an arc is allowed only within `max_hours`.

Variables: x[s,r,i] transferred, y[k,r] ordered from supplier k for region r, u[r,i] shortfall
left; all whole units (integers). Rows: x + y + u = need for each (r,i); Σ_r x[s,r,i] ≤ avail;
Σ_r y[k,r] ≤ cap. Objectives, in order (each solved and then held as a constraint):
shortfall of priority 1, then of priority 2, ..., then cost = unit-hours of transport ×
cost_per_unit_hour + units ordered × production_cost. So no unit of priority-1 shortfall is
ever traded for anything else, and among the plans that leave the least shortfall the
cheapest one is chosen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import highspy
import numpy as np


@dataclass(frozen=True)
class Supplier:
    key: str
    item: str
    place: str
    capacity: int


@dataclass
class Instance:
    need: dict[tuple[str, str], int]  # (region, item) -> units short
    priority: dict[tuple[str, str], int]
    avail: dict[tuple[str, str], int]  # (source, item) -> units spare
    suppliers: list[Supplier]
    hours: dict[tuple[str, str], float]  # (from place, to region) -> hours
    max_hours: float = 8.0
    cost_per_unit_hour: float = 1.0
    production_cost: float = 2.0


@dataclass(frozen=True)
class Line:
    kind: str  # transfer, production
    source: str
    region: str
    item: str
    quantity: int
    hours: float
    priority: int
    need: int


@dataclass
class Result:
    status: str
    gap: float
    seconds: float
    shortfall: dict[int, int]  # priority -> units left short
    cost: float
    lines: list[Line] = field(default_factory=list)
    short: dict[tuple[str, str], int] = field(default_factory=dict)
    variables: int = 0

    def lexicographic(self) -> tuple[float, ...]:
        return (*(self.shortfall[p] for p in sorted(self.shortfall)), round(self.cost, 6))


def _arcs(inst: Instance) -> tuple[list[tuple[str, str, str]], list[tuple[int, str]]]:
    needs_of: dict[str, list[str]] = {}
    for (r, i), n in sorted(inst.need.items()):
        if n > 0:
            needs_of.setdefault(i, []).append(r)
    inf = float("inf")
    xs = [
        (s, r, i)
        for (s, i), a in sorted(inst.avail.items())
        if a > 0
        for r in needs_of.get(i, ())
        if r != s and inst.hours.get((s, r), inf) <= inst.max_hours
    ]
    ys = [
        (k, r)
        for k, sup in enumerate(inst.suppliers)
        if sup.capacity > 0
        for r in needs_of.get(sup.item, ())
        if inst.hours.get((sup.place, r), inf) <= inst.max_hours
    ]
    return xs, ys


def solve(inst: Instance, *, integer: bool = True, time_limit: float = 60.0, mip_gap: float = 1e-6) -> Result:
    """Solve the instance; `status` and `gap` are HiGHS's own (a gap of 0 is proven optimal)."""
    started = time.perf_counter()
    xs, ys = _arcs(inst)
    us = [k for k, n in sorted(inst.need.items()) if n > 0]
    nx, ny, nu = len(xs), len(ys), len(us)
    n = nx + ny + nu
    if not us:
        return Result("Optimal", 0.0, time.perf_counter() - started, {}, 0.0)
    row_of_need = {k: j for j, k in enumerate(us)}
    src_keys = sorted({(s, i) for s, _, i in xs})
    row_of_src = {k: len(us) + j for j, k in enumerate(src_keys)}
    sup_keys = sorted({k for k, _ in ys})
    row_of_sup = {k: len(us) + len(src_keys) + j for j, k in enumerate(sup_keys)}
    rows, cols = [], []
    cost = np.zeros(n)
    for c, (s, r, i) in enumerate(xs):
        rows += [row_of_need[(r, i)], row_of_src[(s, i)]]
        cols += [c, c]
        cost[c] = inst.hours[(s, r)] * inst.cost_per_unit_hour
    for j, (k, r) in enumerate(ys):
        c = nx + j
        sup = inst.suppliers[k]
        rows += [row_of_need[(r, sup.item)], row_of_sup[k]]
        cols += [c, c]
        cost[c] = inst.hours[(sup.place, r)] * inst.cost_per_unit_hour + inst.production_cost
    for j, key in enumerate(us):
        rows.append(row_of_need[key])
        cols.append(nx + ny + j)
    m = len(us) + len(src_keys) + len(sup_keys)
    lower_r = np.array(
        [inst.need[k] for k in us] + [-highspy.kHighsInf] * (len(src_keys) + len(sup_keys)), dtype=float
    )
    upper_r = np.array(
        [inst.need[k] for k in us]
        + [inst.avail[k] for k in src_keys]
        + [inst.suppliers[k].capacity for k in sup_keys],
        dtype=float,
    )
    # column-wise sparse matrix (each column's entries sorted by row)
    order = np.lexsort((np.array(rows), np.array(cols)))
    r_arr, c_arr = np.array(rows)[order], np.array(cols)[order]
    starts = np.searchsorted(c_arr, np.arange(n))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = np.zeros(n)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.full(n, highspy.kHighsInf)
    lp.row_lower_, lp.row_upper_ = lower_r, upper_r
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.append(starts, len(r_arr)).astype(np.int32)
    lp.a_matrix_.index_ = r_arr.astype(np.int32)
    lp.a_matrix_.value_ = np.ones(len(r_arr))
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.passModel(lp)
    priorities = sorted({inst.priority[k] for k in us})
    worst_gap, status = 0.0, "Optimal"
    everything = np.arange(n, dtype=np.int32)
    shortfall: dict[int, int] = {}

    def run(objective: np.ndarray) -> float:
        nonlocal worst_gap, status
        h.changeColsCost(n, everything, objective)
        h.run()
        st = h.getModelStatus()
        status = h.modelStatusToString(st)
        # a time limit with a feasible answer is kept (status and gap say so); none at all is not
        if st != highspy.HighsModelStatus.kOptimal and h.getInfo().primal_solution_status != 2:
            raise RuntimeError(f"求解失败：{status}")
        info = h.getInfo()
        if integer:
            worst_gap = max(worst_gap, float(info.mip_gap) if np.isfinite(info.mip_gap) else 1.0)
        return float(info.objective_function_value)

    for p in priorities:
        obj = np.zeros(n)
        idx = [nx + ny + j for j, k in enumerate(us) if inst.priority[k] == p]
        obj[idx] = 1.0
        best = round(run(obj)) if integer else run(obj)
        h.addRow(-highspy.kHighsInf, best + 1e-6, len(idx), np.array(idx, dtype=np.int32), np.ones(len(idx)))
        shortfall[p] = int(round(best))
    total_cost = run(cost)
    values = np.array(h.getSolution().col_value)
    q = np.rint(values).astype(int) if integer else values
    lines: list[Line] = []
    for c, (s, r, i) in enumerate(xs):
        if q[c] > 0:
            lines.append(
                Line(
                    "transfer",
                    s,
                    r,
                    i,
                    int(q[c]),
                    inst.hours[(s, r)],
                    inst.priority[(r, i)],
                    inst.need[(r, i)],
                )
            )
    for j, (k, r) in enumerate(ys):
        if q[nx + j] > 0:
            sup = inst.suppliers[k]
            lines.append(
                Line(
                    "production",
                    sup.key,
                    r,
                    sup.item,
                    int(q[nx + j]),
                    inst.hours[(sup.place, r)],
                    inst.priority[(r, sup.item)],
                    inst.need[(r, sup.item)],
                )
            )
    short = {k: int(q[nx + ny + j]) for j, k in enumerate(us) if q[nx + ny + j] > 0}
    lines.sort(key=lambda ln: (ln.priority, ln.region, ln.item, ln.kind, ln.source))
    return Result(status, worst_gap, time.perf_counter() - started, shortfall, total_cost, lines, short, n)


def explain(line: Line, names: dict[str, str], item_names: dict[str, str]) -> str:
    """Why a line is in the plan: which shortage it covers (in Chinese)."""
    what = item_names.get(line.item, line.item)
    to = names.get(line.region, line.region)
    if line.kind == "transfer":
        src = names.get(line.source, line.source)
        return (
            f"从{src}调拨 {line.quantity} 件{what}至{to}（约 {line.hours:.1f} 小时），"
            f"补其{line.priority}级缺口 {line.need} 中的 {line.quantity}"
        )
    return (
        f"向企业 {line.source} 下达生产订单 {line.quantity} 件{what}，"
        f"送{to}（运输约 {line.hours:.1f} 小时），"
        f"补其{line.priority}级缺口 {line.need} 中的 {line.quantity}"
    )
