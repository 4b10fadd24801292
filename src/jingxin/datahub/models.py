"""What the data page and its API show: batches, rejected rows, upload outcomes.

The batch registry itself lives in the warehouse (so a batch and its facts commit together,
see docs/architecture.md); these are the read models built from it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class SourceOut(BaseModel):
    """A data source (数据源) of the exchange contracts."""

    id: str
    title: str
    department: str


class BatchOut(BaseModel):
    """One ingested file (批次) and what became of it."""

    batch_id: int
    source: str
    source_title: str
    department: str
    period: str | None
    file_name: str | None
    content_hash: str | None
    row_count: int = Field(description="数据行数")
    accepted: int = Field(description="接收行数")
    rejected: int = Field(description="拒收行数")
    loaded_by: str | None
    loaded_at: datetime | None
    supersedes: int | None = Field(description="本批次更正（取代）的批次")
    superseded_by: int | None = Field(description="取代本批次的批次；为空表示现行")
    status: Literal["current", "superseded"]
    status_label: str


class RejectedRowOut(BaseModel):
    """One problem found in one row of a file (a row can have several)."""

    row_number: int | None = Field(description="文件中的行号（与表格软件所示一致）")
    column_name: str | None
    value: str | None
    reason: str | None
    raw: str | None = Field(description="原始行内容")


class UploadOutcome(BaseModel):
    """The result of one upload: the batch, and whether the file had been sent before."""

    batch: BatchOut
    duplicate: bool = Field(description="同一文件此前已提交，未重复入库")
    errors: int = Field(default=0, description="发现的问题数（一行可有多个问题）")
    notes: list[str] = Field(default_factory=list, description="读取说明，如单位换算、别名识别")
    skipped: list[dict[str, Any]] = Field(default_factory=list, description="未作为数据读取的合计行、注释行")


class SourceSummary(BaseModel):
    """Accepted and rejected rows of the live batches of one source (for the overview chart)."""

    source: str
    source_title: str
    batches: int
    accepted: int
    rejected: int
