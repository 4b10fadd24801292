"""Outlier treatment of indicators (异常值处理, Handbook step 3) as COINr's ``Treat()`` does it.

Why: min–max and z-scores let one extreme place (杭州's 规上工业增加值, a county with many
首台套) squeeze every other place into a corner of the scale, so a few outliers would decide
the index. The Handbook's usual remedy, and COINr's default, per indicator:

1. check skewness and kurtosis: the indicator has outliers when |skew| ≥ 2 **and** kurtosis ≥ 3.5
   (both sample statistics of type 2, as R's ``e1071`` and COINr's ``skew()``/``kurt()``);
2. if so, winsorise: the most extreme value (the highest when skew ≥ 0, else the lowest) is set
   to the next one, and again, until the check passes or ``winmax`` points are winsorised;
3. if it still fails, transform the *original* values instead (``combine``: the winsorised
   ones), by default COINr's ``log_CT``: log(x − min + 0.01·(max − min)).

The treated values feed normalisation only; pages show the reported (imputed) values and say
which indicators were treated and how. Verified against COINr: the ASEM coin's imputed set →
its treated set, and the figures printed in COINr's treatment vignette
(`tests/test_places_treat.py`, data and sources in `tests/data/coinr_asem/README.md`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "Transform",
    "Treatment",
    "TreatOutcome",
    "kurtosis",
    "skewness",
    "treat_column",
    "treat_frame",
    "STATUS_LABELS",
]

Transform = Literal["log_ct", "log_ct_plus", "log_ct_orig", "log", "none"]

STATUS_LABELS = {
    "off": "未启用",
    "excluded": "该指标不做处理（配置）",
    "undetermined": "有效值不足4个，无法判断",
    "passed": "无需处理",
    "winsorised": "缩尾处理",
    "transformed": "对数变换",
    "transform_failed": "对数变换不适用（有非正值），未处理",
    "unresolved": "缩尾已达上限，仍未达标（未设变换）",
}


@dataclass(frozen=True)
class Treatment:
    """The treatment choices (recorded with every result through `Method`).

    `winmax` is the most points winsorised per indicator (None: no limit); `skew` and `kurt`
    the thresholds; `transform` the second step (``none``: winsorise only); `combine` applies
    the transform to the winsorised values instead of the original ones (COINr's
    ``combine_treat``)."""

    enabled: bool = False
    winmax: int | None = 5
    skew: float = 2.0
    kurt: float = 3.5
    transform: Transform = "log_ct"
    combine: bool = False


def _centred(v: np.ndarray) -> np.ndarray | None:
    """Deviations from the mean scaled by the largest one (both statistics are scale-free, and
    tiny spreads would otherwise underflow); None for a constant column."""
    d = v - v.mean()
    top = float(np.max(np.abs(d)))
    return None if top == 0 or not np.isfinite(top) else d / top


def skewness(x: np.ndarray) -> float:
    """Sample skewness of type 2 (e1071, COINr ``skew``, Excel SKEW); NaN below 3 values or
    for a constant column."""
    v = x[~np.isnan(x)]
    n = v.size
    if n < 3:
        return float("nan")
    d = _centred(v)
    if d is None:
        return float("nan")
    m2 = float(np.sum(d**2))
    g1 = np.sqrt(n) * float(np.sum(d**3)) / m2**1.5
    return float(g1 * np.sqrt(n * (n - 1)) / (n - 2))


def kurtosis(x: np.ndarray) -> float:
    """Sample excess kurtosis of type 2 (e1071, COINr ``kurt``, Excel KURT); NaN below 4 values
    or for a constant column."""
    v = x[~np.isnan(x)]
    n = v.size
    if n < 4:
        return float("nan")
    d = _centred(v)
    if d is None:
        return float("nan")
    m2 = float(np.sum(d**2))
    r = n * float(np.sum(d**4)) / m2**2
    return float(((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3)))


def _passes(x: np.ndarray, t: Treatment) -> tuple[bool | None, float, float]:
    """COINr's check_SkewKurt: passes unless |skew| ≥ threshold and kurtosis ≥ threshold."""
    sk, kt = skewness(x), kurtosis(x)
    if np.isnan(sk) or np.isnan(kt):
        return None, sk, kt
    return bool(abs(sk) < t.skew or kt < t.kurt), sk, kt


def _winsorise(x: np.ndarray, t: Treatment, winmax: int | None) -> tuple[np.ndarray, np.ndarray, bool | None]:
    """Winsorise one point (with its ties) at a time from the side the skew points to."""
    x = x.copy()
    flags = np.full(x.size, "", dtype=object)
    passing, _, _ = _passes(x, t)
    limit = np.inf if winmax is None else winmax
    while passing is False and int((flags != "").sum()) < limit:
        ok = ~np.isnan(x)
        if skewness(x) >= 0:
            hit = ok & (x == np.nanmax(x))
            rest = x[ok & ~hit]
            if rest.size == 0:
                break
            x[hit], flags[hit] = rest.max(), "winhi"
        else:
            hit = ok & (x == np.nanmin(x))
            rest = x[ok & ~hit]
            if rest.size == 0:
                break
            x[hit], flags[hit] = rest.min(), "winlo"
        passing, _, _ = _passes(x, t)
    return x, flags, passing


