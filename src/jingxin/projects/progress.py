"""Targets against actuals by county (目标完成情况), with a year-end forecast from the pipeline.

For a month M of year Y, per county, cumulative from January:
- 工业投资 (industrial investment): the projects' reported 当月完成投资, against the same months of
  Y−1: growth in %, against the growth target;
- 技改开工 / 技改投产: 技改 projects whose first 开工 (投产) report date falls in the period;
- 招引签约: 招引 projects whose 签约日期 falls in the period.
Each count is compared with its target (`projects.config`); attainment to date is judged against
the share of the year elapsed (M/12): green at or above schedule, orange above `colours.orange`
of it, red below. Counties are ranked by their mean attainment.

Forecast of the year end (全年预计) from the pipeline (project assumption, stated in the docs):
investment = to date + the register's planned investment of the remaining months (spread evenly
from planned 开工 to planned 投产, 95% of the total, as counties plan it) × the county's
realisation so far (actual ÷ planned to date, kept within 0.5–1.5); counts = to date + projects
planned for the remaining months × the county's on-time share so far (技改 started: plus the
projects that last year were signed after the same month and started by its end, the part of
the year's starts not yet in the pipeline). The forecast sees only
what was known at the end of month M: projects signed by then and stages reached by then
(`as_of`), so it can be measured against the year that followed (`projects.truth`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from ibis import _

from jingxin import reference
from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse
from jingxin.projects import facts
from jingxin.projects.config import FULL_SCALE, TargetsConfig, load_targets

COUNT_METRICS = ("tech_projects", "tech_completed", "attracted_projects")
# Progress colours (进度颜色): the key of each, its label, and its fill on pages (CSS classes
# `pace-<key>` in web/static/css/jingxin.css) and in the 月报表 (export.FILLS). Thresholds are
# configuration (targets.yaml `colours`, `delays`).
PACE = {
    "green": "进度正常",
    "orange": "滞后",
    "red": "严重滞后",
    "grey": "无目标",
}
LABELS = {
    "investment_growth": "工业投资增速",
    "tech_projects": "技改项目开工",
    "tech_completed": "技改项目投产",
    "attracted_projects": "招引项目签约",
}


@dataclass
class Progress:
    month: str
    year: int
    scale: float
    rows: list[dict[str, Any]]
    province: dict[str, Any]
    lineage: dict[str, list[int]] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)  # of the colours, as configured

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "year": self.year,
            "scale": self.scale,
            "counties": self.rows,
            "total": self.province,
            "lineage": self.lineage,
            "thresholds": self.thresholds,
        }


def _industrial_counts(wh: Warehouse, year: int) -> pd.Series:
    """规上 industrial enterprises (sections B–D, codes 06–46) per county in `year` (or the
    latest earlier year the statistics hold)."""
    stats = wh.current("statistics")
    years = sorted(int(y) for y in wh.execute(stats.select("year").distinct())["year"])
    usable = [y for y in years if y <= year] or years
    if not usable:
        return pd.Series(dtype=float)
    y = usable[-1]
    reg = wh.current("registry").select("credit_code", "county_code", "industry_code")
    rows = (
        stats.filter((_.year == y) & _.above_scale)
        .select("credit_code")
        .join(reg, "credit_code")
        .filter(_.industry_code.substr(0, 2).cast("int32").between(6, 46))
        .group_by("county_code")
        .aggregate(n=_.count())
    )
    frame = wh.execute(rows)
    return frame.set_index("county_code")["n"].astype(float)


def county_targets(wh: Warehouse, year: int, cfg: TargetsConfig) -> tuple[pd.DataFrame, float]:
    """Targets of every county with 规上 industry: the province's counts × scale split by share,
    a city's own counts split among its counties, a county's own figures kept."""
    counts = _industrial_counts(wh, year - 1)
    total = float(counts.sum())
    scale = total / FULL_SCALE if cfg.scale == "generated" else float(cfg.scale)
    out = pd.DataFrame(index=counts.index)
    share = counts / total if total else counts
    p = cfg.province
    out["investment_growth"] = p.investment_growth
    for m in COUNT_METRICS:
        out[m] = np.round(float(getattr(p, m) or 0) * scale * share)
    cities = out.index.str[:4] + "00"
    for city, figs in cfg.cities.items():
        inside = cities == city
        within = counts[inside] / counts[inside].sum() if counts[inside].sum() else counts[inside]
        for m, v in figs.model_dump(exclude_none=True).items():
            out.loc[inside, m] = v if m == "investment_growth" else np.round(v * within)
    for county, figs in cfg.counties.items():
        for m, v in figs.model_dump(exclude_none=True).items():
            if county in out.index:
                out.loc[county, m] = v
    return out, scale


def _planned_schedule(reg: pd.DataFrame, year: int) -> pd.DataFrame:
    """The register's planned investment by project and month of `year` (万元)."""
    months = pd.period_range(f"{year}-01", f"{year}-12", freq="M")
    values = np.zeros((len(reg), 12))
    start = pd.to_datetime(reg["planned_start_on"]).dt.to_period("M")
    prod = pd.to_datetime(reg["planned_production_on"]).dt.to_period("M")
    total = reg["total_investment"].to_numpy(float)
    for i, (a, b) in enumerate(zip(start, prod, strict=True)):
        if pd.isna(a) or pd.isna(b):
            continue
        span = max((b - a).n, 1)
        for k, m in enumerate(months):
            if a <= m < a + span:
                values[i, k] = total[i] * 0.95 / span
    return pd.DataFrame(values, index=reg["project_id"], columns=[str(m) for m in months])


