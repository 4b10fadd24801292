"""Job kind of risk grading (风险分级月度例行), with the schedule that runs it.

`risk.monthly` grades the newest month the shared data allow and opens a 一企一策 case for
every 重点关注 enterprise that has none open yet (`risk.cases.open_cases`, idempotent per
enterprise and month), as the platform itself over the whole province. It runs on the first
working day of each month (off by default: a bureau turns it on once the risk sources are
delivered; the same grading is on demand from the `/risk` page and `jingxin risk score`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from jingxin.core.auth import Role
from jingxin.core.jobs import JobContext, JobKind, JobRefused, register_kind
from jingxin.core.jobs.schedules import ScheduleSpec, default_schedule
from jingxin.core.scope import EVERYTHING


@dataclass(frozen=True)
class PlatformActor:
    """The platform opening cases (the history shows "system:risk"): whole province."""

    id: None = None
    username: str = "system:risk"
    role: str = Role.PROVINCE_ANALYST.value
    is_active: bool = True
    scope: object = EVERYTHING


class MonthlyParams(BaseModel):
    month: str | None = Field(
        default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="月份 YYYY-MM（默认：最新可评月份）"
    )


def run_monthly(ctx: JobContext) -> dict[str, Any]:
    from jingxin.risk.cases import open_cases
    from jingxin.risk.service import available_months, score_month

    ctx.progress(0, 2, "风险评分")
    with ctx.warehouse_reader() as wh:
        months = available_months(wh)
        if not months:
            raise JobRefused("仓库中没有风险分级所需的数据（参保、纳税、信贷等）")
        month = ctx.params.month or months[-1]  # type: ignore[attr-defined]
        if month not in months:
            raise JobRefused(f"{month} 无法评分：可评月份为 {months[0]} 至 {months[-1]}")
        result = score_month(wh, month)
    ctx.progress(1, 2, "列入清单")
    with ctx.database.session() as db:
        opened = open_cases(db, result, PlatformActor())
        db.commit()
    ctx.log(
        f"{month}：新列入清单 {len(opened.opened)} 户，已在清单 {len(opened.already_open)} 户，"
        f"无所属县（未在企业名录中）{opened.no_county} 户"
    )
    ctx.progress(2, 2, "完成")
    return {
        "month": month,
        "grades": {str(k): int(v) for k, v in result.counts.items()},
        "cases_opened": len(opened.opened),
        "cases_already_open": len(opened.already_open),
        "cases_without_county": opened.no_county,
    }


register_kind(
    JobKind(
        name="risk.monthly",
        title="风险分级月度例行",
        run=run_monthly,
        params=MonthlyParams,
        roles=frozenset({Role.ADMIN, Role.PROVINCE_ANALYST}),
        describe=lambda p: f"风险分级 {p.month or '最新月份'}",
        max_attempts=1,
    )
)
default_schedule(
    ScheduleSpec(
        name="risk-monthly",
        title="每月第一个工作日评定企业风险等级并将重点关注企业列入一企一策清单",
        kind="risk.monthly",
        rule="first_working_day",
        at="09:00",
        enabled=False,
    )
)
