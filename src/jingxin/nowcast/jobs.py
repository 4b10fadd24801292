"""Job kind `nowcast.run` (现时预测): a month's nowcast for the regions in the owner's scope.

Scheduled daily at 07:30 (off by default; an admin switches it on): each morning the nowcast
of the current month is redone with what arrived overnight, so its news reads day by day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jingxin.core.auth import Role
from jingxin.core.jobs import JobContext, JobKind, JobRefused, register_kind
from jingxin.core.jobs.schedules import ScheduleSpec, default_schedule
from jingxin.core.scope import Scope
from jingxin.jobs.kinds import EVALUATORS


class NowcastParams(BaseModel):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    month: str | None = Field(None, pattern=r"^\d{4}-\d{2}$", description="目标月份 YYYY-MM，默认本月")
    region: str | None = Field(None, pattern=r"^\d{6}$", description="区划代码，默认权限内全部地区")
    as_of: dt.date | None = Field(None, description="数据截至日期，默认今天")


def _check(params: NowcastParams, scope: Scope) -> None:
    from jingxin.nowcast.service import allowed_regions

    try:
        allowed_regions(scope, params.region)
    except (PermissionError, ValueError) as exc:
        raise JobRefused(str(exc)) from None


def run(ctx: JobContext) -> dict[str, Any]:
    from jingxin.nowcast.models import NowcastError
    from jingxin.nowcast.runs import run_nowcast
    from jingxin.nowcast.service import allowed_regions

    params: NowcastParams = ctx.params  # type: ignore[assignment]
    _check(params, ctx.scope)
    month = params.month or dt.date.today().strftime("%Y-%m")
    codes = allowed_regions(ctx.scope, params.region)
    with ctx.warehouse() as wh:
        try:
            run_id = run_nowcast(
                wh,
                month,
                codes,
                as_of=params.as_of,
                created_by=ctx.actor.username or "job",
                progress=lambda done, total: ctx.progress(done, total, f"已完成 {done}/{total} 个地区"),
            )
        except NowcastError as exc:
            raise JobRefused(str(exc)) from None
    ctx.log(f"现时预测 {month}：{len(codes)} 个地区，批次 {run_id}")
    return {"run_id": run_id, "month": month, "regions": len(codes), "page": f"/nowcast?run={run_id}"}


register_kind(
    JobKind(
        name="nowcast.run",
        title="现时预测",
        run=run,
        params=NowcastParams,
        roles=frozenset({Role.ADMIN, *EVALUATORS}),
        check=_check,
        describe=lambda p: f"现时预测 {p.month or '本月'} {p.region or ''}".strip(),
    )
)
default_schedule(
    ScheduleSpec(
        name="nowcast-daily",
        title="每天 7:30 更新本月现时预测",
        kind="nowcast.run",
        rule="daily",
        at="07:30",
        enabled=False,
    )
)
