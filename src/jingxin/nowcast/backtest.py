"""Pseudo-real-time backtest (准实时回测): nowcasts made with only the vintages out on each date.

For every target month from the second year of published figures on, and every horizon of
:data:`jingxin.nowcast.calendar.HORIZONS` (the 20th of the month, the 4th and the 12th of the
next), the panel is cut to what was out on that date (inputs by their release calendar, the
official figures by their release dates, first releases before revisions). The dynamic factor
model is re-estimated on the data of the first horizon of each target month (parameters never
see later data) and applied to the later vintages; the bridge regression and the naive value
are recomputed at each date. Errors are against the latest published figure (revisions in).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jingxin.nowcast.calendar import HORIZONS, horizon_date
from jingxin.nowcast.data import Inputs, official_as_of
from jingxin.nowcast.models import (
    MODELS,
    NowcastError,
    apply_dfm,
    bridge_estimate,
    dfm_estimate,
    fit_dfm,
    naive_estimate,
)


@dataclass
class Backtest:
    region: str
    rows: list[dict] = field(default_factory=list)  # target, horizon, model, estimate, actual, error

    def rmse(self) -> dict[int, dict[str, float]]:
        """RMSE by horizon and model, in percentage points."""
        df = pd.DataFrame(self.rows)
        out: dict[int, dict[str, float]] = {}
        for h in sorted(HORIZONS):
            part = df[df["horizon"] == h]
            out[h] = {m: float(np.sqrt((part[part["model"] == m]["error"] ** 2).mean())) for m in MODELS}
        return out

    def count(self) -> int:
        return len({r["target"] for r in self.rows})


def targets_of(inputs: Inputs, region: str, skip_years: int = 1) -> list[pd.Period]:
    """The months with a published figure, from the second year of figures on (the first
    year trains the models)."""
    final = official_as_of(inputs.official, region, dt.date(2999, 12, 31))
    if final.empty:
        return []
    first_year = final.index.min().year
    return [m for m in final.index if m.year >= first_year + skip_years]


def run_backtest(
    inputs: Inputs,
    region: str,
    factors: int = 1,
    maxiter: int = 100,
    targets: Sequence[pd.Period] | None = None,
) -> Backtest:
    """Backtest `region` over every target month (or those of `targets` that have a published
    figure; see the module docstring)."""
    final = official_as_of(inputs.official, region, dt.date(2999, 12, 31))
    bt = Backtest(region)
    chosen = targets_of(inputs, region)
    if targets is not None:
        wanted = set(targets)
        chosen = [t for t in chosen if t in wanted]
    for target in chosen:
        actual = float(final[target])
        results = None
        for h in sorted(HORIZONS):
            when = horizon_date(target, h)
            panel = inputs.panel(region, when, target)
            try:
                if results is None:
                    results = fit_dfm(panel, factors=factors, maxiter=maxiter)
                    current = results
                else:
                    current = apply_dfm(results, panel)
                estimates = [
                    dfm_estimate(current, target),
                    bridge_estimate(panel, target),
                    naive_estimate(panel, target),
                ]
            except NowcastError:
                break
            for e in estimates:
                bt.rows.append(
                    {
                        "target": str(target),
                        "horizon": h,
                        "date": when.isoformat(),
                        "model": e.model,
                        "estimate": e.point,
                        "lower": e.lower,
                        "upper": e.upper,
                        "actual": actual,
                        "error": e.point - actual,
                    }
                )
    return bt
