"""Query parameters several scenarios share: a month and a day.

They are checked where FastAPI reads them, so a bad value gets the uniform 422 that names the
parameter in Chinese (`web.errors`) instead of reaching the scenario's code: a month 2021-47
would otherwise fail deep in a computation, and a day 9999-12-31 overflows the moment a
scenario adds a horizon to it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Path, Query

from jingxin.core.audit import EARLIEST_DAY, LATEST_DAY

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"

# A month, e.g. 2021-06; each route says what it defaults to when the parameter is absent.
MonthQuery = Annotated[
    str | None, Query(pattern=MONTH_PATTERN, description="月份 YYYY-MM，如 2021-06；默认最新月份")
]

# A day between 1970-01-01 and 2099-12-31, the same bounds as the audit log's search.
DayQuery = Annotated[
    date | None,
    Query(ge=EARLIEST_DAY, le=LATEST_DAY, description="日期 YYYY-MM-DD（1970-01-01 至 2099-12-31）"),
]

# A row's number in a path (/items/{item_id}); beyond 2**62 no row exists, and PostgreSQL's
# BIGINT would refuse the value with an error instead of answering 404.
RowId = Annotated[int, Path(ge=1, le=2**62, description="编号")]
