"""Account operations (账号服务): users, login with throttling, sessions, demo accounts.

The web pages, the JSON API and the `jingxin users` commands all call these functions, so a
rule (a county analyst must be bound to a county, an admin cannot disable themselves, five
wrong passwords lock an account for 15 minutes) holds whichever way a change arrives. Every
change is written to the audit log in the same transaction as the change itself.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.orm import Session

from jingxin.accounts import live_sessions
from jingxin.accounts.models import LoginAttempt, User, UserEnterprise, WebSession
from jingxin.accounts.schemas import USERNAME_PATTERN, UserCreate, UserUpdate
from jingxin.core import credit_code as cc
from jingxin.core.audit import Action, Actor, record
from jingxin.core.auth import (
    ROLE_DIVISION_LEVEL,
    Role,
    burn_verification,
    departments,
    hash_password,
    needs_rehash,
    new_token,
    password_problem,
    token_digest,
    verify_password,
)
from jingxin.core.db import clean_text, utcnow
from jingxin.core.scope import Scope

LEVEL_LABELS = {"province": "省级", "city": "设区市", "county": "县级单位"}


class AccountError(ValueError):
    """A refused account operation; the message is Chinese and safe to show to the user."""


class UserNotFound(LookupError):
    pass


# ---- policies -----------------------------------------------------------------------------


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


@dataclass(frozen=True)
class SessionPolicy:
    """Session lifetimes: idle timeout, absolute limit, and the anonymous login-form session."""

    idle: timedelta = timedelta(hours=2)
    absolute: timedelta = timedelta(hours=12)
    anonymous: timedelta = timedelta(hours=1)
    touch_every: timedelta = timedelta(minutes=1)
    cache_for: timedelta = timedelta(seconds=5)
    """On SQLite, how long a session read from the database is answered from memory
    (`jingxin.accounts.live_sessions`; bounds what a CLI command changes meanwhile); zero
    switches the cache off. On PostgreSQL changes reach every process by notification."""


DEFAULT_THROTTLE = ThrottlePolicy()
DEFAULT_SESSIONS = SessionPolicy()


# ---- validation ---------------------------------------------------------------------------


def normalise_username(name: str) -> str:
    return clean_text(name).strip().lower()


def _division(code: str | None) -> Any:
    from jingxin import reference

    if not code:
        raise AccountError("请选择所属区划")
    try:
        return reference.division(code)
    except KeyError:
        raise AccountError(f"未知的区划代码：{code}") from None


def _valid_credit_code(code: str) -> str:
    code = clean_text(code).strip().upper()
    problem = cc.explain_invalid(code)
    if problem:
        raise AccountError(problem)
    return code


@dataclass(frozen=True)
class Assignment:
    """A user's validated binding: role, division and the role's own pin."""

    role: Role
    division_code: str
    department: str | None
    credit_code: str | None
    enterprises: tuple[str, ...]


def enterprise_division(credit_code: str) -> str:
    """The division an enterprise is registered in: characters 3–8 of its 统一社会信用代码
    (登记管理机关行政区划码, the division code of the registering authority)."""
    return credit_code[2:8]


def _check_enterprises_in_region(codes: Iterable[str], division: Any, assigner: Scope | None) -> None:
    """Service staff (驻企服务员) serve enterprises of their own region only, and an assigner
    hands out only enterprises (and workers) inside their own scope."""
    worker = Scope(division=division.code)
    outside = [c for c in codes if not worker.allows_enterprise(c, enterprise_division(c))]
    if outside:
        raise AccountError(
            f"以下企业不在该服务员所属区划 {division.name}（{division.code}）内，不能分配："
            + "、".join(outside[:10])
            + (f" 等{len(outside)}家" if len(outside) > 10 else "")
        )
    if assigner is None:
        return
    if not assigner.allows_division(division.code):
        raise AccountError(f"{division.name}（{division.code}）不在您的管理范围内，不能在此开设或调整服务员")
    beyond = [c for c in codes if not assigner.allows_enterprise(c, enterprise_division(c))]
    if beyond:
        raise AccountError("以下企业不在您的管理范围内，不能分配：" + "、".join(beyond[:10]))


def validate_assignment(
    role: Role | str,
    division_code: str | None,
    department: str | None = None,
    credit_code: str | None = None,
    enterprises: Iterable[str] = (),
    assigner: Scope | None = None,
    check_region: bool = True,
) -> Assignment:
    """Check that a role and its binding fit together; fills the obvious defaults.

    Admins and province analysts sit at 330000; a city analyst needs a city, a county analyst
    a county; a liaison needs one of the departments that send data; an enterprise account
    needs a valid credit code (its division defaults to the one the code carries). A service
    worker's enterprises must be registered inside the worker's division and inside the
    `assigner`'s scope (None: the command line, which may assign anything the worker's
    division holds). `check_region=False` skips that for a change that leaves the binding as
    it is (disabling a worker must not wait for their old assignments to be tidied).
    """
    try:
        role = Role(role)
    except ValueError:
        raise AccountError(f"未知角色：{role}") from None
    level = ROLE_DIVISION_LEVEL[role]
    department = clean_text(department or "").strip() or None
    credit_code = clean_text(credit_code or "").strip() or None
    if role in (Role.ENTERPRISE, Role.OPERATOR):
        if not credit_code:
            raise AccountError(f"{role.label}用户须填写统一社会信用代码")
        credit_code = _valid_credit_code(credit_code)
        if not division_code:
            from jingxin import reference

            registered = credit_code[2:8]
            division_code = registered if registered in reference.county_codes() else "330000"
    else:
        credit_code = None
    if level == "province" or (role is Role.LIAISON and not division_code):
        division_code = division_code or "330000"
    div = _division(division_code)
    if level is not None and div.level != level:
        raise AccountError(
            f"{role.label}的所属区划须为{LEVEL_LABELS[level]}，而 {div.name}（{div.code}）不是"
        )
    if role is Role.LIAISON:
        if department not in departments():
            raise AccountError(f"部门数据联络员须选择所属部门（{'、'.join(departments())}）")
    else:
        department = None
    codes: tuple[str, ...] = ()
    if role is Role.SERVICE_STAFF:
        codes = tuple(sorted({_valid_credit_code(c) for c in enterprises if c and c.strip()}))
        if check_region:
            _check_enterprises_in_region(codes, div, assigner)
    return Assignment(role, div.code, department, credit_code, codes)


def _check_username(username: str) -> str:
    name = normalise_username(username)
    if not re.match(USERNAME_PATTERN, name):
        raise AccountError("登录名须为3–64位字母、数字或 ._@-，且以字母或数字开头")
    return name


def _check_display_name(name: str) -> str:
    name = clean_text(name).strip()
    if not name:
        raise AccountError("请填写姓名或单位名称")
    return name[:100]


def _check_password(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)


# ---- users --------------------------------------------------------------------------------


def get_user(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise UserNotFound(user_id)
    return user


def get_user_by_username(db: Session, username: str) -> User | None:
    return db.scalar(select(User).where(User.username == normalise_username(username)))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_users(
    db: Session,
    *,
    q: str | None = None,
    role: str | None = None,
    active: bool | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[User], int]:
    """Users matching the filters, by username, and their total count.

    `q` matches part of the login name or the display name, literally (no wildcards).
    """
    conditions = []
    q = clean_text(q).strip() if q else None
    role = clean_text(role).strip() if role else None
    if q:
        pattern = f"%{_escape_like(q.lower())}%"
        conditions.append(
            or_(
                func.lower(User.username).like(pattern, escape="\\"),
                func.lower(User.display_name).like(pattern, escape="\\"),
            )
        )
    if role:
        conditions.append(User.role == role)
    if active is not None:
        conditions.append(User.is_active.is_(active))
    total = db.scalar(select(func.count()).select_from(User).where(*conditions)) or 0
    users = db.scalars(
        select(User).where(*conditions).order_by(User.username).limit(max(0, limit)).offset(max(0, offset))
    ).all()
    return list(users), int(total)


def _set_enterprises(user: User, codes: Sequence[str]) -> None:
    user.assignments = [UserEnterprise(credit_code=c) for c in codes]


def create_user(db: Session, data: UserCreate, actor: Actor, assigner: Scope | None = None) -> User:
    """Create an account (新增用户) and audit it; the password is stored only as argon2.
    `assigner` is the scope of whoever creates it (see `validate_assignment`)."""
    username = _check_username(data.username)
    if get_user_by_username(db, username) is not None:
        raise AccountError(f"登录名 {username} 已存在")
    _check_password(data.password)
    a = validate_assignment(
        data.role, data.division_code, data.department, data.credit_code, data.enterprises, assigner
    )
    user = User(
        username=username,
        display_name=_check_display_name(data.display_name),
        password_hash=hash_password(data.password),
        role=a.role.value,
        division_code=a.division_code,
        department=a.department,
        credit_code=a.credit_code,
        is_active=True,
    )
    _set_enterprises(user, a.enterprises)
    db.add(user)
    db.flush()
    record(
        db,
        actor,
        Action.USER_CREATE,
        "user",
        user.id,
        {
            "username": username,
            "role": a.role.value,
            "division_code": a.division_code,
            "department": a.department,
            "credit_code": a.credit_code,
            "enterprises": list(a.enterprises),
        },
    )
    db.commit()
    return user


def _snapshot(user: User) -> dict[str, Any]:
    return {
        "display_name": user.display_name,
        "role": user.role,
        "division_code": user.division_code,
        "department": user.department,
        "credit_code": user.credit_code,
        "enterprises": user.enterprises,
        "is_active": user.is_active,
    }


def update_user(
    db: Session, user_id: int, data: UserUpdate, actor: Actor, assigner: Scope | None = None
) -> User:
    """Change an account's name, role, binding or status (修改用户); the audit entry keeps
    each changed field's old and new value. `assigner` as for `validate_assignment`."""
    user = get_user(db, user_id)
    before = _snapshot(user)
    fields = data.model_fields_set
    role = data.role if "role" in fields and data.role is not None else user.role_enum
    if actor.user_id == user.id:
        if role is not Role.ADMIN and user.role_enum is Role.ADMIN:
            raise AccountError("不能取消自己的管理员角色")
        if "is_active" in fields and data.is_active is False:
            raise AccountError("不能停用自己的账号")
    role_changed = role is not user.role_enum
    # A field not sent keeps its value, unless the role changed and the old binding no longer fits.
    division = data.division_code if "division_code" in fields else user.division_code
    if role_changed and "division_code" not in fields and ROLE_DIVISION_LEVEL[role] == "province":
        division = None
    a = validate_assignment(
        role,
        division,
        data.department if "department" in fields else user.department,
        data.credit_code if "credit_code" in fields else user.credit_code,
        data.enterprises if "enterprises" in fields and data.enterprises is not None else user.enterprises,
        assigner,
        check_region=bool(fields & {"role", "division_code", "enterprises"}),
    )
    if "display_name" in fields and data.display_name is not None:
        user.display_name = _check_display_name(data.display_name)
    user.role = a.role.value
    user.division_code = a.division_code
    user.department = a.department
    user.credit_code = a.credit_code
    if list(a.enterprises) != user.enterprises:
        _set_enterprises(user, a.enterprises)
    if "is_active" in fields and data.is_active is not None:
        user.is_active = data.is_active
    after = _snapshot(user)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if not changes:
        return user
    user.updated_at = utcnow()
    live_sessions.drop_user(user.id, db)
    action = Action.USER_UPDATE
    if set(changes) == {"is_active"}:
        action = Action.USER_ENABLE if user.is_active else Action.USER_DISABLE
    if not user.is_active:
        end_user_sessions(db, user.id)
    db.flush()
    record(db, actor, action, "user", user.id, {"username": user.username, "changes": changes})
    db.commit()
    return user


