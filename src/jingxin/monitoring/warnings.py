"""Warnings (运行监测预警): colours of regions and industries, and key enterprises out of range.

Regions and industries (区域、行业四色预警): each rule of `rules.yaml` gives a colour from the
indicator table of :mod:`.indicators` — 当月同比 below a level, a fall of N points against last
month's 当月同比, a run of N monthly falls — and a group takes the worst colour of its rules.

Key enterprises (重点企业异常): this month's log 当月同比 (this month over the same month last
year, January and February combined) is compared with the enterprise's own history of the same
quantity, as a robust z-score (median and 1.4826 × MAD, MAD floored). Comparing with last year
removes the season; the enterprise's own spread says what is normal for it, so a plant whose
power always swings 20% is not warned for 20%, and a steady one is (DOMAIN.md §6: "against its
own normal level"). The drop must also be at least `min_drop_pct`.

Every warning says when the data that raised it were due (`available_on`: the 15th of the next
month for monthly data, exchange/calendar.yaml), which is the earliest day anyone could act.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass

import ibis
import numpy as np
import pandas as pd

from jingxin import reference
from jingxin.core.warehouse import Warehouse
from jingxin.monitoring.indicators import facts_long, first_day, shift
from jingxin.monitoring.measures import LEVELS, label
from jingxin.monitoring.rules import COLOUR_LABELS, RANK, Rules

MONTHLY_DUE_DAY = 15  # monthly data are due on the 15th of the next month (exchange/calendar.yaml)


def available_on(year: int, month: int) -> dt.date:
    y, m = shift(year, month, 1)
    return dt.date(y, m, MONTHLY_DUE_DAY)


@dataclass
class Warning:
    month: dt.date
    kind: str  # region | enterprise
    level: str  # city, county, industry, … or "enterprise"
    code: str  # division code, industry division, or credit code
    name: str
    county_code: str | None
    industry_code: str | None
    measure: str
    colour: str
    rules: str  # ids of the rules that fired
    reason: str  # in Chinese
    value: float | None
    available_on: dt.date

    @property
    def warning_id(self) -> str:
        raw = f"{self.month:%Y-%m}|{self.kind}|{self.level}|{self.code}|{self.measure}"
        return hashlib.sha1(raw.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        out = asdict(self)
        out["warning_id"] = self.warning_id
        out["month"] = f"{self.month:%Y-%m}"
        out["available_on"] = self.available_on.isoformat()
        return out


def group_name(level: str, code: str) -> str:
    try:
        if level in ("province", "city", "county"):
            return reference.division(code).name
        if level == "industry":
            return reference.industry(code).name
        if level == "chain":
            return reference.chain(code).name
        if level == "cluster":
            return reference.cluster(code).name
    except (KeyError, ValueError):
        pass
    return code


def _fmt(x: float) -> str:
    return f"{x:+.1f}"


def region_warnings(table: pd.DataFrame, rules: Rules, year: int, month: int) -> list[Warning]:
    """Colours of the groups for (`year`, `month`) from the indicator table (several months)."""
    cfg = rules.regions
    target = first_day(year, month)
    out: list[Warning] = []
    t = table[table.level.isin(cfg.levels) & table.measure.isin(cfg.measures)]
    for (level, code, measure), g in t.groupby(["level", "code", "measure"], sort=True):
        g = g.sort_values("month")
        now = g[g.month == target]
        if now.empty or (now.enterprises.iloc[0] or 0) < cfg.min_enterprises:
            continue
        colour, fired, reasons = "green", [], []
        for rule in cfg.rules:
            series = g[rule.field].tolist()
            months = g.month.tolist()
            value = series[-1]
            if value is None or pd.isna(value):
                continue
            got = None
            text = ""
            if rule.kind == "below":
                for c in ("red", "orange", "blue"):
                    if c in rule.thresholds and value < rule.thresholds[c]:
                        got, text = c, f"当月同比{_fmt(value)}%，低于{rule.thresholds[c]:g}%"
                        break
            elif rule.kind == "fall":
                prev = _previous(g, rule.field, target)
                if prev is not None:
                    fall = prev - value
                    for c in ("red", "orange", "blue"):
                        if c in rule.thresholds and fall >= rule.thresholds[c]:
                            got, text = (
                                c,
                                f"当月同比由上月{_fmt(prev)}%降至{_fmt(value)}%，回落{fall:.1f}个百分点",
                            )
                            break
            elif rule.kind == "run":
                run = _run_of_declines(months, series, target)
                for c in ("red", "orange", "blue"):
                    if c in rule.thresholds and run >= rule.thresholds[c]:
                        got, text = c, f"当月同比连续{run}个月回落"
                        break
            if got is not None:
                fired.append(rule.id)
                reasons.append(text)
                if RANK[got] > RANK[colour]:
                    colour = got
        if colour == "green":
            continue
        where = group_name(level, code)
        out.append(
            Warning(
                month=target,
                kind="region",
                level=level,
                code=code,
                name=where,
                county_code=code if level in ("city", "county") else None,
                industry_code=code if level == "industry" else None,
                measure=measure,
                colour=colour,
                rules=",".join(fired),
                reason=f"{where}{label(measure)}{COLOUR_LABELS[colour]}色预警：" + "；".join(reasons),
                value=float(now[rules.regions.rules[0].field].iloc[0])
                if not pd.isna(now.yoy_month.iloc[0])
                else None,
                available_on=available_on(year, month),
            )
        )
    return out


def _previous(g: pd.DataFrame, field: str, target: dt.date) -> float | None:
    """Last month's value of `field`; in March, February's (Jan–Feb combined); January has none."""
    y, m = target.year, target.month
    if m == 1:
        return None
    back = shift(y, m, -1)
    row = g[g.month == first_day(*back)]
    if row.empty or pd.isna(row[field].iloc[0]):
        return None
    return float(row[field].iloc[0])


def _run_of_declines(months: list, series: list, target: dt.date) -> int:
    """Months in a row, ending at `target`, in which the value fell (January skipped)."""
    values = {
        m: v for m, v in zip(months, series, strict=True) if v is not None and not pd.isna(v) and m.month != 1
    }
    ordered = sorted(k for k in values if k <= target)
    run = 0
    for a, b in zip(reversed(ordered[:-1]), reversed(ordered[1:]), strict=True):
        if values[b] < values[a]:
            run += 1
        else:
            break
    return run


# ---- enterprises ------------------------------------------------------------------------------


def enterprise_panel(wh: Warehouse, year: int, month: int, rules: Rules) -> pd.DataFrame:
    """(credit_code, measure, month, value) of the key enterprises over the history needed."""
    cfg = rules.enterprises
    back = cfg.history_months + 14  # history of 同比 needs a year more, plus Jan–Feb combination
    start = first_day(*shift(year, month, -back))
    facts = facts_long(wh, start, first_day(year, month), cfg.measures)
    if cfg.who != "all":
        facts = facts.semi_join(key_enterprises(wh, year, cfg.who), "credit_code")
    df = wh.execute(facts)
    df["month"] = pd.to_datetime(df["month"]).dt.to_period("M")
    return df


def key_enterprises(wh: Warehouse, year: int, who: str) -> ibis.Table:
    """Credit codes of the key enterprises (重点企业): the 规上 of the 快报 and, with "key", also
    the key energy users (重点用能单位) of the energy department's file of last year or this."""
    parts = []
    if wh.has_table("monthly"):
        parts.append(wh.current("monthly").select("credit_code").distinct())
    if who == "key" and wh.has_table("energy"):
        e = wh.current("energy")
        parts.append(e.filter(e.year.isin([year - 1, year])).select("credit_code").distinct())
    if not parts:
        raise ValueError("仓库中没有 monthly 或 energy 数据，无法确定重点企业")
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part)
    return out


