"""What the pages, API and CLI ask of the nowcast, always through a `Scope` (区划权限).

A user sees the regions inside their scope: a county analyst their county, a city analyst the
city and its counties, the province everything; an enterprise user or service staff none (a
region's aggregate is not theirs). Runs are computed for the regions asked and allowed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse
from jingxin.nowcast.data import LABELS, regions
from jingxin.nowcast.models import MODEL_LABELS, NowcastError
from jingxin.nowcast.runs import SCHEMAS, run_failures, run_nowcast

NEWS_LABELS = {**LABELS, "revisions": "已发布数据修订", "reestimation": "模型重新估计"}


def allowed_regions(scope: Scope, region: str | None = None) -> list[str]:
    """Codes of the regions `scope` may see (one if `region` is given); NowcastError if none."""
    codes = [c for c, _n, _p in regions() if scope.allows_division(c)]
    if region is not None:
        if region not in {c for c, _n, _p in regions()}:
            raise NowcastError(f"未知的区划代码 {region}：应为浙江省、设区市或县（市、区）的6位代码")
        if region not in codes:
            raise PermissionError(f"无权查看区划 {region} 的现时预测")
        return [region]
    if not codes:
        raise PermissionError("当前账号无权查看地区现时预测")
    return codes


def default_region(scope: Scope) -> str:
    """The widest region the scope sees (the province, a city or a county)."""
    return allowed_regions(scope)[0]


def nowcast(
    wh: Warehouse,
    scope: Scope,
    month: str,
    region: str | None = None,
    as_of: dt.date | None = None,
    user: str = "cli",
) -> str:
    """Run and store a nowcast of `month` for `region` (default: every region in scope)."""
    return run_nowcast(wh, month, allowed_regions(scope, region), as_of=as_of, created_by=user)


def _df(wh: Warehouse, expr) -> pd.DataFrame:  # noqa: ANN001
    return wh.execute(expr)


def latest_run(
    wh: Warehouse, scope: Scope, month: str | None = None, region: str | None = None
) -> dict[str, Any] | None:
    """The newest run (of `month` if given) that holds `region` (default: the scope's widest)."""
    if not wh.has_table("nowcast_runs"):
        return None
    code = allowed_regions(scope, region)[0]
    runs, est = wh.table("nowcast_runs"), wh.table("nowcast_estimates")
    held = est.filter(est.region_code == code).select("run_id").distinct()
    runs = runs.semi_join(held, "run_id")
    if month:
        runs = runs.filter(runs.target_month == month)
    df = _df(wh, runs.order_by([runs.as_of.desc(), runs.created_at.desc()]).limit(1))
    if df.empty:
        return None
    return {**df.iloc[0].to_dict(), "region_code": code}


def run_view(wh: Warehouse, scope: Scope, run_id: str, region: str | None = None) -> dict[str, Any]:
    """One run for one region: estimates by model for the month and the quarter, the news,
    and the region's published history (for the chart). KeyError if the run does not exist."""
    code = allowed_regions(scope, region)[0]
    if not wh.has_table("nowcast_runs"):  # no run was ever made
        raise KeyError(run_id)
    runs = wh.table("nowcast_runs")
    run = _df(wh, runs.filter(runs.run_id == run_id))
    if run.empty:
        raise KeyError(run_id)
    run_row = run.iloc[0].to_dict()
    est = wh.table("nowcast_estimates")
    e = _df(wh, est.filter((est.run_id == run_id) & (est.region_code == code)))
    if e.empty:
        raise KeyError(run_id)
    news = wh.table("nowcast_news")
    n = _df(wh, news.filter((news.run_id == run_id) & (news.region_code == code)))
    estimates = [
        {
            "kind": r.period_kind,
            "period": r.period,
            "model": r.model,
            "model_label": MODEL_LABELS[r.model],
            "point": _num(r.point),
            "lower": _num(r.lower),
            "upper": _num(r.upper),
            "official": _num(r.official),
        }
        for r in e.itertuples()
    ]
    order = {m: i for i, m in enumerate(MODEL_LABELS)}
    estimates.sort(key=lambda x: (x["kind"] != "month", order[x["model"]]))
    items = [
        {
            "variable": r.variable,
            "label": NEWS_LABELS.get(r.variable, r.variable),
            "impact": _num(r.impact),
            "observed": _num(r.observed),
            "expected": _num(r.expected),
        }
        for r in n.itertuples()
    ]
    first = n.iloc[0] if not n.empty else None
    return {
        "run_id": run_id,
        "target_month": run_row["target_month"],
        "as_of": pd.Timestamp(run_row["as_of"]).date().isoformat(),
        "region_code": code,
        "region_name": next(name for c, name, _ in regions() if c == code),
        "estimates": estimates,
        "news": items,
        "news_previous": _num(first.previous) if first is not None else None,
        "news_current": _num(first.current) if first is not None else None,
        "news_compared_as_of": pd.Timestamp(first.compared_as_of).date().isoformat()
        if first is not None
        else None,
        "history": history(wh, code, run_row["target_month"], pd.Timestamp(run_row["as_of"]).date()),
    }


def history(wh: Warehouse, region: str, month: str, as_of: dt.date, months: int = 24) -> list[dict[str, Any]]:
    """当月同比 of `region` as published by `as_of`, the last `months` months up to `month`."""
    if not wh.has_table("official_growth"):
        return []
    from jingxin.core.vintage import as_released

    t = as_released(wh, "official_growth", as_of, key=["region_code", "month"])
    t = t.filter(t.region_code == region)
    df = _df(wh, t.select("month", "growth_month").order_by("month"))
    if df.empty:
        return []
    df["month"] = pd.PeriodIndex(pd.to_datetime(df["month"]), freq="M")
    df = df[df["month"] <= pd.Period(month, "M")].tail(months)
    return [{"month": str(r.month), "value": _num(r.growth_month)} for r in df.itertuples()]


def list_runs(wh: Warehouse, scope: Scope, limit: int = 50) -> list[dict[str, Any]]:
    """Recent runs holding a region in scope, newest first."""
    if not wh.has_table("nowcast_runs"):
        return []
    codes = allowed_regions(scope)
    runs, est = wh.table("nowcast_runs"), wh.table("nowcast_estimates")
    held = est.filter(est.region_code.isin(codes)).select("run_id").distinct()
    df = _df(wh, runs.semi_join(held, "run_id").order_by(runs.created_at.desc()).limit(limit))
    return [
        {
            "run_id": r.run_id,
            "target_month": r.target_month,
            "as_of": pd.Timestamp(r.as_of).date().isoformat(),
            "regions": int(r.regions),
            "created_by": r.created_by,
        }
        for r in df.itertuples()
    ]


def _num(v: Any) -> float | None:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return None
    return round(float(v), 3)


__all__ = [
    "SCHEMAS",
    "NowcastError",
    "run_failures",
    "allowed_regions",
    "latest_run",
    "list_runs",
    "nowcast",
    "run_view",
]