def _transform(x: np.ndarray, how: Transform) -> np.ndarray | None:
    """COINr's log transforms; None when the transform does not apply (log of values ≤ 0)."""
    lo, hi = np.nanmin(x), np.nanmax(x)
    a = 0.01 * (hi - lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        if how == "log_ct":
            return np.log(x - lo + a)
        if how == "log_ct_plus":  # also for negatively skewed indicators (COINr log_CT_plus)
            return np.log(x - lo + a) if skewness(x) > 0 else -np.log(hi + a - x)
        if how == "log_ct_orig":
            return np.log(x - lo + 1.0)
        if how == "log":
            return None if np.nanmin(x) <= 0 else np.log(x)
    raise ValueError(f"未知的变换 {how!r}：可选 log_ct、log_ct_plus、log_ct_orig、log、none")


@dataclass(frozen=True)
class TreatOutcome:
    """One indicator's treatment: the values, which points were changed, and the record."""

    values: np.ndarray
    points: np.ndarray  # "" | "winhi" | "winlo" | the transform's name, per unit
    record: dict[str, object]


def treat_column(
    x: np.ndarray, t: Treatment, winmax: int | None = None, include: bool = True
) -> TreatOutcome:
    """Treat one indicator (NaN left as NaN); `winmax` overrides the treatment's limit."""
    x = np.asarray(x, dtype=float)
    limit = t.winmax if winmax is None else winmax
    rec: dict[str, object] = {
        "skew": skewness(x),
        "kurt": kurtosis(x),
        "winsorised": 0,
        "win_high": 0,
        "win_low": 0,
        "transform": "",
        "skew_after": float("nan"),
        "kurt_after": float("nan"),
    }
    none = np.full(x.size, "", dtype=object)
    if not t.enabled:
        return TreatOutcome(x.copy(), none, {**rec, "status": "off"})
    if not include:
        return TreatOutcome(x.copy(), none, {**rec, "status": "excluded"})
    passing, _, _ = _passes(x, t)
    if passing is None:
        return TreatOutcome(x.copy(), none, {**rec, "status": "undetermined"})
    if passing:
        return TreatOutcome(x.copy(), none, {**rec, "status": "passed"})
    w, flags, passing = _winsorise(x, t, limit)
    if passing is not False or t.transform == "none":
        n_hi, n_lo = int((flags == "winhi").sum()), int((flags == "winlo").sum())
        rec.update(winsorised=n_hi + n_lo, win_high=n_hi, win_low=n_lo)
        rec.update(skew_after=skewness(w), kurt_after=kurtosis(w))
        status = "winsorised" if passing is not False else "unresolved"
        return TreatOutcome(w, flags, {**rec, "status": status})
    base = w if t.combine else x
    y = _transform(base, t.transform)
    if y is None:
        return TreatOutcome(x.copy(), none, {**rec, "status": "transform_failed", "transform": t.transform})
    points = np.where(np.isnan(x), "", t.transform).astype(object)
    if t.combine:
        n_hi, n_lo = int((flags == "winhi").sum()), int((flags == "winlo").sum())
        rec.update(winsorised=n_hi + n_lo, win_high=n_hi, win_low=n_lo)
        points = np.where(flags != "", flags + "+" + t.transform, points).astype(object)
    rec.update(transform=t.transform, skew_after=skewness(y), kurt_after=kurtosis(y))
    return TreatOutcome(y, points, {**rec, "status": "transformed"})


def treat_frame(
    data: pd.DataFrame, t: Treatment, overrides: dict[str, tuple[bool, int | None]] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Treat every column of `data` (units × indicators).

    `overrides` maps an indicator code to (include, winmax) from its own configuration.
    Returns the treated values, the treated points (same shape, "" where unchanged) and one
    record per indicator (skew and kurtosis before and after, points winsorised high and low,
    the transform, the status)."""
    overrides = overrides or {}
    values, points, records = {}, {}, []
    for code in data.columns:
        include, winmax = overrides.get(code, (True, None))
        out = treat_column(data[code].to_numpy(float), t, winmax, include)
        values[code], points[code] = out.values, out.points
        records.append({"code": code, **out.record})
    table = pd.DataFrame(records).set_index("code") if records else pd.DataFrame()
    return (
        pd.DataFrame(values, index=data.index, columns=data.columns),
        pd.DataFrame(points, index=data.index, columns=data.columns),
        table,
    )
