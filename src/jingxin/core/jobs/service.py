"""Job operations on the platform database (作业服务): submit, read, retry, and the state
changes a running job goes through. The web pages, the API, the CLI hand-off and the runner all
call these, so the rules hold whichever way a job arrives:

- a user sees their own jobs; an admin sees every job;
- a job runs with the scope of whoever submitted it (stored with the job), never more;
- a job moves queued → running → succeeded | failed; every move is a conditional UPDATE, so
  two processes can never both run it or both requeue it;
- a job whose process stopped heartbeating is requeued while it has attempts left, else failed.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from pydantic import ValidationError
from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jingxin.core.auth import Role
from jingxin.core.db import clean_json, clean_text, utcnow, write_turn
from jingxin.core.jobs.models import (
    ACTIVE,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Job,
    JobLog,
    JobWorker,
)
from jingxin.core.jobs.registry import JobRefused, get_kind
from jingxin.core.request_context import current_request_id
from jingxin.core.scope import Scope

MAX_LOG_LINES = 2000
F = TypeVar("F", bound=Callable[..., Any])


def changed(db: Session, statement: Any) -> int:
    """Run an UPDATE or DELETE; how many rows it changed (the conditional moves rely on it)."""
    return int(cast(CursorResult[Any], db.execute(statement)).rowcount)


class JobNotFound(LookupError):
    """No such job for this user (也可能不存在)."""


# ---- scope as stored with a job -------------------------------------------------------------


def scope_to_json(scope: Scope) -> dict[str, Any]:
    return {
        "division": scope.division,
        "credit_code": scope.credit_code,
        "department": scope.department,
        "enterprises": sorted(scope.enterprises) if scope.enterprises is not None else None,
        "workflows": sorted(scope.workflows) if scope.workflows is not None else None,
    }


def scope_from_json(data: dict[str, Any] | None) -> Scope:
    data = data or {}
    enterprises = data.get("enterprises")
    workflows = data.get("workflows")
    return Scope(
        division=data.get("division"),
        credit_code=data.get("credit_code"),
        department=data.get("department"),
        enterprises=frozenset(enterprises) if enterprises is not None else None,
        workflows=frozenset(workflows) if workflows is not None else None,
    )


# ---- submitting -----------------------------------------------------------------------------


_turn = threading.local()


@contextmanager
def writing(db: Session) -> Iterator[None]:
    """This process's turn to write the platform database, taken BEFORE the first write
    statement and kept to the commit (re-entrant within a thread).

    On SQLite a connection that has begun writing holds the file's write lock; taking the
    process's write turn only at commit would let it wait for the turn while the turn's
    holder waits for the file: both stuck until SQLite's busy timeout fails one of them."""
    if getattr(_turn, "depth", 0):
        _turn.depth += 1
        try:
            yield
        finally:
            _turn.depth -= 1
        return
    with write_turn(db):
        _turn.depth = 1
        try:
            yield
        finally:
            _turn.depth = 0


def _writes(fn: F) -> F:
    """Run a service function that writes inside `writing(db)` (db is its first argument)."""

    @functools.wraps(fn)
    def wrapper(db: Session, *args: Any, **kwargs: Any) -> Any:
        with writing(db):
            return fn(db, *args, **kwargs)

    return cast(F, wrapper)


def _commit(db: Session) -> None:
    db.commit()  # callers run inside `writing(db)`


@_writes
def submit(
    db: Session,
    kind_name: str,
    params: dict[str, Any],
    *,
    owner_name: str,
    scope: Scope,
    owner_id: int | None = None,
    role: Role | None = None,
    request_key: str | None = None,
) -> tuple[Job, bool]:
    """Record a new job (status queued) and return it with True, or the earlier job sent with
    the same `request_key` with False (a retried request does not start the work twice).

    `role` is the submitting user's role (None for the platform itself: schedules, local CLI).
    Raises `JobRefused` for an unknown kind, a role that may not start it, bad parameters or a
    scope that does not cover them. The caller enqueues the job after this returns.
    """
    kind = get_kind(kind_name)
    if request_key:
        request_key = clean_text(request_key)[:64]
        earlier = db.scalar(select(Job).where(Job.request_key == request_key))
        if earlier is not None:
            if earlier.owner_name != owner_name:
                raise JobRefused("请求编号已被使用，请换一个")
            return earlier, False
    if role is not None and role not in kind.roles:
        raise JobRefused(f"您的角色无权启动「{kind.title}」作业")
    try:
        model = kind.params.model_validate(params)
    except ValidationError as exc:
        problems = "；".join(
            f"{'.'.join(str(p) for p in e['loc']) or '参数'}：{e['msg']}" for e in exc.errors()
        )
        raise JobRefused(f"「{kind.title}」的参数不正确：{problems}") from None
    if kind.check is not None:
        kind.check(model, scope)
    job = Job(
        kind=kind.name,
        title=clean_text(kind.title_for(model)),
        status=QUEUED,
        owner_id=owner_id,
        owner_name=owner_name,
        scope=scope_to_json(scope),
        params=clean_json(model.model_dump(mode="json")),
        request_key=request_key or None,
        progress_message="排队等待",
        max_attempts=kind.max_attempts,
        attempts=0,
        progress_done=0,
        progress_total=0,
        created_at=utcnow(),
        request_id=current_request_id(),
    )
    db.add(job)
    try:
        db.flush()
        db.add(
            JobLog(
                job_id=job.id,
                message=f"{owner_name} 提交作业：{job.title}",
                at=utcnow(),
                request_id=job.request_id,
            )
        )
        _commit(db)
    except IntegrityError:
        db.rollback()
        if request_key:  # the same request arrived twice at once: the other one won
            earlier = db.scalar(select(Job).where(Job.request_key == request_key))
            if earlier is not None:
                return earlier, False
        raise
    return job, True


