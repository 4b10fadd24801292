"""Indicator values, reference values and per-indicator scores (指标值、参照值、单项得分).

Everything here is one Ibis expression over the warehouse, built once per (system, year):
no row is touched by Python, so a province of a million enterprises is one set-based query on
DuckDB, PostgreSQL or Spark.

Entry points for other modules and for the uncertainty analysis (不确定性分析):

- `score_units(wh, system, year, scope, weights=..., scoring=...)` → `Scored`, whose `table` has
  one row per evaluation unit with, per indicator ``<id>``: ``v_<id>`` value, ``ref_<id>``
  reference (the value that earns the full weight), ``lo_<id>`` the value that earns nothing
  above the floor (min–max only), ``w_<id>`` effective weight, ``u_<id>`` score per unit of
  weight, ``s_<id>`` score, ``m_<id>`` missing flag; and ``deduction``, ``total`` and
  ``tiebreak`` (the total without caps: orders equal totals).
- `score_arrays(...)` → `ScoreArrays`: the same as NumPy arrays. Every scoring method is linear
  in the weights (score = weight × u), so `ScoreArrays.totals(weights)` recomputes every total
  for new weights without touching the warehouse.

Weights and the scoring method can be passed in; per-county overrides (see `config.py`) become
columns of a small parameter table joined on the county code (`Params`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis
import numpy as np
import pyarrow as pa

from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.config import GROUP_COLUMNS, Scoring, System
from jingxin.evaluation.formula import parse_formula, to_ibis
from jingxin.evaluation.population import (
    Batches,
    Units,
    build_units,
    optional_input,
)
from jingxin.evaluation.staging import collecting, fetch_arrow, memtable, release_stages, stage

ROUND_DIGITS = 6
"""Totals are rounded before ranking so that float noise across backends cannot reorder ties."""


def class_key(cls: str) -> str:
    """A class name as part of a column name: A+ → Ap."""
    return re.sub(r"[^A-Za-z0-9]", "p", cls)


def indicator_cap(system: System, ind: Any) -> float | None:
    """The cap (封顶) of one indicator as a multiple of its weight; None: not capped."""
    sc = system.scoring
    if sc.method in ("minmax",):
        return None  # min–max scores are within [floor, 100 %] by construction
    cap = sc.cap_multiple
    if ind.cap is not None:
        cap = ind.cap if sc.method in ("ratio", "ratio_capped") else min(cap or ind.cap, ind.cap)
    return None if cap is None else float(cap)


def _flatten(system: System, year: int) -> dict[str, float | None]:
    """All numbers a county may override, under flat column-safe names."""
    out: dict[str, float | None] = {}
    for ind in system.indicators:
        out[f"w_{ind.id}"] = float(ind.weight)
        out[f"fix_{ind.id}"] = system.reference_rule(ind).fixed_for(year)
        out[f"cap_{ind.id}"] = indicator_cap(system, ind)
    rule = system.classes
    out["cls_thr"] = 1.0 if rule.method == "thresholds" else 0.0
    if list(rule.shares) == rule.order:
        for cls, cum in rule.cumulative_shares().items():
            out[f"cum_{class_key(cls)}"] = cum
    for cls, thr in rule.thresholds.items():
        out[f"thr_{class_key(cls)}"] = thr
    ded = system.deductions
    out.update(ded_first=ded.sublet_first, ded_further=ded.sublet_further, ded_free=float(ded.free_tenants))
    pol = system.policies
    top = rule.order[0]
    for cls in rule.all_classes:
        k = class_key(cls)
        # A+ has at least the policies of A unless it is configured itself
        like = top if cls == "A+" and cls not in pol.land_tax_relief_pct else cls
        out[f"relief_{k}"] = pol.land_tax_relief_pct.get(like)
        like = top if cls == "A+" and cls not in pol.energy_quota_change_pct else cls
        out[f"quota_{k}"] = pol.energy_quota_change_pct.get(like)
        out[f"pland_{k}"] = (
            1.0 if cls in pol.priority_land or (cls == "A+" and top in pol.priority_land) else 0.0
        )
        out[f"pfund_{k}"] = (
            1.0 if cls in pol.priority_funds or (cls == "A+" and top in pol.priority_funds) else 0.0
        )
    if pol.power_surcharge:
        for i, step in enumerate(pol.power_surcharge.steps):
            out[f"sur_years_{i}"] = float(step.min_years)
            out[f"sur_rate_{i}"] = step.yuan_per_kwh
    return out


@dataclass(frozen=True)
class Params:
    """Numeric parameters per county (区县参数表): defaults plus the columns some county overrides.

    When no county overrides a parameter it is a literal in the query; otherwise a 1-row-per-
    county memtable is joined on `county_code` and the parameter is `coalesce(column, default)`.
    """

    defaults: dict[str, float | None]
    by_county: dict[str, dict[str, float | None]] = field(default_factory=dict)

    @classmethod
    def build(cls, system: System, year: int) -> Params:
        defaults = _flatten(system.model_copy(update={"overrides": {}}), year)
        by_county = {code: _flatten(system.for_county(code), year) for code in sorted(system.overrides)}
        return cls(defaults, by_county)

    @property
    def overridden(self) -> list[str]:
        names = {k for flat in self.by_county.values() for k in flat}
        return sorted(
            k for k in names if any(flat.get(k) != self.defaults.get(k) for flat in self.by_county.values())
        )

    def attach(self, table: ibis.Table) -> ibis.Table:
        cols = self.overridden
        if not cols:
            return table
        data: dict[str, list[Any]] = {"p__county": list(self.by_county)}
        for name in cols:
            data[f"p__{name}"] = [self.by_county[c].get(name) for c in self.by_county]
        schema = {"p__county": pa.string(), **{f"p__{n}": pa.float64() for n in cols}}
        mem = memtable(pa.table(data, schema=pa.schema(schema)))
        return table.left_join(mem, table.county_code == mem.p__county).drop("p__county")

    def get(self, table: ibis.Table, name: str) -> ibis.Value:
        default = self.defaults.get(name)
        lit = ibis.literal(default, type="float64") if default is not None else ibis.null("float64")
        if name in self.overridden and f"p__{name}" in table.columns:
            return ibis.coalesce(table[f"p__{name}"], lit) if default is not None else table[f"p__{name}"]
        return lit

    def drop(self, table: ibis.Table) -> ibis.Table:
        return table.drop(*[c for c in table.columns if c.startswith("p__")])


def compute_prefix(system: System, scope: Scope) -> str:
    """The division the computation must cover so that references and groups are complete.

    A county scope can be computed on its county alone when every group is within a county;
    a city-level group needs the city; province-wide groups need the province.
    """
    if scope.pinned or not scope.prefix:
        return ""
    groups: set[str] = {system.reference_rule(i).group for i in system.indicators}
    groups |= {system.scoring.missing_group, system.classes.group}
    groups |= set(system.classes.pool_levels)  # a small group may be pooled with the city's
    if groups & {"province", "province_industry", "kind"}:
        return ""
    if "city" in groups:
        return scope.prefix[:4]
    return scope.prefix


def _needs_statistic(system: System, params: Params, indicator_id: str) -> bool:
    """False when every county has a fixed reference for the year (no aggregate needed)."""
    if system.scoring.method in ("minmax", "benchmark"):
        return True
    name = f"fix_{indicator_id}"
    values = [params.defaults.get(name), *(flat.get(name) for flat in params.by_county.values())]
    return any(v is None for v in values)


def _group_stats(table: ibis.Table, group: str, metrics: dict[str, ibis.Value]) -> ibis.Table:
    """Join aggregates over `group` back onto `table` (one aggregate per grouping)."""
    keys = list(GROUP_COLUMNS[group])
    if not keys:
        return table.cross_join(table.aggregate(**metrics))
    agg = table.group_by(keys).aggregate(**metrics)
    renamed = agg.rename({f"__g_{k}": k for k in keys})
    pred = [table[k] == renamed[f"__g_{k}"] for k in keys]
    return table.left_join(renamed, pred).drop(*[f"__g_{k}" for k in keys])


@dataclass(frozen=True)
class Scored:
    """Scored evaluation units of one system and year (see the module docstring for columns)."""

    system: System
    year: int
    table: ibis.Table
    members: ibis.Table
    params: Params
    prefix: str

    @property
    def indicator_ids(self) -> list[str]:
        return [i.id for i in self.system.indicators]


def score_units(
    wh: Warehouse,
    system: System,
    year: int,
    scope: Scope = EVERYTHING,
    *,
    weights: Mapping[str, float] | None = None,
    scoring: Scoring | None = None,
    batches: Batches | None = None,
) -> Scored:
    """Indicator values, references and scores of every unit (before ranks and classes).

    The units cover `compute_prefix(system, scope)`; the caller restricts results to `scope`
    after ranking (a county's ranks need the whole county even for a narrower scope).
    Intermediate tables are materialised (`staging.stage`); call this inside
    `staging.collecting()` and release them when done, as `score_arrays` does.
    """
    system = system.with_changes(weights=weights, scoring=scoring)
    params = Params.build(system, year)
    prefix = compute_prefix(system, scope)
    units = build_units(wh, system, year, prefix, batches)
    return score_built(wh, system, year, units, params, prefix)


def score_built(
    wh: Warehouse,
    system: System,
    year: int,
    units: Units,
    params: Params,
    prefix: str,
    *,
    staged: bool = True,
    prepared: Callable[[ibis.Table], ibis.Table] | None = None,
) -> Scored:
    """`score_units` on units already built: the what-if (`evaluation.whatif`) builds them once
    per year and data version and scores them again for every set of parameters; with
    `staged=False` the scored table stays an expression (one statement with ranks and classes).
    `prepared` receives the values and group statistics (steps 1–2, which no parameter
    changes) before any parameter is read: the what-if materialises them once there."""
    t = params.attach(units.units)
    t = t.mutate(area_mu=t.land_mu)  # the formula name of the unit's land
    sc = system.scoring

    # 1. values
    t = t.mutate(**{f"v_{i.id}": parse_formula(i.formula).to_ibis(t) for i in system.indicators})

    # 2. group statistics for references (and min/max for min–max scoring)
    by_group: dict[str, dict[str, ibis.Value]] = {}
    for ind in system.indicators:
        rule = system.reference_rule(ind)
        v = t[f"v_{ind.id}"]
        if not _needs_statistic(system, params, ind.id):
            continue
        metrics = by_group.setdefault(rule.group, {})
        if sc.method == "minmax":
            metrics[f"mn_{ind.id}"] = v.min()
            metrics[f"mx_{ind.id}"] = v.max()
            continue
        if rule.statistic == "mean":
            metrics[f"st_{ind.id}"] = v.mean()
        elif rule.statistic == "median":
            metrics[f"st_{ind.id}"] = v.median()
        else:
            ratio = parse_formula(ind.formula).ratio
            assert ratio is not None  # checked by the config
            num, den = (to_ibis(part, t) for part in ratio)
            ok = v.notnull()
            metrics[f"st_{ind.id}"] = num.sum(where=ok) / den.sum(where=ok).nullif(0)
    for group, metrics in by_group.items():
        t = _group_stats(t, group, metrics)
    if prepared is not None:
        t = prepared(t)

    # 3. reference (full-marks value) and per-unit-of-weight score u
    refs: dict[str, ibis.Value] = {}
    capped: list[str] = []
    for ind in system.indicators:
        v = t[f"v_{ind.id}"]
        higher = ind.direction == "higher"
        if sc.method == "minmax":
            mn, mx = t[f"mn_{ind.id}"], t[f"mx_{ind.id}"]
            ref, lo = (mx, mn) if higher else (mn, mx)
            frac = ((v - lo) / (ref - lo).nullif(0)).fill_null(1.0)
            u = (sc.minmax_floor + (100 - sc.minmax_floor) * frac) / 100
            u = ibis.ifelse(v.isnull(), ibis.null("float64"), u)
        else:
            stat = t[f"st_{ind.id}"] if f"st_{ind.id}" in t.columns else ibis.null("float64")
            if sc.method == "benchmark":  # 淮安: the benchmark is k × the average (÷ k if lower)
                ref = stat * sc.benchmark_multiple if higher else stat / sc.benchmark_multiple
            elif _needs_statistic(system, params, ind.id):
                ref = ibis.coalesce(params.get(t, f"fix_{ind.id}"), stat)
            else:
                ref = params.get(t, f"fix_{ind.id}")
            lo = ibis.null("float64")
            u = v / ref.nullif(0) if higher else ref / v.nullif(0)
            # ifelse, not least/greatest: those skip NULLs, and a missing value must stay missing
            if sc.floor is not None:
                u = ibis.ifelse(u < sc.floor, sc.floor, u)
            if _is_capped(params, ind.id):
                cap = params.get(t, f"cap_{ind.id}")  # NULL for a county without a cap: u > NULL is not true
                capped.append(ind.id)
                refs[f"x_{ind.id}"] = u.cast("float64")  # uncapped: breaks ties among capped totals
                u = ibis.ifelse(u > cap, cap, u)
        refs[f"ref_{ind.id}"] = ref
        refs[f"lo_{ind.id}"] = lo.cast("float64")
        refs[f"u_{ind.id}"] = u.cast("float64")
    t = t.mutate(**refs)
    t = t.drop(*[c for c in t.columns if c[:3] in ("st_", "mn_", "mx_")])

    # 4. missing data: average score of the group, zero, or leave out and re-weight
    avg = {
        f"avg_{i.id}": t[f"u_{i.id}"].mean() for i in system.indicators if system.missing_rule(i) == "average"
    }
    if avg:
        t = _group_stats(t, sc.missing_group, avg)
    filled: dict[str, ibis.Value] = {}
    for ind in system.indicators:
        u, missing = t[f"u_{ind.id}"], system.missing_rule(ind)
        filled[f"m_{ind.id}"] = u.isnull()
        if missing == "average":
            filled[f"u_{ind.id}"] = ibis.coalesce(u, t[f"avg_{ind.id}"], 0.0)
        elif missing == "zero":
            filled[f"u_{ind.id}"] = u.fill_null(0.0)
    t = t.mutate(**filled).drop(*avg)

    # 5. weights (re-weighted when an indicator is left out), scores, deductions, total
    w = {i.id: params.get(t, f"w_{i.id}") for i in system.indicators}
    reweight = [i.id for i in system.indicators if system.missing_rule(i) == "reweight"]
    factor: ibis.Value = ibis.literal(1.0)
    if reweight:
        total_w = sum((w[i] for i in w), ibis.literal(0.0))
        avail_w = sum(
            (ibis.ifelse(t[f"m_{i}"], 0.0, w[i]) if i in reweight else w[i] for i in w), ibis.literal(0.0)
        )
        factor = total_w / avail_w.nullif(0)
    # an indicator left out under the re-weight rule passes its weight to the others
    eff = {
        f"w_{i}": (ibis.ifelse(t[f"m_{i}"], 0.0, w[i] * factor) if i in reweight else w[i] * factor)
        for i in w
    }
    t = t.mutate(**eff)
    t = t.mutate(**{f"s_{i}": (t[f"w_{i}"] * t[f"u_{i}"].fill_null(0.0)) for i in w})
    t = _deductions(wh, t, params, year, units.members)
    points = sum((t[f"s_{i}"] for i in w), ibis.literal(0.0))
    t = t.mutate(score=points.round(ROUND_DIGITS), total=(points - t.deduction).round(ROUND_DIGITS))
    # Tie-break (同分排序): capped points tie every enterprise above the cap; among equal totals
    # the one further above it ranks first, not the one with the smaller credit code.
    raw = points
    for i in capped:
        raw = raw + t[f"w_{i}"] * (ibis.coalesce(t[f"x_{i}"], t[f"u_{i}"]) - t[f"u_{i}"].fill_null(0.0))
    t = t.mutate(tiebreak=(raw - t.deduction).round(ROUND_DIGITS)).drop(*[f"x_{i}" for i in capped])
    if staged:
        t = stage(t)
    return Scored(system, year, t, units.members, params, prefix)


def _is_capped(params: Params, indicator_id: str) -> bool:
    """True when the system or some county caps the indicator."""
    name = f"cap_{indicator_id}"
    values = [params.defaults.get(name), *(flat.get(name) for flat in params.by_county.values())]
    return name in params.overridden or any(v is not None for v in values)


def _deductions(wh: Warehouse, t: ibis.Table, params: Params, year: int, members: ibis.Table) -> ibis.Table:
    """Sublet deductions (出租转租扣分): tenants summed over a unit's members."""
    sub = optional_input(wh, "sublets")
    sub = sub.filter(sub.year == year).group_by("credit_code").aggregate(tenants=sub.tenants.max())
    per_unit = (
        members.join(sub, "credit_code").group_by("unit_id").aggregate(sublet_tenants=ibis._.tenants.sum())
    )
    r = per_unit.rename(__unit="unit_id")
    t = t.left_join(r, t.unit_id == r.__unit).drop("__unit")
    n = t.sublet_tenants.fill_null(0).cast("float64")
    extra = n - params.get(t, "ded_free")
    points = ibis.ifelse(
        extra > 0, params.get(t, "ded_first") + (extra - 1) * params.get(t, "ded_further"), 0.0
    )
    return t.mutate(sublet_tenants=n.cast("int64"), deduction=points.cast("float64"))


@dataclass(frozen=True)
class ScoreArrays:
    """Per-indicator scores of all units as NumPy arrays (n units × m indicators).

    `u` is the score per unit of weight and `weights` the effective weights, so
    `scores == weights * u`. `available` is False where an indicator left out under the
    re-weight rule; `totals(new_weights)` applies the same re-weighting.
    """

    unit_id: np.ndarray
    county_code: np.ndarray
    division_code: np.ndarray
    indicators: list[str]
    values: np.ndarray
    references: np.ndarray
    u: np.ndarray
    weights: np.ndarray
    scores: np.ndarray
    available: np.ndarray
    reweight: np.ndarray
    deduction: np.ndarray
    total: np.ndarray
    tenant: np.ndarray | None = None
    """True for tenants without land of their own (ranked on their own list)."""
    tiebreak: np.ndarray | None = None
    """The total without caps: among equal totals the higher ranks first."""

    def totals(self, weights: Mapping[str, float] | np.ndarray) -> np.ndarray:
        """Totals for other weights (a mapping by indicator id, an m-vector or an n × m matrix)."""
        if isinstance(weights, Mapping):
            w = np.array([float(weights[i]) for i in self.indicators])
        else:
            w = np.asarray(weights, dtype=float)
        w = np.broadcast_to(w, self.u.shape)
        avail = np.where(self.reweight[None, :], self.available, True)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = w.sum(axis=1) / np.where(avail, w, 0.0).sum(axis=1)
        factor = np.where(np.isfinite(factor), factor, 0.0)
        eff = np.where(avail, w * factor[:, None], 0.0)
        return np.round((eff * self.u).sum(axis=1) - self.deduction, ROUND_DIGITS)


def score_arrays(
    wh: Warehouse,
    system: System,
    year: int,
    scope: Scope = EVERYTHING,
    *,
    weights: Mapping[str, float] | None = None,
    scoring: Scoring | None = None,
    batches: Batches | None = None,
) -> ScoreArrays:
    """`score_units` fetched as arrays, ordered by unit id (one query)."""
    with collecting() as collected:
        try:
            scored = score_units(wh, system, year, scope, weights=weights, scoring=scoring, batches=batches)
            return _arrays(wh, scored, scope)
        finally:
            release_stages(collected.stages)


def _arrays(wh: Warehouse, scored: Scored, scope: Scope) -> ScoreArrays:
    ids = scored.indicator_ids
    cols = ["unit_id", "county_code", "division_code", "tenant", "deduction", "total", "tiebreak"]
    for i in ids:
        cols += [f"v_{i}", f"ref_{i}", f"u_{i}", f"w_{i}", f"s_{i}", f"m_{i}"]
    t = scored.table
    if scope.prefix:
        t = t.filter(t.county_code.startswith(scope.prefix))
    data = fetch_arrow(wh, t.select(*cols).order_by("unit_id"))

    def mat(prefix: str) -> np.ndarray:
        return np.column_stack([data[f"{prefix}{i}"].to_numpy(zero_copy_only=False) for i in ids]).astype(
            float
        )

    missing = np.column_stack([data[f"m_{i}"].to_numpy(zero_copy_only=False) for i in ids]).astype(bool)
    return ScoreArrays(
        unit_id=data["unit_id"].to_numpy(zero_copy_only=False),
        county_code=data["county_code"].to_numpy(zero_copy_only=False),
        division_code=data["division_code"].to_numpy(zero_copy_only=False),
        indicators=ids,
        values=mat("v_"),
        references=mat("ref_"),
        u=np.nan_to_num(mat("u_")),
        weights=mat("w_"),
        scores=mat("s_"),
        available=~missing,
        reweight=np.array(
            [scored.system.missing_rule(scored.system.indicator(i)) == "reweight" for i in ids]
        ),
        deduction=data["deduction"].to_numpy(zero_copy_only=False).astype(float),
        total=data["total"].to_numpy(zero_copy_only=False).astype(float),
        tenant=data["tenant"].fill_null(False).to_numpy(zero_copy_only=False).astype(bool),
        tiebreak=data["tiebreak"].to_numpy(zero_copy_only=False).astype(float),
    )
