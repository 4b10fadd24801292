"""Whether a date is a Chinese working day (工作日), for schedules such as "the first working
day of the month".

One function, so that schedules need not know where the calendar comes from: the platform's own
working-day calendar (`jingxin.core.calendar.is_working_day`, with 调休 from a maintained
holiday list) when the package provides it, else the `chinesecalendar` package directly.
A year neither knows (the State Council publishes each year's holidays in the preceding
December) counts Monday to Friday as working days, and says so in the log once per year.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import cache

log = logging.getLogger(__name__)


@cache
def _calendar() -> Callable[[dt.date], bool]:
    try:
        from jingxin.core.calendar import is_working_day  # type: ignore[import-not-found,attr-defined]
    except ImportError:
        import chinese_calendar

        return chinese_calendar.is_workday
    return is_working_day  # type: ignore[no-any-return]


@cache
def _warn_unknown_year(year: int) -> None:
    log.warning("工作日历没有 %s 年的节假日安排，暂按周一至周五为工作日", year)


def is_working_day(day: dt.date) -> bool:
    try:
        return bool(_calendar()(day))
    except NotImplementedError:
        _warn_unknown_year(day.year)
        return day.weekday() < 5


def first_working_day(year: int, month: int) -> dt.date:
    day = dt.date(year, month, 1)
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day
