"""Audit log (审计日志): who did what, when, from where, to which object.

Government data platforms must be able to answer "who looked at this enterprise's tax figures"
and "who exported this list". So the platform records, in the `audit_log` table of the platform
database: logins and failed logins, logouts, password changes (and wrong old passwords), user
changes, refused requests (403: a role without the right, a failed CSRF check), configuration changes,
every export and download, and every view of sensitive fields (税收、负债、涉诉). Entries are
only ever added; nothing in the platform updates or deletes them.

The entry keeps the username as text beside the user id, so the log still reads correctly for
failed logins of unknown names and after an account is renamed or disabled.

`mask(value, clearance)` is the one helper templates and API responses use to hide sensitive
fields from roles without clearance (see `jingxin.core.auth.Role.clearance`); pair it with
`record_sensitive_view` when a cleared user does see them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Any, cast

import anyio.to_thread
from sqlalchemy import BigInteger, ColumnElement, Index, String, Table, func, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from jingxin.core import metrics
from jingxin.core.db import Base, BigIntPK, clean_json, clean_text, utcnow, write_turn
from jingxin.core.request_context import current_request_id

# Beijing time: China keeps no daylight saving, so a fixed offset is exact and needs no tz data.
CHINA_TZ = timezone(timedelta(hours=8), name="CST")


class Action(StrEnum):
    """What happened. The value is stored; `label` is shown to people."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGIN_LOCKED = "login_locked"
    LOGOUT = "logout"
    PASSWORD_CHANGE = "password_change"
    PASSWORD_CHANGE_FAILED = "password_change_failed"
    ACCESS_DENIED = "access_denied"
    CSRF_FAILED = "csrf_failed"
    USER_CREATE = "user_create"
    USER_UPDATE = "user_update"
    USER_DISABLE = "user_disable"
    USER_ENABLE = "user_enable"
    USER_PASSWORD_RESET = "user_password_reset"
    UPLOAD = "upload"
    EXPORT = "export"
    DOWNLOAD = "download"
    VIEW_SENSITIVE = "view_sensitive"
    CONFIG_CHANGE = "config_change"
    WORKFLOW_STEP = "workflow_step"
    EXCHANGE_READ = "exchange_read"
    EXCHANGE_REFUSED = "exchange_refused"
    EXCHANGE_TOKEN_ISSUE = "exchange_token_issue"
    EXCHANGE_TOKEN_REVOKE = "exchange_token_revoke"
    RISK_GRADE_VIEW = "risk_grade_view"
    MEDICAL_MOVEMENT = "medical_movement"
    MEDICAL_PLAN_EXECUTE = "medical_plan_execute"
    FIVEG_ATTACHMENT = "fiveg_attachment"
    WHATIF_SAVE = "whatif_save"
    WHATIF_ADOPT = "whatif_adopt"

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS: dict[Action, str] = {
    Action.LOGIN: "登录",
    Action.LOGIN_FAILED: "登录失败",
    Action.LOGIN_LOCKED: "登录锁定",
    Action.LOGOUT: "退出",
    Action.PASSWORD_CHANGE: "修改密码",
    Action.PASSWORD_CHANGE_FAILED: "修改密码失败",
    Action.ACCESS_DENIED: "拒绝访问",
    Action.CSRF_FAILED: "安全校验失败",
    Action.USER_CREATE: "新增用户",
    Action.USER_UPDATE: "修改用户",
    Action.USER_DISABLE: "停用用户",
    Action.USER_ENABLE: "启用用户",
    Action.USER_PASSWORD_RESET: "重置密码",
    Action.UPLOAD: "上传数据",
    Action.EXPORT: "导出",
    Action.DOWNLOAD: "下载",
    Action.VIEW_SENSITIVE: "查看敏感字段",
    Action.CONFIG_CHANGE: "配置变更",
    Action.RISK_GRADE_VIEW: "查看风险分级",
    Action.MEDICAL_MOVEMENT: "登记医疗物资出入库",
    Action.MEDICAL_PLAN_EXECUTE: "执行医疗物资调度方案",
    Action.FIVEG_ATTACHMENT: "上传5G基站申请附件",
    Action.WORKFLOW_STEP: "办理工作流",
    Action.EXCHANGE_READ: "接口取数",
    Action.EXCHANGE_REFUSED: "接口取数被拒",
    Action.EXCHANGE_TOKEN_ISSUE: "签发接口令牌",
    Action.EXCHANGE_TOKEN_REVOKE: "吊销接口令牌",
    Action.WHATIF_SAVE: "保存情景推演",
    Action.WHATIF_ADOPT: "采纳情景推演为区县配置",
}


def action_label(action: str) -> str:
    """The Chinese label of a stored action; unknown actions (added by a scenario) show as is."""
    try:
        return Action(action).label
    except ValueError:
        return action


