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
        warned = warn_of_drift(db, result)
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
        "model_drift": result.drift.get("level"),
        "drift_warnings": warned,
    }


DRIFT_LABELS = {"warning": "需关注", "alert": "显著漂移"}


def warn_of_drift(db: Any, result: Any) -> int:
    """Tell the province's analysts and the admins when the month's population has drifted
    from the scorecard's training rows (模型稳定性预警): the grades still come out, but the
    model should be reviewed. Once per month and level (the notification's dedupe key)."""
    from sqlalchemy import select

    from jingxin.accounts.models import User
    from jingxin.core.notify.service import notify

    level = str(result.drift.get("level", "stable"))
    if level not in DRIFT_LABELS:
        return 0
    people = db.scalars(
        select(User).where(User.role.in_([Role.PROVINCE_ANALYST.value, Role.ADMIN.value]), User.is_active)
    ).all()
    drifting = "、".join(str(f) for f in result.drift.get("drifting", [])) or "评分"
    made = notify(
        db,
        people,
        event="model_drift",
        title=f"风险评分卡稳定性{DRIFT_LABELS[level]}：{result.month}",
        body=(
            f"{result.month} 企业总体与评分卡训练数据相比出现漂移"
            f"（评分 PSI {result.drift.get('psi_score')}），漂移特征：{drifting}。"
            "分级照常产生，请复核评分卡。"
        ),
        link=f"/risk?month={result.month}",
        workflow="risk",
        dedupe_key=f"risk:drift:{result.month}:{level}",
    )
    return len(made)


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
