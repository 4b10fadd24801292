"""The scorecard (评分卡): P(已经出险 within the horizon) from the characteristics.

Fitted with optbinning: each characteristic is cut into monotonic bins (the more arrears, the
more risk, never a zig-zag), bins are replaced by their weight of evidence (WoE), a logistic
regression weighs them, and points are scaled with PDO (points to double the odds) so that
`base_points` means odds `base_odds`:1. A grade's reason codes are the characteristics whose
bin costs the most points against that characteristic's best bin, so that

    score = Σ points of the enterprise's bins            (what it has)
    best  = Σ best points of each characteristic          (what a sound enterprise has)
    best − score = Σ points lost, and reason codes are the largest of these losses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from jingxin.risk.config import ScorecardConfig
from jingxin.risk.features import CHARACTERISTICS

if TYPE_CHECKING:
    from optbinning import Scorecard


@dataclass
class FittedScorecard:
    card: Scorecard
    features: list[str]
    tables: dict[str, pd.DataFrame]  # per characteristic: bin index → points
    best: dict[str, float]  # best points of each characteristic
    config: ScorecardConfig
    trained_on: tuple[str, str]  # first and last month of the training rows
    train_rows: int
    train_events: int

    def bin_indices(self, name: str, values: np.ndarray) -> np.ndarray:
        """The bin of each value; a missing value goes to the Missing bin (the table's last),
        as the scorecard scores it (optbinning's own "indices" put it in bin 0)."""
        splits = self.card.binning_process_.get_binned_variable(name).splits
        values = np.asarray(values, dtype=float)
        idx = np.searchsorted(np.asarray(splits, dtype=float), values, side="right")  # bins [a, b)
        return np.where(np.isnan(values), int(self.tables[name].index.max()), idx)

    def bin_points(self, df: pd.DataFrame) -> pd.DataFrame:
        """Points of every characteristic for each row (columns = characteristics)."""
        out = {
            name: self.tables[name].reindex(self.bin_indices(name, df[name])).to_numpy()
            for name in self.features
        }
        return pd.DataFrame(out, index=df.index)

    def score(self, df: pd.DataFrame) -> pd.DataFrame:
        """score, pd, and the points lost per characteristic (`lost_<name>`)."""
        points = self.bin_points(df)
        total = points.sum(axis=1)
        cfg = self.config
        factor = cfg.pdo / np.log(2)
        offset = cfg.base_points - factor * np.log(cfg.base_odds)
        # points = offset + factor·ln(odds good:bad) → P(bad) = 1 / (1 + odds)
        odds = np.exp((total - offset) / factor)
        out = pd.DataFrame({"score": total.round(2), "pd": 1.0 / (1.0 + odds)}, index=df.index)
        for name in self.features:
            out[f"lost_{name}"] = (self.best[name] - points[name]).round(2)
        return out

    def reason_codes(self, scored: pd.DataFrame, n: int | None = None) -> list[list[tuple[str, float]]]:
        """Per row of `score`'s output: the characteristics costing the most points
        (name, points lost), largest first, losses of zero left out."""
        order, top = self.reason_arrays(scored, n)
        return [
            [(self.features[j], float(v)) for j, v in zip(o, t, strict=True) if v > 0.005]
            for o, t in zip(order.tolist(), top.tolist(), strict=True)
        ]

    def reason_arrays(self, scored: pd.DataFrame, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(characteristic indices, points lost) of the `n` costliest characteristics per row."""
        n = n or self.config.reason_codes
        lost = scored[[f"lost_{f}" for f in self.features]].to_numpy()
        order = np.argsort(-lost, axis=1, kind="stable")[:, :n]
        return order, np.take_along_axis(lost, order, axis=1)

    def summary(self) -> list[dict]:
        """Per characteristic: IV and the bins with their points (for docs and the page)."""
        rows = []
        bp = self.card.binning_process_
        for name in self.features:
            optb = bp.get_binned_variable(name)
            table = optb.binning_table.build()
            rows.append(
                {
                    "name": name,
                    "label": CHARACTERISTICS[name],
                    "iv": float(table.loc["Totals", "IV"]),
                    "bins": [str(b) for b in table["Bin"].iloc[:-1]],
                    "points": [round(float(p), 1) for p in self.tables[name].to_numpy()],
                }
            )
        return rows


def fit_scorecard(
    train: pd.DataFrame, cfg: ScorecardConfig, features: list[str] | None = None
) -> FittedScorecard:
    """Fit on rows with a known target (0/1)."""
    # optbinning and scikit-learn take seconds to import: only when a scorecard is fitted,
    # not whenever the web application (which imports this module) starts.
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    features = list(features or CHARACTERISTICS)
    rows = train[train["target"].notna()]
    y = rows["target"].astype(int).to_numpy()
    if y.sum() < 5:
        raise ValueError(f"训练样本中出险事件太少（{int(y.sum())} 个），无法拟合评分卡")
    X = rows[features].astype(float)
    bp = BinningProcess(
        variable_names=features,
        max_n_bins=cfg.max_n_bins,
        min_bin_size=0.005,
        binning_fit_params={
            f: {"monotonic_trend": "auto_asc_desc", "prebinning_method": "cart", "min_prebin_size": 0.002}
            for f in features
        },
    )
    card = Scorecard(
        binning_process=bp,
        estimator=LogisticRegression(max_iter=1000),
        scaling_method="pdo_odds",
        scaling_method_params={"pdo": cfg.pdo, "odds": cfg.base_odds, "scorecard_points": cfg.base_points},
        intercept_based=False,
        rounding=False,
        reverse_scorecard=False,
    )
    card.fit(X, y)
    table = card.table(style="detailed")
    selected = [f for f in features if f in set(table["Variable"])]
    tables = {}
    for f in selected:
        t = table[table["Variable"] == f].reset_index(drop=True)
        tables[f] = pd.Series(t["Points"].to_numpy(dtype=float), index=t["Bin id"].to_numpy(dtype=int))
    best = {f: float(tables[f].max()) for f in selected}
    months = rows["month"]
    return FittedScorecard(
        card=card,
        features=selected,
        tables=tables,
        best=best,
        config=cfg,
        trained_on=(months.min().strftime("%Y-%m"), months.max().strftime("%Y-%m")),
        train_rows=len(rows),
        train_events=int(y.sum()),
    )
