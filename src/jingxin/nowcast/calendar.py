"""Release calendar (发布日程) of the nowcast's inputs: when a month's data are out.

Departments send monthly data some days after the month ends. The days below are the project's
assumptions (no published schedule was found), chosen in the order the data really arrive:
daily meter reads the next day, the grid's monthly billing early in the month, invoice totals
a little later (e-invoices are in the tax system when issued), customs statistics in the second
half of the month. The statistics bureau's own figures carry their release date (发布日期) in the data.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

# Day of the next month on which a month's data are available (project assumptions).
RELEASE_DAY = {
    "power_daily": 1,  # the last day's meter read comes the next morning
    "power": 3,  # 电力: monthly billing closes at month end, totals by the 3rd
    "invoices": 8,  # 税务: e-invoices (全电发票) reach the tax system when issued; totals by the 8th
    "exports": 20,  # 海关: provincial customs statistics in the second half of the month
}

# Dates of a pseudo-real-time backtest relative to the target month (horizon: where, day).
HORIZONS: dict[int, tuple[int, int]] = {
    -1: (0, 20),  # the 20th of the target month: only its first 19 days of daily power
    0: (1, 4),  # the 4th of the next month: its electricity is in
    1: (1, 12),  # the 12th of the next month: invoices are in, the official figure not yet
}
HORIZON_LABELS = {
    -1: "当月20日（仅当月日用电）",
    0: "次月4日（用电已出）",
    1: "次月12日（开票已出、统计发布前）",
}


def available_through(name: str, when: dt.date) -> pd.Period:
    """The last month of indicator `name` that is out on `when`."""
    day = RELEASE_DAY.get(name, 1)
    month = pd.Period(when, freq="M")
    return month - 1 if when.day >= day else month - 2


def horizon_date(target: pd.Period, horizon: int) -> dt.date:
    """The date of `horizon` for the target month."""
    ahead, day = HORIZONS[horizon]
    month = target + ahead
    return dt.date(month.year, month.month, day)
