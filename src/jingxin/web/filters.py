"""Chinese number and date formatting (中文数字与日期), as Jinja filters and plain functions.

Figures follow the conventions of Chinese government reports: money in 万元, switching to 亿元
from 1 亿 up; large counts as 万; dates as 2021年3月 / 2021年3月5日; times in Beijing time. The
same functions serve templates and CSV exports, so a figure reads the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from jingxin.core.audit import CHINA_TZ, MASK

EMPTY = "—"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int | float):
        number = float(value)
    else:
        try:
            number = float(str(value).replace(",", ""))
        except ValueError:
            return None
    return None if math.isnan(number) or math.isinf(number) else number


def _fixed(number: float, digits: int, grouping: bool = True) -> str:
    """Round half up as people (and statistical yearbooks) do, from the shortest decimal form
    of the float: 0.0305 → 3.1%, not the 3.0% that binary floating point would give."""
    rounded = Decimal(repr(number)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{rounded:,.{digits}f}" if grouping else f"{rounded:.{digits}f}"


def thousands(value: Any, digits: int = 0) -> str:
    """1234567.8 → '1,234,568' (digits=0) or '1,234,567.80' (digits=2)."""
    if value == MASK:
        return MASK
    number = _number(value)
    if number is None:
        return EMPTY
    return _fixed(number, digits)


def wan_yuan(value: Any, digits: int = 2) -> str:
    """An amount held in 万元, shown in 万元 below 1 亿 and in 亿元 from there:
    1234.5 → '1,234.50万元'; 123456 → '12.35亿元'."""
    if value == MASK:
        return MASK
    number = _number(value)
    if number is None:
        return EMPTY
    if abs(number) >= 10000:
        return _fixed(number / 10000, digits) + "亿元"
    return _fixed(number, digits) + "万元"


def yi_yuan(value: Any, digits: int = 2) -> str:
    """An amount held in 万元, always shown in 亿元 (for tables that compare regions)."""
    if value == MASK:
        return MASK
    number = _number(value)
    if number is None:
        return EMPTY
    return _fixed(number / 10000, digits) + "亿元"


def yuan(value: Any, digits: int = 2) -> str:
    """An amount held in 元, shown like `wan_yuan` (元 below 1 万)."""
    if value == MASK:
        return MASK
    number = _number(value)
    if number is None:
        return EMPTY
    if abs(number) >= 1e8:
        return _fixed(number / 1e8, digits) + "亿元"
    if abs(number) >= 1e4:
        return _fixed(number / 1e4, digits) + "万元"
    return _fixed(number, digits) + "元"


def zh_count(value: Any, digits: int = 1) -> str:
    """A count, with 万 / 亿 for large ones: 8421 → '8,421'; 48000 → '4.8万'; 2.69e8 → '2.7亿'."""
    if value == MASK:
        return MASK
    number = _number(value)
    if number is None:
        return EMPTY
    for unit, size in (("亿", 1e8), ("万", 1e4)):
        if abs(number) >= size:
            text = _fixed(number / size, digits, grouping=False)
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return text + unit
    return _fixed(number, 0)


def percent(value: Any, digits: int = 1, ratio: bool = True) -> str:
    """0.0305 → '3.1%' (a ratio); with ratio=False the value is already in percent."""
    if value == MASK:
        return MASK
    number = _number(value)
    if number is None:
        return EMPTY
    return _fixed(number * 100 if ratio else number, digits) + "%"


def signed_percent(value: Any, digits: int = 1, ratio: bool = True) -> str:
    """A growth rate with its sign: 0.052 → '+5.2%', -0.013 → '-1.3%'."""
    text = percent(value, digits, ratio)
    if text in (EMPTY, MASK):
        return text
    number = _number(value)
    return f"+{text}" if number is not None and number > 0 else text


def _as_datetime(value: Any) -> datetime | date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _local(value: datetime | date) -> datetime | date:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(CHINA_TZ)
    return value


def zh_month(value: Any) -> str:
    """2021-03-01 → '2021年3月'; a 'YYYY-MM' string works too."""
    if isinstance(value, str) and len(value) == 7 and value[4] == "-":
        value = value + "-01"
    moment = _as_datetime(value)
    if moment is None:
        return EMPTY if not value else str(value)
    moment = _local(moment)
    return f"{moment.year}年{moment.month}月"


def zh_date(value: Any) -> str:
    """2021-03-05 → '2021年3月5日' (timestamps are shown in Beijing time)."""
    moment = _as_datetime(value)
    if moment is None:
        return EMPTY if not value else str(value)
    moment = _local(moment)
    return f"{moment.year}年{moment.month}月{moment.day}日"


def zh_datetime(value: Any, seconds: bool = False) -> str:
    """A timestamp in Beijing time: '2021年3月5日 14:05'."""
    moment = _as_datetime(value)
    if moment is None:
        return EMPTY if not value else str(value)
    moment = _local(moment)
    if not isinstance(moment, datetime):
        return zh_date(moment)
    clock = moment.strftime("%H:%M:%S" if seconds else "%H:%M")
    return f"{moment.year}年{moment.month}月{moment.day}日 {clock}"


def zh_period(value: Any) -> str:
    """A batch period as departments write it: '2021' → '2021年', '2021-03' → '2021年3月',
    '2021-03-05' → '2021年3月5日'; empty → '—'."""
    if value is None or value == "":
        return EMPTY
    text = str(value)
    if len(text) == 4 and text.isdigit():
        return f"{text}年"
    if len(text) == 7:
        return zh_month(text)
    if len(text) == 10:
        return zh_date(text)
    return text


FILTERS: dict[str, Callable[..., str]] = {
    "thousands": thousands,
    "wan_yuan": wan_yuan,
    "yi_yuan": yi_yuan,
    "yuan": yuan,
    "zh_count": zh_count,
    "percent": percent,
    "signed_percent": signed_percent,
    "zh_month": zh_month,
    "zh_date": zh_date,
    "zh_datetime": zh_datetime,
    "zh_period": zh_period,
}
