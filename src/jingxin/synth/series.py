"""Calendar shapes of industrial activity (季节性): monthly weights and daily profiles.

Monitoring (运行监测, DOMAIN.md §6) reads electricity and the monthly 统计快报 against last year's
level, so generated series must show what analysts see every year: the Spring Festival (春节) dip
in January or February, lower weekends in daily electricity, a December push to close the year,
and the recovery after the festival that 复工率/复产率 measure. One daily profile drives both the
daily power file and the monthly weights, so the two stay consistent.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

# Lunar New Year's day (春节, 正月初一) by Gregorian year. The festival moves between 21 January
# and 20 February, which is why January and February are often combined in monthly reports.
SPRING_FESTIVAL: dict[int, dt.date] = {
    2016: dt.date(2016, 2, 8),
    2017: dt.date(2017, 1, 28),
    2018: dt.date(2018, 2, 16),
    2019: dt.date(2019, 2, 5),
    2020: dt.date(2020, 1, 25),
    2021: dt.date(2021, 2, 12),
    2022: dt.date(2022, 2, 1),
    2023: dt.date(2023, 1, 22),
    2024: dt.date(2024, 2, 10),
    2025: dt.date(2025, 1, 29),
    2026: dt.date(2026, 2, 17),
    2027: dt.date(2027, 2, 6),
    2028: dt.date(2028, 1, 26),
    2029: dt.date(2029, 2, 13),
    2030: dt.date(2030, 2, 3),
}

# Days after 春节 that the festival week lasts (除夕 to 初七) and that recovery takes. 2020 is
# longer: the COVID-19 shutdown delayed 复工 well into March.
FESTIVAL_WEEK_END = 6
RECOVERY_DAYS = {2020: 48}
DEFAULT_RECOVERY_DAYS = 21


def spring_festival(year: int) -> dt.date:
    """Date of 春节 in `year`; ValueError outside the table (2016–2030)."""
    try:
        return SPRING_FESTIVAL[year]
    except KeyError:
        raise ValueError(
            f"no Spring Festival date for {year}; known years {min(SPRING_FESTIVAL)}–{max(SPRING_FESTIVAL)}"
        ) from None


def recovery_end(year: int) -> dt.date:
    """Last day of the post-festival recovery (复工复产) of `year`: the daily file ends here."""
    days = RECOVERY_DAYS.get(year, DEFAULT_RECOVERY_DAYS)
    return spring_festival(year) + dt.timedelta(days=FESTIVAL_WEEK_END + days)


def festival_factor(days: np.ndarray) -> np.ndarray:
    """Activity relative to normal for datetime64[D] `days`, from the festival alone.

    Before the festival workers leave early (a ramp down over ten days); the festival week runs
    at base load; then activity climbs back linearly over the recovery period.
    """
    days = np.asarray(days, dtype="datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    factor = np.ones(days.shape, dtype=np.float64)
    for year in np.unique(years):
        sf = np.datetime64(spring_festival(int(year)), "D")
        rec = RECOVERY_DAYS.get(int(year), DEFAULT_RECOVERY_DAYS)
        floor = 0.22 if rec == DEFAULT_RECOVERY_DAYS else 0.15
        mask = years == year
        offset = (days[mask] - sf).astype(np.int64)
        f = np.ones(offset.shape)
        before = (offset >= -10) & (offset < -1)
        f[before] = 1.0 - 0.35 * (offset[before] + 10) / 9.0
        week = (offset >= -1) & (offset <= FESTIVAL_WEEK_END)
        f[week] = floor
        after = (offset > FESTIVAL_WEEK_END) & (offset <= FESTIVAL_WEEK_END + rec)
        f[after] = 0.4 + 0.6 * (offset[after] - FESTIVAL_WEEK_END) / rec
        factor[mask] = f
    return factor


def daily_profile(days: np.ndarray, weekend: tuple[float, float] = (0.86, 0.78)) -> np.ndarray:
    """Relative daily activity: weekdays 1, Saturday and Sunday lower, × festival factor,
    × a year-end push (December +12%) and a summer cooling load (July–August +5%)."""
    days = np.asarray(days, dtype="datetime64[D]")
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    f = np.ones(days.shape)
    f[weekday == 5] = weekend[0]
    f[weekday == 6] = weekend[1]
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    f *= np.where(month == 12, 1.12, 1.0) * np.where((month == 7) | (month == 8), 1.05, 1.0)
    return f * festival_factor(days)


def year_days(year: int) -> np.ndarray:
    """All days of `year` as datetime64[D]."""
    return np.arange(
        np.datetime64(f"{year}-01-01"), np.datetime64(f"{year + 1}-01-01"), dtype="datetime64[D]"
    )


def month_weights(year: int, kind: str = "output") -> np.ndarray:
    """Twelve weights summing to 1: each month's share of the year's activity.

    `kind` "output" (产值, 营业收入) feels weekends little; "power" (用电量) feels them more,
    because base load continues while shifts stop.
    """
    weekend = (0.95, 0.92) if kind == "output" else (0.86, 0.78)
    days = year_days(year)
    profile = daily_profile(days, weekend)
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    sums = np.bincount(month, weights=profile, minlength=12)
    return sums / sums.sum()


def split_by_month(
    annual: np.ndarray, year: int, rng: np.random.Generator, kind: str = "output", noise: float = 0.07
) -> np.ndarray:
    """Split each enterprise's annual value into 12 months (shape n × 12) that sum to it.

    Every enterprise follows the province's seasonal weights with its own noise, then is
    renormalised so that the monthly 快报 adds up to the annual 年报 figure.
    """
    weights = month_weights(year, kind)
    shares = weights[None, :] * rng.lognormal(0.0, noise, size=(annual.shape[0], 12))
    shares /= shares.sum(axis=1, keepdims=True)
    return annual[:, None] * shares
