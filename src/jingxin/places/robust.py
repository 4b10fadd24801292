"""Robustness of an index (稳健性分析, Handbook step 7): Monte Carlo over weights, normalisation
and aggregation; rank intervals; which indicator moves a unit's rank most.

One draw = indicator and node weights each multiplied by an independent uniform factor in
[1 − w, 1 + w] (w = `weight_noise`, 25% by default: the project's assumption, as COINr's
sensitivity vignette perturbs weights by ±25%), one normalisation and one aggregation drawn
uniformly from the listed alternatives, and, with `vary_treatment`, the outlier treatment on or
off with equal chance (COINr's sensitivity analysis toggles its treatment the same way).
Normalised matrices are computed once per alternative; the draws only re-weight and
re-aggregate in numpy, vectorised over draws.

"Which indicator moves the rank most" is one-at-a-time: each indicator is left out in turn
(its weight set to 0, the others of its group renormalised) and the unit's rank change is
recorded; the indicator with the largest absolute change is the one named. This is the
Handbook's "excluding one indicator at a time" check, not a variance decomposition.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np
import pandas as pd

from jingxin.places.engine import Aggregation, IndexSpec, Normalisation, compute, normalise_matrix

__all__ = ["Uncertainty", "RobustResult", "monte_carlo", "leave_one_out"]


@dataclass(frozen=True)
class Uncertainty:
    """The uncertainty assumptions, recorded with the result."""

    draws: int = 1000
    weight_noise: float = 0.25
    normalisations: tuple[Normalisation, ...] = ("minmax", "zscore")
    aggregations: tuple[Aggregation, ...] = ("arithmetic", "geometric")
    seed: int = 1
    interval: tuple[float, float] = (0.05, 0.95)
    vary_treatment: bool = False


@dataclass(frozen=True)
class RobustResult:
    nominal_rank: pd.Series
    median_rank: pd.Series
    rank_low: pd.Series  # best rank of the interval (smaller number)
    rank_high: pd.Series
    ranks: np.ndarray  # draws × units
    assumptions: Uncertainty

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "rank": self.nominal_rank,
                "median_rank": self.median_rank,
                "rank_low": self.rank_low,
                "rank_high": self.rank_high,
            }
        )


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Rank rows of `scores` (draws × units), 1 = highest; ties share the better rank."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(scores.shape[0])[:, None]
    ranks[rows, order] = np.arange(1, scores.shape[1] + 1)[None, :]
    return ranks


def _tree(spec: IndexSpec) -> list[tuple[str, list[str]]]:
    parent = {i.code: i.parent for i in spec.indicators} | {n.code: n.parent for n in spec.nodes}
    return [(n.code, [c for c, p in parent.items() if p == n.code]) for lvl in spec.levels() for n in lvl]


def _scores_for_draws(
    spec: IndexSpec, normalised: np.ndarray, weights: np.ndarray, aggregation: Aggregation
) -> np.ndarray:
    """Root scores (draws × units) of one normalised matrix under `weights` (draws × items)."""
    items = [i.code for i in spec.indicators] + [n.code for n in spec.nodes]
    pos = {c: k for k, c in enumerate(items)}
    values: dict[str, np.ndarray] = {
        i.code: np.broadcast_to(normalised[:, k], (weights.shape[0], normalised.shape[0]))
        for k, i in enumerate(spec.indicators)
    }
    for node, kids in _tree(spec):
        w = weights[:, [pos[k] for k in kids]]  # draws × kids
        mat = np.stack([values[k] for k in kids], axis=2)  # draws × units × kids
        total = w.sum(axis=1)[:, None]
        if aggregation == "arithmetic":
            values[node] = np.einsum("duk,dk->du", mat, w) / total
        else:
            values[node] = np.exp(np.einsum("duk,dk->du", np.log(mat), w) / total)
    return values[spec.root]


def monte_carlo(spec: IndexSpec, data: pd.DataFrame, u: Uncertainty | None = None) -> RobustResult:
    """Rank intervals of every unit of `data` under the uncertainty `u`."""
    u = u or Uncertainty()
    base = compute(spec, data)
    inputs = [base.treated.to_numpy(float)]
    if u.vary_treatment and spec.method.treatment.enabled:
        inputs.append(base.imputed.to_numpy(float))  # the same draw without the treatment
    # Gaps would make draws incomparable; the index's own imputation must fill them.
    inputs = [np.where(np.isnan(x), np.nanmean(x, axis=0), x) for x in inputs]
    dirs = np.array([i.direction for i in spec.indicators])
    targets = np.array([np.nan if i.target is None else i.target for i in spec.indicators])
    rng = np.random.default_rng(u.seed)
    w0 = np.array([i.weight for i in spec.indicators] + [n.weight for n in spec.nodes], dtype=float)
    weights = w0[None, :] * rng.uniform(1 - u.weight_noise, 1 + u.weight_noise, (u.draws, w0.size))
    norm_pick = rng.integers(0, len(u.normalisations), u.draws)
    agg_pick = rng.integers(0, len(u.aggregations), u.draws)
    # Drawn only when there is a choice, so the draws of a run without it stay as they were.
    treat_pick = rng.integers(0, len(inputs), u.draws) if len(inputs) > 1 else np.zeros(u.draws, int)
    scores = np.empty((u.draws, inputs[0].shape[0]))
    choices = product(enumerate(inputs), enumerate(u.aggregations), enumerate(u.normalisations))
    for (t, x), (a, agg), (k, nm) in choices:
        sel = (norm_pick == k) & (agg_pick == a) & (treat_pick == t)
        if not sel.any():
            continue
        # Geometric means need positive values: min–max onto [1, 100], z-scores shifted to
        # mean 50, sd 10 and floored at 1 (stated in docs/places.md).
        if nm == "minmax":
            scale = (1.0, 100.0) if agg == "geometric" else spec.method.scale
        elif nm == "zscore":
            scale = (50.0, 10.0) if agg == "geometric" else (0.0, 1.0)
        else:
            scale = spec.method.scale
        n = normalise_matrix(x, dirs, nm, scale, targets, spec.method.cap_target)
        if agg == "geometric":
            n = np.maximum(n, 1.0)
        scores[sel] = _scores_for_draws(spec, n, weights[sel], agg)
    ranks = _ranks(scores)
    lo, hi = np.quantile(ranks, u.interval, axis=0, method="inverted_cdf")
    idx = data.index
    return RobustResult(
        nominal_rank=base.ranks().astype(int),
        median_rank=pd.Series(np.median(ranks, axis=0), index=idx),
        rank_low=pd.Series(lo.astype(int), index=idx),
        rank_high=pd.Series(hi.astype(int), index=idx),
        ranks=ranks,
        assumptions=u,
    )


def leave_one_out(spec: IndexSpec, data: pd.DataFrame) -> pd.DataFrame:
    """Rank change of every unit when each indicator is left out; columns = indicators.

    Positive = the unit falls (a larger rank number) without that indicator, i.e. the
    indicator holds the unit up; the column with the largest absolute value per row moves
    that unit most.
    """
    base = compute(spec, data).ranks().astype(int)
    out = {}
    for ind in spec.indicators:
        siblings = [i for i in spec.indicators if i.parent == ind.parent and i.code != ind.code]
        if not siblings:
            continue
        variant = spec.with_weights({ind.code: 0.0})
        out[ind.code] = compute(variant, data).ranks().astype(int) - base
    return pd.DataFrame(out, index=data.index)
