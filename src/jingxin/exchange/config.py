"""The submission calendar (报送日历): configuration, period arithmetic and due moments.

`calendar.yaml` (shipped beside this module; `JINGXIN_EXCHANGE_CALENDAR` names another file)
gives a rule per kind of period column (year, month, date, none) and optional overrides per
source. Sources come from `core/contracts.yaml` generically: a new source is tracked by the
rule of its period column's kind.

Periods are written as the batch registry writes them: `2021` (year), `2021-03` (month),
`2021-03-05` (day); a batch period may be a span `low..high` and then covers every period
in it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jingxin.core.calendar import CHINA_TZ
from jingxin.core.contracts import Source, load_contracts

CALENDAR_ENV = "JINGXIN_EXCHANGE_CALENDAR"
Frequency = Literal["yearly", "monthly", "daily", "none"]
Kind = Literal["year", "month", "date", "none"]  # of the source's period column
FREQUENCY_LABELS = {"yearly": "每年", "monthly": "每月", "daily": "每日", "none": "变更时报送"}


class CalendarError(ValueError):
    """The calendar file is invalid (message in Chinese, says where and how to fix it)."""


class Rule(BaseModel):
    """How one source's periods fall due (see calendar.yaml for the meaning of each key)."""

    model_config = ConfigDict(extra="forbid")

    frequency: Frequency
    due: str = "04-30"
    due_day: int = Field(default=15, ge=1, le=28)
    lag_days: int = Field(default=2, ge=0, le=60)
    remind_before_days: int = Field(default=3, ge=0, le=60)
    repeat_every_days: int = Field(default=3, ge=1, le=60)
    basis: str = "project default"

    @field_validator("due")
    @classmethod
    def _month_day(cls, value: str) -> str:
        try:
            datetime.strptime(f"2001-{value}", "%Y-%m-%d")
        except ValueError:
            raise ValueError(f"年度报送截止日应写成“月-日”，如 04-30，而不是 {value!r}") from None
        return value

    @property
    def label(self) -> str:
        """The rule in Chinese, as the catalogue and the tracker show it."""
        if self.frequency == "yearly":
            month, day = (int(x) for x in self.due.split("-"))
            return f"每年报送上一年度数据，{month}月{day}日前"
        if self.frequency == "monthly":
            return f"每月报送上月数据，{self.due_day}日前"
        if self.frequency == "daily":
            return f"每日报送，数据日后{self.lag_days}天内"
        return "数据变更时报送，不设报送期次"


class CalendarConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date
    history_days: int = Field(default=400, ge=1, le=5000)
    kinds: dict[Kind, Rule]
    sources: dict[str, Rule] = {}

    def rule(self, src: Source) -> Rule:
        if src.id in self.sources:
            return self.sources[src.id]
        return self.kinds[period_kind(src)]


def period_kind(src: Source) -> Kind:
    """year, month, date or none: the kind of the source's period column."""
    if src.period is None:
        return "none"
    kind = src.column(src.period).type
    if kind == "year" or kind == "month" or kind == "date":
        return kind
    return "none"


def _calendar_text() -> tuple[str, str]:
    path = os.environ.get(CALENDAR_ENV)
    if path:
        return Path(path).read_text(encoding="utf-8"), path
    return resources.files("jingxin.exchange").joinpath("calendar.yaml").read_text(
        encoding="utf-8"
    ), "calendar.yaml"


def parse_calendar(text: str, where: str = "calendar.yaml") -> CalendarConfig:
    try:
        config = CalendarConfig.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise CalendarError(f"报送日历 {where} 有误：{exc}") from None
    unknown = sorted(set(config.sources) - set(load_contracts().sources))
    if unknown:
        raise CalendarError(f"报送日历 {where} 中的数据源 {', '.join(unknown)} 不在数据交换规范中")
    return config


@lru_cache
def load_calendar() -> CalendarConfig:
    text, where = _calendar_text()
    return parse_calendar(text, where)


# ---- periods ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One period a source owes (报送期次): its label and first and last day."""

    label: str
    first: date
    last: date


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, CHINA_TZ)


def due_at(rule: Rule, period: Period) -> datetime:
    """The moment (Beijing time) after which a file for `period` is late."""
    if rule.frequency == "yearly":
        month, day = (int(x) for x in rule.due.split("-"))
        return _end_of_day(date(period.last.year + 1, month, day))
    if rule.frequency == "monthly":
        after = period.last + timedelta(days=1)
        return _end_of_day(date(after.year, after.month, rule.due_day))
    return _end_of_day(period.last + timedelta(days=rule.lag_days))


def _year(y: int) -> Period:
    return Period(str(y), date(y, 1, 1), date(y, 12, 31))


def _month(y: int, m: int) -> Period:
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    return Period(f"{y:04d}-{m:02d}", date(y, m, 1), nxt - timedelta(days=1))


def _day(d: date) -> Period:
    return Period(d.isoformat(), d, d)


def periods_between(rule: Rule, first: date, last: date) -> list[Period]:
    """The periods of `rule` that begin on or after `first` and end on or before `last`."""
    out: list[Period] = []
    if rule.frequency == "yearly":
        out = [_year(y) for y in range(first.year, last.year + 1)]
    elif rule.frequency == "monthly":
        y, m = first.year, first.month
        while date(y, m, 1) <= last:
            out.append(_month(y, m))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    elif rule.frequency == "daily":
        day = first
        while day <= last:
            out.append(_day(day))
            day += timedelta(days=1)
    return [p for p in out if p.first >= first and p.last <= last]


def expected_periods(rule: Rule, config: CalendarConfig, now: datetime) -> list[Period]:
    """Periods that have ended by `now` and fell due no longer than `history_days` ago."""
    today = now.astimezone(CHINA_TZ).date()
    oldest_due = now - timedelta(days=config.history_days)
    return [
        p
        for p in periods_between(rule, config.start, today - timedelta(days=1))
        if due_at(rule, p) >= oldest_due
    ]


def covered_labels(rule: Rule, batch_period: str) -> list[str]:
    """Labels of the periods a batch's period (2021, 2021-01..2021-12, ...) covers."""
    low, _, high = batch_period.partition("..")
    high = high or low
    try:
        if rule.frequency == "yearly":
            first, last = date(int(low), 1, 1), date(int(high), 12, 31)
        elif rule.frequency == "monthly":
            first = datetime.strptime(low, "%Y-%m").date()
            last = _month(*(int(x) for x in high.split("-"))).last
        elif rule.frequency == "daily":
            first, last = date.fromisoformat(low), date.fromisoformat(high)
        else:
            return []
    except ValueError:
        return []  # "current", "未知" or a period given by hand in another form
    if (last - first).days > 3660:
        return []  # not a real span; never expand it day by day
    return [p.label for p in periods_between(rule, first, last)]
