"""Working days on the official calendar (调休 included) and deadlines counted in them."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jingxin.core.calendar import (
    CHINA_TZ,
    CalendarError,
    OfficeHours,
    WorkCalendar,
    check_coverage,
    package_years,
)

CAL = WorkCalendar()
HOURS = OfficeHours(calendar=CAL)


def bj(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=CHINA_TZ)


def test_2021_national_day_and_the_weekend_days_worked() -> None:
    """国庆 2021: 1–7 October off; Sunday 26 September and Saturday 9 October worked."""
    assert CAL.is_working_day(date(2021, 9, 26))  # a Sunday, worked (调休)
    for day in range(1, 8):
        assert not CAL.is_working_day(date(2021, 10, day))
    assert CAL.is_working_day(date(2021, 10, 8))
    assert CAL.is_working_day(date(2021, 10, 9))  # a Saturday, worked
    assert not CAL.is_working_day(date(2021, 10, 10))
    assert not CAL.is_working_day(date(2021, 9, 25))  # an ordinary Saturday
    assert CAL.working_days_between(date(2021, 9, 30), date(2021, 10, 10)) == 2
    assert CAL.next_working_day(date(2021, 9, 30)) == date(2021, 10, 8)


def test_2021_spring_festival() -> None:
    """春节 2021: 11–17 February off; Sunday 7 and Saturday 20 February worked."""
    assert CAL.is_working_day(date(2021, 2, 7))
    assert all(not CAL.is_working_day(date(2021, 2, d)) for d in range(11, 18))
    assert CAL.is_working_day(date(2021, 2, 20))
    assert CAL.add_working_days(date(2021, 2, 10), 3) == date(2021, 2, 20)


@pytest.mark.parametrize(
    ("submitted", "days", "due"),
    [
        # before the close: counted from the same day
        (bj(2021, 9, 30, 10), 1, bj(2021, 10, 8, 17, 30)),
        (bj(2021, 9, 30, 10), 2, bj(2021, 10, 9, 17, 30)),  # the Saturday worked
        (bj(2021, 9, 30, 10), 3, bj(2021, 10, 11, 17, 30)),
        (bj(2021, 9, 30, 17, 29, 59), 1, bj(2021, 10, 8, 17, 30)),
        # at or after the close: counted from the next working day
        (bj(2021, 9, 30, 17, 30), 1, bj(2021, 10, 9, 17, 30)),
        (bj(2021, 9, 30, 22, 0), 1, bj(2021, 10, 9, 17, 30)),
        # on a holiday or an ordinary weekend: from the next working day
        (bj(2021, 10, 3, 10), 3, bj(2021, 10, 12, 17, 30)),
        (bj(2021, 9, 25, 10), 1, bj(2021, 9, 27, 17, 30)),  # Sat 25 -> Sun 26 (worked) -> Mon 27
        # on the Sunday worked: that day counts
        (bj(2021, 9, 26, 10), 1, bj(2021, 9, 27, 17, 30)),
        # before opening: still that day
        (bj(2021, 9, 27, 7, 0), 1, bj(2021, 9, 28, 17, 30)),
        # 0 days: the close of the starting day
        (bj(2021, 9, 27, 9, 0), 0, bj(2021, 9, 27, 17, 30)),
        # 春节: from the eve of the holiday
        (bj(2021, 2, 10, 9), 1, bj(2021, 2, 18, 17, 30)),
        (bj(2021, 2, 10, 9), 3, bj(2021, 2, 20, 17, 30)),
        (bj(2021, 2, 10, 18), 1, bj(2021, 2, 19, 17, 30)),
    ],
)
def test_deadline_edges(submitted: datetime, days: int, due: datetime) -> None:
    assert HOURS.deadline(submitted, days) == due
    assert HOURS.deadline(submitted, days).tzinfo is UTC


def test_deadline_takes_utc_moments() -> None:
    # 2021-09-30 01:00 UTC is 09:00 Beijing time
    assert HOURS.deadline(datetime(2021, 9, 30, 1, tzinfo=UTC), 1) == bj(2021, 10, 8, 17, 30)
    with pytest.raises(ValueError):
        HOURS.deadline(datetime(2021, 9, 30, 1), 1)


def test_pause_over_national_day_keeps_the_working_time_left() -> None:
    started = bj(2021, 9, 29, 10)
    due = HOURS.deadline(started, 3)
    assert due == bj(2021, 10, 9, 17, 30)
    paused, resumed = bj(2021, 9, 30, 16, 30), bj(2021, 10, 8, 10, 30)
    left_at_pause = HOURS.working_seconds(paused, due)
    assert left_at_pause == 19 * 3600  # 1 h on the 30th, 9 h on the 8th, 9 h on the 9th
    assert HOURS.working_seconds(paused, resumed) == 3 * 3600  # the holiday itself counts nothing
    new_due = HOURS.deadline_after_pause(due, paused, resumed)
    assert new_due == bj(2021, 10, 11, 11, 30)
    assert HOURS.working_seconds(resumed, new_due) == left_at_pause


def test_pause_over_spring_festival() -> None:
    due = HOURS.deadline(bj(2021, 2, 9, 10), 1)
    assert due == bj(2021, 2, 10, 17, 30)
    # paused half an hour before the close on the eve, resumed when offices open again
    new_due = HOURS.deadline_after_pause(due, bj(2021, 2, 10, 17, 0), bj(2021, 2, 18, 8, 30))
    assert new_due == bj(2021, 2, 18, 9, 0)


def test_a_day_used_up_ends_at_the_close_not_next_morning() -> None:
    assert HOURS.add_working_seconds(bj(2021, 9, 30, 8, 30), 9 * 3600) == bj(2021, 9, 30, 17, 30)
    assert HOURS.add_working_seconds(bj(2021, 9, 30, 8, 30), 9 * 3600 + 1) == bj(2021, 10, 8, 8, 30, 1)
    assert HOURS.add_working_seconds(bj(2021, 10, 2, 12), 0) == bj(2021, 10, 2, 12)
    assert HOURS.day_seconds == 9 * 3600


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2021, 1, 1), max_value=datetime(2022, 12, 1)).map(
        lambda d: d.replace(microsecond=0)  # clocks keep whole seconds
    ),
    span=st.integers(min_value=0, max_value=40 * 24 * 3600),
)
def test_adding_back_the_working_time_between_two_moments(start: datetime, span: int) -> None:
    a = start.replace(tzinfo=CHINA_TZ)
    b = a + timedelta(seconds=span)
    worked = HOURS.working_seconds(a, b)
    reached = HOURS.add_working_seconds(a, worked)
    assert reached <= b
    assert HOURS.working_seconds(a, reached) == worked


def test_warning_hours_before_a_deadline_skip_the_holiday() -> None:
    due = bj(2021, 10, 8, 10, 30)  # two office hours into the first day after 国庆
    assert HOURS.subtract_working_seconds(due, 4 * 3600) == bj(2021, 9, 30, 15, 30)
    assert HOURS.working_seconds(bj(2021, 9, 30, 15, 30), due) == 4 * 3600


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2021, 1, 1), max_value=datetime(2022, 12, 1)),
    days=st.integers(min_value=1, max_value=10),
)
def test_a_deadline_is_a_close_on_a_working_day_with_n_working_days(start: datetime, days: int) -> None:
    submitted = start.replace(tzinfo=CHINA_TZ)
    due = HOURS.deadline(submitted, days).astimezone(CHINA_TZ)
    assert due.time() == HOURS.closes and CAL.is_working_day(due.date())
    assert CAL.working_days_between(HOURS.starting_day(submitted), due.date()) == days


def test_coverage_warns_for_years_the_package_lacks(caplog: pytest.LogCaptureFixture) -> None:
    last = max(package_years())
    with caplog.at_level(logging.WARNING, "jingxin.calendar"):
        assert check_coverage(date(last - 1, 6, 1), CAL) == []
        assert check_coverage(date(last, 11, 30), CAL) == [last + 1]
    assert f"未覆盖 {last + 1} 年" in caplog.text
    assert "请升级 chinesecalendar" in caplog.text


def test_an_uncovered_year_falls_back_to_weekdays_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    year = max(package_years()) + 1
    calendar = WorkCalendar()
    first_monday = next(date(year, 1, d) for d in range(1, 8) if date(year, 1, d).weekday() == 0)
    with caplog.at_level(logging.WARNING, "jingxin.calendar"):
        assert calendar.is_working_day(first_monday)
        assert not calendar.is_working_day(first_monday + timedelta(days=5))
    assert caplog.text.count(f"未覆盖 {year} 年") == 1  # warned once per year


def test_a_calendar_file_supplies_a_missing_year(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    year = max(package_years()) + 1
    jan1 = date(year, 1, 1)
    saturday = next(date(year, 1, d) for d in range(1, 8) if date(year, 1, d).weekday() == 5)
    path = tmp_path / "calendar.yaml"
    path.write_text(
        f"source: 国务院办公厅关于{year}年部分节假日安排的通知\n"
        f"years:\n  {year}:\n    holidays: [{jan1.isoformat()}]\n    workdays: [{saturday.isoformat()}]\n",
        encoding="utf-8",
    )
    calendar = WorkCalendar.from_file(path)
    assert calendar.covers(year)
    assert not calendar.is_working_day(jan1)
    assert calendar.is_working_day(saturday)
    with caplog.at_level(logging.WARNING, "jingxin.calendar"):
        assert check_coverage(date(year, 3, 1), calendar) == [year + 1]
    assert "另有文件补充" in caplog.text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("source: x\nyears:\n  2030:\n    holidays: [2031-01-01]\n", "不属于 2030 年"),
        (
            "source: x\nyears:\n  2030:\n    holidays: [2030-01-05]\n    workdays: [2030-01-05]\n",
            "既是假日又是调休上班日",
        ),
        ("years: {2030: {holidays: [not-a-date]}}\n", "格式有误"),
    ],
)
def test_a_bad_calendar_file_says_what_is_wrong(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarError, match=message):
        WorkCalendar.from_file(path)


def test_office_hours_are_checked() -> None:
    assert OfficeHours.parse("09:00", "18:00").closes.hour == 18
    with pytest.raises(CalendarError, match="须早于"):
        OfficeHours.parse("18:00", "09:00")
    with pytest.raises(CalendarError, match="时:分"):
        OfficeHours.parse("9点", "18:00")
