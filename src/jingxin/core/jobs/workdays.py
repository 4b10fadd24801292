"""Whether a date is a Chinese working day (工作日), for schedules such as "the first working
day of the month".

Schedules use the platform's one working-day calendar (`jingxin.core.calendar`: the
`chinesecalendar` package's holidays and 调休, plus years from `JINGXIN_CALENDAR_FILE`), so a
schedule and a workflow deadline never disagree about a day. A year the calendar does not cover
counts Monday to Friday, and the calendar says so in the log once per year.
"""

from __future__ import annotations

import datetime as dt

from jingxin.core.calendar import default_calendar


def is_working_day(day: dt.date) -> bool:
    return default_calendar().is_working_day(day)


def first_working_day(year: int, month: int) -> dt.date:
    day = dt.date(year, month, 1)
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day
