"""Rules (规则): 已经出险 and named hidden-danger signals (存在隐患), from the YAML configuration.

A rule fires when all of its conditions hold; a characteristic that is unknown for the month
(no history yet) never makes a condition true. The label the scorecard learns is the first
materialisation within the horizon, as the platform observes it (not the generator's truth).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jingxin.risk.config import RiskConfig, Rule

# An enterprise stays 已经出险 for 12 months after a materialising rule last fired (project
# default: a year of 一企一策 follow-up before the list forgets it unless the case stays open).
DISTRESS_MEMORY_MONTHS = 12

_OPS = {
    ">=": np.greater_equal,
    "<=": np.less_equal,
    ">": np.greater,
    "<": np.less,
    "==": np.equal,
}


def fires(df: pd.DataFrame, rule: Rule) -> np.ndarray:
    out = np.ones(len(df), dtype=bool)
    for c in rule.all:
        values = df[c.feature].to_numpy(dtype=float)
        out &= np.nan_to_num(_OPS[c.op](values, c.value), nan=False).astype(bool) & ~np.isnan(values)
    return out


def apply_rules(df: pd.DataFrame, cfg: RiskConfig) -> pd.DataFrame:
    """Add `materialised` (bool), `materialised_rules` and `signals` (lists of rule ids) and
    `signal_count` to a feature frame (a copy)."""
    out = df.copy()
    mat = np.zeros(len(df), dtype=bool)
    mat_ids: list[list[str]] = [[] for _ in range(len(df))]
    sig_ids: list[list[str]] = [[] for _ in range(len(df))]
    for rule in cfg.materialised:
        hit = fires(df, rule)
        mat |= hit
        for i in np.flatnonzero(hit):
            mat_ids[i].append(rule.id)
    for rule in cfg.hidden:
        for i in np.flatnonzero(fires(df, rule)):
            sig_ids[i].append(rule.id)
    out["materialised"] = mat
    out["materialised_rules"] = mat_ids
    out["signals"] = sig_ids
    out["signal_count"] = np.array([len(s) for s in sig_ids])
    return out


def rule_reasons(cfg: RiskConfig) -> dict[str, tuple[str, str]]:
    """Rule id → (label, reason in Chinese), for display."""
    return {r.id: (r.label, r.reason) for r in [*cfg.materialised, *cfg.hidden]}


def add_labels(df: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Add `in_distress` (materialised within the last 12 months, this one included) and
    `target` (not in distress now, materialised within the next `horizon` months); `target`
    is NaN where the horizon runs past the data (not yet observable)."""
    out = df.sort_values(["credit_code", "month"]).reset_index(drop=True)
    m = out["month"].dt.year * 12 + out["month"].dt.month - 1
    out["_m"] = m
    last = int(m.max())
    mat = out.loc[out["materialised"], ["credit_code", "_m"]]
    first_future = np.full(len(out), np.inf)
    last_past = np.full(len(out), -np.inf)
    events = mat.groupby("credit_code")["_m"].apply(lambda s: np.sort(s.to_numpy()))
    codes = out["credit_code"].to_numpy()
    months = m.to_numpy()
    for code, idx in out.groupby("credit_code").indices.items():
        ev = events.get(code)
        if ev is None:
            continue
        mm = months[idx]
        pos = np.searchsorted(ev, mm, side="right")  # first event strictly after the month
        first_future[idx] = np.where(pos < len(ev), ev[np.minimum(pos, len(ev) - 1)], np.inf)
        prev = np.searchsorted(ev, mm, side="right") - 1  # last event at or before
        last_past[idx] = np.where(prev >= 0, ev[np.maximum(prev, 0)], -np.inf)
    del codes
    out["in_distress"] = (months - last_past) < DISTRESS_MEMORY_MONTHS
    past = np.where(np.isfinite(last_past), last_past, 0).astype(int)
    labels = np.array([f"{v // 12}-{v % 12 + 1:02d}" for v in past], dtype=object)
    out["distress_month"] = labels
    out.loc[~out["in_distress"], "distress_month"] = None
    target = (first_future - months) <= horizon
    out["target"] = np.where(months + horizon > last, np.nan, target.astype(float))
    return out.drop(columns="_m")
