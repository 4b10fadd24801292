"""Chinese working days (工作日) and deadlines counted in them (办理时限).

Which days are worked follows the official calendar of the State Council's General Office
(国务院办公厅关于部分节假日安排的通知): public holidays are off, and the weekend days that become
workdays in exchange (调休) are worked. The days come from the maintained `chinesecalendar`
package; a year it does not cover yet (the notice for the next year appears each November)
can be supplied in a YAML file (`JINGXIN_CALENDAR_FILE`, see `CalendarFile`). A year neither
covers is counted Monday to Friday, with a warning logged once, and `check_coverage` warns at
start-up when this year or the next is not covered.

Deadline semantics (the project's own rule, configurable per workflow through `OfficeHours`):

- An office day runs from `opens` to `closes` Beijing time (defaults 08:30 and 17:30; the lunch
  break is not taken out). China has kept no daylight saving since 1991, so UTC+8 is exact.
- A deadline of N working days from a moment t ends at `closes` of the Nth working day after
  t's *starting day*. The starting day is t's own day when that is a working day and t is before
  `closes`; otherwise (after hours, a weekend, a holiday) it is the next working day, as if the
  submission had arrived that morning. N = 0 means the close of the starting day itself.
- Working time is office time on working days. A clock that pauses keeps the working time it
  had left; `deadline_after_pause` moves the deadline later by the working time spent paused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache, lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import chinese_calendar
import yaml
from chinese_calendar import constants as cc_days
from pydantic import BaseModel, ConfigDict, ValidationError

log = logging.getLogger("jingxin.calendar")

CHINA_TZ = timezone(timedelta(hours=8), name="Asia/Shanghai")

# Guard against a runaway search (a deadline years away means a configuration mistake).
MAX_SEARCH_DAYS = 3 * 366


class CalendarError(ValueError):
    """A calendar file or an office-hours setting that cannot be used (message in Chinese)."""


class YearDays(BaseModel):
    """One year's official arrangement: `holidays` (days off; weekend days inside them may be
    listed or not) and `workdays` (weekend days worked in exchange, 调休上班). The keys are not
    `off`/`on`, which YAML reads as booleans."""

    model_config = ConfigDict(extra="forbid")

    holidays: list[date] = []
    workdays: list[date] = []


class CalendarFile(BaseModel):
    """A YAML file of years the package does not cover yet, e.g.

    ```yaml
    source: 国务院办公厅关于2027年部分节假日安排的通知
    years:
      2027:
        holidays: [2027-01-01, 2027-02-06, ...]
        workdays: [2027-02-14, ...]
    ```
    """

    model_config = ConfigDict(extra="forbid")

    source: str
    years: dict[int, YearDays]


def package_version() -> str:
    try:
        return version("chinesecalendar")
    except PackageNotFoundError:  # pragma: no cover - installed as a dependency
        return "?"


@cache
def package_years() -> frozenset[int]:
    """The years the installed `chinesecalendar` covers (each has a holiday table)."""
    return frozenset(d.year for d in cc_days.holidays)


@dataclass(frozen=True)
class WorkCalendar:
    """Working days: the package's years, plus years (or corrections) from a calendar file."""

    extra_off: frozenset[date] = frozenset()
    extra_on: frozenset[date] = frozenset()
    extra_years: frozenset[int] = frozenset()
    source: str = ""
    _warned: set[int] = field(default_factory=set, compare=False, hash=False, repr=False)

    @classmethod
    def from_file(cls, path: Path | str) -> WorkCalendar:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            parsed = CalendarFile.model_validate(raw)
        except OSError as exc:
            raise CalendarError(f"无法读取节假日文件 {path}：{exc}") from exc
        except (yaml.YAMLError, ValidationError) as exc:
            raise CalendarError(f"节假日文件 {path} 格式有误：{exc}") from exc
        off: set[date] = set()
        on: set[date] = set()
        for year, days in parsed.years.items():
            for day in [*days.holidays, *days.workdays]:
                if day.year != year:
                    raise CalendarError(f"节假日文件 {path}：{day} 不属于 {year} 年，请放到对应年份下")
            off.update(days.holidays)
            on.update(days.workdays)
        both = off & on
        if both:
            raise CalendarError(f"节假日文件 {path}：{sorted(both)[0]} 既是假日又是调休上班日")
        return cls(frozenset(off), frozenset(on), frozenset(parsed.years), parsed.source)

    @property
    def years(self) -> frozenset[int]:
        return package_years() | self.extra_years

    def covers(self, year: int) -> bool:
        return year in self.years

    def is_working_day(self, day: date) -> bool:
        """Whether `day` is worked: not a public holiday, and either a weekday or a 调休 day."""
        if day in self.extra_on:
            return True
        if day in self.extra_off:
            return False
        if day.year in package_years():
            return bool(chinese_calendar.is_workday(day))
        if day.year not in self._warned:
            self._warned.add(day.year)
            log.warning(
                "节假日日历未覆盖 %s 年（chinesecalendar %s 覆盖 %s），该年暂按周一至周五计算工作日，"
                "法定节假日和调休均未计入：请升级 chinesecalendar，或在 JINGXIN_CALENDAR_FILE 中补充该年安排",
                day.year,
                package_version(),
                year_span(package_years()),
            )
        return day.weekday() < 5

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        for _ in range(MAX_SEARCH_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise CalendarError(f"{day} 之后 {MAX_SEARCH_DAYS} 天内没有工作日，请检查节假日配置")

    def add_working_days(self, day: date, n: int) -> date:
        """The Nth working day after `day` (`day` itself for n = 0)."""
        if n < 0:
            raise ValueError("n must not be negative")
        for _ in range(n):
            day = self.next_working_day(day)
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days d with start < d <= end (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count


def year_span(years: Iterable[int]) -> str:
    ordered = sorted(years)
    return f"{ordered[0]}–{ordered[-1]} 年" if ordered else "无"


@lru_cache(maxsize=8)
def load_calendar(path: str | None = None) -> WorkCalendar:
    """The working-day calendar: the package's years, plus the file at `path` if given."""
    return WorkCalendar.from_file(path) if path else WorkCalendar()


def default_calendar() -> WorkCalendar:
    """The calendar the platform runs on (`JINGXIN_CALENDAR_FILE` adds years to the package's)."""
    from jingxin.core.settings import get_settings

    path = get_settings().calendar_file
    return load_calendar(str(path) if path else None)


def check_coverage(today: date | None = None, calendar: WorkCalendar | None = None) -> list[int]:
    """Warn (log) and return the years among this year and the next that the calendar does
    not cover. Called when the server starts and before each overdue sweep."""
    calendar = calendar or default_calendar()
    today = today or datetime.now(CHINA_TZ).date()
    missing = [y for y in (today.year, today.year + 1) if not calendar.covers(y)]
    for year in missing:
        log.warning(
            "节假日日历未覆盖 %s 年（chinesecalendar %s 覆盖 %s%s）：该年的办理时限将按周一至周五计算，"
            "请升级 chinesecalendar 或在 JINGXIN_CALENDAR_FILE 中补充国务院公布的该年节假日安排",
            year,
            package_version(),
            year_span(package_years()),
            f"，另有文件补充 {year_span(calendar.extra_years)}" if calendar.extra_years else "",
        )
    return missing


def _parse_clock(value: str | time, what: str) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise CalendarError(f"{what}应为“时:分”格式，例如 17:30，而不是 {value!r}") from None


@dataclass(frozen=True)
class OfficeHours:
    """When offices work (办公时间), Beijing time, and the calendar of working days."""

    opens: time = time(8, 30)
    closes: time = time(17, 30)
    calendar: WorkCalendar | None = None

    @classmethod
    def parse(cls, opens: str | time = "08:30", closes: str | time = "17:30") -> OfficeHours:
        o, c = _parse_clock(opens, "上班时间"), _parse_clock(closes, "下班时间")
        if o >= c:
            raise CalendarError(f"上班时间 {o:%H:%M} 须早于下班时间 {c:%H:%M}")
        return cls(o, c)

    @property
    def cal(self) -> WorkCalendar:
        return self.calendar or default_calendar()

    def _open(self, day: date) -> datetime:
        return datetime.combine(day, self.opens, CHINA_TZ)

    def _close(self, day: date) -> datetime:
        return datetime.combine(day, self.closes, CHINA_TZ)

    def starting_day(self, moment: datetime) -> date:
        """The working day from which a period starting at `moment` is counted."""
        local = _aware(moment).astimezone(CHINA_TZ)
        day = local.date()
        if self.cal.is_working_day(day) and local.time() < self.closes:
            return day
        return self.cal.next_working_day(day)

    def deadline(self, moment: datetime, working_days: int) -> datetime:
        """The end (UTC) of a period of `working_days` working days starting at `moment`."""
        day = self.cal.add_working_days(self.starting_day(moment), working_days)
        return self._close(day).astimezone(UTC)

    def working_seconds(self, start: datetime, end: datetime) -> int:
        """Office time on working days between two moments (0 when end <= start)."""
        start, end = _aware(start), _aware(end)
        if end <= start:
            return 0
        total = 0.0
        day = start.astimezone(CHINA_TZ).date()
        last = end.astimezone(CHINA_TZ).date()
        while day <= last:
            if self.cal.is_working_day(day):
                lo, hi = max(start, self._open(day)), min(end, self._close(day))
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return round(total)

    def add_working_seconds(self, moment: datetime, seconds: int) -> datetime:
        """The earliest moment (UTC) by which `seconds` of office time have passed after
        `moment`; a period that uses up a day ends at that day's close, not next morning."""
        moment = _aware(moment)
        if seconds <= 0:
            return moment.astimezone(UTC)
        remaining = float(seconds)
        day = moment.astimezone(CHINA_TZ).date()
        for _ in range(MAX_SEARCH_DAYS * 4):
            if self.cal.is_working_day(day):
                lo, close = max(moment, self._open(day)), self._close(day)
                if lo < close:
                    available = (close - lo).total_seconds()
                    if remaining <= available:
                        return (lo + timedelta(seconds=remaining)).astimezone(UTC)
                    remaining -= available
            day += timedelta(days=1)
        raise CalendarError("时限过长，超出可计算范围，请检查时限配置")

    def subtract_working_seconds(self, moment: datetime, seconds: int) -> datetime:
        """The latest moment (UTC) that lies `seconds` of office time before `moment` (used to
        warn a few working hours before a deadline)."""
        moment = _aware(moment)
        if seconds <= 0:
            return moment.astimezone(UTC)
        remaining = float(seconds)
        day = moment.astimezone(CHINA_TZ).date()
        for _ in range(MAX_SEARCH_DAYS * 4):
            if self.cal.is_working_day(day):
                opening, hi = self._open(day), min(moment, self._close(day))
                if hi > opening:
                    available = (hi - opening).total_seconds()
                    if remaining <= available:
                        return (hi - timedelta(seconds=remaining)).astimezone(UTC)
                    remaining -= available
            day -= timedelta(days=1)
        raise CalendarError("时限过长，超出可计算范围，请检查时限配置")

    def deadline_after_pause(
        self, deadline: datetime, paused_from: datetime, resumed_at: datetime
    ) -> datetime:
        """The deadline of a clock paused from `paused_from` to `resumed_at`: later by the
        office time the pause took, so the clock keeps the working time it had left."""
        return self.add_working_seconds(deadline, self.working_seconds(paused_from, resumed_at))

    @property
    def day_seconds(self) -> int:
        """Office time of one working day, in seconds."""
        return int(
            (datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)).total_seconds()
        )


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a timezone-aware datetime is needed (use jingxin.core.db.utcnow())")
    return moment


DEFAULT_HOURS = OfficeHours()
