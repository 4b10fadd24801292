"""Composite-index engine for places (综合指数引擎: counties, cities, parks).

It follows the steps of the OECD/JRC *Handbook on Constructing Composite Indicators* (2008) as
the R package COINr implements them: denominate, impute, treat outliers (`places/treat.py`,
off unless the method enables it), normalise, weight, aggregate level by level. Everything a
result depends on lives in one frozen `IndexSpec`; `compute` is a pure function of the spec
and the data, so any variant (other weights, another normalisation) is ``spec.replace(...)``
and one more call, and two variants can be compared score by score.

The engine works on small dense matrices (a province has 101 divisions, a few thousand parks),
so it is numpy, not Ibis: the warehouse reads happen in the scenario services, once, through
Ibis and the user's `Scope`. `tests/test_places_engine.py` and `tests/test_places_treat.py`
reproduce COINr's published ASEM example (denominated + imputed, treated, normalised and every
aggregate, end to end from the raw data) to 4 decimals.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from jingxin.places.treat import Treatment, treat_frame

__all__ = [
    "Aggregation",
    "Imputation",
    "IndexError_",
    "IndexResult",
    "IndexSpec",
    "Indicator",
    "Method",
    "Node",
    "Normalisation",
    "Treatment",
    "compute",
    "normalise_matrix",
    "aggregate_matrix",
    "rank_desc",
]

Normalisation = Literal["minmax", "zscore", "target", "best"]
Aggregation = Literal["arithmetic", "geometric"]
Imputation = Literal["none", "mean", "median", "group_mean"]


class IndexError_(ValueError):
    """A spec or its data cannot be computed; the message says what, where and how to fix it."""


@dataclass(frozen=True)
class Indicator:
    """One indicator (指标): `direction` +1 when more is better, -1 when less is better
    (e.g. 每百元营收成本); `weight` relative to its siblings under `parent`."""

    code: str
    name: str
    parent: str
    direction: int = 1
    weight: float = 1.0
    denominator: str | None = None
    target: float | None = None  # for distance-to-target normalisation, in the indicator's unit
    unit: str = ""
    treat: bool = True  # False: never treated for outliers (COINr's indiv_specs = "none")
    winmax: int | None = None  # this indicator's winsorisation limit (None: the method's)


@dataclass(frozen=True)
class Node:
    """An aggregate (分组/指数): a group of indicators or of other nodes; the root has no parent."""

    code: str
    name: str
    parent: str | None = None
    weight: float = 1.0


@dataclass(frozen=True)
class Method:
    """Every method choice of the index (Handbook steps 3–6), recorded with its result."""

    imputation: Imputation = "none"
    impute_group: str | None = None  # column of the group for group_mean (e.g. a city)
    treatment: Treatment = field(default_factory=Treatment)  # outliers (off unless enabled)
    normalisation: Normalisation = "minmax"
    scale: tuple[float, float] = (0.0, 100.0)  # min–max bounds, or (mean, sd) for z-scores
    aggregation: Aggregation = "arithmetic"
    cap_target: bool = True  # distance to target: values past the target score the maximum


@dataclass(frozen=True)
class IndexSpec:
    """An index, immutable: indicators, the tree of aggregates and the methods."""

    code: str
    name: str
    indicators: tuple[Indicator, ...]
    nodes: tuple[Node, ...]
    method: Method = field(default_factory=Method)

    def __post_init__(self) -> None:
        codes = [i.code for i in self.indicators] + [n.code for n in self.nodes]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise IndexError_(f"指数 {self.code}：代码重复 {dupes}，每个指标和分组的代码须唯一")
        roots = [n.code for n in self.nodes if n.parent is None]
        if len(roots) != 1:
            raise IndexError_(f"指数 {self.code}：应有且只有一个顶层节点（parent 为空），现有 {roots}")
        node_codes = {n.code for n in self.nodes}
        items: list[Indicator | Node] = [*self.indicators, *self.nodes]
        for item in items:
            if item.parent is not None and item.parent not in node_codes:
                raise IndexError_(
                    f"指数 {self.code}：{item.code} 的上级 {item.parent!r} 不存在；请在 nodes 中声明它"
                )
            if item.weight < 0 or not np.isfinite(item.weight):
                raise IndexError_(f"指数 {self.code}：{item.code} 的权重 {item.weight} 应为非负数")
        for ind in self.indicators:
            if ind.direction not in (1, -1):
                raise IndexError_(f"指数 {self.code}：{ind.code} 的方向应为 1 或 -1，现为 {ind.direction}")

    @property
    def root(self) -> str:
        return next(n.code for n in self.nodes if n.parent is None)

    def replace(self, **changes: object) -> IndexSpec:
        """A variant of this spec; ``method=`` may be a dict of method fields to change."""
        method = changes.pop("method", None)
        if isinstance(method, dict):
            changes["method"] = replace(self.method, **method)
        elif method is not None:
            changes["method"] = method
        return replace(self, **changes)  # type: ignore[arg-type]

    def with_weights(self, weights: dict[str, float]) -> IndexSpec:
        """The same index with some indicator or node weights changed (by code)."""
        unknown = set(weights) - {i.code for i in self.indicators} - {n.code for n in self.nodes}
        if unknown:
            raise IndexError_(f"指数 {self.code}：没有这些指标或分组：{sorted(unknown)}")
        return self.replace(
            indicators=tuple(replace(i, weight=weights.get(i.code, i.weight)) for i in self.indicators),
            nodes=tuple(replace(n, weight=weights.get(n.code, n.weight)) for n in self.nodes),
        )

    def levels(self) -> list[list[Node]]:
        """Nodes by level, the lowest (parents of indicators) first, the root last."""
        depth: dict[str, int] = {}
        parent = {n.code: n.parent for n in self.nodes}
        for n in self.nodes:
            d, p = 0, n.parent
            while p is not None:
                d, p = d + 1, parent[p]
            depth[n.code] = d
        top = max(depth.values())
        return [[n for n in self.nodes if depth[n.code] == d] for d in range(top, -1, -1)]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def fingerprint(self) -> str:
        """SHA-256 of every choice: two results with the same fingerprint used the same method."""
        text = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, default=list)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IndexResult:
    """What `compute` gives: every intermediate data set, as COINr keeps them."""

    spec: IndexSpec
    raw: pd.DataFrame  # units × indicators, after denomination
    imputed: pd.DataFrame
    imputed_mask: pd.DataFrame  # True where a gap was filled
    treated: pd.DataFrame  # after outlier treatment: the input of normalisation
    treated_points: pd.DataFrame  # "" where unchanged, else "winhi" / "winlo" / the transform
    treatment: pd.DataFrame  # per indicator: skew and kurtosis before/after, points, status
    normalised: pd.DataFrame
    scores: pd.DataFrame  # units × nodes (every aggregate, the root included)

    @property
    def index(self) -> pd.Series:
        return self.scores[self.spec.root]

    def ranks(self, node: str | None = None) -> pd.Series:
        return rank_desc(self.scores[node or self.spec.root])


def rank_desc(scores: pd.Series) -> pd.Series:
    """Rank 1 = best; ties share the better rank (as in a published ranking); gaps stay NaN.
    Scores are compared at 9 decimals, so that floating-point noise (weights scaled together,
    sums in another order) never splits a tie."""
    return scores.round(9).rank(ascending=False, method="min").astype("Int64")


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------


def _denominate(spec: IndexSpec, data: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for ind in spec.indicators:
        if ind.code not in data.columns:
            raise IndexError_(f"指数 {spec.code}：数据缺少指标列 {ind.code}（{ind.name}）；请补充该列")
        col = pd.to_numeric(data[ind.code], errors="coerce").astype(float)
        if ind.denominator:
            if ind.denominator not in data.columns:
                raise IndexError_(f"指数 {spec.code}：{ind.code} 的分母列 {ind.denominator} 不在数据中")
            den = pd.to_numeric(data[ind.denominator], errors="coerce").astype(float)
            col = col / den.where(den != 0)
        out[ind.code] = col
    return pd.DataFrame(out, index=data.index)


def _impute(spec: IndexSpec, raw: pd.DataFrame, data: pd.DataFrame) -> pd.DataFrame:
    how = spec.method.imputation
    if how == "none" or not raw.isna().to_numpy().any():
        return raw.copy()
    if how == "mean":
        return raw.fillna(raw.mean())
    if how == "median":
        return raw.fillna(raw.median())
    group = spec.method.impute_group
    if not group or group not in data.columns:
        raise IndexError_(f"指数 {spec.code}：按组均值插补需要分组列 impute_group，数据中没有 {group!r}")
    by_group = raw.groupby(data[group]).transform("mean")
    # A group with no value at all falls back to the overall mean (stated in docs/places.md).
    return raw.fillna(by_group).fillna(raw.mean())


def normalise_matrix(
    x: np.ndarray,
    directions: np.ndarray,
    method: Normalisation,
    scale: tuple[float, float] = (0.0, 100.0),
    targets: np.ndarray | None = None,
    cap_target: bool = True,
) -> np.ndarray:
    """Normalise columns of `x` (units × indicators); NaN stays NaN.

    minmax: ((d·x − min)/(max − min))·(u − l) + l, a constant column gets the midpoint;
    zscore: (d·x − mean)/sd·s + m with the sample sd (as R's sd), scale = (m, s);
    target: share of the way from the worst value to the target, capped at 1, × 100;
    best:   ratio to the best value (x/max, or min/x when less is better), × 100, values > 0.
    """
    d = directions.astype(float)
    if method == "minmax":
        y = x * d
        lo, hi = np.nanmin(y, axis=0), np.nanmax(y, axis=0)
        span = hi - lo
        low, up = scale
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(span > 0, (y - lo) / np.where(span > 0, span, 1.0), 0.5)
        return z * (up - low) + low
    if method == "zscore":
        y = x * d
        mean = np.nanmean(y, axis=0)
        sd = np.nanstd(y, axis=0, ddof=1)
        m, s = scale
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(sd > 0, (y - mean) / np.where(sd > 0, sd, 1.0), 0.0)
        return z * s + m
    if method == "target":
        if targets is None or np.isnan(targets).any():
            raise IndexError_("距目标值标准化需要每个指标的目标值 target；请在指标配置中填写")
        worst = np.where(d > 0, np.nanmin(x, axis=0), np.nanmax(x, axis=0))
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (x - worst) / (targets - worst)
        z = np.where(np.isfinite(z), z, 1.0)
        if cap_target:
            z = np.minimum(z, 1.0)
        return np.where(np.isnan(x), np.nan, z * 100.0)
    if method == "best":
        if np.nanmin(x) <= 0:
            raise IndexError_("距最优值（比值）标准化要求指标值均为正数；请改用 minmax 或 zscore")
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(d > 0, x / np.nanmax(x, axis=0), np.nanmin(x, axis=0) / x)
        return z * 100.0
    raise IndexError_(f"未知的标准化方法 {method!r}：可选 minmax、zscore、target、best")


def aggregate_matrix(values: np.ndarray, weights: np.ndarray, method: Aggregation) -> np.ndarray:
    """Weighted mean of the columns of `values` per row, gaps left out (weights renormalised)."""
    ok = ~np.isnan(values)
    w = np.where(ok, weights[None, :], 0.0)
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "arithmetic":
            out = (np.where(ok, values, 0.0) * w).sum(axis=1) / total
        elif method == "geometric":
            if np.any(values[ok] <= 0):
                raise IndexError_(
                    "几何平均要求标准化后的值均为正数；请把 minmax 的范围设为 (1, 100)（COINr 的做法）"
                )
            out = np.exp((np.log(np.where(ok, values, 1.0)) * w).sum(axis=1) / total)
        else:
            raise IndexError_(f"未知的合成方法 {method!r}：可选 arithmetic、geometric")
    return np.where(total > 0, out, np.nan)


def compute(spec: IndexSpec, data: pd.DataFrame) -> IndexResult:
    """The index of every unit (row of `data`, indexed by the unit's code)."""
    if data.index.has_duplicates:
        dup = data.index[data.index.duplicated()].unique().tolist()
        raise IndexError_(f"指数 {spec.code}：评价对象重复 {dup[:5]}；每个对象只能有一行")
    raw = _denominate(spec, data)
    imputed = _impute(spec, raw, data)
    mask = raw.isna() & imputed.notna()
    m = spec.method
    dirs = np.array([i.direction for i in spec.indicators])
    targets = np.array([np.nan if i.target is None else i.target for i in spec.indicators])
    treated, points, treatment = treat_frame(
        imputed, m.treatment, {i.code: (i.treat, i.winmax) for i in spec.indicators}
    )
    norm = normalise_matrix(treated.to_numpy(float), dirs, m.normalisation, m.scale, targets, m.cap_target)
    normalised = pd.DataFrame(norm, index=data.index, columns=treated.columns)
    values: dict[str, np.ndarray] = {c: normalised[c].to_numpy() for c in normalised.columns}
    weight = {i.code: i.weight for i in spec.indicators} | {n.code: n.weight for n in spec.nodes}
    parent = {i.code: i.parent for i in spec.indicators} | {n.code: n.parent for n in spec.nodes}
    scores: dict[str, np.ndarray] = {}
    for level in spec.levels():
        for node in level:
            kids = [c for c, p in parent.items() if p == node.code]
            if not kids:
                raise IndexError_(f"指数 {spec.code}：分组 {node.code} 下没有指标或分组")
            mat = np.column_stack([values[k] for k in kids])
            w = np.array([weight[k] for k in kids], dtype=float)
            if w.sum() <= 0:
                raise IndexError_(f"指数 {spec.code}：分组 {node.code} 下的权重之和为 0")
            values[node.code] = scores[node.code] = aggregate_matrix(mat, w, m.aggregation)
    return IndexResult(
        spec=spec,
        raw=raw,
        imputed=imputed,
        imputed_mask=mask,
        treated=treated,
        treated_points=points,
        treatment=treatment,
        normalised=normalised,
        scores=pd.DataFrame({n.code: scores[n.code] for n in spec.nodes}, index=data.index),
    )
