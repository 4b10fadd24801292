"""Job kind of the chains' stored months (产业链月度刷新), with the schedule that runs it.

`chains.refresh` does what `jingxin chains refresh` does (`store.refresh`, one transaction per
month) as a job:

* with `month` (and optionally `through`): those months;
* without (the schedule): the months from the newest one already stored through the newest
  month of invoices in the warehouse. The newest stored month is computed again because its
  invoices may have been completed since (a department delivering late or correcting a file);
  with nothing stored yet, only the newest invoice month. At most `MAX_MONTHS` months per run.

The schedule `chains-monthly` runs it on the 16th of every month at 03:00: the invoices of a
month are due on the 15th of the next month (`exchange/calendar.yaml`, 月度数据), so on the 16th
the month just delivered is in the warehouse; a month delivered later is picked up the next
month, and the month before it is recomputed then. Switched on: the month-by-month history must
not depend on someone remembering the command.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from jingxin.core.auth import Role
from jingxin.core.jobs import JobContext, JobKind, JobRefused, register_kind
from jingxin.core.jobs.schedules import ScheduleSpec, default_schedule

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
MAX_MONTHS = 24  # one run refreshes at most two years (a longer catch-up is a CLI job)


class RefreshParams(BaseModel):
    month: str | None = Field(
        default=None, pattern=MONTH, description="月份 YYYY-MM；空则从已保存的最新月份刷新到最新发票月份"
    )
    through: str | None = Field(default=None, pattern=MONTH, description="连续刷新到此月份 YYYY-MM（含）")


def _index(month: str) -> int:
    year, mon = int(month[:4]), int(month[5:7])
    return year * 12 + mon - 1


def _label(k: int) -> str:
    return f"{k // 12}-{k % 12 + 1:02d}"


def months_to_refresh(params: RefreshParams, stored: list[str], latest: str | None) -> list[str]:
    """The months a run refreshes (see the module docstring); raises JobRefused."""
    if params.month is None:
        if params.through is not None:
            raise JobRefused("给出 through 时须同时给出 month")
        if latest is None:
            raise JobRefused("仓库中还没有增值税发票流向数据，请先导入税务发票文件")
        newest = max(stored) if stored else latest
        first, last = _index(min(newest, latest)), _index(latest)
    else:
        first = _index(params.month)
        last = _index(params.through) if params.through else first
        if last < first:
            raise JobRefused(f"through {params.through} 早于 month {params.month}")
    count = last - first + 1
    if count > MAX_MONTHS:
        raise JobRefused(
            f"一次最多刷新 {MAX_MONTHS} 个月（{_label(first)} 至 {_label(last)} 共 {count} 个月）；"
            "请分段提交，或用 jingxin chains refresh 命令"
        )
    return [_label(k) for k in range(first, last + 1)]


def run_refresh(ctx: JobContext) -> dict[str, Any]:
    from jingxin.chains import service, store
    from jingxin.chains.compute import ChainsError

    params: RefreshParams = ctx.params  # type: ignore[assignment]
    reports = []
    with ctx.warehouse() as wh:
        if wh.kind == "spark":
            raise JobRefused("Spark 仓库只读：请在 DuckDB 或 PostgreSQL 上刷新产业链月度结果后发布")
        todo = months_to_refresh(params, store.months(wh), service.latest_month(wh))
        for i, month in enumerate(todo):
            ctx.progress(i, len(todo), f"{month} 本地配套率与薄弱环节")
            try:
                report = store.refresh(wh, month)
            except ChainsError as exc:
                raise JobRefused(f"{month}：{exc}") from None
            ctx.log(f"{month}：保存 {report.rows} 行，环节 {report.segments} 个，其中薄弱 {report.weak} 个")
            reports.append(report.to_dict())
    ctx.progress(len(todo), len(todo), "完成")
    return {"months": [r["month"] for r in reports], "reports": reports}


def _describe(p: RefreshParams) -> str:
    if p.month is None:
        return "产业链月度刷新（最新月份）"
    return f"产业链月度刷新 {p.month}" + (f" 至 {p.through}" if p.through else "")


register_kind(
    JobKind(
        name="chains.refresh",
        title="产业链月度刷新",
        run=run_refresh,
        params=RefreshParams,
        # The stored months are the province's (every county's rows): written by those who
        # read the whole province, as `monitor.refresh`.
        roles=frozenset({Role.ADMIN, Role.PROVINCE_ANALYST}),
        describe=_describe,
        max_attempts=2,
    )
)
default_schedule(
    ScheduleSpec(
        name="chains-monthly",
        title="每月16日刷新产业链月度结果（发票流向15日报送）",
        kind="chains.refresh",
        rule="monthly",
        day=16,
        at="03:00",
        enabled=True,
    )
)
