"""Login (登录) with throttling, and password changes under the same throttle.

Unknown names, wrong passwords and disabled accounts look the same from outside; five wrong
passwords lock an account for 15 minutes, twenty failures an address (`ThrottlePolicy`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from jingxin.accounts.models import LoginAttempt, User
from jingxin.accounts.service import (
    AccountError,
    check_new_password,
    get_user,
    get_user_by_username,
    normalise_username,
)
from jingxin.accounts.sessions import end_user_sessions
from jingxin.core.audit import Action, Actor, record
from jingxin.core.auth import burn_verification, hash_password, needs_rehash, verify_password
from jingxin.core.db import utcnow


@dataclass(frozen=True)
class ThrottlePolicy:
    """Login throttling (登录限制).

    An account is locked for `lock` after `account_failures` wrong passwords within `lock`;
    an address after `ip_failures` failed attempts of any kind. The address limit is higher
    because a whole bureau often reaches the platform through one NAT address.
    """

    account_failures: int = 5
    ip_failures: int = 20
    lock: timedelta = timedelta(minutes=15)


DEFAULT_THROTTLE = ThrottlePolicy()


@dataclass(frozen=True)
class LoginOutcome:
    user: User | None
    error: str | None = None
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None


FAILURES = ("bad_password", "unknown_user", "disabled")
GENERIC_FAILURE = "用户名或密码错误"


def _locked_until(
    db: Session,
    column: Any,
    value: str,
    outcomes: Sequence[str],
    limit: int,
    lock: timedelta,
    now: datetime,
    since: datetime | None = None,
) -> datetime | None:
    """When the lock on `value` ends, or None: `limit` failures within `lock` lock it for
    `lock` from the last of them. Refused attempts during a lock do not count, so the lock
    ends on time even if someone keeps trying."""
    conditions = [column == value, LoginAttempt.outcome.in_(outcomes), LoginAttempt.at > now - 2 * lock]
    if since is not None:
        conditions.append(LoginAttempt.at > since)
    times = db.scalars(
        select(LoginAttempt.at).where(*conditions).order_by(LoginAttempt.at.desc()).limit(limit)
    ).all()
    if len(times) < limit:
        return None
    newest, oldest = times[0], times[-1]
    if newest - oldest <= lock and now < newest + lock:
        return newest + lock
    return None


def lock_state(
    db: Session,
    username: str,
    ip: str,
    policy: ThrottlePolicy = DEFAULT_THROTTLE,
    now: datetime | None = None,
) -> datetime | None:
    """Until when logins for this account or from this address are refused (None = open)."""
    now = now or utcnow()
    name = normalise_username(username)[:64]
    last_ok = db.scalar(
        select(func.max(LoginAttempt.at)).where(LoginAttempt.username == name, LoginAttempt.outcome == "ok")
    )
    # Unknown names count like wrong passwords, so locking does not reveal which accounts exist.
    account = _locked_until(
        db,
        LoginAttempt.username,
        name,
        ("bad_password", "unknown_user"),
        policy.account_failures,
        policy.lock,
        now,
        since=last_ok,
    )
    address = _locked_until(db, LoginAttempt.ip, ip, FAILURES, policy.ip_failures, policy.lock, now)
    candidates = [t for t in (account, address) if t is not None]
    return max(candidates) if candidates else None


def authenticate(
    db: Session, username: str, password: str, ip: str | None, policy: ThrottlePolicy = DEFAULT_THROTTLE
) -> LoginOutcome:
    """Check a login (登录) against the password and the throttle; record the attempt and audit.

    Unknown names, wrong passwords and disabled accounts give the same message (and the same
    time, see `burn_verification`), so the login form does not reveal which accounts exist.
    """
    name = normalise_username(username)[:64]
    ip = (ip or "unknown")[:64]
    with attempt_turn(db, name, ip):
        return _authenticate(db, name, password, ip, policy)


_LOGIN_LOCK_SPACE = 7405  # first key of the login advisory locks (any number unique to them)
_sqlite_login_lock = threading.Lock()


@contextmanager
def attempt_turn(db: Session, name: str, ip: str) -> Iterator[None]:
    """Let one login attempt at a time count for an account and for an address, so that
    simultaneous wrong passwords cannot all be checked against the same count and together
    exceed the limit. On PostgreSQL a transaction-level advisory lock per account and per
    address (held until the attempt commits, across every server process; taken account first,
    then address, always in that order, so two attempts cannot wait on each other); on SQLite,
    one server process, a lock in the process."""
    if db.get_bind().dialect.name == "postgresql":
        for key in (f"user:{name}", f"ip:{ip}"):
            db.execute(
                text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
                {"space": _LOGIN_LOCK_SPACE, "key": key},
            )
        yield  # every path of `_authenticate` commits, which releases both locks
        return
    with _sqlite_login_lock:
        yield


def _authenticate(db: Session, name: str, password: str, ip: str, policy: ThrottlePolicy) -> LoginOutcome:
    now = utcnow()
    actor = Actor(None, name, ip)
    locked = lock_state(db, name, ip, policy, now)
    if locked is not None:
        db.add(LoginAttempt(at=now, username=name, ip=ip, outcome="locked"))
        record(db, actor, Action.LOGIN_FAILED, "user", None, {"reason": "locked"}, commit=True)
        return LoginOutcome(None, "登录" + _lock_message(locked, now), locked)
    user = get_user_by_username(db, name)
    if user is None:
        burn_verification(password)
        outcome = "unknown_user"
    elif not verify_password(user.password_hash, password):
        outcome = "bad_password"
    elif not user.is_active:
        outcome = "disabled"
    else:
        outcome = "ok"
    db.add(LoginAttempt(at=now, username=name, ip=ip, outcome=outcome))
    if outcome != "ok":
        actor = Actor(user.id if user else None, name, ip)
        record(db, actor, Action.LOGIN_FAILED, "user", user.id if user else None, {"reason": outcome})
        db.flush()
        newly_locked = lock_state(db, name, ip, policy, now)
        if newly_locked is not None:
            record(
                db,
                actor,
                Action.LOGIN_LOCKED,
                "user",
                user.id if user else None,
                {"until": newly_locked.isoformat(), "reason": outcome},
            )
        db.commit()
        if outcome == "disabled":
            return LoginOutcome(None, "账号已停用，请联系管理员")
        if newly_locked is not None:
            minutes = int(policy.lock.total_seconds() // 60)
            return LoginOutcome(None, f"{GENERIC_FAILURE}。失败次数过多，已锁定{minutes}分钟", newly_locked)
        return LoginOutcome(None, GENERIC_FAILURE)
    assert user is not None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    record(db, Actor(user.id, user.username, ip), Action.LOGIN, "user", user.id)
    db.commit()
    return LoginOutcome(user)


class PasswordChangeLocked(AccountError):
    """Too many wrong old passwords (or failed logins): refused until `until` (HTTP 429)."""

    def __init__(self, message: str, until: datetime) -> None:
        super().__init__(message)
        self.until = until


def _lock_message(locked: datetime, now: datetime) -> str:
    minutes = max(1, int((locked - now).total_seconds() // 60) + 1)
    return f"失败次数过多，账号或地址已被锁定，请{minutes}分钟后再试"


def change_password(
    db: Session,
    user: User,
    old_password: str,
    new_password: str,
    actor: Actor,
    keep_token: str | None = None,
    policy: ThrottlePolicy = DEFAULT_THROTTLE,
) -> None:
    """A user changes their own password (修改密码); their other sessions end.

    The old password is checked under the login throttle: a wrong one counts as a failed
    login of the account from the actor's address (so a stolen session cannot guess the
    password without limit), is audited, and while the account or the address is locked the
    change is refused (`PasswordChangeLocked`) without checking anything."""
    user = get_user(db, user.id)  # the row itself: the request's user may be a shared copy
    name = user.username
    ip = (actor.ip or "unknown")[:64]
    now = utcnow()
    locked = lock_state(db, name, ip, policy, now)
    if locked is not None:
        db.add(LoginAttempt(at=now, username=name, ip=ip, outcome="locked"))
        record(db, actor, Action.PASSWORD_CHANGE_FAILED, "user", user.id, {"reason": "locked"})
        db.commit()
        raise PasswordChangeLocked(_lock_message(locked, now), locked)
    if not verify_password(user.password_hash, old_password):
        db.add(LoginAttempt(at=now, username=name, ip=ip, outcome="bad_password"))
        record(db, actor, Action.PASSWORD_CHANGE_FAILED, "user", user.id, {"reason": "bad_password"})
        db.flush()
        newly_locked = lock_state(db, name, ip, policy, now)
        if newly_locked is not None:
            record(
                db,
                actor,
                Action.LOGIN_LOCKED,
                "user",
                user.id,
                {"until": newly_locked.isoformat(), "reason": "bad_password", "via": "password_change"},
            )
        db.commit()
        if newly_locked is not None:
            minutes = int(policy.lock.total_seconds() // 60)
            raise PasswordChangeLocked(f"原密码不正确。失败次数过多，已锁定{minutes}分钟", newly_locked)
        raise AccountError("原密码不正确")
    if old_password == new_password:
        raise AccountError("新密码不能与原密码相同")
    check_new_password(new_password)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = user.updated_at = utcnow()
    end_user_sessions(db, user.id, except_token=keep_token)
    record(db, actor, Action.PASSWORD_CHANGE, "user", user.id, {"username": user.username})
    db.commit()
