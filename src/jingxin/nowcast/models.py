"""The three nowcasting models (模型) on one region's monthly panel.

- ``dfm``: statsmodels' dynamic factor model (`DynamicFactorMQ`): one common factor behind the
  growth of electricity, invoices, exports and value added, estimated by EM on whatever is
  published (missing months are fine). The nowcast is the smoothed value added of the target
  month, its interval the model's; its news (`news()`) says what each new datum moved.
- ``bridge``: a bridge regression (桥接方程) of value-added growth on electricity growth by
  least squares: on the monthly billing once it is out, before that on the month-to-date daily
  reads (if any); with neither an AR(1) on value added.
- ``naive``: the last published figure (上月值).

Intervals are 90% (project default: the width analysts read as "likely").
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

ALPHA = 0.10  # 90% intervals
Z = 1.6448536269514722  # two-sided 90% normal quantile
MODELS = ("dfm", "bridge", "naive")
MODEL_LABELS = {"dfm": "动态因子模型", "bridge": "桥接回归（用电量）", "naive": "朴素（上期值）"}
MIN_OFFICIAL = 8  # published months a region needs before it is modelled
REVISED_AS_NEWS = ("power_daily",)  # series whose open month fills in day by day


class NowcastError(ValueError):
    """A region's data do not allow a nowcast (the message says why, in Chinese)."""


@dataclass
class Estimate:
    model: str
    point: float
    lower: float
    upper: float


@dataclass
class NewsItem:
    """How much one indicator's new data (or revisions) moved the nowcast."""

    variable: str  # indicator name, or "revisions"
    impact: float
    observed: float | None = None
    expected: float | None = None


def check_panel(panel: pd.DataFrame) -> None:
    if "va" not in panel or panel["va"].notna().sum() < MIN_OFFICIAL:
        raise NowcastError(f"已发布的规上工业增加值月度数据不足 {MIN_OFFICIAL} 个月，无法建模")
    if panel.drop(columns="va").shape[1] == 0:
        raise NowcastError("没有可用的月度指标（用电量、开票等），无法建模")


def fit_dfm(panel: pd.DataFrame, factors: int = 1, maxiter: int = 200):  # noqa: ANN201 (statsmodels results)
    """Fit the dynamic factor model on `panel` (months × indicators, ``va`` last)."""
    from statsmodels.tsa.statespace.dynamic_factor_mq import DynamicFactorMQ

    check_panel(panel)
    usable = panel.loc[:, panel.notna().sum() >= 6]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = DynamicFactorMQ(
            usable, factors=factors, factor_orders=1, idiosyncratic_ar1=True, standardize=True
        )
        return model.fit(disp=False, maxiter=maxiter)


def _same_columns(results, panel: pd.DataFrame) -> pd.DataFrame:  # noqa: ANN001
    """`panel` with the model's columns in its order; an indicator too short to enter that
    vintage on its own is all missing there (the model treats it as not yet published)."""
    return panel.reindex(columns=list(results.model.endog_names))


def apply_dfm(results, panel: pd.DataFrame):  # noqa: ANN001, ANN201
    """The same fitted parameters on another vintage of the data (for news and backtests)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return results.apply(_same_columns(results, panel))


def dfm_estimate(results, target: pd.Period) -> Estimate:  # noqa: ANN001
    """The smoothed value-added growth of `target` with its 90% interval."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = results.get_prediction(start=target, end=target, information_set="smoothed")
        mean = float(pred.predicted_mean["va"].iloc[0])
        ci = pred.conf_int(alpha=ALPHA)
    return Estimate("dfm", mean, float(ci["lower va"].iloc[0]), float(ci["upper va"].iloc[0]))


