"""Job kinds of the platform's periodic duties and of the notices, with their default schedules.

- `workflows.sweep` (工作流超时巡检): warnings, overdue clocks and escalation of every case
  (`jingxin.core.workflow.sweep`), against the platform database the job runs in. Scheduled
  hourly and switched on by default: escalation must happen without anyone starting it.
- `exchange.remind` (催报): the data exchange's tracker and reminders to departments' liaisons
  (`jingxin.exchange.tracker.remind_due_submissions`); daily at 09:00, switched on.
- `evaluation.notices` (评价结果告知书): the notices of one county (or city) of an evaluation
  run as one zip of PDFs, a result file downloaded from the job's page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from jingxin.core.auth import Role
from jingxin.core.jobs import JobContext, JobKind, JobRefused, register_kind
from jingxin.core.jobs.schedules import ScheduleSpec, default_schedule
from jingxin.core.scope import Scope
from jingxin.jobs.kinds import EVALUATORS, division_code

ADMINS = frozenset({Role.ADMIN})

# ---- workflows.sweep --------------------------------------------------------------------------


class NoParams(BaseModel):
    pass


def run_sweep(ctx: JobContext) -> dict[str, Any]:
    from jingxin.core.workflow.sweep import sweep_overdue

    ctx.progress(0, 1, "巡检超时工作项")
    report = sweep_overdue(database_url=ctx.database.url)
    ctx.progress(1, 1, "完成")
    ctx.log(f"临近到期 {report.due_soon}，超时 {report.overdue}，升级 {report.escalated}")
    for error in report.errors:
        ctx.log(error, "warning")
    return {
        "due_soon": report.due_soon,
        "overdue": report.overdue,
        "escalated": report.escalated,
        "notifications": report.notifications,
        "emails_sent": report.emails_sent,
        "emails_failed": report.emails_failed,
        "uncovered_years": report.uncovered_years,
        "errors": report.errors,
    }


register_kind(
    JobKind(
        name="workflows.sweep",
        title="工作流超时巡检",
        run=run_sweep,
        params=NoParams,
        roles=ADMINS,
        max_attempts=1,  # the next hourly run does the same work; no point repeating a failure
    )
)
default_schedule(
    ScheduleSpec(
        name="workflows-sweep",
        title="每小时巡检工作流超时与升级",
        kind="workflows.sweep",
        rule="hourly",
        at="00:05",
        enabled=True,
    )
)

# ---- exchange.remind --------------------------------------------------------------------------


def run_remind(ctx: JobContext) -> dict[str, Any]:
    from jingxin.exchange.tracker import remind_due_submissions

    ctx.progress(0, 1, "核对报送情况并催报")
    with ctx.warehouse_reader() as wh:
        report = remind_due_submissions(database=ctx.database, warehouse=wh)
    ctx.progress(1, 1, "完成")
    ctx.log(f"临近截止 {report.due_soon}，逾期 {report.overdue}，发出提醒 {report.notifications}")
    if report.without_liaison:
        ctx.log(f"没有数据联络员的部门：{'、'.join(report.without_liaison)}", "warning")
    return {
        "synced": report.synced,
        "due_soon": report.due_soon,
        "overdue": report.overdue,
        "notifications": report.notifications,
        "emails_sent": report.emails_sent,
        "without_liaison": report.without_liaison,
    }


register_kind(
    JobKind(
        name="exchange.remind",
        title="催报",
        run=run_remind,
        params=NoParams,
        roles=ADMINS,
        max_attempts=1,
    )
)
default_schedule(
    ScheduleSpec(
        name="exchange-remind",
        title="每天 9:00 核对部门报送并催报",
        kind="exchange.remind",
        rule="daily",
        at="09:00",
        enabled=True,
    )
)

# ---- evaluation.notices -----------------------------------------------------------------------


class NoticesParams(BaseModel):
    # `jingxin jobs submit ... county=331003` reads the code as a JSON number
    model_config = ConfigDict(coerce_numbers_to_str=True)

    run_id: str = Field(
        max_length=80, pattern=r"^[0-9]{4}-[a-z][a-z0-9_]*-[0-9a-f]{6,32}$", description="评价批次编号"
    )
    county: str = Field(pattern=r"^\d{6}$", description="区县（或市）代码，如 331003")


def _check_notices(params: NoticesParams, scope: Scope) -> None:
    division_code(params.county, scope)  # unknown code, or outside the caller's scope: refused


def run_notices(ctx: JobContext) -> dict[str, Any]:
    from jingxin.evaluation.notice import render_county_notices

    params: NoticesParams = ctx.params  # type: ignore[assignment]
    _check_notices(params, ctx.scope)
    name = f"告知书_{params.county}_{params.run_id}.zip"
    out = ctx.result_path(name)
    with ctx.warehouse_reader() as wh:
        try:
            count = render_county_notices(wh, params.run_id, params.county, out, progress=ctx.progress)
        except KeyError:
            raise JobRefused(f"评价批次 {params.run_id} 不存在") from None
        except ValueError as exc:
            raise JobRefused(str(exc)) from None
    if count == 0:
        out.unlink(missing_ok=True)
        raise JobRefused(f"评价批次 {params.run_id} 中没有区划 {params.county} 的参评企业")
    ctx.log(f"已生成 {count} 份告知书：{name}")
    return {
        "run_id": params.run_id,
        "county": params.county,
        "notices": count,
        "file": name,
        "download": f"/jobs/{ctx.job_id}/files/{quote(name)}",  # for the owner (and admins)
    }


register_kind(
    JobKind(
        name="evaluation.notices",
        title="评价结果告知书",
        run=run_notices,
        params=NoticesParams,
        roles=EVALUATORS,
        check=_check_notices,
        describe=lambda p: f"告知书 {p.county} {p.run_id}",
        scheduled=False,
    )
)
