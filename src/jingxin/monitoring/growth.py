"""Growth arithmetic of monthly reports (同比): 当月同比 and 累计同比, pure functions.

The statistics bureau does not publish January alone: January and February are released
together as 1—2月, because the Spring Festival falls in either month and a January-only
comparison would read the holiday as a boom or a collapse (DOMAIN.md §6). So here:

- 当月同比 (this month vs the same month last year) of February is the growth of January and
  February combined; January has no 当月同比 of its own (None, shown as “与2月合并”);
- 累计同比 (January-to-date vs the same period last year) is unaffected by the combination
  (for February it equals the combined 当月同比).

Growth is in percent: (this / last − 1) × 100; None when last year's value is missing or not
positive (a growth rate on a zero or negative base means nothing; profit can be negative).
"""

from __future__ import annotations

from collections.abc import Mapping

Month = tuple[int, int]  # (year, month)


def pct(current: float | None, base: float | None) -> float | None:
    """Growth in percent of `current` over `base`; None without a positive base."""
    if current is None or base is None or base <= 0:
        return None
    return (current / base - 1.0) * 100.0


def month_window(year: int, month: int) -> list[Month]:
    """The months that make up 当月 for `month`: Jan+Feb for February, none for January."""
    if month == 1:
        return []
    if month == 2:
        return [(year, 1), (year, 2)]
    return [(year, month)]


def _total(values: Mapping[Month, float], months: list[Month]) -> float | None:
    if not months or any(m not in values for m in months):
        return None
    return float(sum(values[m] for m in months))


def current_month(values: Mapping[Month, float], year: int, month: int) -> tuple[float | None, float | None]:
    """当月 value and last year's (Jan–Feb combined for February; None for January)."""
    window = month_window(year, month)
    return _total(values, window), _total(values, [(y - 1, m) for y, m in window])


def year_to_date(values: Mapping[Month, float], year: int, month: int) -> tuple[float | None, float | None]:
    """累计 value (January to `month`) and the same period last year."""
    months = [(year, m) for m in range(1, month + 1)]
    return _total(values, months), _total(values, [(year - 1, m) for _, m in months])


def growth(values: Mapping[Month, float], year: int, month: int) -> dict[str, float | None]:
    """Level, 当月同比 and 累计同比 of one series for (`year`, `month`)."""
    cur, cur_ly = current_month(values, year, month)
    ytd, ytd_ly = year_to_date(values, year, month)
    return {
        "value": values.get((year, month)),
        "value_month": cur,
        "value_month_ly": cur_ly,
        "yoy_month": pct(cur, cur_ly),
        "value_ytd": ytd,
        "value_ytd_ly": ytd_ly,
        "yoy_ytd": pct(ytd, ytd_ly),
    }