def set_active(db: Session, user_id: int, active: bool, actor: Actor) -> User:
    """Disable (停用) or re-enable an account; disabling ends its sessions at once."""
    return update_user(db, user_id, UserUpdate(is_active=active), actor)


def reset_password(
    db: Session, user_id: int, password: str, actor: Actor, keep_token: str | None = None
) -> User:
    """An administrator sets a new password (重置密码); the user's other sessions end."""
    user = get_user(db, user_id)
    _check_password(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = user.updated_at = utcnow()
    end_user_sessions(db, user.id, except_token=keep_token)
    record(db, actor, Action.USER_PASSWORD_RESET, "user", user.id, {"username": user.username})
    db.commit()
    return user


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
    _check_password(new_password)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = user.updated_at = utcnow()
    end_user_sessions(db, user.id, except_token=keep_token)
    record(db, actor, Action.PASSWORD_CHANGE, "user", user.id, {"username": user.username})
    db.commit()


# ---- login and throttling -----------------------------------------------------------------


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


# ---- sessions -----------------------------------------------------------------------------


def start_session(
    db: Session,
    user: User | None,
    ip: str | None,
    user_agent: str | None,
    *,
    replacing: str | None = None,
    policy: SessionPolicy = DEFAULT_SESSIONS,
) -> tuple[str, WebSession]:
    """Open a session with a fresh random id and CSRF token; returns (cookie token, session).

    `replacing` is the current cookie token: that session is deleted, which is how the id
    rotates at login (no session fixation). Expired sessions are purged on the way.
    """
    now = utcnow()
    if replacing:
        live_sessions.drop(token_digest(replacing), db)
        db.execute(delete(WebSession).where(WebSession.id == token_digest(replacing)))
    db.execute(delete(WebSession).where(WebSession.expires_at < now))
    token = new_token()
    lifetime = policy.idle if user is not None else policy.anonymous
    ws = WebSession(
        id=token_digest(token),
        user_id=user.id if user else None,
        csrf_token=new_token(),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        ip=(ip or "")[:64] or None,
        user_agent=(user_agent or "")[:255] or None,
        flash=[],
    )
    db.add(ws)
    db.commit()
    return token, ws


def cached_session(token: str | None, policy: SessionPolicy = DEFAULT_SESSIONS) -> WebSession | None:
    """The live session for a cookie token if memory can answer for it, else None (then ask
    `load_session`). Never touches the database, so it may run on the event loop."""
    if not token or len(token) > 256:
        return None
    ws = live_sessions.get(token_digest(token), policy.cache_for.total_seconds())
    if ws is None:
        return None
    now = utcnow()
    if ws.expires_at <= now or now - ws.last_seen_at >= policy.touch_every:
        return None  # expired, or due for its sliding update: the database decides
    return ws


def load_session(
    db: Session, token: str | None, policy: SessionPolicy = DEFAULT_SESSIONS
) -> WebSession | None:
    """The live session for a cookie token, or None (unknown, expired, or its user disabled).

    A logged-in session slides: each use pushes its end `idle` ahead, never beyond `absolute`
    after login. The row is written at most once a minute to keep reads cheap. Answers are
    kept in memory until a change drops them in every process (see
    `jingxin.accounts.live_sessions`).
    """
    if not token or len(token) > 256:
        return None
    cached = cached_session(token, policy)
    if cached is not None:
        return cached
    digest = token_digest(token)
    since = live_sessions.generation()  # a change committed while this reads is not kept
    ws = db.get(WebSession, digest)
    now = utcnow()
    if ws is not None and (ws.expires_at <= now or (ws.user is not None and not ws.user.is_active)):
        db.delete(ws)
        ws = None
    elif ws is not None and ws.user_id is not None and now - ws.last_seen_at >= policy.touch_every:
        ws.last_seen_at = now
        ws.expires_at = min(now + policy.idle, ws.created_at + policy.absolute)
    # Always end the transaction: the connection goes back to the pool instead of being held
    # while the request waits for a worker thread (objects stay loaded: no expiry on commit).
    db.commit()
    if ws is not None and not ws.flash:
        # Shared with other requests from now on: detached with its user and the user's
        # assignments, so that no request's session changes or expires them (a rollback
        # expires what a session holds); changes go through `db.get`, as `add_flash` does.
        if ws.user is not None:
            for assignment in ws.user.assignments:
                db.expunge(assignment)
            db.expunge(ws.user)
        db.expunge(ws)
        live_sessions.keep(digest, ws, since)
    else:
        live_sessions.drop(digest)
    return ws


def end_session(db: Session, token: str | None) -> None:
    if token:
        live_sessions.drop(token_digest(token), db)
        db.execute(delete(WebSession).where(WebSession.id == token_digest(token)))
        db.commit()


def end_user_sessions(db: Session, user_id: int, except_token: str | None = None) -> None:
    """End every session of a user (after a password change or when the account is disabled)."""
    live_sessions.drop_user(user_id, db)
    conditions = [WebSession.user_id == user_id]
    if except_token:
        conditions.append(WebSession.id != token_digest(except_token))
    db.execute(delete(WebSession).where(*conditions))


def logout(db: Session, token: str | None, actor: Actor) -> None:
    """End the session (退出) and audit it."""
    end_session(db, token)
    if actor.user_id is not None:
        record(db, actor, Action.LOGOUT, "user", actor.user_id, commit=True)


def add_flash(db: Session, ws: WebSession | None, text: str, kind: str = "success") -> None:
    """Queue a one-time message for the next page this session renders (after a redirect)."""
    if ws is None:
        return
    live_sessions.drop(ws.id, db)
    live = db.get(WebSession, ws.id)  # the row itself: `ws` may be a shared copy from memory
    if live is None:
        return
    live.flash = [*(live.flash or []), {"kind": kind, "text": text}]
    db.commit()


def pop_flash(db: Session, ws: WebSession | None) -> list[dict[str, str]]:
    if ws is None or not ws.flash:
        return []
    messages = list(ws.flash)
    ws.flash = []
    db.commit()
    return messages


# ---- demo accounts ------------------------------------------------------------------------

DEMO_PASSWORD = "jingxin2024demo"

LIAISON_USERNAMES = {
    "市场监管": "liaison-scjg",
    "自然资源": "liaison-zrzy",
    "税务": "liaison-sw",
    "统计": "liaison-tj",
    "能源": "liaison-ny",
    "生态环境": "liaison-sthj",
    "电力": "liaison-dl",
    "经信": "liaison-jx",  # parks and park members (开发区（园区）数据)
    "海关": "liaison-hg",  # customs exports (运行监测)
    # enterprise risk sources (企业风险分级)
    "人社": "liaison-rs",
    "公用事业": "liaison-gy",
    "人行": "liaison-rh",
    "法院": "liaison-fy",
    "金融监管": "liaison-jr",
}


def demo_enterprise_codes(county: str = "330106", count: int = 3) -> list[str]:
    """Deterministic valid credit codes registered in `county`, for demo accounts when no
    generated province is at hand."""
    rng = random.Random(20240301)
    return [cc.generate(county, rng) for _ in range(count)]


def create_demo_users(
    db: Session,
    password: str = DEMO_PASSWORD,
    *,
    enterprise_code: str | None = None,
    staff_enterprises: Sequence[str] | None = None,
    staff_division: str = "330106",
    stale: Callable[[Sequence[str]], bool] | None = None,
    actor: Actor | None = None,
) -> list[User]:
    """One account per role (and a liaison per department), for demos and browser tests.

    Idempotent: an existing username is left as it is, except that the enterprise and the
    service worker are re-pointed to `enterprise_code` / `staff_enterprises` (and
    `staff_division`) when `stale` says the codes they hold are not enterprises of the current
    province (see `jingxin.accounts.demo_bindings`). Pass the credit codes of generated
    enterprises so those two accounts see real data; otherwise codes registered in 西湖区 are
    made up.

    | username | role | division |
    |---|---|---|
    | admin | 管理员 | 330000 |
    | sheng | 省级分析员 | 330000 |
    | hangzhou | 市级分析员 | 330100 杭州市 |
    | xihu | 县级分析员 | 330106 西湖区 |
    | liaison-sw, liaison-dl, ..., liaison-jx | 部门数据联络员 (one per department) | 330000 |
    | fuwu | 驻企服务员 | 330106, with assigned enterprises |
    | qiye | 企业 | its credit code |
    """
    actor = actor or Actor(None, "demo", None)
    codes = demo_enterprise_codes()
    enterprise_code = enterprise_code or codes[0]
    staff = list(staff_enterprises) if staff_enterprises is not None else codes[:2]
    specs: list[UserCreate] = [
        UserCreate(username="admin", display_name="系统管理员", role=Role.ADMIN, password=password),
        UserCreate(
            username="sheng", display_name="省经信厅分析员", role=Role.PROVINCE_ANALYST, password=password
        ),
        UserCreate(
            username="hangzhou",
            display_name="杭州市经信局分析员",
            role=Role.CITY_ANALYST,
            division_code="330100",
            password=password,
        ),
        UserCreate(
            username="xihu",
            display_name="西湖区经信局分析员",
            role=Role.COUNTY_ANALYST,
            division_code="330106",
            password=password,
        ),
        *(
            UserCreate(
                username=LIAISON_USERNAMES.get(dept, f"liaison-{i}"),
                display_name=f"{dept}部门数据联络员",
                role=Role.LIAISON,
                division_code="330000",
                department=dept,
                password=password,
            )
            for i, dept in enumerate(departments())
        ),
        UserCreate(
            username="fuwu",
            display_name="西湖区驻企服务员" if staff_division == "330106" else "驻企服务员",
            role=Role.SERVICE_STAFF,
            division_code=staff_division,
            enterprises=staff,
            password=password,
        ),
        UserCreate(
            username="qiye",
            display_name="示例企业",
            role=Role.ENTERPRISE,
            credit_code=enterprise_code,
            password=password,
        ),
    ]
    users = []
    for spec in specs:
        existing = get_user_by_username(db, spec.username)
        if existing is None:
            users.append(create_user(db, spec, actor))
            continue
        held = existing.enterprises if spec.role is Role.SERVICE_STAFF else [existing.credit_code or ""]
        if spec.role in (Role.SERVICE_STAFF, Role.ENTERPRISE) and stale is not None and stale(held):
            # the province changed under the account: bind it to enterprises that exist now
            change = (
                UserUpdate(division_code=spec.division_code, enterprises=spec.enterprises)
                if spec.role is Role.SERVICE_STAFF
                else UserUpdate(credit_code=spec.credit_code)
            )
            existing = update_user(db, existing.id, change, actor)
        users.append(existing)
    return users
