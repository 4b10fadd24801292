"""Daily electricity indices (电力指数, DOMAIN.md §6): 复工率, 复产率 and the index at 100.

Zhejiang built these in February 2020 with the grid company: each enterprise's daily use is
read against its own normal level.

- normal level (正常水平): the enterprise's mean daily use over a reference window — by default
  the 28 days that end 11 days before 春节, before workers start to leave (the generator's and
  the real pre-festival ramp-down begins ten days before), project default;
- 复工率 (share back at work): share of enterprises whose use that day is at least
  `back_at` (default 50%, project default) of their normal level;
- 复产率 (production restored): total use that day ÷ total normal level;
- index (用电指数, 荣枯线 100): the 7-day total ending that day ÷ the 7-day total ending the
  same day last year × 100. "Same day" is aligned on the lunar calendar within the festival
  season (from 30 days before 春节 to 60 days after it: same distance from 春节, dates from
  `lunardate`), so the holiday does not read as a collapse or a boom; elsewhere it is 364 days
  earlier (same weekday).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd
from lunardate import LunarDate

NORMAL_DAYS = 28
NORMAL_END_BEFORE = 11  # the reference window ends this many days before 春节
BACK_AT = 0.5
SEASON_BEFORE, SEASON_AFTER = 30, 60
WINDOW = 7


@lru_cache(maxsize=64)
def spring_festival(year: int) -> dt.date:
    """春节 (正月初一) of `year`, from the lunar calendar."""
    return LunarDate(year, 1, 1).to_solar_date()


def aligned_last_year(day: dt.date) -> dt.date:
    """The day of last year that `day` is compared with (lunar-aligned in the festival season)."""
    for sf_year in (day.year, day.year + 1):
        sf = spring_festival(sf_year)
        offset = (day - sf).days
        if -SEASON_BEFORE <= offset <= SEASON_AFTER:
            return spring_festival(sf_year - 1) + dt.timedelta(days=offset)
    return day - dt.timedelta(days=364)


def normal_window(day: dt.date) -> tuple[dt.date, dt.date]:
    """The reference window of the festival season `day` belongs to (the latest 春节 not after
    `day` + SEASON_BEFORE)."""
    year = day.year if day >= spring_festival(day.year) - dt.timedelta(days=SEASON_BEFORE) else day.year - 1
    end = spring_festival(year) - dt.timedelta(days=NORMAL_END_BEFORE)
    return end - dt.timedelta(days=NORMAL_DAYS - 1), end


def restart_rates(daily: pd.DataFrame, days: list[dt.date], back_at: float = BACK_AT) -> pd.DataFrame:
    """复工率 and 复产率 per day of `days`, from (credit_code, day, kwh) rows. Enterprises without
    a normal level (no use in the reference window) are left out."""
    daily = daily.assign(day=pd.to_datetime(daily["day"]).dt.date)
    rows = []
    by_window: dict[tuple, pd.Series] = {}
    for day in days:
        start, end = normal_window(day)
        if (start, end) not in by_window:
            ref = daily[(daily.day >= start) & (daily.day <= end)]
            by_window[(start, end)] = ref.groupby("credit_code").kwh.sum() / NORMAL_DAYS
        normal = by_window[(start, end)]
        normal = normal[normal > 0]
        today = daily[daily.day == day].set_index("credit_code").kwh.reindex(normal.index).fillna(0.0)
        n = len(normal)
        rows.append(
            {
                "day": day,
                "enterprises": n,
                "back_at_work": int((today >= back_at * normal).sum()) if n else 0,
                "work_rate": float((today >= back_at * normal).mean() * 100) if n else None,
                "production_rate": float(today.sum() / normal.sum() * 100) if n else None,
            }
        )
    return pd.DataFrame(rows)


def power_index(totals: pd.Series, days: list[dt.date]) -> pd.DataFrame:
    """Index at 100 = same period last year (lunar-aligned), from daily totals indexed by date."""
    totals = totals.copy()
    totals.index = pd.to_datetime(totals.index).date
    have = set(totals.index)
    rows = []
    for day in days:
        base = aligned_last_year(day)
        now = [day - dt.timedelta(days=k) for k in range(WINDOW)]
        then = [base - dt.timedelta(days=k) for k in range(WINDOW)]
        if all(d in have for d in now + then):
            a, b = float(sum(totals[d] for d in now)), float(sum(totals[d] for d in then))
            rows.append({"day": day, "aligned_day": base, "index": a / b * 100 if b > 0 else np.nan})
        else:
            rows.append({"day": day, "aligned_day": base, "index": None})
    return pd.DataFrame(rows)


def daily_for(wh, start: dt.date, end: dt.date, prefix: str = "") -> pd.DataFrame:
    """(credit_code, day, kwh) of the daily power file between two dates, in a region (county
    code prefix of the registry), read through Ibis."""
    t = wh.current("power_daily")
    t = t.filter((t.day >= start) & (t.day <= end))
    if prefix:
        reg = wh.current("registry")
        t = t.semi_join(reg.filter(reg.county_code.startswith(prefix)).select("credit_code"), "credit_code")
    return wh.execute(t.select("credit_code", "day", "kwh"))


def daily_totals(wh, start: dt.date, end: dt.date):
    """Ibis: daily power summed by county and day between two dates (the input of the
    county-level 复产率 and index), portable across backends."""
    import ibis  # noqa: F401

    t = wh.current("power_daily")
    t = t.filter((t.day >= start) & (t.day <= end))
    reg = wh.current("registry").select("credit_code", "county_code")
    j = t.join(reg, "credit_code")
    return j.group_by("county_code", "day").agg(kwh=j.kwh.sum(), enterprises=j.credit_code.count())
