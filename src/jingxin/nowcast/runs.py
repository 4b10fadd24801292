"""Nowcast runs (现时预测运行): computed once, stored in the warehouse, read by pages and API.

A run is one target month as known on one date, for a set of regions: per region and model the
month's and the quarter's growth with 90% intervals, and the dynamic factor model's news
against the region's previous run for the same month (or, for a first run, against the data
of 30 days before). The news adds up to the change: the news of each indicator plus revisions
(same parameters, statsmodels' ``news()``) plus re-estimation (the previous run's figure against
the prior under the new parameters).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa

from jingxin.core.warehouse import Warehouse
from jingxin.nowcast.data import Inputs, load_inputs, official_as_of
from jingxin.nowcast.models import (
    MODELS,
    Estimate,
    NowcastError,
    bridge_estimate,
    dfm_estimate,
    dfm_news,
    fit_dfm,
    naive_estimate,
)

FIRST_COMPARISON_DAYS = 30  # a first run's news is against the data of this many days before

SCHEMAS: dict[str, ibis.Schema] = {
    "nowcast_runs": ibis.schema(
        {
            "run_id": "string",
            "target_month": "string",
            "as_of": "date",
            "regions": "int64",
            "failed": "string",
            "created_at": "timestamp",
            "created_by": "string",
            "seconds": "float64",
        }
    ),
    "nowcast_estimates": ibis.schema(
        {
            "run_id": "string",
            "region_code": "string",
            "period_kind": "string",  # month | quarter
            "period": "string",  # 2021-06 | 2021Q2
            "model": "string",
            "point": "float64",
            "lower": "float64",
            "upper": "float64",
            "official": "float64",  # the figure published by as_of, if any
        }
    ),
    "nowcast_news": ibis.schema(
        {
            "run_id": "string",
            "region_code": "string",
            "variable": "string",  # indicator, "revisions" or "reestimation"
            "impact": "float64",
            "observed": "float64",
            "expected": "float64",
            "previous": "float64",  # the nowcast compared against
            "current": "float64",
            "compared_as_of": "date",
        }
    ),
}


def ensure_schema(wh: Warehouse) -> None:
    wh.ensure_schema(SCHEMAS)


@dataclass
class RegionNowcast:
    region: str
    month: list[Estimate] = field(default_factory=list)
    quarter: list[Estimate] = field(default_factory=list)
    official: float | None = None
    news: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def _quarter_months(target: pd.Period) -> list[pd.Period]:
    q = target.asfreq("Q")
    return list(pd.period_range(q.asfreq("M", "start"), q.asfreq("M", "end"), freq="M"))


def _weights(inputs: Inputs, region: str, months: list[pd.Period]) -> dict[pd.Period, float]:
    """Weight of each published month in its quarter: last year's electricity of the region
    (February carries January, as its growth covers Jan–Feb; January weighs nothing). Equal
    weights where there is no electricity."""
    lv = inputs.levels.get("power")
    out = {}
    for m in months:
        if m.month == 1:
            out[m] = 0.0
            continue
        span = [m - 12 - 1, m - 12] if m.month == 2 else [m - 12]
        value = None
        if lv is not None and region in lv.columns:
            vals = [lv[region].get(p) for p in span]
            if all(v is not None and pd.notna(v) for v in vals):
                value = float(sum(vals))
        out[m] = value if value is not None else (2.0 if m.month == 2 else 1.0)
    return out


def _quarter(
    model: str,
    per_month: dict[pd.Period, Estimate],
    published: pd.Series,
    weights: dict[pd.Period, float],
    period: str,
) -> Estimate:
    """Quarter growth as the weighted mean of its months: published figures where out, the
    model's estimates elsewhere; the interval adds the months' half-widths (no credit for
    errors cancelling)."""
    total = point = low = high = 0.0
    for m, w in weights.items():
        if w == 0:
            continue
        if m in published.index and pd.notna(published[m]):
            v = lo = hi = float(published[m])
        else:
            e = per_month[m]
            v, lo, hi = e.point, e.lower, e.upper
        total += w
        point += w * v
        low += w * lo
        high += w * hi
    return Estimate(model, point / total, low / total, high / total)


def nowcast_region(
    inputs: Inputs,
    region: str,
    target: pd.Period,
    as_of: dt.date,
    compare_as_of: dt.date,
    previous_point: float | None = None,
    factors: int = 1,
    maxiter: int = 200,
) -> RegionNowcast:
    """One region's nowcast of `target` as known on `as_of`, its quarter and its news."""
    out = RegionNowcast(region)
    months = _quarter_months(target)
    end = max(months[-1], target)
    panel = inputs.panel(region, as_of, end)
    published = official_as_of(inputs.official, region, as_of)
    out.official = float(published[target]) if target in published.index else None
    try:
        res = fit_dfm(panel, factors=factors, maxiter=maxiter)
    except NowcastError as exc:
        out.error = str(exc)
        return out
    per_model: dict[str, dict[pd.Period, Estimate]] = {}
    for m in months:
        cut = panel.loc[:m]
        per_model.setdefault("dfm", {})[m] = dfm_estimate(res, m)
        per_model.setdefault("bridge", {})[m] = bridge_estimate(cut, m)
        per_model.setdefault("naive", {})[m] = naive_estimate(cut, m)
    out.month = [per_model[name][target] for name in MODELS]
    weights = _weights(inputs, region, months)
    q = str(target.asfreq("Q"))
    out.quarter = [_quarter(name, per_model[name], published, weights, q) for name in MODELS]
    before, after, items = dfm_news(res, inputs.panel(region, compare_as_of, end), target)
    rows: list[dict[str, object]] = [
        {"variable": i.variable, "impact": i.impact, "observed": i.observed, "expected": i.expected}
        for i in items
    ]
    previous = before
    if previous_point is not None:
        rows.append(
            {
                "variable": "reestimation",
                "impact": before - previous_point,
                "observed": None,
                "expected": None,
            }
        )
        previous = previous_point
    for r in rows:
        r.update(previous=previous, current=after, compared_as_of=compare_as_of)
    out.news = rows
    return out


