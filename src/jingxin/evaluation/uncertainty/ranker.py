"""Ranks and classes for many draws, mirroring `classes.rank_and_classify`.

Part of `jingxin.evaluation.uncertainty` (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from jingxin.evaluation.classes import pooled_labels
from jingxin.evaluation.compute import Params, class_key
from jingxin.evaluation.config import (
    ClassRule,
    System,
)
from jingxin.evaluation.uncertainty.scores import _per_unit


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