# ---- reading --------------------------------------------------------------------------------


def _visible(user_id: int | None, is_admin: bool) -> Any:
    return True if is_admin else (Job.owner_id == user_id)


def list_jobs(
    db: Session,
    user_id: int | None,
    is_admin: bool,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Job], int]:
    """The jobs this user sees (own; all for an admin), newest first, and how many there are."""
    where = [_visible(user_id, is_admin)]
    if status:
        where.append(Job.status == status)
    if kind:
        where.append(Job.kind == kind)
    total = db.scalar(select(func.count()).select_from(Job).where(*where)) or 0
    rows = db.scalars(select(Job).where(*where).order_by(Job.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), int(total)


def get_job(db: Session, job_id: int, user_id: int | None = None, is_admin: bool = True) -> Job:
    job = db.get(Job, job_id)
    if job is None or not (is_admin or job.owner_id == user_id):
        raise JobNotFound(job_id)
    return job


def job_logs(db: Session, job_id: int, after: int = 0, limit: int = MAX_LOG_LINES) -> list[JobLog]:
    return list(
        db.scalars(
            select(JobLog).where(JobLog.job_id == job_id, JobLog.id > after).order_by(JobLog.id).limit(limit)
        ).all()
    )


def has_active_jobs(db: Session, user_id: int | None, is_admin: bool) -> bool:
    where = [_visible(user_id, is_admin), Job.status.in_(ACTIVE)]
    return bool(db.scalar(select(func.count()).select_from(Job).where(*where)))


# ---- retry ----------------------------------------------------------------------------------


@_writes
def retry(db: Session, job_id: int, by: str, user_id: int | None = None, is_admin: bool = True) -> Job:
    """Put a failed job back in the queue (its earlier error stays in its log)."""
    job = get_job(db, job_id, user_id, is_admin)
    if job.status != FAILED:
        raise JobRefused("只有失败的作业可以重试")
    earlier_error = job.error or "原因不明"
    moved = changed(
        db,
        update(Job)
        .where(Job.id == job_id, Job.status == FAILED)
        .values(
            status=QUEUED,
            error=None,
            result=None,
            attempts=0,
            worker=None,
            progress_done=0,
            progress_total=0,
            progress_message="排队等待（重试）",
            finished_at=None,
        ),
    )
    if not moved:
        db.rollback()
        raise JobRefused("该作业已在重试")
    db.add(JobLog(job_id=job_id, message=f"{by} 重试作业（上次失败：{earlier_error}）", at=utcnow()))
    _commit(db)
    db.refresh(job)
    return job


# ---- the running side -----------------------------------------------------------------------


def this_host() -> str:
    return socket.gethostname()[:100]


@_writes
def claim(db: Session, job_id: int, worker: str) -> Job | None:
    """Take a queued job for `worker`; None when it is not queued (already taken or done)."""
    now = utcnow()
    taken = changed(
        db,
        update(Job)
        .where(Job.id == job_id, Job.status == QUEUED)
        .values(
            status=RUNNING,
            attempts=Job.attempts + 1,
            worker=worker,
            started_at=now,
            heartbeat_at=now,
            progress_message="运行中",
        ),
    )
    if not taken:
        db.rollback()
        return None
    job = db.get(Job, job_id)
    assert job is not None
    db.add(JobLog(job_id=job_id, message=f"开始运行（第 {job.attempts} 次，进程 {worker}）", at=now))
    _commit(db)
    return job


@_writes
def set_progress(db: Session, job_id: int, worker: str, done: int, total: int, message: str | None) -> None:
    values: dict[str, Any] = {"progress_done": done, "progress_total": total, "heartbeat_at": utcnow()}
    if message is not None:
        values["progress_message"] = clean_text(message)[:200]
    db.execute(
        update(Job).where(Job.id == job_id, Job.worker == worker, Job.status == RUNNING).values(**values)
    )
    _commit(db)


@_writes
def add_log(db: Session, job_id: int, message: str, level: str = "info") -> None:
    db.add(
        JobLog(
            job_id=job_id,
            message=clean_text(message)[:4000],
            level=level,
            at=utcnow(),
            request_id=current_request_id(),
        )
    )
    _commit(db)


@_writes
def finish(db: Session, job_id: int, worker: str, result: dict[str, Any]) -> bool:
    """Mark the job done with its result; False when it was no longer this worker's (it was
    declared dead and requeued meanwhile)."""
    done = changed(
        db,
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.status == RUNNING)
        .values(
            status=SUCCEEDED,
            result=clean_json(result),
            finished_at=utcnow(),
            progress_message="已完成",
        ),
    )
    if done:
        db.add(JobLog(job_id=job_id, message="作业完成", at=utcnow()))
    _commit(db)
    return bool(done)