def _log_yoy(wide: pd.DataFrame) -> pd.DataFrame:
    """log(this month / same month last year) per column month; February = Jan+Feb combined,
    January left out (the festival)."""
    cols = wide.columns
    out = {}
    for p in cols:
        if p.month == 1:
            continue
        window = [p - 1, p] if p.month == 2 else [p]
        last = [q - 12 for q in window]
        if any(q not in cols for q in window + last):
            continue
        cur = wide[window].sum(axis=1, min_count=len(window))
        ly = wide[last].sum(axis=1, min_count=len(last))
        with np.errstate(divide="ignore", invalid="ignore"):
            out[p] = np.where((cur > 0) & (ly > 0), np.log(cur / ly), np.nan)
    return pd.DataFrame(out, index=wide.index)


def enterprise_scores(panel: pd.DataFrame, year: int, month: int, rules: Rules) -> pd.DataFrame:
    """Per (credit_code, measure): this month's 同比, the median and spread of its own history,
    the robust z-score. Enterprises with too short a history get no score."""
    cfg = rules.enterprises
    target = pd.Period(f"{year}-{month:02d}", "M")
    frames = []
    for measure, g in panel.groupby("measure"):
        wide = g.pivot_table(index="credit_code", columns="month", values="value", aggfunc="sum")
        r = _log_yoy(wide)
        if target not in r.columns:
            continue
        hist_cols = [c for c in r.columns if c < target][-cfg.history_months :]
        hist = r[hist_cols].to_numpy()
        now = r[target].to_numpy()
        n = np.sum(~np.isnan(hist), axis=1)
        with np.errstate(all="ignore"):
            import warnings as _w

            with _w.catch_warnings():
                _w.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(hist, axis=1)
                mad = np.nanmedian(np.abs(hist - med[:, None]), axis=1)
        spread = np.maximum(1.4826 * mad, cfg.mad_floor)
        z = (now - med) / spread
        frames.append(
            pd.DataFrame(
                {
                    "credit_code": r.index,
                    "measure": measure,
                    "log_yoy": now,
                    "median": med,
                    "spread": spread,
                    "z": z,
                    "history": n,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["credit_code", "measure", "log_yoy", "median", "spread", "z", "history"])
    out = pd.concat(frames, ignore_index=True)
    return out[(out.history >= cfg.min_history) & out.log_yoy.notna()]


def enterprise_warnings(wh: Warehouse, year: int, month: int, rules: Rules) -> list[Warning]:
    if month == 1:
        return []  # January is compared together with February (1—2月)
    cfg = rules.enterprises
    scores = enterprise_scores(enterprise_panel(wh, year, month, rules), year, month, rules)
    drop = np.log(1 - cfg.min_drop_pct / 100)
    hits = scores[(scores.log_yoy <= drop) & (scores.z <= cfg.thresholds.get("orange", -3))]
    if hits.empty:
        return []
    reg = wh.current("registry")
    codes = hits.credit_code.unique().tolist()
    names = (
        wh.execute(
            reg.filter(reg.credit_code.isin(codes)).select(
                "credit_code", "name", "county_code", "industry_code"
            )
        )
        .drop_duplicates("credit_code")
        .set_index("credit_code")
    )
    out = []
    target = first_day(year, month)
    period = "1—2月" if month == 2 else f"{month}月"
    for row in hits.itertuples(index=False):
        colour = "red" if row.z <= cfg.thresholds.get("red", -np.inf) else "orange"
        info = names.loc[row.credit_code] if row.credit_code in names.index else None
        yoy = (np.exp(row.log_yoy) - 1) * 100
        normal = (np.exp(row.median) - 1) * 100
        low = (np.exp(row.median - 2 * row.spread) - 1) * 100
        name = str(info["name"]) if info is not None else row.credit_code
        reason = (
            f"{name}{period}{label(row.measure)}同比{yoy:+.1f}%，本企业近{int(row.history)}个月同比中位数"
            f"{normal:+.1f}%、正常波动下限约{low:+.1f}%，稳健Z值{row.z:.1f}，明显低于自身正常水平"
        )
        out.append(
            Warning(
                month=target,
                kind="enterprise",
                level="enterprise",
                code=row.credit_code,
                name=name,
                county_code=str(info["county_code"]) if info is not None else None,
                industry_code=str(info["industry_code"]) if info is not None else None,
                measure=row.measure,
                colour=colour,
                rules=f"robust_z:{row.z:.2f}",
                reason=reason,
                value=float(yoy),
                available_on=available_on(year, month),
            )
        )
    return out


def level_label(level: str) -> str:
    return LEVELS.get(level, "企业" if level == "enterprise" else level)
