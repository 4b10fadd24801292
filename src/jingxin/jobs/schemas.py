"""JSON shapes of the jobs API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    title: str
    status: str = Field(description="queued、running、succeeded 或 failed")
    status_label: str
    owner_name: str
    percent: int
    progress_done: int
    progress_total: int
    progress_message: str
    attempts: int
    max_attempts: int
    error: str | None
    result: dict[str, Any] | None
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobLogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    level: str
    message: str


class JobDetailOut(JobOut):
    logs: list[JobLogOut]


class JobSubmit(BaseModel):
    kind: str = Field(max_length=64, description="作业类型，见 GET /api/v1/jobs/kinds")
    params: dict[str, Any] = Field(default_factory=dict)
    request_key: str | None = Field(
        default=None, max_length=64, description="请求编号：同一编号重复提交只建一个作业"
    )


class JobKindOut(BaseModel):
    name: str
    title: str
    params_schema: dict[str, Any]


class UploadOut(BaseModel):
    upload: str
    file_name: str
    size: int


class ScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    title: str
    kind: str
    params: dict[str, Any]
    rule: str
    day: int | None
    at: str
    enabled: bool
    description: str
    next_due_at: datetime | None
    last_due_at: datetime | None
    updated_by: str | None


class ScheduleIn(BaseModel):
    rule: str = Field(description="hourly（每小时，取 at 的分钟）、daily、monthly 或 first_working_day")
    day: int | None = Field(default=None, ge=1, le=31)
    at: str = Field(pattern=r"^\d{2}:\d{2}$", description="北京时间 HH:MM")
    enabled: bool = True
    params: dict[str, Any] | None = None


class WorkerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    host: str
    pid: int
    role: str
    started_at: datetime
    heartbeat_at: datetime
    this: bool = Field(default=False, description="是否为回答本请求的进程")
