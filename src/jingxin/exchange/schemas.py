"""Request and response models of the data exchange API (/api/v1/exchange/...)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FieldOut(BaseModel):
    name: str = Field(description="字段名（接口和 CSV 使用）")
    header: str = Field(description="中文表头（含单位）")
    type: str
    unit: str | None
    sensitive: bool = Field(description="是否敏感字段（税收等），授权须单独列出")


class DatasetOut(BaseModel):
    id: str
    title: str
    department: str = Field(description="报送部门")
    frequency: str = Field(description="更新频率")
    rule: str = Field(description="报送规则")
    key: list[str] = Field(description="键（中文表头）")
    fields: list[FieldOut]


class LineageOut(BaseModel):
    visible: bool = Field(description="是否有权查看批次明细")
    live_batches: int
    live_rows: int
    periods: list[str]


class CatalogueEntryOut(DatasetOut):
    lineage: LineageOut


class GrantedDatasetOut(DatasetOut):
    granted_fields: list[str]


class TokenInfoOut(BaseModel):
    """What a token may read (GET /api/v1/exchange/datasets)."""

    holder: str
    division: str | None = Field(description="数据范围区划代码；null 为全省")
    rate_per_minute: int
    expires_at: datetime
    datasets: list[GrantedDatasetOut]


class RowsPageOut(BaseModel):
    dataset: str
    fields: list[str]
    total: int
    limit: int
    offset: int
    next_offset: int | None
    rows: list[dict[str, Any]]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="令牌名称")
    holder: str = Field(min_length=1, max_length=100, description="使用单位（部门或系统）")
    grants: dict[str, list[str]] = Field(description="数据集 → 可读字段")
    division: str | None = Field(default=None, description="区划代码；不填为全省")
    rate_per_minute: int = Field(default=60, ge=1, le=6000)
    expires_at: datetime


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    prefix: str
    name: str
    holder: str
    grants: dict[str, list[str]]
    division: str | None
    rate_per_minute: int
    expires_at: datetime
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None


class IssuedOut(TokenOut):
    token: str = Field(description="令牌全文，只显示这一次；平台只保存其 SHA-256")


class SubmissionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    source: str
    department: str
    period: str
    due_at: datetime = Field(description="此刻之后报送即为逾期")
    due_day: date = Field(description="截止日（北京时间，当日报送仍为按时）")
    status: str
    batch_id: int | None
    received_at: datetime | None
    row_count: int
    rejected_rows: int
    rejected_share: float | None
    reminders: int


class TrackerSummaryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    department: str
    source: str
    source_title: str
    rule: str
    expected: int
    received: int
    late: int
    overdue: int
    rejected: int
    rejected_share: float | None