def dfm_news(results, previous: pd.DataFrame, target: pd.Period) -> tuple[float, float, list[NewsItem]]:  # noqa: ANN001
    """(nowcast on the previous data, nowcast now, what moved it): the news of each indicator's
    new data plus the effect of revised figures, adding up to the change (same parameters)."""
    prev = _same_columns(results, previous)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        news = results.news(
            prev,
            impact_date=target,
            impacted_variable="va",
            comparison_type="previous",
            revisions_details_start=True,
        )
    before = float(np.asarray(news.prev_impacted_forecasts.loc[target, "va"]).ravel()[0])
    after = float(np.asarray(news.post_impacted_forecasts.loc[target, "va"]).ravel()[0])
    items: dict[str, NewsItem] = {}
    details = news.details_by_impact
    if details is not None and len(details):
        d = details.reset_index()
        for variable, group in d.groupby("updated variable", sort=False):
            last = group.iloc[-1]
            items[str(variable)] = NewsItem(
                variable=str(variable),
                impact=float(group["impact"].sum()),
                observed=float(last["observed"]),
                expected=float(last["forecast (prev)"]),
            )
    revisions = (
        float(np.asarray(news.revision_impacts.loc[target, "va"]).ravel()[0])
        if news.revision_impacts is not None
        else 0.0
    )
    # A month's daily power grows day by day: to the model its month-to-date value is revised,
    # and that revision is the daily series' news, not a data correction.
    rd = news.revision_details_by_impact
    if rd is not None and len(rd):
        r = rd.reset_index()
        for variable, group in r.groupby("revised variable", sort=False):
            if str(variable) not in REVISED_AS_NEWS:
                continue
            impact = float(group["impact"].sum())
            last = group.iloc[-1]
            item = items.get(str(variable))
            if item is None:
                items[str(variable)] = NewsItem(
                    str(variable), impact, float(last["revised"]), float(last["observed (prev)"])
                )
            else:
                item.impact += impact
            revisions -= impact
    out = list(items.values())
    if abs(revisions) > 1e-12:
        out.append(NewsItem(variable="revisions", impact=revisions))
    return before, after, out


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Coefficients and residual s.d. of y on [1, x] by least squares."""
    design = np.column_stack([np.ones(len(y)), x])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ beta
    return beta, float(np.sqrt(resid @ resid / max(len(y) - 2, 1)))


def _ar1(known_va: pd.Series, target: pd.Period) -> Estimate:
    y = known_va.to_numpy()
    beta, sd = _ols(y[:-1], y[1:])
    steps = max(1, int((target - known_va.index[-1]).n))
    point = float(y[-1])
    for _ in range(steps):
        point = float(beta[0] + beta[1] * point)
    half = Z * sd * np.sqrt(steps)
    return Estimate("bridge", point, point - half, point + half)


def bridge_estimate(panel: pd.DataFrame, target: pd.Period) -> Estimate:
    """Value added on electricity by least squares when the month's electricity is out: the
    monthly billing, else the month-to-date daily reads — these only where, over the past
    months, daily power has explained value added better than value added's own AR(1) (the
    interval's width says which); else an AR(1) on the published value added."""
    check_panel(panel)
    va = panel["va"]
    known_va = va[va.index < target].dropna()
    ar = _ar1(known_va, target)
    for power in ("power", "power_daily"):  # the month's billing, else its daily reads so far
        if power not in panel or pd.isna(panel.at[target, power]):
            continue
        both = panel[[power, "va"]].loc[panel.index < target].dropna()
        if len(both) >= MIN_OFFICIAL:
            beta, sd = _ols(both[power].to_numpy(), both["va"].to_numpy())
            if power == "power_daily" and Z * sd >= (ar.upper - ar.lower) / 2:
                continue
            point = float(beta[0] + beta[1] * panel.at[target, power])
            return Estimate("bridge", point, point - Z * sd, point + Z * sd)
    return ar


def naive_estimate(panel: pd.DataFrame, target: pd.Period) -> Estimate:
    """The last published figure; interval from the spread of month-to-month changes."""
    check_panel(panel)
    known = panel["va"][panel.index < target].dropna()
    sd = float(known.diff().dropna().std(ddof=1)) if len(known) > 2 else float("nan")
    point = float(known.iloc[-1])
    return Estimate("naive", point, point - Z * sd, point + Z * sd)
