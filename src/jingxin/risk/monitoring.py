"""Monitoring the model (模型监测): monthly PSI of the score and of each characteristic against
the training rows, the realised distress rate by grade, and a warning when the model drifts.

PSI (population stability index) = Σ (a − e) · ln(a / e) over bins, with e and a the shares of
the training and the month's rows in each bin. The score is cut at the training deciles; a
characteristic at its scorecard bins. Levels (configurable, `monitoring`): below 0.1 stable,
0.1–0.25 a warning, above 0.25 an alert (the usual industry reading of PSI).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jingxin.risk.config import GRADES, RiskConfig
from jingxin.risk.scorecard import FittedScorecard

EPS = 1e-4


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI between two vectors of bin counts (or shares)."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e = np.maximum(e / max(e.sum(), 1), EPS)
    a = np.maximum(a / max(a.sum(), 1), EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def _counts(values: np.ndarray, n_bins: int) -> np.ndarray:
    return np.bincount(values, minlength=n_bins)


class Monitor:
    """Reference distributions taken from the training rows of a fitted scorecard."""

    def __init__(self, model: FittedScorecard, train: pd.DataFrame, cfg: RiskConfig) -> None:
        self.model = model
        self.cfg = cfg
        scores = model.score(train)["score"].to_numpy()
        self.edges = np.unique(np.quantile(scores, np.linspace(0, 1, 11)[1:-1]))
        self.ref_score = _counts(np.searchsorted(self.edges, scores, side="right"), len(self.edges) + 1)
        self.ref_chars = {f: self._char_counts(train, f) for f in model.features}

    def _char_counts(self, rows: pd.DataFrame, name: str) -> np.ndarray:
        idx = self.model.bin_indices(name, rows[name].to_numpy(dtype=float))
        return _counts(idx, len(self.model.tables[name]))

    def month(self, rows: pd.DataFrame) -> dict[str, object]:
        """PSI of the score and each characteristic for one month's rows, with the level."""
        scores = self.model.score(rows)["score"].to_numpy()
        psi_score = round(
            psi(
                self.ref_score,
                _counts(np.searchsorted(self.edges, scores, side="right"), len(self.edges) + 1),
            ),
            4,
        )
        chars = {f: round(psi(self.ref_chars[f], self._char_counts(rows, f)), 4) for f in self.model.features}
        worst = max([psi_score, *chars.values()])
        m = self.cfg.monitoring
        return {
            "psi_score": psi_score,
            "psi": chars,
            "level": "alert" if worst >= m.psi_alert else "warning" if worst >= m.psi_warning else "stable",
            "drifting": sorted(
                [f for f, v in chars.items() if v >= m.psi_warning]
                + (["score"] if psi_score >= m.psi_warning else [])
            ),
        }


def realised_by_grade(graded: pd.DataFrame, target: str = "target") -> dict[str, dict[str, float | None]]:
    """Per grade: rows, and the share that became distressed within the horizon (rows with an
    observable outcome only)."""
    out: dict[str, dict[str, float | None]] = {}
    known = graded[graded[target].notna()]
    for g in GRADES:
        part = known[known["grade"] == g]
        out[g] = {
            "rows": int(len(part)),
            "realised_rate": round(float(part[target].mean()), 4) if len(part) else None,
        }
    return out


LEVEL_LABELS = {"stable": "稳定", "warning": "关注：分布有偏移", "alert": "警报：模型漂移，需重新拟合"}
