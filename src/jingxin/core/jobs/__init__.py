"""Jobs and schedules (作业与定时任务): long work run in the background with an id, an owner,
progress, a log and a result, and periodic jobs that admins configure.

Long work (ingesting a file, an evaluation, an uncertainty analysis, a report, a nowcast, a
nightly refresh) is a *job kind*. A scenario declares its kinds in a module of its own and lists
that module in `jingxin.core.jobs.registry.KIND_MODULES`:

```python
from pydantic import BaseModel, Field
from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.jobs import JobContext, JobKind, JobRefused, register_kind
from jingxin.core.jobs.schedules import ScheduleSpec, default_schedule

class NowcastParams(BaseModel):
    month: str = Field(pattern=r"^\\d{4}-\\d{2}$")

def run_nowcast(ctx: JobContext) -> dict:
    ctx.progress(0, 3, "读取电力数据")          # live progress bar on the jobs page
    with ctx.warehouse() as wh:                # the warehouse for writing (this process's writer)
        ...                                    # write the result in ONE transaction
    ctx.log("完成 11 个设区市")                 # the job's log
    return {"rows": 11}                        # the job's result (JSON)

register_kind(JobKind(
    name="monitoring.nowcast", title="工业运行实时预测", run=run_nowcast,
    params=NowcastParams, roles=frozenset({Role.ADMIN, *ANALYSTS}),
    check=None,                                # or fn(params, scope) raising JobRefused
    describe=lambda p: f"实时预测 {p.month}",
))

default_schedule(ScheduleSpec(                 # offered to admins, who may edit or switch it on
    name="nowcast-monthly", title="每月第一个工作日预测", kind="monitoring.nowcast",
    rule="first_working_day", at="07:00", params={"month": "2026-01"}, enabled=False,
))
```

Starting a job from code (a web route, a workflow step, a notice generator):

```python
from jingxin.core.jobs import service
job, created = service.submit(db, "monitoring.nowcast", {"month": "2026-11"},
                              owner_name=user.username, owner_id=user.id, role=user.role_enum,
                              scope=user.scope)
request.app.state.jobs.enqueue(job.id)       # or jingxin.core.jobs.runner.current().enqueue
```

What the machinery guarantees:

- a job runs with its submitter's `Scope` (`ctx.scope`), stored with the job; a user sees
  their own jobs on `/jobs`, an admin every job; a failed job keeps its error and can be
  retried (`service.retry`);
- a process killed mid-job: its heartbeat stops, another process (or the same server when it
  starts again) requeues the job while `max_attempts` allows, else marks it failed. A kind
  must therefore write its result atomically (one warehouse transaction) and be safe to run
  again from the start;
- schedules: rules `hourly` (minute MM of each hour), `daily`, `monthly` (day N),
  `first_working_day` (Chinese working days, `workdays.is_working_day`), each run
  recorded in `job_schedule_runs`; missed occurrences after downtime are caught up by one run.

Modules: `models` (tables), `registry` (kinds), `service` (database operations), `runner`
(huey queue, in-process consumer, supervisor), `schedules`, `workdays`, `uploads` (files a
job reads), `results` (files a job writes, e.g. a zip of notices, via `ctx.result_path(name)`,
downloaded from `/jobs/{id}`), `client` (the CLI's hand-off to a running server), `config` (settings).
"""

from jingxin.core.jobs.registry import JobKind, JobRefused, all_kinds, get_kind, register_kind
from jingxin.core.jobs.runner import JobContext, JobRuntime

__all__ = ["JobContext", "JobKind", "JobRefused", "JobRuntime", "all_kinds", "get_kind", "register_kind"]
