"""Uncertainty analysis of the 亩均 evaluation (不确定性分析, 稳健性检验).

Why: a county publishes one class per enterprise (A/B/C/D, some A+), and the class decides real
money (land-tax relief, an electricity surcharge for D). Yet the weights (黄岩 30/20/20/10/10/10)
and the scoring method (ratio, capped ratio, min–max, which average as reference) are choices,
not facts. Step 7 of the OECD/JRC *Handbook on Constructing Composite Indicators* (and COINr's
`get_sensitivity`) asks how much the published result depends on them: redo the evaluation many
times with the choices drawn at random and report, per enterprise, how often it keeps its class
(稳健性). An enterprise that falls from A to B in a third of the plausible variants should not
be published as a clear A without a note; one that is A in every variant can be.

What is drawn, N times (default 1,000, seeded):

- **weights** (权重扰动): every indicator's weight is multiplied by its own factor drawn uniformly
  from [1 − x, 1 + x] (default x = 20 %). The draw is per indicator and shared by all counties,
  so a county override (黄岩's own weights) is perturbed around its own values. By default the
  perturbed weights are **renormalised** per unit to the nominal weight sum (100): totals stay on
  the published scale, so threshold classes, A+ thresholds and sublet deductions (扣分, points
  subtracted after scoring) keep their meaning; without renormalisation a draw that raises every
  weight would mostly raise everyone above a threshold, which is a scale effect, not a
  judgement about the enterprise. `renormalise=False` keeps the raw perturbed weights.
  Informational indicators (weight 0) stay at 0.
- **the scoring method** (计分方法, `MethodChoice`): one alternative per draw, picked with its
  probability: the system's own method, ratio to the reference, ratio capped at k × weight,
  min–max with a floor, benchmark at k × the average; and reference rules (参照值口径): county
  mean, province mean, median ... instead of the published fixed values. Each alternative is
  scored once by the evaluation's own Ibis pipeline (`compute.score_arrays`), so every draw of
  that alternative is a weighted sum of the same (units × indicators) matrix.

What is not drawn: the data, the population, the class rule (shares or thresholds, the group
ranked in), deductions and vetoes (一票否决) — these are applied in every draw exactly as the
evaluation applies them. A vetoed enterprise keeps its forced class in every draw.

How it stays fast (100k enterprises × 1,000 draws in well under a minute on two cores): the
warehouse is queried once per distinct alternative (`UncertaintyAnalysis` keeps the matrices,
so further runs with other spreads, seeds or thresholds query nothing). Draws are processed in
chunks of B draws as (B × n) NumPy arrays: totals as the matrix product of the B weight vectors
with the (m × n) matrix of weighted scores (m ≤ 10 indicators, so a short in-place loop rather
than BLAS, whose own threads would fight ours for two cores); ranks within the class group by
one argsort per draw of a packed int64 key (group, total descending, unit id); classes by
comparing ranks or totals with per-unit cut-offs; chunks spread over a few threads (NumPy
releases the GIL in sorts and arithmetic). No Python loop runs over enterprises.

Exactness (可复现): the nominal draw (all weight factors 1) is computed in the order of
operations of `compute.score_units` (the same summation order, DuckDB's ROUND half away from
zero to 6 decimals), so its totals equal the warehouse's bit for bit; ranks and classes mirror
`classes.rank_and_classify` (ties to the nominal total without caps, then the smaller unit
id, the share cut ``floor(n × cum / 100 + 0.5)``, per-county overrides of shares, thresholds and weights, A+).
Every analysis replays the nominal draw and counts the enterprises whose class differs from the
evaluation's (`nominal_mismatches`; 0 expected — on PostgreSQL, whose ROUND works on the decimal
value, an exact-half total could in principle differ).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import typer
from rich.table import Table

from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.classes import pooled_labels
from jingxin.evaluation.cli import JsonOpt, ScopeOpt, WarehouseOpt, _open, _print_json, _scope, console
from jingxin.evaluation.compute import Params, ScoreArrays, class_key, compute_prefix, score_arrays
from jingxin.evaluation.config import (
    GROUP_COLUMNS,
    GROUP_NAMES,
    ClassRule,
    ConfigError,
    ReferenceRule,
    Scoring,
    System,
    load_system,
    parse_system,
)
from jingxin.evaluation.runs import evaluate, load_run

DEFAULT_DRAWS = 1000
DEFAULT_SPREAD = 0.2
DEFAULT_THRESHOLD = 0.8
_CELLS_PER_CHUNK = 500_000
"""Draws are processed in chunks of about this many (draw × unit) cells (4 MB per float array:
near the cache, and measured faster than 1–4 M cells at 100k units; few Python steps still)."""

STORED_CLASSES = ("A+", "A", "B", "C", "D")

UNCERTAINTY_SCHEMAS: dict[str, ibis.Schema] = {
    "eval_uncertainty": ibis.schema(
        {
            "run_id": "string",
            "credit_code": "string",
            "p_a_plus": "float64",
            "p_a": "float64",
            "p_b": "float64",
            "p_c": "float64",
            "p_d": "float64",
            "modal_class": "string",
            "rank_p05": "int64",
            "rank_p95": "int64",
            "rank_min": "int64",
            "rank_max": "int64",
            "robust": "boolean",
            "draws": "int64",
            "spread": "float64",
            "seed": "int64",
        }
    )
}
"""The stored analysis (不确定性分析结果): one row per enterprise of a stored run."""


def probability_column(cls: str) -> str:
    """Column of the probability of a class: A+ → p_a_plus, A → p_a."""
    return "p_" + cls.lower().replace("+", "_plus")


# ---- scoring alternatives ------------------------------------------------------------------------
@dataclass(frozen=True)
class MethodChoice:
    """One scoring alternative (计分方法备选) and the probability of drawing it.

    `scoring`: replaces the system's scoring method (None: keep it). `reference`: replaces every
    indicator's reference rule (参照值口径); published fixed values (and county overrides of
    them) are dropped unless the rule carries its own, because the alternative *is* the choice
    of which average to compare with.
    """

    name: str
    probability: float
    scoring: Scoring | None = None
    reference: ReferenceRule | None = None

    def describe(self) -> str:
        parts = []
        if self.scoring is not None:
            sc = self.scoring
            if sc.method == "ratio_capped":
                detail = f"比值法（封顶 {sc.cap_multiple or 2:g} 倍权重）"
            elif sc.method == "minmax":
                detail = f"极差法（保底 {sc.minmax_floor:g}%）"
            elif sc.method == "benchmark":
                detail = f"标杆法（{sc.benchmark_multiple:g} 倍均值）"
            else:
                detail = "比值法" + (f"（封顶 {sc.cap:g} 倍权重）" if sc.cap else "")
            parts.append(detail)
        if self.reference is not None:
            stat = {"mean": "均值", "median": "中位数", "sum_over_sum": "合计比"}[self.reference.statistic]
            parts.append(f"参照值取{GROUP_NAMES[self.reference.group]}{stat}")
        return "；".join(parts) or "原评价体系口径"


_STATISTICS = ("sum_over_sum", "median", "mean")


def parse_method(text: str, system: System) -> MethodChoice:
    """A choice from its command-line form ``NAME[:PARAM][+NAME...]=PROBABILITY``.

    Names: ``nominal`` (the system as configured); ``ratio``; ``ratio_capped[:k]`` (k × weight,
    default 2); ``minmax[:floor]`` (floor in % of the weight, default 20); ``benchmark[:k]``
    (k × the average, default 2); ``ref_<group>_<statistic>`` with group county, city,
    province, county_industry or province_industry and statistic mean, median or
    sum_over_sum (e.g. ``ref_province_mean``). Joined with ``+`` they combine
    (``minmax+ref_province_mean=0.1``).
    """
    if "=" not in text:
        raise ValueError(f"计分方法应写作 名称=概率，如 minmax=0.25：{text!r}")
    spec, _, prob_text = text.rpartition("=")
    try:
        probability = float(prob_text)
    except ValueError as exc:
        raise ValueError(f"概率不是数字：{text!r}") from exc
    scoring: Scoring | None = None
    reference: ReferenceRule | None = None
    base = system.scoring
    for part in spec.split("+"):
        name, _, param = part.strip().partition(":")
        value = float(param) if param else None
        if name == "nominal":
            continue
        if name == "ratio":
            scoring = base.model_copy(update={"method": "ratio", "cap": None})
        elif name == "ratio_capped":
            scoring = base.model_copy(update={"method": "ratio_capped", "cap": value or 2.0})
        elif name == "minmax":
            floor = 20.0 if value is None else value
            scoring = base.model_copy(update={"method": "minmax", "minmax_floor": floor})
        elif name == "benchmark":
            scoring = base.model_copy(update={"method": "benchmark", "benchmark_multiple": value or 2.0})
        elif name.startswith("ref_"):
            rest = name[4:]
            stat = next((s for s in _STATISTICS if rest.endswith("_" + s)), None)
            group = rest[: -len(stat) - 1] if stat else ""
            if stat is None or group not in GROUP_COLUMNS or group == "kind":
                raise ValueError(f"参照值口径应如 ref_county_mean、ref_province_median：{part!r}")
            reference = ReferenceRule.model_validate({"statistic": stat, "group": group})
        else:
            raise ValueError(
                f"未知计分方法 {name!r}：可用 nominal、ratio、ratio_capped[:k]、minmax[:保底]、"
                "benchmark[:k]、ref_<范围>_<统计量>"
            )
    if scoring is not None:
        scoring = Scoring.model_validate(scoring.model_dump())
    return MethodChoice(spec.strip(), probability, scoring, reference)


def default_methods(system: System) -> list[MethodChoice]:
    """The default alternatives: the system's own method with probability ½ and two other
    methods of the ratio/min–max family with ¼ each.

    For threshold classes (or an A+ threshold) only ratio-family methods are mixed in: min–max
    and benchmark totals live on another scale (20–100), where fixed thresholds would move whole
    classes, which says nothing about any one enterprise.
    """
    own = system.scoring.method
    thresholds = (
        system.classes.method == "thresholds"
        or any(ov.thresholds is not None for ov in system.overrides.values())
        or (system.classes.a_plus is not None and system.classes.a_plus.threshold is not None)
    )
    if thresholds:
        other = "ratio" if own == "ratio_capped" else "ratio_capped"
        return [
            MethodChoice("nominal", 0.5),
            parse_method(f"{other}=0.5", system),
        ]
    pool = [m for m in ("ratio_capped", "minmax", "ratio") if m != own][:2]
    return [MethodChoice("nominal", 0.5), *(parse_method(f"{m}=0.25", system) for m in pool)]


def variant_system(system: System, choice: MethodChoice) -> System:
    """The system scored with `choice` (weights, population, classes and overrides unchanged)."""
    if choice.scoring is None and choice.reference is None:
        return system
    data = system.canonical()
    if choice.scoring is not None:
        data["scoring"] = choice.scoring.model_dump(mode="json")
    if choice.reference is not None:
        rule = choice.reference.model_dump(mode="json")
        data["reference"] = rule
        for ind in data["indicators"]:
            ind["reference"] = rule
        for ov in data["overrides"].values():
            ov["references"] = {}
    try:
        return System.model_validate(data)
    except ValueError as exc:
        raise ConfigError(f"计分方法 {choice.name!r} 不适用于评价体系 {system.id}：{exc}") from exc


def _normalise_methods(
    methods: Sequence[MethodChoice | str] | Mapping[str, float] | None, system: System
) -> list[MethodChoice]:
    if methods is None:
        return default_methods(system)
    if isinstance(methods, Mapping):
        items: list[MethodChoice] = [parse_method(f"{k}={v}", system) for k, v in methods.items()]
    else:
        items = [m if isinstance(m, MethodChoice) else parse_method(m, system) for m in methods]
    if not items:
        raise ValueError("至少需要一种计分方法")
    if any(m.probability < 0 for m in items) or sum(m.probability for m in items) <= 0:
        raise ValueError("计分方法的概率应非负且不全为零")
    total = sum(m.probability for m in items)
    return [
        MethodChoice(m.name, m.probability / total, m.scoring, m.reference)
        for m in items
        if m.probability > 0
    ]


# ---- per-unit parameters (mirroring compute.Params) -----------------------------------------------
def _per_unit(params: Params, name: str, county_code: np.ndarray) -> np.ndarray:
    """The value of parameter `name` for each unit, as `Params.get` gives it in SQL:
    ``coalesce(county value, default)``, NaN where both are missing."""
    default = params.defaults.get(name)
    out = np.full(len(county_code), np.nan if default is None else float(default))
    if name in params.overridden:
        for code, flat in params.by_county.items():
            value = flat.get(name)
            if value is not None:
                out[county_code == code] = float(value)
    return out


def _round6(x: np.ndarray) -> np.ndarray:
    """DuckDB's ROUND(x, 6) in place: x × 10⁶ rounded half away from zero, ÷ 10⁶ (NumPy's
    `round` rounds half to even, which could split two totals DuckDB keeps tied)."""
    x *= 1e6
    whole = np.trunc(x)
    frac = x - whole
    whole += np.where(np.abs(frac) >= 0.5, np.copysign(1.0, x), 0.0)
    whole /= 1e6
    return whole


@dataclass(frozen=True)
class UnitScores:
    """One scoring alternative's per-unit inputs, in ranking order (n units × m indicators).

    `u`: score per unit of weight (0 where missing); `weights`: each unit's nominal weight (its
    county's, before re-weighting for missing data); `available`, `reweight`: as in
    `compute.ScoreArrays`; `deduction`: sublet points; `total`: the warehouse's own total.
    """

    u: np.ndarray
    weights: np.ndarray
    available: np.ndarray
    reweight: np.ndarray
    deduction: np.ndarray
    total: np.ndarray
    _scored: np.ndarray = field(init=False, repr=False)
    _kept_weights: np.ndarray = field(init=False, repr=False)
    _profiles: np.ndarray = field(init=False, repr=False)
    _profile: np.ndarray = field(init=False, repr=False)
    _profile_sum: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # m × n matrices for the batched path: points = factor × Σ_j f_j (u ∘ w)_j over the
        # indicators kept (an indicator left out under the re-weight rule passes its weight on)
        rew = np.asarray(self.reweight, dtype=bool)[None, :]
        kept = np.where(rew, self.available, True)
        object.__setattr__(
            self, "_scored", np.ascontiguousarray(np.where(kept, self.u * self.weights, 0.0).T)
        )
        object.__setattr__(self, "_kept_weights", np.ascontiguousarray(np.where(kept, self.weights, 0.0).T))
        # the distinct weight vectors (the province's and each overriding county's): weight
        # sums per draw are computed per profile, not per unit
        if len(self.weights):
            profiles, profile = np.unique(self.weights, axis=0, return_inverse=True)
        else:
            profiles, profile = np.zeros((1, self.weights.shape[1])), np.zeros(0, dtype=np.int64)
        object.__setattr__(self, "_profiles", profiles)
        object.__setattr__(self, "_profile", profile.reshape(-1))
        object.__setattr__(self, "_profile_sum", profiles.sum(axis=1))

    @classmethod
    def from_arrays(cls, arrays: ScoreArrays, system: System, year: int, order: np.ndarray) -> UnitScores:
        params = Params.build(system, year)
        county = np.asarray(arrays.county_code, dtype=object)
        weights = np.column_stack(
            [_per_unit(params, f"w_{i}", county) for i in arrays.indicators] or [np.zeros(len(county))]
        )
        return cls(
            u=np.ascontiguousarray(arrays.u[order]),
            weights=np.ascontiguousarray(np.nan_to_num(weights[order])),
            available=np.ascontiguousarray(arrays.available[order]),
            reweight=np.asarray(arrays.reweight, dtype=bool),
            deduction=np.asarray(arrays.deduction, dtype=float)[order],
            total=np.asarray(arrays.total, dtype=float)[order],
        )

    def totals(self, factors: np.ndarray, renormalise: bool = True) -> np.ndarray:
        """Totals (B × n) for B weight draws (`factors`: B × m multipliers of the weights).

        Draws at the nominal weights (all factors 1) take `exact_totals`, which reproduces the
        warehouse bit for bit. Perturbed draws are a matrix product (B × m)·(m × n),
        Σ_j f_j w_j u_j over the indicators kept, times the re-weighting factor
        Σ f_j w_j ÷ Σ_kept f_j w_j, times Σw ÷ Σ f_j w_j when renormalised (the summation order
        differs from SQL's, which no stored total can contradict), minus the deduction,
        rounded to 6 decimals like every total.
        """
        factors = np.atleast_2d(np.asarray(factors, dtype=float))
        if np.all(factors == 1.0):
            return self.exact_totals(len(factors))
        points = self._combine(factors, self._scored)
        sums = factors @ self._profiles.T  # B × profiles: Σ_j f_j w_j
        if self.reweight.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = sums[:, self._profile] / self._combine(factors, self._kept_weights)
            factor[~np.isfinite(factor)] = 0.0
            points *= factor
        if renormalise:
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = self._profile_sum[None, :] / sums
            scale[~(sums > 0)] = 1.0
            points *= scale[:, self._profile]
        points -= self.deduction[None, :]
        np.multiply(points, 1e6, out=points)
        np.rint(points, out=points)
        np.divide(points, 1e6, out=points)
        return points

    @staticmethod
    def _combine(factors: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """Σ_j factors[:, j] × matrix[j] as a B × n array, in place row by row of `matrix`.

        Not a BLAS matmul: with m ≤ 10 the loop costs about as much, and OpenBLAS's own threads
        would fight the draw threads for two cores."""
        out = np.zeros((len(factors), matrix.shape[1]))
        tmp = np.empty_like(out)
        for j in range(matrix.shape[0]):
            if not matrix[j].any():
                continue
            np.multiply(matrix[j][None, :], factors[:, j, None], out=tmp)
            out += tmp
        return out

    def exact_totals(self, draws: int = 1) -> np.ndarray:
        """The nominal totals (`draws` identical rows), in the order of operations of
        `compute.score_units` step 5: the re-weighting factor Σw ÷ Σw(available) applied to
        every weight (0 for an indicator left out), s_j = w_j × u_j summed from 0.0 in
        indicator order, minus the deduction, DuckDB's ROUND(·, 6)."""
        n = len(self.deduction)
        cols = [j for j in range(self.u.shape[1]) if self.weights[:, j].any()]
        factor: np.ndarray | None = None
        if self.reweight.any():  # as SQL: a factor as soon as the system re-weights at all
            total_w, avail_w = np.zeros(n), np.zeros(n)
            for j in cols:
                w = self.weights[:, j]
                total_w += w
                avail_w += np.where(self.available[:, j], w, 0.0) if self.reweight[j] else w
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = total_w / avail_w
            factor[~np.isfinite(factor)] = 0.0
        points = np.zeros(n)
        for j in cols:
            w = self.weights[:, j]
            if factor is not None:
                w = np.where(self.available[:, j], w * factor, 0.0) if self.reweight[j] else w * factor
            points += w * self.u[:, j]
        points -= self.deduction
        return np.broadcast_to(_round6(points), (draws, n)).copy()


# ---- ranks and classes for many draws (mirroring classes.rank_and_classify) ---------------------
def group_labels(
    system: System, county_code: np.ndarray, division_code: np.ndarray, tenant: np.ndarray | None = None
) -> np.ndarray:
    """One integer label per unit for the class group (分类分组) of the system, small groups
    pooled and tenants apart as `classes.class_groups` decides (NULL codes form a group of their
    own, as in SQL)."""
    if system.classes.group == "kind":
        raise ValueError("园区评价（按园区类型分组）暂不支持不确定性分析")
    labels = pooled_labels(system.classes, county_code, division_code, tenant=tenant)
    return pd.Series(labels).astype(str).factorize(sort=True)[0].astype(np.int64)


@dataclass(frozen=True)
class ClassRanker:
    """Ranks within the class group and classes, for a (B draws × n units) block of totals.

    Units are held in ranking order: by group, then in the order given, so a group is a
    contiguous range and a unit's rank is its position in the sorted draw minus its group's
    start. Ties in total go to the unit placed first (nominal total without caps, then unit id),
    as ``ROW_NUMBER() OVER (ORDER BY total DESC, tiebreak DESC, unit_id)`` does. Class
    cut-offs are per unit because a county may override shares or thresholds (and a group may
    span counties).
    """

    classes: tuple[str, ...]
    group: np.ndarray
    position_rank: np.ndarray
    size: np.ndarray
    share_cut: np.ndarray
    thresholds: np.ndarray
    by_threshold: np.ndarray
    plus_cut: np.ndarray | None
    plus_threshold: float | None

    @classmethod
    def build(
        cls,
        rule: ClassRule,
        group: np.ndarray,
        *,
        county_code: np.ndarray | None = None,
        params: Params | None = None,
    ) -> ClassRanker:
        """`group` (sorted ascending: units already in ranking order) and, for per-county
        rules, the units' county codes and the system's `Params`."""
        group = np.asarray(group, dtype=np.int64)
        n = len(group)
        if n and np.any(np.diff(group) < 0):
            raise ValueError("units must be ordered by group")
        starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1] if n else np.zeros(0, dtype=np.int64)
        sizes = np.diff(np.r_[starts, n]).astype(np.int64)
        size = np.repeat(sizes, sizes)
        position_rank = (np.arange(n) - np.repeat(starts, sizes) + 1).astype(np.int32)
        order = rule.order
        k = len(order) - 1
        if params is not None and county_code is not None:
            county = np.asarray(county_code, dtype=object)

            def value(name: str) -> np.ndarray:
                return _per_unit(params, name, county)

            cums = [value(f"cum_{class_key(c)}") for c in order[:-1]]
            thrs = [value(f"thr_{class_key(c)}") for c in order[:-1]]
            by_threshold = value("cls_thr") == 1.0
        else:
            shares = rule.cumulative_shares() if list(rule.shares) == order else {}
            cums = [np.full(n, shares.get(c, np.nan), dtype=float) for c in order[:-1]]
            thrs = [np.full(n, rule.thresholds.get(c, np.nan), dtype=float) for c in order[:-1]]
            by_threshold = np.full(n, rule.method == "thresholds")
        size_f = size.astype(float)
        share_cut = (
            np.column_stack([np.floor(size_f * c / 100 + 0.5) for c in cums]) if k else np.zeros((n, 0))
        )
        thresholds = np.column_stack(thrs) if k else np.zeros((n, 0))
        plus_cut = plus_threshold = None
        if rule.a_plus is not None:
            if rule.a_plus.share is not None:
                plus_cut = np.floor(size_f * float(rule.a_plus.share) / 100 + 0.5)
            else:
                plus_threshold = float(rule.a_plus.threshold)  # type: ignore[arg-type]
        return cls(
            classes=tuple(rule.all_classes),
            group=group,
            position_rank=position_rank,
            size=size,
            share_cut=share_cut,
            thresholds=thresholds,
            by_threshold=by_threshold,
            plus_cut=plus_cut,
            plus_threshold=plus_threshold,
        )

    def ranks(self, totals: np.ndarray) -> np.ndarray:
        """Rank of every unit within its group (1 = best) for each draw (row) of `totals`.

        One argsort per draw of an int64 key packing (group, total descending, position):
        totals carry 6 decimals, so total × 10⁶ is an exact integer. When the packed key would
        overflow, a stable sort without the position, or a lexsort, does the same job.
        """
        totals = np.atleast_2d(totals)
        b, n = totals.shape
        out = np.empty((b, n), dtype=np.int32)
        if n == 0:
            return out
        if not np.isfinite(totals).all():
            raise ValueError("总分含非有限值，无法排名")
        scaled = np.rint(totals * 1e6)
        hi, lo = float(scaled.max()), float(scaled.min())
        groups = int(self.group[-1]) + 1
        span = int(hi - lo) + 1
        if max(abs(hi), abs(lo)) >= 2**53:
            order = np.stack([np.lexsort((-totals[r], self.group)) for r in range(b)])
        else:
            desc = (hi - scaled).astype(np.int64)
            if groups * span * n < 2**62:
                key = desc
                key += (self.group * span)[None, :]
                key *= n
                key += np.arange(n, dtype=np.int64)[None, :]
                order = np.argsort(key, axis=1)
            elif groups * span < 2**62:
                desc += (self.group * span)[None, :]
                order = np.argsort(desc, axis=1, kind="stable")
            else:
                order = np.stack([np.lexsort((-totals[r], self.group)) for r in range(b)])
        np.put_along_axis(out, order, np.broadcast_to(self.position_rank, (b, n)), axis=1)
        return out

    @cached_property
    def monotone(self) -> bool:
        """True when every unit's cut-offs are ordered and known (always, for a validated
        system): then the class is the number of cut-offs missed, a cheaper count."""
        share_units, thr_units = ~self.by_threshold, self.by_threshold
        cut, thr = self.share_cut[share_units], self.thresholds[thr_units]
        return bool(
            not np.isnan(cut).any()
            and not np.isnan(thr).any()
            and (np.diff(cut, axis=1) >= 0).all()
            and (np.diff(thr, axis=1) <= 0).all()
        )

    def classify(self, totals: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """Class index (into `classes`, best first) of every unit in every draw.

        As `classes._class_expr`: the first class whose cut-off the unit meets (rank ≤
        round-half-up(n × cumulative share / 100), or total ≥ threshold, per the unit's county),
        else the last; A+ within the top class by share of the group or by threshold.
        """
        totals, ranks = np.atleast_2d(totals), np.atleast_2d(ranks)
        if not self.monotone:
            return self._classify_first_met(totals, ranks)
        k = self.share_cut.shape[1]
        offset = 1 if (self.plus_cut is not None or self.plus_threshold is not None) else 0
        out = np.full(ranks.shape, offset, dtype=np.int8)
        any_share = not self.by_threshold.all()
        any_threshold = bool(self.by_threshold.any())
        for c in range(k):
            if any_share and any_threshold:
                out += np.where(
                    self.by_threshold[None, :],
                    totals < self.thresholds[None, :, c],
                    ranks > self.share_cut[None, :, c],
                )
            elif any_threshold:
                out += totals < self.thresholds[None, :, c]
            else:
                out += ranks > self.share_cut[None, :, c]
        if offset:
            self._apply_plus(out, totals, ranks, offset)
        return out

    def _classify_first_met(self, totals: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """`classify` as the SQL CASE reads: the first cut-off met wins (NULL never meets)."""
        k = self.share_cut.shape[1]
        offset = 1 if (self.plus_cut is not None or self.plus_threshold is not None) else 0
        out = np.full(ranks.shape, k + offset, dtype=np.int8)
        with np.errstate(invalid="ignore"):
            for c in reversed(range(k)):
                hit = (ranks <= self.share_cut[None, :, c]) & ~self.by_threshold[None, :]
                hit |= (totals >= self.thresholds[None, :, c]) & self.by_threshold[None, :]
                out[hit] = c + offset
        if offset:
            self._apply_plus(out, totals, ranks, offset)
        return out

    def _apply_plus(self, out: np.ndarray, totals: np.ndarray, ranks: np.ndarray, offset: int) -> None:
        by_rank = self.plus_cut is not None
        plus = ranks <= self.plus_cut[None, :] if by_rank else totals >= self.plus_threshold  # type: ignore[index]
        out[(out == offset) & plus] = 0


# ---- the analysis --------------------------------------------------------------------------------
RunKey = str | tuple[int, "str | System"] | tuple[int, "str | System", "Scope | str | None"]


@dataclass(frozen=True)
class _Target:
    run_id: str | None
    system: System
    year: int
    scope: Scope
    batches: dict[str, list[int]] | None


def _as_scope(scope: Scope | str | None) -> Scope:
    if scope is None or scope == "330000" or scope == "":
        return EVERYTHING
    return scope if isinstance(scope, Scope) else Scope(division=str(scope))


def _resolve(wh: Warehouse, key: RunKey, prefer_run: bool, systems_dir: Any) -> _Target:
    """A run id → that stored run; (year, system[, scope]) → the newest stored run of exactly
    that configuration and scope when `prefer_run` (what was published), else live data."""
    if isinstance(key, str):
        run = load_run(wh, key)
        scope = _as_scope(run["scope"])
        batches = {k: [int(b) for b in v] for k, v in json.loads(run["batches_used"]).items()}
        return _Target(key, parse_system(run["config_yaml"]), int(run["year"]), scope, batches)
    year, system_ref, *rest = key
    scope = _as_scope(rest[0] if rest else None)
    if scope.pinned:
        raise ValueError("不确定性分析按区域进行，不能限定为个别企业")
    system = load_system(system_ref, systems_dir) if isinstance(system_ref, str) else system_ref
    if prefer_run and wh.has_table("eval_runs"):
        runs = wh.table("eval_runs")
        runs = runs.filter(
            (runs.system == system.id)
            & (runs.year == int(year))
            & (runs.scope == (scope.division or "330000"))
            & (runs.config_hash == system.config_hash)
        )
        rows = wh.to_pyarrow(
            runs.order_by([ibis.desc("created_at"), ibis.desc("run_id")]).select("run_id").limit(1)
        )
        if rows.num_rows:
            return _resolve(wh, str(rows["run_id"][0]), prefer_run, systems_dir)
    return _Target(None, system, int(year), scope, None)


_NOMINAL_COLUMNS = (
    "credit_code",
    "name",
    "unit_id",
    "county_code",
    "division_code",
    "total_score",
    "class_rank",
    "class_n",
    "score_class",
    "class",
    "veto_reason",
)


def _nominal(wh: Warehouse, target: _Target) -> pd.DataFrame:
    """The evaluation's own per-enterprise result: the stored run, or `evaluate` now."""
    if target.run_id is not None:
        t = wh.table("eval_results")
        expr = t.filter(t.run_id == target.run_id).select(*_NOMINAL_COLUMNS)
        return wh.to_pyarrow(expr.order_by("credit_code")).to_pandas()
    ev = evaluate(wh, target.system, target.year, target.scope, history="none")
    try:
        return wh.to_pyarrow(ev.results.select(*_NOMINAL_COLUMNS).order_by("credit_code")).to_pandas()
    finally:
        ev.release()


def _compute_scope(system: System, scope: Scope) -> Scope:
    """The region whose units take part in ranking (at least the class group of every unit in
    `scope`): `compute_prefix` as a Scope."""
    prefix = compute_prefix(system, scope)
    if len(prefix) <= 2:
        return EVERYTHING
    return Scope(division=prefix.ljust(6, "0"))


@dataclass(frozen=True)
class UncertaintyResult:
    """The outcome of `analyse` (不确定性分析结果).

    `enterprises` has one row per evaluated enterprise in scope: credit_code, name, unit_id,
    county_code, division_code, total_score (nominal), nominal_class, class_rank and class_n
    (nominal rank and size of its class group), ``p_<class>`` (share of draws in each class;
    A+ → p_a_plus), p_nominal, modal_class (the most frequent class; a tie keeps the nominal
    class, else the better one), robust (p_nominal ≥ threshold), vetoed, and the
    rank in the class group over the draws: rank_p05 / rank_p95 (nearest-rank 5th and 95th
    percentiles) and rank_min / rank_max. `by_class` and `by_county` count the enterprises
    that are not robust (不稳健).
    """

    run_id: str | None
    source: Literal["run", "live"]
    system: str
    title: str
    year: int
    scope: str
    class_group: str
    classes: list[str]
    labels: dict[str, str]
    draws: int
    spread: float
    seed: int
    threshold: float
    renormalise: bool
    methods: list[dict[str, Any]]
    enterprises: pd.DataFrame
    by_class: pd.DataFrame
    by_county: pd.DataFrame
    nominal_mismatches: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def not_robust(self) -> int:
        return int((~self.enterprises["robust"]).sum()) if len(self.enterprises) else 0

    def to_arrow(self) -> pa.Table:
        """The rows of `eval_uncertainty` (needs a stored run and classes among A+/A/B/C/D)."""
        if self.run_id is None:
            raise ValueError("只有已保存评价批次的分析结果才能入库：请先运行 jingxin evaluate")
        unknown = set(self.classes) - set(STORED_CLASSES)
        if unknown:
            raise ValueError(f"eval_uncertainty 只记录 A+、A、B、C、D 类，体系中还有 {sorted(unknown)}")
        df = self.enterprises
        n = len(df)
        schema = UNCERTAINTY_SCHEMAS["eval_uncertainty"].to_pyarrow()
        cols: dict[str, Any] = {
            "run_id": pa.array(np.full(n, self.run_id, dtype=object), pa.string()),
            "credit_code": pa.array(df["credit_code"].astype(str), pa.string()),
        }
        for cls in STORED_CLASSES:
            col = probability_column(cls)
            values = df[col].to_numpy(dtype=float) if col in df else np.zeros(n)
            cols[col] = pa.array(values, pa.float64())
        cols["modal_class"] = pa.array(df["modal_class"].astype(str), pa.string())
        for col in ("rank_p05", "rank_p95", "rank_min", "rank_max"):
            cols[col] = pa.array(df[col].to_numpy(dtype=np.int64), pa.int64())
        cols["robust"] = pa.array(df["robust"].to_numpy(dtype=bool), pa.bool_())
        cols["draws"] = pa.array(np.full(n, self.draws, dtype=np.int64))
        cols["spread"] = pa.array(np.full(n, self.spread, dtype=float))
        cols["seed"] = pa.array(np.full(n, self.seed, dtype=np.int64))
        return pa.table(cols, schema=schema)

    def summary(self) -> dict[str, Any]:
        """What the command prints, JSON-friendly."""
        return {
            "run_id": self.run_id,
            "source": self.source,
            "system": self.system,
            "title": self.title,
            "year": self.year,
            "scope": self.scope,
            "class_group": self.class_group,
            "draws": self.draws,
            "spread": self.spread,
            "seed": self.seed,
            "threshold": self.threshold,
            "renormalise": self.renormalise,
            "methods": self.methods,
            "enterprises": len(self.enterprises),
            "not_robust": self.not_robust,
            "by_class": _records(self.by_class),
            "by_county": _records(self.by_county),
            "nominal_mismatches": self.nominal_mismatches,
            "seconds": self.seconds,
        }


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in df.to_dict("records"):
        clean = {}
        for k, v in row.items():
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and v != v:
                v = None
            clean[str(k)] = v
        out.append(clean)
    return out


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _chunk_size(n: int, chunk: int | None) -> int:
    if chunk is not None:
        return max(1, int(chunk))
    return int(min(256, max(1, _CELLS_PER_CHUNK // max(n, 1))))


def _rank_quantiles(ranks: np.ndarray, block: int = 8192) -> np.ndarray:
    """(n × 4) min, nearest-rank 5th and 95th percentile, max of each column of `ranks` (N × n).

    Nearest rank (inverted CDF): the p-quantile is the smallest rank r with at least p·N draws
    at rank ≤ r, so it is always a rank some draw actually gave.
    """
    draws, n = ranks.shape
    k05 = max(0, -(-5 * draws // 100) - 1)
    k95 = max(0, -(-95 * draws // 100) - 1)
    kth = sorted({0, k05, k95, draws - 1})
    out = np.empty((n, 4), dtype=np.int64)
    for a in range(0, n, block):
        part = np.ascontiguousarray(ranks[:, a : a + block].T)
        part.partition(kth, axis=1)
        out[a : a + block] = part[:, [0, k05, k95, draws - 1]]
    return out


class UncertaintyAnalysis:
    """One evaluation read once (评价数据一次读取), drawn from as often as needed.

    Why a class: the warehouse work (the nominal result and one score matrix per scoring
    alternative) takes seconds, the draws milliseconds per hundred. An analyst comparing spreads,
    thresholds or seeds, or a page with a slider, prepares once and calls `run` repeatedly.
    Construction also checks the mirror: the nominal draw must give every unit the class the
    evaluation gave (`nominal_mismatches`).
    """

    def __init__(
        self, wh: Warehouse, key: RunKey, *, prefer_run: bool = True, systems_dir: Any = None
    ) -> None:
        started = time.perf_counter()
        self.wh = wh
        self.target = _resolve(wh, key, prefer_run, systems_dir)
        self.system = system = self.target.system
        if system.population.level == "park":
            raise ValueError("园区评价暂不支持不确定性分析")
        self.nominal = _nominal(wh, self.target)
        self.region = _compute_scope(system, self.target.scope)
        self._scores: dict[str, UnitScores] = {}
        base = score_arrays(wh, system, self.target.year, self.region, batches=self.target.batches)
        self.unit_id = base.unit_id
        self.indicators = list(base.indicators)
        county = np.asarray(base.county_code, dtype=object)
        labels = group_labels(system, county, np.asarray(base.division_code, dtype=object), base.tenant)
        # by group, then equal totals' tie-break (the total without caps), then unit id
        tiebreak = base.tiebreak if base.tiebreak is not None else np.zeros(len(labels))
        self.order = np.lexsort((np.arange(len(labels)), -np.round(tiebreak, 6), labels))
        self.inverse = np.empty(len(self.order), dtype=np.int64)
        self.inverse[self.order] = np.arange(len(self.order))
        params = Params.build(system, self.target.year)
        self.ranker = ClassRanker.build(
            system.classes, labels[self.order], county_code=county[self.order], params=params
        )
        self.classes = list(self.ranker.classes)
        self._scores[system.config_hash] = UnitScores.from_arrays(base, system, self.target.year, self.order)
        self.mirror_class = self._mirror_nominal()
        self.fetch_seconds = time.perf_counter() - started

    def _mirror_nominal(self) -> np.ndarray:
        """Each unit's class (in unit-id order) from the nominal draw through the mirror."""
        scores = self._scores[self.system.config_hash]
        totals = scores.totals(np.ones((1, len(self.indicators))))
        cls = self.ranker.classify(totals, self.ranker.ranks(totals))[0]
        return np.array(self.classes, dtype=object)[cls[self.inverse]]

    def scores_for(self, variant: System) -> UnitScores:
        """The score matrix of a scoring alternative (one warehouse query, then cached)."""
        key = variant.config_hash
        if key not in self._scores:
            t = self.target
            arrays = score_arrays(self.wh, variant, t.year, self.region, batches=t.batches)
            if not np.array_equal(arrays.unit_id, self.unit_id):
                raise RuntimeError("不同计分方法得到的评价单元不一致")
            self._scores[key] = UnitScores.from_arrays(arrays, self.system, t.year, self.order)
        return self._scores[key]

    def run(
        self,
        draws: int = DEFAULT_DRAWS,
        weight_spread: float = DEFAULT_SPREAD,
        methods: Sequence[MethodChoice | str] | Mapping[str, float] | None = None,
        seed: int = 0,
        threshold: float = DEFAULT_THRESHOLD,
        *,
        renormalise: bool = True,
        chunk: int | None = None,
        workers: int | None = None,
    ) -> UncertaintyResult:
        """The Monte Carlo (see `analyse` for the parameters; `chunk`: draws per block,
        `workers`: threads, default the CPU count up to 4)."""
        started = time.perf_counter()
        if draws < 1:
            raise ValueError("抽样次数应至少为 1")
        if not 0 <= weight_spread < 1:
            raise ValueError("权重扰动幅度应在 [0, 1) 之间")
        if not 0 < threshold <= 1:
            raise ValueError("稳健阈值应在 (0, 1] 之间")
        system, ranker = self.system, self.ranker
        choices = _normalise_methods(methods, system)
        variants = [self.scores_for(variant_system(system, c)) for c in choices]
        t_fetch = time.perf_counter()

        # the draws: method per draw, weight factors per draw and indicator (all drawn up front,
        # so the result does not depend on the chunk size)
        n, m, n_cls = len(self.unit_id), len(self.indicators), len(self.classes)
        rng = np.random.default_rng(seed)
        probs = np.array([c.probability for c in choices])
        method_of_draw = rng.choice(len(choices), size=draws, p=probs / probs.sum())
        if weight_spread > 0:
            factors = 1.0 + rng.uniform(-weight_spread, weight_spread, size=(draws, m))
        else:
            factors = np.ones((draws, m))
        rank_dtype = np.uint16 if int(ranker.size.max(initial=0)) < 2**16 else np.uint32
        ranks_all = np.empty((draws, n), dtype=rank_dtype)
        counts = np.zeros(n_cls * n, dtype=np.int64)
        step = _chunk_size(n, chunk)
        position = np.arange(n, dtype=np.int64)
        tasks = [
            (rows, unit_scores)
            for k, unit_scores in enumerate(variants)
            for picked in [np.flatnonzero(method_of_draw == k)]
            for rows in np.array_split(picked, max(1, -(-len(picked) // step)))
            if len(rows)
        ]

        def work(task: tuple[np.ndarray, UnitScores]) -> np.ndarray:
            """One chunk of draws: totals, ranks, classes; ranks go straight to their rows."""
            rows, unit_scores = task
            totals = unit_scores.totals(factors[rows], renormalise)
            ranks = ranker.ranks(totals)
            cls = ranker.classify(totals, ranks)
            ranks_all[rows] = ranks
            return np.bincount((cls.astype(np.int64) * n + position).ravel(), minlength=n_cls * n)

        workers = max(1, min(workers or _default_workers(), len(tasks)))
        if workers == 1:
            for task in tasks:
                counts += work(task)
        else:  # NumPy's sorts and array arithmetic release the GIL: threads share the cores
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for part in pool.map(work, tasks):
                    counts += part
        t_draws = time.perf_counter()

        # back to unit-id order, then per enterprise
        unit_probs = (counts.reshape(n_cls, n).T / draws)[self.inverse]
        quant = _rank_quantiles(ranks_all)[self.inverse] if n else np.zeros((0, 4), dtype=np.int64)
        enterprises = _enterprise_table(
            self.nominal, self.unit_id, unit_probs, quant, self.mirror_class, self.classes, threshold
        )
        mismatches = int((enterprises.pop("_mirror_class") != self.nominal["score_class"].to_numpy()).sum())
        by_class, by_county = _summaries(enterprises, system, self.classes)
        t_end = time.perf_counter()

        drawn = np.bincount(method_of_draw, minlength=len(choices))
        fetch = self.fetch_seconds + (t_fetch - started)
        self.fetch_seconds = 0.0  # reported once, by the first run that paid for it
        target = self.target
        return UncertaintyResult(
            run_id=target.run_id,
            source="run" if target.run_id else "live",
            system=system.id,
            title=system.title,
            year=target.year,
            scope=target.scope.division or "330000",
            class_group=system.classes.group,
            classes=list(self.classes),
            labels={c: system.classes.label(c) for c in self.classes},
            draws=draws,
            spread=float(weight_spread),
            seed=int(seed),
            threshold=float(threshold),
            renormalise=renormalise,
            methods=[
                {
                    "name": c.name,
                    "description": c.describe(),
                    "probability": round(c.probability, 6),
                    "draws": int(drawn[i]),
                }
                for i, c in enumerate(choices)
            ],
            enterprises=enterprises,
            by_class=by_class,
            by_county=by_county,
            nominal_mismatches=mismatches,
            seconds={
                "fetch": round(fetch, 3),
                "draws": round(t_draws - t_fetch, 3),
                "draws_per_s": round(draws / max(t_draws - t_fetch, 1e-9), 1),
                "summarise": round(t_end - t_draws, 3),
                "total": round(fetch + (t_end - t_fetch), 3),
            },
        )


def analyse(
    wh: Warehouse,
    key: RunKey,
    draws: int = DEFAULT_DRAWS,
    weight_spread: float = DEFAULT_SPREAD,
    methods: Sequence[MethodChoice | str] | Mapping[str, float] | None = None,
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    renormalise: bool = True,
    prefer_run: bool = True,
    store: bool = False,
    systems_dir: Any = None,
    chunk: int | None = None,
    workers: int | None = None,
) -> UncertaintyResult:
    """Monte Carlo uncertainty analysis (蒙特卡洛不确定性分析) of one evaluation.

    `key`: a run id (that stored run: its configuration, scope and exactly the batches it read),
    or ``(year, system[, scope])`` with a system name or object and a division code or Scope
    (the newest stored run of that configuration and scope when `prefer_run`, else live data
    through `runs.evaluate`). `weight_spread`: each weight drawn in [w(1 − x), w(1 + x)];
    `methods`: the scoring alternatives as `MethodChoice`s, strings ``"minmax=0.25"`` or a
    mapping name → probability (normalised to sum 1; default `default_methods`);
    `threshold`: robust (稳健) when P(nominal class) ≥ threshold. Same seed, same inputs → the
    same result, whatever the chunk size. `store=True` writes `eval_uncertainty` (stored runs
    only, see `store_uncertainty`). To draw several times from one read, use
    `UncertaintyAnalysis`.
    """
    analysis = UncertaintyAnalysis(wh, key, prefer_run=prefer_run, systems_dir=systems_dir)
    result = analysis.run(
        draws, weight_spread, methods, seed, threshold, renormalise=renormalise, chunk=chunk, workers=workers
    )
    if store:
        store_uncertainty(wh, result)
    return result


def _enterprise_table(
    nominal: pd.DataFrame,
    unit_ids: np.ndarray,
    unit_probs: np.ndarray,
    quant: np.ndarray,
    unit_nominal: np.ndarray,
    classes: list[str],
    threshold: float,
) -> pd.DataFrame:
    """Per enterprise: its unit's draws, vetoes forcing their class in every draw."""
    where = pd.Index(pd.Series(unit_ids, dtype=object)).get_indexer(nominal["unit_id"].astype(object))
    if (where < 0).any():
        missing = nominal["credit_code"].to_numpy()[where < 0][:3]
        raise RuntimeError(f"评价结果中的企业不在评分单元中（如 {', '.join(map(str, missing))}）")
    probs = unit_probs[where] if len(where) else np.zeros((0, len(classes)))
    nominal_class = nominal["class"].astype(object).to_numpy()
    nominal_idx = pd.Categorical(nominal_class, categories=classes).codes.astype(np.int64)
    if (nominal_idx < 0).any():
        raise RuntimeError(f"评价结果含未知类别 {sorted(set(nominal_class[nominal_idx < 0]))}")
    vetoed = nominal["veto_reason"].notna().to_numpy()
    if vetoed.any():
        probs = probs.copy()
        probs[vetoed] = 0.0
        probs[vetoed, nominal_idx[vetoed]] = 1.0
    rows = np.arange(len(nominal))
    p_nominal = probs[rows, nominal_idx] if len(rows) else np.zeros(0)
    modal = probs.argmax(axis=1) if len(rows) else np.zeros(0, dtype=np.int64)
    modal = np.where(p_nominal >= probs.max(axis=1, initial=0.0), nominal_idx, modal)
    out = pd.DataFrame(
        {
            "credit_code": nominal["credit_code"].to_numpy(),
            "name": nominal["name"].to_numpy(),
            "unit_id": nominal["unit_id"].to_numpy(),
            "county_code": nominal["county_code"].to_numpy(),
            "division_code": nominal["division_code"].to_numpy(),
            "total_score": nominal["total_score"].to_numpy(dtype=float),
            "nominal_class": nominal_class,
            "class_rank": nominal["class_rank"].to_numpy(dtype=np.int64),
            "class_n": nominal["class_n"].to_numpy(dtype=np.int64),
        }
    )
    for i, cls in enumerate(classes):
        out[probability_column(cls)] = probs[:, i]
    out["p_nominal"] = p_nominal
    out["modal_class"] = np.array(classes, dtype=object)[modal] if len(rows) else np.array([], dtype=object)
    out["robust"] = p_nominal >= threshold
    out["vetoed"] = vetoed
    q = quant[where] if len(where) else np.zeros((0, 4), dtype=np.int64)
    out["rank_p05"], out["rank_p95"] = q[:, 1], q[:, 2]
    out["rank_min"], out["rank_max"] = q[:, 0], q[:, 3]
    out["_mirror_class"] = unit_nominal[where] if len(where) else np.array([], dtype=object)
    return out


def _summaries(df: pd.DataFrame, system: System, classes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Non-robust counts (不稳健企业数) per nominal class and per county."""
    weak = ~df["robust"].to_numpy(dtype=bool)
    nominal = df["nominal_class"].to_numpy()
    rows = []
    for cls in classes:
        mask = nominal == cls
        count = int(mask.sum())
        rows.append(
            {
                "class": cls,
                "label": system.classes.label(cls),
                "enterprises": count,
                "not_robust": int((weak & mask).sum()),
                "not_robust_share": round(float((weak & mask).sum() / count), 4) if count else None,
                "mean_p_nominal": round(float(df["p_nominal"].to_numpy()[mask].mean()), 4) if count else None,
            }
        )
    by_class = pd.DataFrame(rows)
    frame = pd.DataFrame({"county_code": df["county_code"].to_numpy(), "weak": weak, "cls": nominal})
    by_county = frame.groupby("county_code", sort=True).agg(
        enterprises=("weak", "size"), not_robust=("weak", "sum")
    )
    by_county["not_robust_share"] = (by_county["not_robust"] / by_county["enterprises"]).round(4)
    for cls in classes:
        col = "not_robust_" + probability_column(cls)[2:]
        sub = frame[frame["cls"] == cls].groupby("county_code")["weak"].sum()
        by_county[col] = sub.reindex(by_county.index, fill_value=0).astype(np.int64)
    by_county = by_county.reset_index()
    by_county.insert(1, "county_name", [_county_name(c) for c in by_county["county_code"]])
    by_county["not_robust"] = by_county["not_robust"].astype(np.int64)
    return by_class, by_county


def _county_name(code: Any) -> str:
    from jingxin.reference import division

    try:
        return division(str(code)).name
    except (KeyError, ValueError):
        return ""


def store_uncertainty(wh: Warehouse, result: UncertaintyResult) -> int:
    """Write `eval_uncertainty` for the result's run, replacing an earlier analysis of that run
    (one analysis per run, so readers need not choose); returns the rows written. On a Spark
    warehouse (append-only) earlier rows are kept."""
    table = result.to_arrow()
    wh.ensure_schema(UNCERTAINTY_SCHEMAS)
    with wh.transaction():
        if wh.kind != "spark":
            wh.sql("DELETE FROM eval_uncertainty WHERE run_id = ?", [result.run_id])
        wh.insert_arrow("eval_uncertainty", table)
    return table.num_rows


# ---- command line --------------------------------------------------------------------------------
def uncertainty_command(
    year: Annotated[int | None, typer.Option("--year", help="数据年度，如 2021")] = None,
    system: Annotated[
        str | None, typer.Option("--system", help="评价体系，如 zhejiang_industry_above")
    ] = None,
    run: Annotated[str | None, typer.Option("--run", help="评价批次编号（代替 --year/--system）")] = None,
    scope: ScopeOpt = None,
    draws: Annotated[int, typer.Option("--draws", help="抽样次数")] = DEFAULT_DRAWS,
    spread: Annotated[float, typer.Option("--spread", help="权重扰动幅度，0.2 即 ±20%")] = DEFAULT_SPREAD,
    seed: Annotated[int, typer.Option("--seed", help="随机种子")] = 0,
    threshold: Annotated[
        float, typer.Option("--threshold", help="稳健阈值：保持原分类的概率不低于此值")
    ] = DEFAULT_THRESHOLD,
    method: Annotated[
        list[str] | None,
        typer.Option("--method", help="计分方法备选及概率，可重复，如 nominal=0.5 --method minmax=0.25"),
    ] = None,
    renormalise: Annotated[
        bool, typer.Option("--renormalise/--no-renormalise", help="扰动后的权重是否归一到原权重和")
    ] = True,
    live: Annotated[bool, typer.Option("--live", help="不用已保存批次，按现行数据重新评价")] = False,
    store: Annotated[bool, typer.Option("--store", help="结果写入 eval_uncertainty 表")] = False,
    systems_dir: Annotated[Path | None, typer.Option("--systems-dir", help="额外的评价体系目录")] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """亩均评价不确定性分析：权重与计分方法蒙特卡洛抽样，给出各企业分类的稳健性。"""
    if run is None and (year is None or system is None):
        raise typer.BadParameter("请给出 --run，或同时给出 --year 与 --system")
    key: RunKey = run if run is not None else (int(year), str(system), _scope(scope))  # type: ignore[arg-type]
    wh = _open(warehouse)
    try:
        result = analyse(
            wh,
            key,
            draws=draws,
            weight_spread=spread,
            methods=method or None,
            seed=seed,
            threshold=threshold,
            renormalise=renormalise,
            prefer_run=not live,
            store=store,
            systems_dir=systems_dir,
        )
    except (KeyError, ValueError, ConfigError) as exc:
        console.print(f"[red]{exc.args[0] if exc.args else exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        wh.close()
    if as_json:
        _print_json(result.summary())
        return
    where = f"批次 {result.run_id}" if result.run_id else "现行数据"
    table = Table(title=f"{result.year}年度{result.title} 不确定性分析（{where}，{result.draws} 次抽样）")
    for col in ("分类", "类别名称", "企业数", "不稳健", "占比", "平均保持概率"):
        table.add_column(col, justify="right" if col not in ("分类", "类别名称") else "left")
    for row in _records(result.by_class):
        share = row["not_robust_share"]
        mean = row["mean_p_nominal"]
        table.add_row(
            row["class"],
            row["label"],
            str(row["enterprises"]),
            str(row["not_robust"]),
            "—" if share is None else f"{share:.1%}",
            "—" if mean is None else f"{mean:.2f}",
        )
    console.print(table)
    counties = result.by_county[result.by_county["not_robust"] > 0]
    if len(counties):
        top = counties.sort_values(["not_robust", "county_code"], ascending=[False, True]).head(10)
        by_county = Table(title="不稳健企业最多的县（市、区）")
        for col in ("区划代码", "名称", "参评企业", "不稳健", "占比"):
            by_county.add_column(col, justify="right" if col in ("参评企业", "不稳健", "占比") else "left")
        for row in _records(top):
            by_county.add_row(
                str(row["county_code"]),
                row["county_name"],
                str(row["enterprises"]),
                str(row["not_robust"]),
                f"{row['not_robust_share']:.1%}",
            )
        console.print(by_county)
    methods = "；".join(f"{m['description']} {m['probability']:.0%}" for m in result.methods)
    norm = "归一" if result.renormalise else "不归一"
    console.print(
        f"权重扰动 ±{result.spread:.0%}（{norm}），计分方法：{methods}。"
        f"保持原分类概率低于 {result.threshold:.0%} 为不稳健：共 {result.not_robust} 家 / "
        f"{len(result.enterprises)} 家；用时 {result.seconds.get('total', 0):.1f} 秒。"
    )
    if result.nominal_mismatches:
        console.print(f"[red]注意：{result.nominal_mismatches} 家企业的复算名义分类与评价结果不一致[/red]")
    if store and result.run_id:
        console.print(f"已写入 eval_uncertainty（批次 {result.run_id}）")