def default_as_of(inputs: Inputs, target: pd.Period, today: dt.date | None = None) -> dt.date:
    """Today, or the day before the province's figure for `target` came out if it is out by
    then (so that asking about a past month shows the nowcast it would have had)."""
    today = today or dt.date.today()
    o = inputs.official
    first = o[(o["region_code"] == "330000") & (o["month"] == target)]["released_on"]
    if not first.empty and first.min().date() <= today:
        return first.min().date() - dt.timedelta(days=1)
    return today


def _previous_runs(wh: Warehouse, target: str, as_of: dt.date) -> dict[str, tuple[dt.date, float]]:
    """Per region, the latest earlier run of the same month: (its date, its DFM figure)."""
    if not wh.has_table("nowcast_runs"):
        return {}
    runs = wh.table("nowcast_runs")
    est = wh.table("nowcast_estimates")
    runs = runs.filter((runs.target_month == target) & (runs.as_of < as_of))
    est = est.filter((est.model == "dfm") & (est.period_kind == "month"))
    j = est.inner_join(runs, "run_id").select("region_code", "as_of", "point", "created_at")
    df = wh.execute(j)
    out: dict[str, tuple[dt.date, float]] = {}
    for r in df.sort_values(["as_of", "created_at"]).itertuples():
        out[r.region_code] = (pd.Timestamp(r.as_of).date(), float(r.point))
    return out


def run_nowcast(
    wh: Warehouse,
    month: str,
    regions: Sequence[str],
    as_of: dt.date | None = None,
    created_by: str = "cli",
    inputs: Inputs | None = None,
    factors: int = 1,
    maxiter: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """Nowcast `month` ("YYYY-MM") for `regions` as known on `as_of` and store the run."""
    started = time.perf_counter()
    try:
        target = pd.Period(month, freq="M")
    except ValueError:
        raise NowcastError(f"月份格式应为 YYYY-MM（如 2021-06），收到 {month!r}") from None
    inputs = inputs or load_inputs(wh)
    as_of = as_of or default_as_of(inputs, target)
    ensure_schema(wh)
    previous = _previous_runs(wh, str(target), as_of)
    run_id = f"{target}-{uuid.uuid4().hex[:10]}"
    estimates, news, failed = [], [], []
    for k, region in enumerate(regions):
        prev = previous.get(region)
        compare = prev[0] if prev else as_of - dt.timedelta(days=FIRST_COMPARISON_DAYS)
        r = nowcast_region(
            inputs, region, target, as_of, compare, prev[1] if prev else None, factors, maxiter
        )
        if r.error:
            failed.append(f"{region}: {r.error}")
        for kind, period, items in (
            ("month", str(target), r.month),
            ("quarter", str(target.asfreq("Q")), r.quarter),
        ):
            for e in items:
                official = r.official if kind == "month" else None
                estimates.append(
                    dict(
                        run_id=run_id,
                        region_code=region,
                        period_kind=kind,
                        period=period,
                        model=e.model,
                        point=e.point,
                        lower=e.lower,
                        upper=e.upper,
                        official=official,
                    )
                )
        news += [dict(run_id=run_id, region_code=region, **row) for row in r.news]
        if progress:
            progress(k + 1, len(regions))
    run = dict(
        run_id=run_id,
        target_month=str(target),
        as_of=as_of,
        regions=len(regions),
        failed="\n".join(failed),
        created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        created_by=created_by,
        seconds=round(time.perf_counter() - started, 3),
    )
    with wh.transaction():
        wh.insert_arrow(
            "nowcast_runs", pa.Table.from_pylist([run], schema=SCHEMAS["nowcast_runs"].to_pyarrow())
        )
        wh.insert_arrow(
            "nowcast_estimates",
            pa.Table.from_pylist(estimates, schema=SCHEMAS["nowcast_estimates"].to_pyarrow()),
        )
        wh.insert_arrow(
            "nowcast_news", pa.Table.from_pylist(news, schema=SCHEMAS["nowcast_news"].to_pyarrow())
        )
    return run_id


def run_failures(wh: Warehouse, run_id: str) -> list[str]:
    """The regions of a run that could not be modelled, each with the reason ("330106: …")."""
    runs = wh.table("nowcast_runs")
    df = wh.execute(runs.filter(runs.run_id == run_id).select("failed"))
    return [line for line in (df["failed"].iloc[0] or "").split("\n") if line] if not df.empty else []
