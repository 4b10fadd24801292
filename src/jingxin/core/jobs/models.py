"""Tables of jobs and schedules (作业与定时任务) in the platform database.

- `jobs`: one row per piece of long work: its kind, owner and the scope it runs with, status,
  progress, result or error, attempts and which process runs it (with a heartbeat, so a
  process that died mid-job is noticed).
- `job_logs`: the job's log lines, append-only.
- `job_schedules` / `job_schedule_runs`: configured periodic jobs and each run of them. A run is
  unique per (schedule, due time), so several server processes ticking at once start it once.
- `job_workers`: the processes that run jobs, with their heartbeat.

The task queue (huey) carries only a job id; everything a person sees lives here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jingxin.core.db import Base, BigIntPK, JSONType, utcnow

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED)
STATUS_LABELS = {QUEUED: "排队中", RUNNING: "运行中", SUCCEEDED: "已完成", FAILED: "失败"}
ACTIVE = (QUEUED, RUNNING)


class Job(Base):
    """One job (作业). `owner_id` is None for work started by a schedule or a local CLI run;
    `owner_name` then says which (`schedule:<name>`, `cli`)."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_owner_id_created_at", "owner_id", "created_at"),
        Index("ix_jobs_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    owner_name: Mapped[str] = mapped_column(String(64))
    scope: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    progress_message: Mapped[str] = mapped_column(String(200), default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=2)
    worker: Mapped[str | None] = mapped_column(String(128), default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # The web request that submitted it; its log lines and audit entries carry the same id.
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def percent(self) -> int:
        if self.status == SUCCEEDED:
            return 100
        if self.progress_total <= 0:
            return 0
        return max(0, min(100, round(100 * self.progress_done / self.progress_total)))

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class JobLog(Base):
    """One log line of a job."""

    __tablename__ = "job_logs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    level: Mapped[str] = mapped_column(String(8), default="info")
    message: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)


class JobSchedule(Base):
    """A configured periodic job (定时任务). `rule` is `daily`, `monthly` (on `day`) or
    `first_working_day` (the month's first Chinese working day); `at` is local "HH:MM"
    (Asia/Shanghai by default). `last_due_at` is the latest occurrence already handled."""

    __tablename__ = "job_schedules"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    rule: Mapped[str] = mapped_column(String(32))
    day: Mapped[int | None] = mapped_column(Integer, default=None)
    at: Mapped[str] = mapped_column(String(5), default="02:00")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_due_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64), default=None)


class JobScheduleRun(Base):
    """One run of a schedule: the occurrence it stands for, the job it started, and how many
    earlier occurrences were missed (downtime) and caught up by this one run."""

    __tablename__ = "job_schedule_runs"
    __table_args__ = (UniqueConstraint("schedule_id", "due_at", name="uq_job_schedule_runs_schedule_due"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("job_schedules.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    missed: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), default=None)


class JobWorker(Base):
    """A process that runs jobs (a server process or `jingxin worker`), with its heartbeat."""

    __tablename__ = "job_workers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(128))
    pid: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16), default="server")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
