"""Tables of notifications (消息通知): each user's messages and their chosen channels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jingxin.core.db import Base, BigIntPK, JSONType, utcnow


class Notification(Base):
    """One message to one user. It shows in the inbox when `in_inbox`, and is e-mailed when
    `email_status` is `pending` (then `sent`, or `failed` after the last attempt).

    `dedupe_key` makes each event reach a user once, however often a sweep or a retried
    request runs."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "dedupe_key", name="uq_notifications_user_id_dedupe_key"),
        Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
        Index("ix_notifications_email_status", "email_status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(40))
    workflow: Mapped[str | None] = mapped_column(String(40), default=None)
    item_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(255), default=None)
    in_inbox: Mapped[bool] = mapped_column(Boolean, default=True)
    read_at: Mapped[datetime | None] = mapped_column(default=None)
    email_to: Mapped[str | None] = mapped_column(String(254), default=None)
    email_status: Mapped[str] = mapped_column(String(16), default="none")  # none, pending, sent, failed
    email_attempts: Mapped[int] = mapped_column(Integer, default=0)
    email_error: Mapped[str | None] = mapped_column(String(500), default=None)
    emailed_at: Mapped[datetime | None] = mapped_column(default=None)
    dedupe_key: Mapped[str] = mapped_column(String(128))


class NotificationPreference(Base):
    """A user's e-mail address and, per event, the channels they want (收件偏好).

    `channels` maps an event (assigned, due_soon, overdue, escalated, answered, ...) to a list of
    `inbox` / `email`; an event not listed uses the workflow's default for it."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    channels: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
