"""Scoring, grading and proposing stars for 小微企业园 (pure, vectorised over parks).

total = base (the engine's 0–100 over the nine dimensions) + Hangzhou-style points (capped);
grade by thresholds; D outright when the recognition conditions fail; a park in its transition
period is not graded below the configured floor; the proposed star from the total (none for D).
The star a park finally carries is decided by people through the `park_rating` workflow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jingxin.parks.config import ParkConfig
from jingxin.places.engine import compute

__all__ = ["rate_parks", "points"]

GRADE_ORDER = ["A", "B", "C", "D"]


def points(reports: pd.DataFrame, cfg: ParkConfig) -> pd.Series:
    """Hangzhou-style points (加分) per park."""
    p = cfg.points
    lead = np.minimum(
        reports["leading_output_share"].astype(float), reports["leading_firm_share"].astype(float)
    )
    steps = np.floor((lead - p.leading_threshold) / p.leading_step)
    total = np.where(lead > p.leading_threshold, np.maximum(steps, 0) * p.leading_points, 0.0)
    for col, each in p.per_item.items():
        total = total + reports[col].fillna(0).astype(float).to_numpy() * each
    if p.cap is not None:
        total = np.minimum(total, p.cap)
    return pd.Series(total, index=reports.index)


def rate_parks(reports: pd.DataFrame, cfg: ParkConfig, year: int) -> pd.DataFrame:
    """One row per park (indexed by park_id) with dimension scores, base, points, total,
    grade, proposed star, transition flag and the reason when it is D outright."""
    if reports.empty:
        return pd.DataFrame()
    result = compute(cfg.spec(), reports)
    out = result.scores.rename(columns={"total": "base"}).copy()
    out["points"] = points(reports, cfg)
    out["total"] = out["base"] + out["points"]
    g = cfg.grades
    grade = np.select(
        [out["total"] >= g["A"], out["total"] >= g["B"], out["total"] >= g["C"]], ["A", "B", "C"], "D"
    )
    in_transition = (year - reports["opened_year"].astype(int)) < cfg.transition_years
    floor = GRADE_ORDER.index(cfg.transition_floor)
    raised = in_transition.to_numpy() & (np.array([GRADE_ORDER.index(x) for x in grade]) > floor)
    grade = np.where(raised, cfg.transition_floor, grade)
    unrecognised = reports["recognised"].astype(str) != "是"
    grade = np.where(unrecognised, "D", grade)
    star = np.zeros(len(out), dtype=int)
    for s in range(1, 6):
        star = np.where(out["total"] >= cfg.stars[s], s, star)
    star = np.where(grade == "D", 0, star)
    out["grade"] = grade
    out["proposed_star"] = star
    out["transition"] = in_transition.to_numpy()
    out["reason"] = np.where(
        unrecognised,
        "不符合认定条件，直接评为D档",
        np.where(raised, f"建成未满{cfg.transition_years}年，过渡期内不低于{cfg.transition_floor}档", ""),
    )
    out["decides"] = [cfg.level_for_star(int(s)) for s in star]
    for col in ("park_name", "division_code", "opened_year", "recognised"):
        out[col] = reports[col]
    return out.sort_values(["total"], ascending=False)