def _colour(ratio: float, elapsed: float, cfg: TargetsConfig) -> str:
    if not np.isfinite(ratio):
        return "grey"
    return pace_colour(ratio / elapsed if elapsed else ratio, cfg)


def pace_colour(pace: float | None, cfg: TargetsConfig) -> str:
    """A county's colour from its attainment against the schedule (1 = exactly on time)."""
    if pace is None or not np.isfinite(pace):
        return "grey"
    if pace >= cfg.colours.green:
        return "green"
    return "orange" if pace >= cfg.colours.orange else "red"


def worst(colours: Iterable[str]) -> str:
    """A county's overall 进度: the worst of its coloured indicators (grey when none has a target)."""
    order = ("red", "orange", "green")
    seen = set(colours)
    return next((c for c in order if c in seen), "grey")


def delay_colour(working_days_late: int, cfg: TargetsConfig) -> str:
    """A project's colour from its working days late against its planned milestones."""
    if working_days_late <= 0:
        return "green"
    return "red" if working_days_late >= cfg.delays.serious_working_days else "orange"


def _count(dates: pd.Series, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.Series:
    return (dates >= lo) & (dates <= hi)


def county_progress(
    wh: Warehouse, month: str, scope: Scope | None = None, cfg: TargetsConfig | None = None
) -> Progress:
    """Targets against actuals of every county in `scope` for `month` (YYYY-MM)."""
    cfg = cfg or load_targets()
    available = facts.months(wh)
    if month not in available:
        raise facts.ProjectsError(
            f"没有 {month} 的项目进展数据（已有 {available[0] if available else '—'} 至 "
            f"{available[-1] if available else '—'}）"
        )
    year, m = int(month[:4]), int(month[5:])
    lo, hi = pd.Timestamp(f"{year}-01-01"), pd.Timestamp(month) + pd.offsets.MonthEnd(0)
    reg = as_of(facts.register(wh), hi)
    rows = facts.progress(wh, year=year)
    targets, scale = county_targets(wh, year, cfg)
    prev_ytd = rows[(rows["month"] >= f"{year - 1}-01") & (rows["month"] <= f"{year - 1}-{m:02d}")]
    prev_full = rows[rows["month"].str.startswith(str(year - 1))]
    ytd = rows[(rows["month"] >= f"{year}-01") & (rows["month"] <= month)]
    schedule = _planned_schedule(reg, year)
    remaining = [c for c in schedule.columns if c > month]
    tech = reg["category"] == "技改项目"
    attracted = reg["category"] == "招引项目"
    elapsed = m / 12
    # 技改 not in the pipeline yet: how many projects signed after this point of last year
    # started before last year's end, per county. (The same term for investment was measured
    # and left out: it made the county errors larger; docs/projects.md.)
    prev_hi, prev_end = hi - pd.DateOffset(years=1), pd.Timestamp(f"{year - 1}-12-31")
    late_signed = set(reg.loc[(reg["signed_on"] > prev_hi) & (reg["signed_on"] <= prev_end), "project_id"])
    new_started = (
        reg[tech & reg["project_id"].isin(late_signed) & (reg["started_on"] <= prev_end)]
        .groupby("county_code")
        .size()
    )
    counties = sorted(set(targets.index) | set(reg["county_code"]) | set(rows["county_code"]))
    out: list[dict[str, Any]] = []
    for code in counties:
        if scope is not None and not scope.allows_division(code):
            continue
        here = reg["county_code"] == code
        invest = float(ytd.loc[ytd["county_code"] == code, "actual_investment"].sum())
        planned = float(ytd.loc[ytd["county_code"] == code, "planned_investment"].sum())
        before = float(prev_ytd.loc[prev_ytd["county_code"] == code, "actual_investment"].sum())
        full_before = float(prev_full.loc[prev_full["county_code"] == code, "actual_investment"].sum())
        growth = (invest / before - 1) * 100 if before else float("nan")
        realised = min(max(invest / planned, 0.5), 1.5) if planned else 1.0
        pending = schedule.loc[reg.loc[here & reg["production_on"].isna(), "project_id"], remaining]
        invest_forecast = invest + float(pending.to_numpy().sum()) * realised
        growth_forecast = (invest_forecast / full_before - 1) * 100 if full_before else float("nan")
        started = int((here & tech & _count(reg["started_on"], lo, hi)).sum())
        completed = int((here & tech & _count(reg["production_on"], lo, hi)).sum())
        signed = int((here & attracted & _count(reg["signed_on"], lo, hi)).sum())
        year_end = pd.Timestamp(f"{year}-12-31")
        forecast = {
            "tech_projects": started
            + _expected(reg, here & tech, "planned_start_on", "started_on", lo, hi, year_end)
            + int(new_started.get(code, 0)),
            "tech_completed": completed
            + _expected(reg, here & tech, "planned_production_on", "production_on", lo, hi, year_end),
            "attracted_projects": round(signed * 12 / m),
        }
        t = targets.loc[code] if code in targets.index else None
        row: dict[str, Any] = {
            "county_code": code,
            "county": _name(code),
            "investment": round(invest, 2),
            "investment_last_year": round(before, 2),
            "investment_growth": None if np.isnan(growth) else round(growth, 2),
            "investment_growth_target": None if t is None else float(t["investment_growth"]),
            "investment_forecast": round(invest_forecast, 2),
            "investment_growth_forecast": None if np.isnan(growth_forecast) else round(growth_forecast, 2),
            "tech_projects": started,
            "tech_completed": completed,
            "attracted_projects": signed,
            "problems": int(ytd.loc[(ytd["county_code"] == code), "problem"].notna().sum()),
        }
        ratios = []
        for metric in COUNT_METRICS:
            target = None if t is None else int(t[metric])
            actual = row[metric]
            ratio = actual / target if target else float("nan")
            row[f"{metric}_target"] = target
            row[f"{metric}_ratio"] = None if not np.isfinite(ratio) else round(ratio, 4)
            row[f"{metric}_colour"] = _colour(ratio, elapsed, cfg)
            row[f"{metric}_forecast"] = int(forecast[metric])
            if np.isfinite(ratio):
                ratios.append(ratio / elapsed)
        g_target = row["investment_growth_target"]
        if row["investment_growth"] is not None and g_target is not None:
            ok = row["investment_growth"] >= g_target
            near = row["investment_growth"] >= g_target * cfg.colours.orange
            row["investment_growth_colour"] = "green" if ok else ("orange" if near else "red")
        else:
            row["investment_growth_colour"] = "grey"
        row["score"] = round(float(np.mean(ratios)), 4) if ratios else None
        row["colour"] = worst(row[f"{m}_colour"] for m in ("investment_growth", *COUNT_METRICS))
        row["status"] = PACE[row["colour"]]
        out.append(row)
    ranked = sorted((r for r in out if r["score"] is not None), key=lambda r: -r["score"])
    for k, r in enumerate(ranked, start=1):
        r["rank"] = k
    return Progress(
        month=month,
        year=year,
        scale=round(scale, 6),
        rows=out,
        province=_totals(out),
        lineage={
            "register_batches": sorted(int(b) for b in reg["register_batch"].unique()),
            "progress_batches": sorted(int(b) for b in ytd["batch_id"].unique()),
        },
        thresholds={
            "green": cfg.colours.green,
            "orange": cfg.colours.orange,
            "serious_working_days": cfg.delays.serious_working_days,
        },
    )


def as_of(reg: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """The register as known at the end of `day`: projects signed by then, stages reached by
    then (later dates blanked), so nothing after the reporting month leaks into a forecast."""
    known = reg[reg["signed_on"] <= day].copy()
    for column in ("started_on", "production_on", "capacity_on"):
        known.loc[known[column] > day, column] = pd.NaT
    return known


def _expected(
    reg: pd.DataFrame,
    mask: pd.Series,
    planned: str,
    actual: str,
    lo: pd.Timestamp,
    hi: pd.Timestamp,
    year_end: pd.Timestamp,
) -> int:
    """Projects planned to reach a stage after `hi` this year × the on-time share so far."""
    due = mask & (reg[planned] >= lo) & (reg[planned] <= hi)
    on_time = float((due & reg[actual].notna() & (reg[actual] <= hi)).sum() / due.sum()) if due.sum() else 1.0
    later = mask & reg[actual].isna() & (reg[planned] > hi) & (reg[planned] <= year_end)
    return round(int(later.sum()) * on_time)


def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("investment", "investment_last_year", "investment_forecast", "problems")
    out: dict[str, Any] = {k: round(sum(r[k] for r in rows), 2) for k in keys}
    for m in COUNT_METRICS:
        out[m] = sum(r[m] for r in rows)
        out[f"{m}_target"] = sum(r[f"{m}_target"] or 0 for r in rows)
        out[f"{m}_forecast"] = sum(r[f"{m}_forecast"] for r in rows)
    before = out["investment_last_year"]
    out["investment_growth"] = round((out["investment"] / before - 1) * 100, 2) if before else None
    return out


def _name(code: str) -> str:
    try:
        return reference.division(code).name
    except (KeyError, ValueError):
        return code
