"""Job kinds of monitoring, with the schedule that runs them when a month's data arrive.

- `monitor.refresh` (运行监测刷新): one month's indicators and warnings for the whole province,
  cases opened and the counties notified (administrators and province analysts: the figures
  are shared by every county);
- `monitor.briefing` (运行监测月报): the Word briefing of a month for a region of the owner's
  scope, a result file downloaded from the job's page;
- `monitor.monthly` (运行监测月度例行): looks every morning whether a month of the 快报 newer than
  the last refreshed one is in the warehouse; on the first working day that it is, refreshes
  it and writes the province's briefing. Data are due on the 15th of the next month
  (exchange/calendar.yaml), so this is "the first working day after the data arrive".
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from jingxin.core.auth import Role
from jingxin.core.jobs import JobContext, JobKind, JobRefused, register_kind
from jingxin.core.jobs.schedules import ScheduleSpec, default_schedule
from jingxin.core.jobs.workdays import is_working_day
from jingxin.core.scope import Scope
from jingxin.jobs.kinds import EVALUATORS, division_code

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


class RefreshParams(BaseModel):
    month: str = Field(pattern=MONTH, description="月份 YYYY-MM")


class BriefingParams(BaseModel):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    month: str = Field(pattern=MONTH, description="月份 YYYY-MM")
    region: str = Field(default="330000", pattern=r"^\d{6}$", description="区划代码")


class NoParams(BaseModel):
    pass


def _refresh(ctx: JobContext, year: int, month: int) -> dict[str, Any]:
    from jingxin.monitoring.service import refresh_month

    with ctx.warehouse() as wh, ctx.database.session() as db:
        rep = refresh_month(wh, year, month, db)
    ctx.log(f"{rep.month}：预警 {rep.warnings}，新开工单 {rep.cases_opened}")
    return rep.to_dict()


def run_refresh(ctx: JobContext) -> dict[str, Any]:
    from jingxin.monitoring.indicators import parse_month

    ctx.progress(0, 1, "计算指标与预警")
    try:
        out = _refresh(ctx, *parse_month(ctx.params.month))  # type: ignore[attr-defined]
    except ValueError as exc:
        raise JobRefused(str(exc)) from None
    ctx.progress(1, 1, "完成")
    return out


def _briefing(ctx: JobContext, year: int, month: int, region: str) -> dict[str, Any]:
    from jingxin.monitoring.briefing import BriefingError, write_briefing

    name = f"运行监测月报_{region}_{year}-{month:02d}.docx"
    out = ctx.result_path(name)
    with ctx.warehouse_reader() as wh:
        try:
            write_briefing(wh, year, month, region, out)
        except BriefingError as exc:
            raise JobRefused(str(exc)) from None
    return {"file": name, "download": f"/jobs/{ctx.job_id}/files/{quote(name)}"}


def _check_briefing(params: BriefingParams, scope: Scope) -> None:
    division_code(params.region, scope)


def run_briefing(ctx: JobContext) -> dict[str, Any]:
    from jingxin.monitoring.indicators import parse_month

    params: BriefingParams = ctx.params  # type: ignore[assignment]
    _check_briefing(params, ctx.scope)
    ctx.progress(0, 1, "生成月报")
    out = _briefing(ctx, *parse_month(params.month), params.region)
    ctx.progress(1, 1, "完成")
    return out


def run_monthly(ctx: JobContext) -> dict[str, Any]:
    from jingxin.monitoring import store
    from jingxin.monitoring.indicators import first_day
    from jingxin.monitoring.service import latest_data_month

    today = dt.date.today()
    if not is_working_day(today):
        return {"done": False, "why": "今天不是工作日"}
    with ctx.warehouse_reader() as wh:
        latest = latest_data_month(wh)
        done = store.months(wh)
    if latest is None:
        return {"done": False, "why": "仓库中没有月度数据"}
    if first_day(*latest) in done:
        return {"done": False, "why": f"{latest[0]}-{latest[1]:02d} 已刷新"}
    out = _refresh(ctx, *latest)
    out["briefing"] = _briefing(ctx, *latest, "330000")
    return out


ANALYSTS = EVALUATORS
register_kind(
    JobKind(
        name="monitor.refresh",
        title="运行监测刷新",
        run=run_refresh,
        params=RefreshParams,
        roles=frozenset({Role.ADMIN, Role.PROVINCE_ANALYST}),
        describe=lambda p: f"监测刷新 {p.month}",
        scheduled=False,
    )
)
register_kind(
    JobKind(
        name="monitor.briefing",
        title="运行监测月报",
        run=run_briefing,
        params=BriefingParams,
        roles=ANALYSTS,
        check=_check_briefing,
        describe=lambda p: f"月报 {p.region} {p.month}",
        scheduled=False,
    )
)
register_kind(
    JobKind(
        name="monitor.monthly",
        title="运行监测月度例行",
        run=run_monthly,
        params=NoParams,
        roles=frozenset({Role.ADMIN}),
        max_attempts=1,
    )
)
default_schedule(
    ScheduleSpec(
        name="monitor-monthly",
        title="数据到齐后的第一个工作日刷新运行监测并生成月报",
        kind="monitor.monthly",
        rule="daily",
        at="08:30",
        enabled=True,
    )
)
