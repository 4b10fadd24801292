"""The job kinds of the platform's existing long work, and the default schedules.

- `ingest` (数据归集): one or more uploaded departmental files, each its own batch, in the
  given order (registry before facts). A file refused whole: the job fails with the reason
  when it was the only file, else it is listed in the result and the others go on, as
  `jingxin ingest-dir` does. Each batch is one warehouse transaction, and a file already
  committed is recognised by its content hash, so a job run again after its process died
  neither loses nor doubles a batch.
- `evaluation.run` (亩均评价): one stored evaluation run (one transaction).
- `evaluation.uncertainty` (不确定性分析): Monte Carlo analysis of a run, optionally stored.
- `jobs.cleanup` (作业清理): deletes finished jobs and their logs, uploads and result files
  after N days.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import delete, select

from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.db import utcnow
from jingxin.core.jobs import JobContext, JobKind, JobRefused, register_kind
from jingxin.core.jobs.models import ACTIVE, Job
from jingxin.core.jobs.results import remove_results
from jingxin.core.jobs.schedules import ScheduleSpec, default_schedule
from jingxin.core.jobs.service import writing
from jingxin.core.jobs.uploads import UPLOAD_ID, remove_upload
from jingxin.core.scope import EVERYTHING, Scope

SYSTEM_NAME = r"^[A-Za-z0-9_]+$"  # a file name in the systems folder, never a path
EVALUATORS = frozenset({Role.ADMIN, *ANALYSTS})
INGESTERS = frozenset({Role.ADMIN, Role.LIAISON})

# ---- ingest ---------------------------------------------------------------------------------


class IngestItem(BaseModel):
    source: str = Field(max_length=40, description="数据源，如 tax")
    upload: str = Field(description="上传附件编号（POST /api/v1/jobs/uploads 返回）")
    file_name: str = Field(max_length=200)
    period: str | None = Field(default=None, max_length=40)

    @field_validator("upload")
    @classmethod
    def _upload_id(cls, v: str) -> str:
        if not UPLOAD_ID.match(v):
            raise ValueError("附件编号应为32位十六进制")
        return v


class IngestParams(BaseModel):
    files: list[IngestItem] = Field(min_length=1, max_length=500)


def _check_ingest(params: IngestParams, scope: Scope) -> None:
    from jingxin.core.contracts import load_contracts

    sources = load_contracts().sources
    for item in params.files:
        if item.source not in sources:
            raise JobRefused(f"未知数据源 {item.source!r}（见数据交换规范）")
        if not scope.allows_source(item.source):
            raise JobRefused(f"您无权上传数据源 {item.source} 的文件")


def _describe_ingest(params: IngestParams) -> str:
    if len(params.files) == 1:
        f = params.files[0]
        return f"归集 {f.source} {f.file_name}"
    return f"归集 {len(params.files)} 个文件"


def run_ingest(ctx: JobContext) -> dict[str, Any]:
    from jingxin.ingest.service import IngestError, ingest_file

    params: IngestParams = ctx.params  # type: ignore[assignment]
    total = len(params.files)
    batches: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for i, item in enumerate(params.files):
        ctx.progress(i, total, f"{item.source}：{item.file_name}")
        path = ctx.upload_path(item.upload, item.file_name)
        try:
            with ctx.warehouse() as wh:
                result = ingest_file(wh, item.source, path, loaded_by=ctx.owner_name, period=item.period)
        except IngestError as exc:
            if total == 1:
                raise JobRefused(f"文件被整份退回，未入库任何数据。{exc}") from None
            refused.append({"source": item.source, "file_name": item.file_name, "error": str(exc)})
            ctx.log(f"{item.file_name} 被整份退回：{exc}", "warning")
            continue
        batches.append(result.to_dict())
        note = (
            "内容相同，未重复入库" if result.duplicate else f"接收 {result.accepted}，拒收 {result.rejected}"
        )
        ctx.log(f"{item.file_name} → 批次 {result.batch_id}（{note}）")
    ctx.progress(total, total, "完成")
    for item in params.files:
        remove_upload(ctx.settings, item.upload)
    return {"batches": batches, "refused": refused}


register_kind(
    JobKind(
        name="ingest",
        title="数据归集",
        run=run_ingest,
        params=IngestParams,
        roles=INGESTERS,
        check=_check_ingest,
        describe=_describe_ingest,
        max_attempts=3,
        scheduled=False,
    )
)

# ---- evaluation -----------------------------------------------------------------------------


def division_code(code: str | None, scope: Scope) -> str:
    """The division a job evaluates: the one asked for (checked against the owner's scope),
    else the owner's own."""
    from jingxin import reference

    code = code or scope.division or "330000"
    try:
        reference.division(code)
    except KeyError:
        raise JobRefused(f"未知区划代码 {code}") from None
    if scope.division is not None and not scope.allows_division(code):
        raise JobRefused(f"区划 {code} 不在您的数据范围内")
    return code


def _eval_scope(code: str) -> Scope:
    return EVERYTHING if code == "330000" else Scope(division=code)


class EvaluationParams(BaseModel):
    system: str = Field(pattern=SYSTEM_NAME, max_length=80, description="评价体系，如 zhejiang_services")
    year: int | None = Field(default=None, ge=2000, le=2100, description="数据年度；空则为上一年")
    scope: str | None = Field(default=None, pattern=r"^\d{6}$", description="区划代码；空则为本人范围")
    history: Literal["auto", "runs", "evaluate", "none"] = "auto"


def _year(year: int | None) -> int:
    # A schedule leaves the year empty: it then evaluates the previous calendar year, the
    # year whose annual figures departments have delivered (the project's own assumption).
    return year if year is not None else utcnow().year - 1


def _check_evaluation(params: EvaluationParams, scope: Scope) -> None:
    from jingxin.evaluation.config import ConfigError, load_system

    division_code(params.scope, scope)
    try:
        load_system(params.system)
    except ConfigError as exc:
        raise JobRefused(str(exc)) from None


def run_evaluation_job(ctx: JobContext) -> dict[str, Any]:
    from jingxin.evaluation.runs import run_evaluation

    params: EvaluationParams = ctx.params  # type: ignore[assignment]
    code = division_code(params.scope, ctx.scope)
    year = _year(params.year)
    ctx.progress(0, 2, f"{year}年 {params.system} 评价计算中")
    with ctx.warehouse() as wh:
        summary = run_evaluation(wh, params.system, year, _eval_scope(code), history=params.history)
    ctx.progress(2, 2, "完成")
    ctx.log(f"评价批次 {summary.run_id}：参评企业 {summary.enterprise_count} 家")
    return summary.to_dict()


register_kind(
    JobKind(
        name="evaluation.run",
        title="亩均评价",
        run=run_evaluation_job,
        params=EvaluationParams,
        roles=EVALUATORS,
        check=_check_evaluation,
        describe=lambda p: (
            f"亩均评价 {p.year or '上一'}年 {p.system}" + (f"（{p.scope}）" if p.scope else "")
        ),
    )
)


class UncertaintyParams(BaseModel):
    run: str | None = Field(default=None, max_length=120, description="评价批次编号")
    system: str | None = Field(default=None, pattern=SYSTEM_NAME, max_length=80)
    year: int | None = Field(default=None, ge=2000, le=2100)
    scope: str | None = Field(default=None, pattern=r"^\d{6}$")
    draws: int = Field(default=1000, ge=10, le=100_000)
    spread: float = Field(default=0.2, ge=0, le=1)
    seed: int = 0
    threshold: float = Field(default=0.8, gt=0, le=1)
    methods: list[str] | None = Field(default=None, max_length=20)
    renormalise: bool = True
    live: bool = False
    store: bool = False


def _describe_uncertainty(p: UncertaintyParams) -> str:
    if p.run:
        return f"不确定性分析 {p.run}"
    return f"不确定性分析 {p.year or '上一'}年 {p.system}"


def _check_uncertainty(params: UncertaintyParams, scope: Scope) -> None:
    if params.run is None and params.system is None:
        raise JobRefused("请给出评价批次编号，或评价体系与年度")
    if params.run is None:
        division_code(params.scope, scope)


def run_uncertainty_job(ctx: JobContext) -> dict[str, Any]:
    from jingxin.evaluation.runs import load_run
    from jingxin.evaluation.uncertainty import analyse

    params: UncertaintyParams = ctx.params  # type: ignore[assignment]
    ctx.progress(0, 2, f"蒙特卡洛抽样 {params.draws} 次")
    with ctx.warehouse() as wh:
        if params.run is not None:
            try:
                run_scope = str(load_run(wh, params.run)["scope"])
            except KeyError:
                raise JobRefused(f"评价批次 {params.run} 不存在") from None
            division_code(run_scope, ctx.scope)
            key: Any = params.run
        else:
            code = division_code(params.scope, ctx.scope)
            key = (_year(params.year), str(params.system), _eval_scope(code))
        result = analyse(
            wh,
            key,
            draws=params.draws,
            weight_spread=params.spread,
            methods=params.methods or None,
            seed=params.seed,
            threshold=params.threshold,
            renormalise=params.renormalise,
            prefer_run=not params.live,
            store=params.store,
        )
    ctx.progress(2, 2, "完成")
    ctx.log(f"不稳健企业 {result.not_robust} 家 / {len(result.enterprises)} 家")
    return result.summary()


register_kind(
    JobKind(
        name="evaluation.uncertainty",
        title="不确定性分析",
        run=run_uncertainty_job,
        params=UncertaintyParams,
        roles=EVALUATORS,
        check=_check_uncertainty,
        describe=_describe_uncertainty,
    )
)

# ---- housekeeping ---------------------------------------------------------------------------


class CleanupParams(BaseModel):
    keep_days: int = Field(default=90, ge=1, le=3650, description="保留天数")


def run_cleanup(ctx: JobContext) -> dict[str, Any]:
    params: CleanupParams = ctx.params  # type: ignore[assignment]
    before = utcnow() - dt.timedelta(days=params.keep_days)
    with ctx.database.session() as db:
        old = db.execute(
            select(Job.id, Job.params, Job.kind).where(
                Job.created_at < before, Job.status.not_in(ACTIVE), Job.id != ctx.job_id
            )
        ).all()
        ids = [r[0] for r in old]
        for job_id, p, kind in old:
            remove_results(ctx.settings, job_id)
            if kind == "ingest":
                for item in (p or {}).get("files", []):
                    remove_upload(ctx.settings, str(item.get("upload", "")))
        if ids:
            with writing(db):
                db.execute(delete(Job).where(Job.id.in_(ids)))
                db.commit()
    ctx.log(f"删除 {params.keep_days} 天前结束的作业 {len(ids)} 个")
    return {"deleted": len(ids), "before": before.isoformat()}


register_kind(
    JobKind(
        name="jobs.cleanup",
        title="作业清理",
        run=run_cleanup,
        params=CleanupParams,
        roles=frozenset({Role.ADMIN}),
        describe=lambda p: f"清理 {p.keep_days} 天前的作业",
    )
)

default_schedule(
    ScheduleSpec(
        name="jobs-cleanup",
        title="每日清理 90 天前的作业记录",
        kind="jobs.cleanup",
        rule="daily",
        at="03:30",
        params={"keep_days": 90},
        enabled=True,
    )
)
default_schedule(
    ScheduleSpec(
        name="evaluation-monthly",
        title="每月第一个工作日重算上一年度亩均评价（全省）",
        kind="evaluation.run",
        rule="first_working_day",
        at="02:00",
        params={"system": "zhejiang_industry_above"},
        enabled=False,
    )
)
