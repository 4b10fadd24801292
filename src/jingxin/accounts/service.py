"""Account operations (账号服务): users and their validation.

Login, throttling and password changes are in `accounts.login`, sessions in
`accounts.sessions`, the demo accounts in `accounts.demo`.

The web pages, the JSON API and the `jingxin users` commands all call these functions, so a
rule (a county analyst must be bound to a county, an admin cannot disable themselves, five
wrong passwords lock an account for 15 minutes) holds whichever way a change arrives. Every
change is written to the audit log in the same transaction as the change itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from jingxin.accounts import live_sessions
from jingxin.accounts.models import User, UserEnterprise
from jingxin.accounts.schemas import USERNAME_PATTERN, UserCreate, UserUpdate
from jingxin.accounts.sessions import end_user_sessions
from jingxin.core import credit_code as cc
from jingxin.core.audit import Action, Actor, record
from jingxin.core.auth import (
    ROLE_DIVISION_LEVEL,
    Role,
    departments,
    hash_password,
    password_problem,
)
from jingxin.core.db import clean_text, utcnow
from jingxin.core.scope import Scope

LEVEL_LABELS = {"province": "省级", "city": "设区市", "county": "县级单位"}


class AccountError(ValueError):
    """A refused account operation; the message is Chinese and safe to show to the user."""


class UserNotFound(LookupError):
    pass


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


def check_new_password(password: str) -> None:
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
    check_new_password(data.password)
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
    check_new_password(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = user.updated_at = utcnow()
    end_user_sessions(db, user.id, except_token=keep_token)
    record(db, actor, Action.USER_PASSWORD_RESET, "user", user.id, {"username": user.username})
    db.commit()
    return user