class AuditEntry(Base):
    """One line of the audit log."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_username_at", "username", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    username: Mapped[str | None] = mapped_column(String(64), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    action: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str | None] = mapped_column(String(32), default=None)
    object_id: Mapped[str | None] = mapped_column(String(128), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The request (or the job's request) this happened in: finds its server log lines.
    request_id: Mapped[str | None] = mapped_column(String(64), index=True, default=None)

    @property
    def action_label(self) -> str:
        return action_label(self.action)


# The table itself, for inserts that need no ORM objects (`GroupWriter`).
AUDIT_TABLE = cast(Table, AuditEntry.__table__)


@dataclass(frozen=True)
class Actor:
    """Who acts: the logged-in user (or the name typed at a failed login) and their address.

    The CLI acts as `Actor(None, "cli", None)` so that changes made on the command line are
    audited too.
    """

    user_id: int | None
    username: str | None
    ip: str | None = None


CLI_ACTOR = Actor(None, "cli", None)


def record(
    session: Session,
    actor: Actor,
    action: Action | str,
    object_type: str | None = None,
    object_id: str | int | None = None,
    detail: Mapping[str, Any] | None = None,
    *,
    commit: bool = False,
) -> AuditEntry:
    """Add one entry; it is saved with the caller's transaction (or at once with commit=True).

    Saving with the caller's transaction means an action that fails leaves no entry claiming it
    happened; `commit=True` is for events that must be kept even though nothing else is saved
    (a failed login, a download).
    """
    entry = AuditEntry(**_row(actor, action, object_type, object_id, detail))
    session.add(entry)
    if commit:
        with metrics.AUDIT_WRITE.time(), write_turn(session):
            session.commit()
    return entry


def _row(
    actor: Actor,
    action: Action | str,
    object_type: str | None,
    object_id: str | int | None,
    detail: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return dict(
        at=utcnow(),
        user_id=actor.user_id,
        username=clean_text(actor.username)[:64] if actor.username else None,
        ip=clean_text(actor.ip)[:64] if actor.ip else None,
        action=str(action),
        object_type=object_type,
        object_id=None if object_id is None else clean_text(str(object_id))[:128],
        detail=clean_json(dict(detail or {})),
        request_id=current_request_id(),
    )


class GroupWriter:
    """Writes the audit entries of many concurrent requests in one transaction (group commit).

    Under load, committing each sensitive-field view on its own makes the audit log the
    slowest part of a page. A request awaits `save`; while one batch is being written on a
    worker thread, the entries of the requests arriving meanwhile gather into the next. The
    request is answered only after its entries are saved, and if saving fails the request
    fails with it. For use from one event loop (the web server's).

    `on_loop=True` writes on the event loop itself. That is for SQLite: a local file where a
    batch commits in about a millisecond without waiting for the disk, less than handing it
    to a thread costs under load; the loop may then wait as long as another connection's
    write transaction, which on the platform database is always short. PostgreSQL is a
    network round trip away: its batches go to a worker thread.
    """

    def __init__(
        self, sessions: Callable[[], Session], *, on_loop: bool = False, max_batch: int = 1000
    ) -> None:
        self._sessions = sessions
        self._on_loop = on_loop
        self._max_batch = max_batch
        self._waiting: list[tuple[list[dict[str, Any]], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def save_sensitive_views(
        self, actor: Actor, views: Iterable[tuple[str, str | int, Iterable[str]]]
    ) -> None:
        """As `record_sensitive_view` for each (object_type, object_id, fields), saved before
        this returns."""
        rows = [
            _row(actor, Action.VIEW_SENSITIVE, object_type, object_id, {"fields": shown})
            for object_type, object_id, fields in views
            if (shown := _sensitive_shown(fields))
        ]
        await self.save(rows)

    async def save_entry(
        self,
        actor: Actor,
        action: Action | str,
        object_type: str | None = None,
        object_id: str | int | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """As `record(..., commit=True)`, from the event loop: saved before this returns."""
        await self.save([_row(actor, action, object_type, object_id, detail)])

    async def save(self, rows: list[dict[str, Any]]) -> None:
        """Save audit rows (as `_row` makes them) with whatever else is waiting."""
        if not rows:
            return
        loop = asyncio.get_running_loop()
        saved: asyncio.Future[None] = loop.create_future()
        self._waiting.append((rows, saved))
        if self._flusher is None or self._flusher.done() or self._flusher.get_loop() is not loop:
            self._flusher = loop.create_task(self._flush())
        await saved

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            rows = [row for rows, _ in batch for row in rows]
            try:
                if self._on_loop:
                    self._write(rows)
                else:
                    await anyio.to_thread.run_sync(self._write, rows)
            except Exception as exc:  # every waiting request fails with the reason
                for _, saved in batch:
                    if not saved.done():
                        saved.set_exception(exc)
            else:
                for _, saved in batch:
                    if not saved.done():
                        saved.set_result(None)
            await asyncio.sleep(0)  # let the answered requests go before the next batch

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with metrics.AUDIT_WRITE.time(), self._sessions() as session, write_turn(session):
            # A Core insert: the ORM's bulk path costs more per row and returns nothing we need.
            session.execute(insert(AUDIT_TABLE), rows)
            session.commit()


_deferred_views: ContextVar[list[tuple[str, str, list[str]]] | None] = ContextVar(
    "deferred_views", default=None
)


@contextmanager
def deferring_sensitive_views() -> Iterator[list[tuple[str, str, list[str]]]]:
    """Inside the block, sensitive views are collected as (object_type, object_id, fields)
    instead of written; whoever opens the block must save them before answering.

    `jingxin.web.response_cache` does, through the group writer, for the answer it makes and
    again for every time it serves that answer from memory."""
    noted: list[tuple[str, str, list[str]]] = []
    token = _deferred_views.set(noted)
    try:
        yield noted
    finally:
        _deferred_views.reset(token)


def _sensitive_shown(fields: Iterable[str]) -> list[str]:
    """The sensitive ones among the fields a view showed, sorted (what an entry records)."""
    return sorted(f for f in set(fields) if is_sensitive(f))


def record_sensitive_view(
    session: Session,
    actor: Actor,
    object_type: str,
    object_id: str | int,
    fields: Iterable[str],
    *,
    commit: bool = True,
) -> AuditEntry | None:
    """Record that `actor` saw the sensitive `fields` of one object (or of a list, with
    object_id naming the query). Nothing is recorded when no sensitive field was shown."""
    shown = _sensitive_shown(fields)
    if not shown:
        return None
    deferred = _deferred_views.get()
    if deferred is not None:
        deferred.append((object_type, str(object_id), shown))
        return None
    return record(
        session, actor, Action.VIEW_SENSITIVE, object_type, object_id, {"fields": shown}, commit=commit
    )


# ---- search -------------------------------------------------------------------------------


# The days a search may name (the API and the page refuse others with a 422 / a message).
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(2099, 12, 31)


def day_problem(day: date | None) -> str | None:
    """Why a search day is refused (Chinese), or None."""
    if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
        return f"日期须在 {EARLIEST_DAY.isoformat()} 至 {LATEST_DAY.isoformat()} 之间"
    return None


def china_day_bounds(day_from: date | None, day_to: date | None) -> tuple[datetime | None, datetime | None]:
    """UTC bounds [start, end) covering whole Beijing-time days from `day_from` to `day_to`.

    A bound beyond what a datetime can hold (the day before 0001-01-02 in UTC, the day after
    9999-12-31) is no bound at all: nothing is logged that early or that late."""
    start = end = None
    if day_from is not None and day_from > date.min:
        start = datetime.combine(day_from, time.min, CHINA_TZ).astimezone(UTC)
    if day_to is not None and day_to < date.max:
        end = datetime.combine(day_to + timedelta(days=1), time.min, CHINA_TZ).astimezone(UTC)
    return start, end


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(
    session: Session,
    *,
    username: str | None = None,
    action: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """Entries matching every given filter, newest first, and how many match in all.

    `username` matches part of the name (case-insensitive), taken literally: `%` and `_` are
    not wildcards, and every value is a bound parameter, never SQL text.
    """
    conditions: list[ColumnElement[bool]] = []
    username = clean_text(username).strip() if username else None
    action = clean_text(action).strip() if action else None
    if username:
        pattern = f"%{_escape_like(username.lower())}%"
        conditions.append(func.lower(AuditEntry.username).like(pattern, escape="\\"))
    if action:
        conditions.append(AuditEntry.action == action)
    if object_type:
        conditions.append(AuditEntry.object_type == clean_text(object_type))
    if object_id:
        conditions.append(AuditEntry.object_id == clean_text(object_id))
    start, end = china_day_bounds(date_from, date_to)
    if start is not None:
        conditions.append(AuditEntry.at >= start)
    if end is not None:
        conditions.append(AuditEntry.at < end)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions)) or 0
    rows = session.scalars(
        select(AuditEntry)
        .where(*conditions)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(max(0, limit))
        .offset(max(0, offset))
    ).all()
    return list(rows), int(total)


# ---- sensitive fields ---------------------------------------------------------------------

MASK = "****"

SENSITIVE_FIELDS: frozenset[str] = frozenset(
    {
        "tax_paid",  # 实缴税收
        "tax",
        "tax_per_mu",  # 亩均税收
        "debts",  # 负债
        "liabilities",
        "debt_ratio",
        "court_cases",  # 涉诉
        "lawsuits",
        "seizures",  # 查封、抵押
        "mortgages",
        "guarantees",  # 担保
        "credit_warnings",  # 银行信贷预警
    }
)


def is_sensitive(field: str) -> bool:
    """Whether a column or field name is sensitive (masked without clearance, views audited)."""
    return field in SENSITIVE_FIELDS


def mask(value: Any, clearance: bool) -> Any:
    """The value itself for a cleared user; `****` otherwise (a missing value stays missing,
    so a mask does not pretend a figure exists)."""
    if value is None:
        return None
    return value if clearance else MASK


def mask_fields(row: Mapping[str, Any], clearance: bool) -> dict[str, Any]:
    """A copy of `row` with every sensitive field masked for a user without clearance."""
    return {k: mask(v, clearance) if is_sensitive(k) else v for k, v in row.items()}
