"""Per-unit scores as NumPy arrays, recomputed for many weight draws at once.

Part of `jingxin.evaluation.uncertainty` (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jingxin.evaluation.compute import Params, ScoreArrays
from jingxin.evaluation.config import (
    System,
)


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
