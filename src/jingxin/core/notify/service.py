"""Notifications (消息通知): an inbox per user and e-mail, driven by workflow events.

`notify` turns one event into one message per recipient, through the channels the recipient
chose for that event (`NotificationPreference`) or, when they chose nothing, the defaults the
workflow declares. Messages are written in the caller's transaction, so a step that fails
notifies nobody. E-mail is an outbox: a message to be mailed is saved `pending` and
`deliver_pending` sends it (after each step through the web app, and in every overdue sweep),
retrying a failed one up to `email_max_attempts` times. A message may be sent twice if the
process dies between the SMTP server accepting it and the database recording that (at least
once, never lost).

Every query here is by the user's own id: a user reads and marks only their own messages.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jingxin.core.db import clean_text, utcnow, write_turn
from jingxin.core.notify.email import SmtpConfig, send_all
from jingxin.core.notify.models import Notification, NotificationPreference

log = logging.getLogger("jingxin.notify")

CHANNELS = ("inbox", "email")
EVENT_LABELS = {
    "assigned": "新任务",
    "due_soon": "即将到期",
    "overdue": "已超期",
    "escalated": "超期升级",
    "answered": "已答复",
    "info_requested": "请补充材料",
    "info_supplied": "已补充材料",
    "reopened": "重新办理",
}
_EMAIL = re.compile(r"^[^@\s<>,;\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


class PreferenceError(ValueError):
    """Preferences that cannot be saved (message in Chinese, says what to fix)."""


def event_label(event: str) -> str:
    return EVENT_LABELS.get(event, event)


def _preferences(db: Session, user_ids: Sequence[int]) -> dict[int, NotificationPreference]:
    if not user_ids:
        return {}
    rows = db.scalars(select(NotificationPreference).where(NotificationPreference.user_id.in_(user_ids)))
    return {p.user_id: p for p in rows}


def notify(
    db: Session,
    users: Iterable[Any],
    *,
    event: str,
    title: str,
    body: str = "",
    link: str | None = None,
    workflow: str | None = None,
    item_id: int | None = None,
    dedupe_key: str,
    default_channels: Sequence[str] = CHANNELS,
    email_enabled: bool | None = None,
) -> list[Notification]:
    """One message per user (each at most once per `dedupe_key`), in the caller's transaction.

    `email_enabled` defaults to whether an SMTP server is configured; without one, nothing is
    queued for e-mail (the inbox still gets it if chosen)."""
    if email_enabled is None:
        email_enabled = SmtpConfig.from_settings() is not None
    ids = sorted({int(u.id) for u in users})
    prefs = _preferences(db, ids)
    existing = set(
        db.scalars(
            select(Notification.user_id).where(
                Notification.user_id.in_(ids), Notification.dedupe_key == dedupe_key
            )
        )
    )
    made: list[Notification] = []
    for user_id in ids:
        if user_id in existing:
            continue
        pref = prefs.get(user_id)
        chosen = (pref.channels or {}).get(event) if pref else None
        channels = set(chosen if isinstance(chosen, list) else default_channels)
        address = pref.email if pref else None
        mail = "email" in channels and bool(address) and email_enabled
        if "inbox" not in channels and not mail:
            continue
        note = Notification(
            user_id=user_id,
            created_at=utcnow(),
            event=event,
            workflow=workflow,
            item_id=item_id,
            title=clean_text(title)[:200],
            body=clean_text(body),
            link=link,
            in_inbox="inbox" in channels,
            email_to=address if mail else None,
            email_status="pending" if mail else "none",
            email_attempts=0,
            dedupe_key=dedupe_key[:128],
        )
        try:
            with db.begin_nested():  # a concurrent sweep made it first: keep theirs
                db.add(note)
        except IntegrityError:
            continue
        made.append(note)
    return made


def unread_count(db: Session, user_id: int) -> int:
    return int(
        db.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.in_inbox, Notification.read_at.is_(None))
        )
        or 0
    )


def inbox(
    db: Session, user_id: int, *, unread_only: bool = False, limit: int = 30, offset: int = 0
) -> tuple[list[Notification], int]:
    """The user's inbox, unread first, newest first; and how many messages match."""
    where = [Notification.user_id == user_id, Notification.in_inbox]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    total = db.scalar(select(func.count()).select_from(Notification).where(*where)) or 0
    rows = db.scalars(
        select(Notification)
        .where(*where)
        .order_by(Notification.read_at.is_not(None), Notification.created_at.desc(), Notification.id.desc())
        .limit(max(0, limit))
        .offset(max(0, offset))
    ).all()
    return list(rows), int(total)


