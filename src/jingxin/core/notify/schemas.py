"""Response and request models of the notifications API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    event: str
    workflow: str | None
    item_id: int | None
    title: str
    body: str
    link: str | None
    read_at: datetime | None
    email_status: str = Field(description="none（不发邮件）、pending、sent、failed")


class UnreadOut(BaseModel):
    unread: int


class ChangedOut(BaseModel):
    changed: int
    unread: int


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=254, description="接收邮件的地址；空则不发邮件")
    channels: dict[str, list[Literal["inbox", "email"]]] = Field(
        default_factory=dict, max_length=40, description="事件 → 接收方式（inbox 站内消息、email 邮件）"
    )


class PreferencesOut(BaseModel):
    email: str | None
    channels: dict[str, list[str]]