@_writes
def fail(db: Session, job_id: int, worker: str, error: str) -> bool:
    failed = changed(
        db,
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.status == RUNNING)
        .values(status=FAILED, error=clean_text(error)[:4000], finished_at=utcnow(), progress_message="失败"),
    )
    if failed:
        db.add(JobLog(job_id=job_id, level="error", message=f"作业失败：{error}", at=utcnow()))
    _commit(db)
    return bool(failed)


@_writes
def release(db: Session, job_id: int, worker: str) -> bool:
    """Put back a job this worker was running when its process began to stop (the server
    shutting down), so the next process runs it again from the start."""
    back = changed(
        db,
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.status == RUNNING)
        .values(
            status=QUEUED,
            worker=None,
            attempts=Job.attempts - 1,
            progress_message="排队等待（服务重启后运行）",
        ),
    )
    if back:
        db.add(
            JobLog(
                job_id=job_id,
                level="warning",
                message="服务停止，作业中断，未留下部分结果，重新排队",
                at=utcnow(),
            )
        )
    _commit(db)
    return bool(back)


# ---- workers and their heartbeats -----------------------------------------------------------


@_writes
def register_worker(db: Session, worker: str, role: str) -> None:
    now = utcnow()
    db.merge(
        JobWorker(id=worker, host=this_host(), pid=os.getpid(), role=role, started_at=now, heartbeat_at=now)
    )
    _commit(db)


@_writes
def heartbeat(db: Session, worker: str) -> None:
    now = utcnow()
    db.execute(update(JobWorker).where(JobWorker.id == worker).values(heartbeat_at=now))
    db.execute(update(Job).where(Job.worker == worker, Job.status == RUNNING).values(heartbeat_at=now))
    _commit(db)


@_writes
def unregister_worker(db: Session, worker: str) -> None:
    db.execute(delete(JobWorker).where(JobWorker.id == worker))
    _commit(db)


def live_workers(db: Session, stale_after: float) -> list[JobWorker]:
    since = utcnow() - timedelta(seconds=stale_after)
    return list(db.scalars(select(JobWorker).where(JobWorker.heartbeat_at >= since).order_by(JobWorker.id)))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead(job: Job, now: datetime, stale_after: float, host: str) -> bool:
    """Whether the process running `job` is gone: no heartbeat for `stale_after` seconds, or
    (on this machine) its process id no longer exists."""
    if job.heartbeat_at is None or now - job.heartbeat_at > timedelta(seconds=stale_after):
        return True
    parts = (job.worker or "").split(":")
    if len(parts) >= 2 and parts[0] == host and parts[1].isdigit():
        return int(parts[1]) != os.getpid() and not _pid_alive(int(parts[1]))
    return False


@_writes
def reap(db: Session, stale_after: float, me: str) -> list[int]:
    """Deal with running jobs whose process died: requeue those with attempts left (returned,
    for the caller to enqueue), fail the others. Work a dead process did is never half kept:
    each kind writes its result in one transaction, so running it again starts clean."""
    now = utcnow()
    host = this_host()
    running = db.scalars(
        select(Job).where(Job.status == RUNNING, or_(Job.worker.is_(None), Job.worker != me))
    )
    requeue: list[int] = []
    for job in list(running):
        if not _dead(job, now, stale_after, host):
            continue
        gone = job.worker
        if job.attempts < job.max_attempts:
            values: dict[str, Any] = {
                "status": QUEUED,
                "worker": None,
                "progress_message": "排队等待（重新运行）",
            }
            note = f"进程 {gone} 在运行中终止，作业未留下部分结果，重新排队"
        else:
            values = {
                "status": FAILED,
                "error": f"进程在运行中终止（已运行 {job.attempts} 次），作业未留下部分结果",
                "finished_at": now,
                "progress_message": "失败",
            }
            note = f"进程 {gone} 在运行中终止，已达最多运行次数 {job.max_attempts}，作业失败"
        moved = changed(
            db,
            update(Job).where(Job.id == job.id, Job.status == RUNNING, Job.worker == gone).values(**values),
        )
        if moved:
            db.add(JobLog(job_id=job.id, level="warning", message=note, at=now))
            if values["status"] == QUEUED:
                requeue.append(job.id)
    db.execute(delete(JobWorker).where(JobWorker.heartbeat_at < now - timedelta(seconds=stale_after * 10)))
    _commit(db)
    return requeue


def queued_ids(db: Session, older_than: float = 0.0) -> Sequence[int]:
    """Queued jobs (optionally only those waiting longer than `older_than` seconds)."""
    where = [Job.status == QUEUED]
    if older_than:
        where.append(Job.created_at < utcnow() - timedelta(seconds=older_than))
    return list(db.scalars(select(Job.id).where(*where).order_by(Job.id)))