def mark_read(
    db: Session, user_id: int, ids: Sequence[int] | None = None, now: datetime | None = None
) -> int:
    """Mark the user's messages `ids` (all unread ones when None) read; returns how many
    changed. Ids of other users' messages change nothing."""
    stmt = update(Notification).where(
        Notification.user_id == user_id, Notification.in_inbox, Notification.read_at.is_(None)
    )
    if ids is not None:
        if not ids:
            return 0
        stmt = stmt.where(Notification.id.in_(list(ids)))
    with write_turn(db):
        changed = db.execute(stmt.values(read_at=now or utcnow())).rowcount  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
        db.commit()
    return int(changed or 0)


# ---- preferences ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    email: str | None
    channels: dict[str, list[str]]


def get_preferences(db: Session, user_id: int) -> Preferences:
    pref = db.get(NotificationPreference, user_id)
    if pref is None:
        return Preferences(None, {})
    return Preferences(pref.email, {k: list(v) for k, v in (pref.channels or {}).items()})


def check_email(address: str | None) -> str | None:
    if address is None or not address.strip():
        return None
    address = address.strip()
    if len(address) > 254 or not _EMAIL.match(address):
        raise PreferenceError(f"邮箱地址格式不正确：{address[:60]}（例如 name@example.gov.cn）")
    return address


def set_preferences(
    db: Session, user_id: int, *, email: str | None, channels: dict[str, list[str]]
) -> Preferences:
    """Save a user's address and channels per event (checked; nothing saved on error)."""
    address = check_email(email)
    clean: dict[str, list[str]] = {}
    for event, chosen in channels.items():
        if not isinstance(event, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", event):
            raise PreferenceError(f"事件名称不正确：{str(event)[:40]}")
        bad = [c for c in chosen if c not in CHANNELS]
        if bad:
            raise PreferenceError(
                f"“{event_label(event)}”的接收方式只能是站内消息或邮件，不能是 {bad[0][:20]}"
            )
        clean[event] = sorted(set(chosen), key=CHANNELS.index)
    if address is None and any("email" in c for c in clean.values()):
        raise PreferenceError("选择了邮件接收，请先填写邮箱地址")
    with write_turn(db):
        pref = db.get(NotificationPreference, user_id)
        if pref is None:
            pref = NotificationPreference(user_id=user_id)
            db.add(pref)
        pref.email, pref.channels, pref.updated_at = address, clean, utcnow()
        db.commit()
    return Preferences(address, clean)


# ---- e-mail -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0


def _message(note: Notification, config: SmtpConfig) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"【数字经信】{note.title}"
    msg["From"] = config.sender
    msg["To"] = note.email_to or ""
    msg["Message-ID"] = f"<notification-{note.id}@jingxin>"  # a re-send is recognisably the same
    lines = [note.body or note.title]
    if note.link:
        lines += ["", f"查看：{config.public_url.rstrip('/')}{note.link}"]
    lines += ["", "此邮件由数字经信平台自动发送，请勿直接回复。可在平台“消息”页面修改接收方式。"]
    msg.set_content("\n".join(lines))
    return msg


def deliver_pending(
    db: Session, config: SmtpConfig | None = None, *, limit: int = 200, now: datetime | None = None
) -> DeliveryReport:
    """Send pending e-mails (oldest first, at most `limit`) and record each outcome."""
    config = config or SmtpConfig.from_settings()
    if config is None:
        return DeliveryReport()
    query = (
        select(Notification)
        .where(Notification.email_status == "pending")
        .order_by(Notification.id)
        .limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # two senders never take the same one
    with write_turn(db):
        notes = list(db.scalars(query))
        if not notes:
            db.rollback()
            return DeliveryReport()
        errors = send_all(config, [_message(n, config) for n in notes])
        sent = failed = retrying = 0
        moment = now or utcnow()
        for note, error in zip(notes, errors, strict=True):
            note.email_attempts += 1
            if error is None:
                note.email_status, note.emailed_at, note.email_error = "sent", moment, None
                sent += 1
            else:
                note.email_error = error[:500]
                if note.email_attempts >= config.max_attempts:
                    note.email_status = "failed"
                    failed += 1
                else:
                    retrying += 1
        db.commit()
    if failed or retrying:
        log.warning("邮件发送：成功 %s，放弃 %s，待重试 %s", sent, failed, retrying)
    return DeliveryReport(sent, failed, retrying)
