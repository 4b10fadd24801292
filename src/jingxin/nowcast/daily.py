"""Daily electricity as the nowcast's early series (日用电量，月初至今).

Daily meter reads (电力 `power-daily`) come the morning after the day, so on the 20th of a month
the first 19 days of it are known, weeks before the month's billing (the 3rd of the next month)
and the statistics bureau's figure (the middle of the next month). The series is the growth of
a region's industrial daily use **from the first of the month to the last day known** against
the same calendar days of last year, measured like the figure it predicts (当月同比 of
规上工业增加值): calendar days, January and February combined (February's value covers January 1
to the cutoff, the bureau's 1—2月, which is how it keeps 春节 from reading as a collapse), no
value of January alone.

- a month with every day known: the whole month against last year's whole month (a leap
  February against a 28-day one, as a monthly figure does);
- the month in progress: days 1 … cutoff against the same dates, once at least
  :data:`MIN_DAYS` days are known (project default: a week, so every weekday is in);
- a value needs every one of its days, and every day of last year's span, in the data.

Why not the lunar-aligned comparison of the monitoring package's index at 100
(:func:`jingxin.monitoring.power.aligned_last_year`): it answers "how is industry doing against
the same point of last year's festival season", which is right for the daily index but not for
a calendar-month target. Measured on a generated province (20,000 enterprises), March 2021
compared lunar-aligned read +51.0% (its base days are February 2020, the shutdown) while the
published value added grew 21.2% and the same days on the calendar 17.8%. In the province's
backtest on the 20th of the month the factor model then missed by 10.5 points (RMSE) against
the naive value's 9.0, and by 3.7 with calendar days, so the series follows the target's
calendar (docs/monitoring.md).

The sums are Ibis (county × day over the industrial enterprises, DuckDB, PostgreSQL, PySpark);
the spans run on those small totals in pandas.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

MIN_DAYS = 7  # days of a month in progress before its month-to-date growth counts (project default)
NAME = "power_daily"


def last_year(day: dt.date) -> dt.date:
    """The same calendar date a year earlier (February 29 → February 28)."""
    return day.replace(year=day.year - 1, day=min(day.day, 28 if day.month == 2 else day.day))


def county_totals(wh, industrial: ibis.Table) -> ibis.Table:  # noqa: ANN001
    """Ibis: daily use summed by county and day over `industrial` (code, county_code)."""
    d = wh.current("power_daily")
    j = d.inner_join(industrial, d.credit_code == industrial.code)
    return j.group_by("county_code", "day").aggregate(kwh=j.kwh.sum())


def span(month: pd.Period, cutoff: dt.date | None = None) -> list[dt.date]:
    """The days a month's value covers: from the 1st (January 1 for February) to the month's
    end or `cutoff`, whichever is earlier."""
    first = (month - 1 if month.month == 2 else month).start_time.date()
    last = month.end_time.date()
    if cutoff is not None:
        last = min(last, cutoff)
    if last < first:
        return []
    return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]


@dataclass
class DailyPower:
    """Daily totals by region (days × region codes, NaN where a region has no data) and the
    set of days the file covers."""

    totals: pd.DataFrame

    def __post_init__(self) -> None:
        self.totals = self.totals.sort_index()
        self._pos = {d: i for i, d in enumerate(self.totals.index)}
        self._values = self.totals.to_numpy(dtype=float)
        self._cache: dict[tuple[pd.Period, dt.date | None], pd.Series] = {}

    @property
    def empty(self) -> bool:
        return self.totals.empty

    def growth(self, month: pd.Period, cutoff: dt.date | None = None) -> pd.Series:
        """Growth in % by region of `month`'s days up to `cutoff` against the same calendar days
        of last year; NaN for January alone, where a day is missing, or where fewer than
        MIN_DAYS of the month are in."""
        key = (month, cutoff)
        if key not in self._cache:
            self._cache[key] = self._growth(month, cutoff)
        return self._cache[key]

    def _growth(self, month: pd.Period, cutoff: dt.date | None) -> pd.Series:
        nan = pd.Series(np.nan, index=self.totals.columns)
        if month.month == 1:  # published with February
            return nan
        days = span(month, cutoff)
        in_month = [d for d in days if d >= month.start_time.date()]
        if len(in_month) < (MIN_DAYS if cutoff is not None and cutoff < month.end_time.date() else 1):
            return nan
        end = month.end_time.date() if len(in_month) == month.days_in_month else days[-1]
        first = days[0].replace(year=days[0].year - 1)
        base_end = (month - 12).end_time.date() if end == month.end_time.date() else last_year(end)
        base = [first + dt.timedelta(days=k) for k in range((base_end - first).days + 1)]
        now = [self._pos.get(d) for d in days]
        then = [self._pos.get(d) for d in base]
        if any(i is None for i in now) or any(i is None for i in then):
            return nan
        a = self._values[now].sum(axis=0)
        b = self._values[then].sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(b > 0, (a / b - 1.0) * 100.0, np.nan)
        return pd.Series(g, index=self.totals.columns)

    def monthly(self) -> pd.DataFrame:
        """Growth of every whole month the data cover: months × regions (%)."""
        if self.empty:
            return pd.DataFrame()
        first, last = self.totals.index.min(), self.totals.index.max()
        months = pd.period_range(pd.Period(first, "M"), pd.Period(last, "M"), freq="M")
        rows = {m: self.growth(m) for m in months}
        out = pd.DataFrame(rows).T
        out.index = pd.PeriodIndex(list(rows), freq="M")
        return out.dropna(how="all")


def region_totals(county: pd.DataFrame, regions: list[tuple[str, str, str]]) -> DailyPower:
    """From (county_code, day, kwh) rows to daily totals of each region (code, name, prefix)."""
    if county.empty:
        return DailyPower(pd.DataFrame())
    wide = county.assign(day=pd.to_datetime(county["day"]).dt.date).pivot_table(
        index="day", columns="county_code", values="kwh", aggfunc="sum"
    )
    cols = {}
    for code, _name, prefix in regions:
        members = [c for c in wide.columns if str(c).startswith(prefix)]
        if members:
            cols[code] = wide[members].sum(axis=1, min_count=1)
    return DailyPower(pd.DataFrame(cols))
