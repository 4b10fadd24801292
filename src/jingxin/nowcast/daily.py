"""Daily electricity as the nowcast's early series (日用电量，月初至今).

Daily meter reads (电力 `power-daily`) come the morning after the day, so on the 20th of a month
the first 19 days of it are known, weeks before the month's billing (the 3rd of the next month)
and the statistics bureau's figure (the middle of the next month). The series is the growth of
a region's industrial daily use **from the first of the month to the last day known** against
the same days of last year, aligned on the lunar calendar around the Spring Festival
(:func:`jingxin.monitoring.power.aligned_last_year`, the monitoring package's index at 100),
so the holiday neither collapses nor inflates it:

- a month with every day known: the whole month (January and February each on its own as
  well; February's value covers January 1 to the cutoff, like the bureau's 1—2月);
- the month in progress: days 1 … cutoff, once at least :data:`MIN_DAYS` days are known
  (project default: a week, so every weekday is in);
- a value needs every one of its days, and every aligned day of last year, in the data.

The sums are Ibis (county × day over the industrial enterprises, DuckDB, PostgreSQL, PySpark);
the alignment runs on those small totals in pandas.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import ibis
import numpy as np
import pandas as pd

from jingxin.monitoring.power import aligned_last_year

MIN_DAYS = 7  # days of a month in progress before its month-to-date growth counts (project default)
NAME = "power_daily"


@lru_cache(maxsize=4096)
def _aligned(day: dt.date) -> dt.date:
    return aligned_last_year(day)


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
        """Growth in % by region of `month`'s days up to `cutoff` against last year's aligned
        days; NaN where a day is missing or fewer than MIN_DAYS of the month are in."""
        key = (month, cutoff)
        if key not in self._cache:
            self._cache[key] = self._growth(month, cutoff)
        return self._cache[key]

    def _growth(self, month: pd.Period, cutoff: dt.date | None) -> pd.Series:
        nan = pd.Series(np.nan, index=self.totals.columns)
        days = span(month, cutoff)
        in_month = [d for d in days if d >= month.start_time.date()]
        if len(in_month) < (MIN_DAYS if cutoff is not None and cutoff < month.end_time.date() else 1):
            return nan
        now = [self._pos.get(d) for d in days]
        then = [self._pos.get(_aligned(d)) for d in days]
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
