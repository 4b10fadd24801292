"""Admin pages of user management (用户管理): /users, a user's page, creating and changing
accounts. They call `jingxin.accounts.service`; the API twin is `jingxin.accounts.api`."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse

from jingxin import reference
from jingxin.accounts import service
from jingxin.accounts import sessions as account_sessions
from jingxin.accounts.models import User
from jingxin.accounts.schemas import (
    UserCreate,
    UserUpdate,
)
from jingxin.core import audit
from jingxin.core.auth import ROLE_LABELS, Role, departments
from jingxin.web.deps import (
    CurrentActor,
    CurrentUser,
    CurrentWebSession,
    DbSession,
    require_roles,
)
from jingxin.web.pagination import Pager
from jingxin.web.templating import is_htmx, render, scope_label

pages = APIRouter(include_in_schema=False)

ADMIN_ONLY = [Depends(require_roles(Role.ADMIN))]
MAX_ID = 2**62

PER_PAGE = 30


def _form_context(user: User | None = None, values: dict | None = None, error: str | None = None) -> dict:
    values = values or (
        {
            "username": user.username,
            "display_name": user.display_name,
            "role": user.role,
            "division_code": user.division_code,
            "department": user.department or "",
            "credit_code": user.credit_code or "",
            "enterprises": "\n".join(user.enterprises),
        }
        if user is not None
        else {"role": Role.COUNTY_ANALYST.value, "division_code": ""}
    )
    return {
        "edit_user": user,
        "values": values,
        "error": error,
        "roles": [(r.value, ROLE_LABELS[r]) for r in Role],
        "divisions": reference.divisions(),
        "departments": departments(),
    }


def _split_codes(text: str) -> list[str]:
    return [c for c in re.split(r"[\s,，;；、]+", text or "") if c]


@pages.get("/users", dependencies=ADMIN_ONLY)
def users_page(
    request: Request,
    db: DbSession,
    q: Annotated[str, Query(max_length=100)] = "",
    role: Annotated[str, Query(max_length=32)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    active = {"active": True, "disabled": False}.get(status)
    users, total = service.list_users(
        db, q=q, role=role or None, active=active, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    context = {
        "page_title": "用户管理",
        "users": users,
        "pager": Pager.build(request, page, PER_PAGE, total),
        "q": q,
        "role": role,
        "status": status,
        "roles": [(r.value, ROLE_LABELS[r]) for r in Role],
        "scope_of": scope_label,
    }
    name = "accounts/_users_table.html" if is_htmx(request) else "accounts/users.html"
    return render(request, name, context)


@pages.get("/users/new", dependencies=ADMIN_ONLY)
def user_new_form(request: Request) -> Response:
    return render(request, "accounts/user_form.html", {"page_title": "新增用户", **_form_context()})


@pages.post("/users/new", dependencies=ADMIN_ONLY)
def user_create(
    request: Request,
    db: DbSession,
    ws: CurrentWebSession,
    actor: CurrentActor,
    me: CurrentUser,
    username: Annotated[str, Form(max_length=200)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    division_code: Annotated[str, Form(max_length=6)] = "",
    department: Annotated[str, Form(max_length=32)] = "",
    credit_code: Annotated[str, Form(max_length=40)] = "",
    enterprises: Annotated[str, Form(max_length=20000)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    values = {
        "username": username,
        "display_name": display_name,
        "role": role,
        "division_code": division_code,
        "department": department,
        "credit_code": credit_code,
        "enterprises": enterprises,
    }
    try:
        if role not in {r.value for r in Role}:
            raise service.AccountError("请选择角色")
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{2,63}$", username.strip()):
            raise service.AccountError("登录名须为3–64位字母、数字或 ._@-，且以字母或数字开头")
        data = UserCreate(
            username=username.strip(),
            display_name=display_name or " ",
            role=Role(role),
            division_code=division_code or None,
            department=department or None,
            credit_code=credit_code or None,
            enterprises=_split_codes(enterprises),
            password=password or " ",
        )
        user = service.create_user(db, data, actor, assigner=me.scope)
    except (service.AccountError, ValueError) as exc:
        message = str(exc) if isinstance(exc, service.AccountError) else "输入格式不正确，请检查各项"
        return render(
            request,
            "accounts/user_form.html",
            {"page_title": "新增用户", **_form_context(values=values, error=message)},
            status_code=400,
        )
    account_sessions.add_flash(db, ws, f"已新增用户 {user.username}。")
    return RedirectResponse(f"/users/{user.id}", status_code=303)


def user_or_404(db: DbSession, user_id: int) -> User:
    try:
        return service.get_user(db, user_id)
    except service.UserNotFound:
        raise HTTPException(status_code=404, detail="用户不存在") from None


@pages.get("/users/{user_id}", dependencies=ADMIN_ONLY)
def user_detail(
    request: Request, db: DbSession, user_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]
) -> Response:
    user = user_or_404(db, user_id)
    history, _ = audit.search(db, object_type="user", object_id=str(user.id), limit=20)
    return render(
        request,
        "accounts/user_form.html",
        {"page_title": f"用户 {user.username}", "history": history, **_form_context(user)},
    )


@pages.post("/users/{user_id}", dependencies=ADMIN_ONLY)
def user_update(
    request: Request,
    db: DbSession,
    ws: CurrentWebSession,
    actor: CurrentActor,
    me: CurrentUser,
    user_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    division_code: Annotated[str, Form(max_length=6)] = "",
    department: Annotated[str, Form(max_length=32)] = "",
    credit_code: Annotated[str, Form(max_length=40)] = "",
    enterprises: Annotated[str, Form(max_length=20000)] = "",
) -> Response:
    user = user_or_404(db, user_id)
    values = {
        "username": user.username,
        "display_name": display_name,
        "role": role,
        "division_code": division_code,
        "department": department,
        "credit_code": credit_code,
        "enterprises": enterprises,
    }
    try:
        if role not in {r.value for r in Role}:
            raise service.AccountError("请选择角色")
        data = UserUpdate(
            display_name=display_name or " ",
            role=Role(role),
            division_code=division_code or None,
            department=department or None,
            credit_code=credit_code or None,
            enterprises=_split_codes(enterprises),
        )
        service.update_user(db, user.id, data, actor, assigner=me.scope)
    except (service.AccountError, ValueError) as exc:
        db.rollback()
        message = str(exc) if isinstance(exc, service.AccountError) else "输入格式不正确，请检查各项"
        history, _ = audit.search(db, object_type="user", object_id=str(user.id), limit=20)
        return render(
            request,
            "accounts/user_form.html",
            {
                "page_title": f"用户 {user.username}",
                "history": history,
                **_form_context(user, values=values, error=message),
            },
            status_code=400,
        )
    account_sessions.add_flash(db, ws, "已保存。")
    return RedirectResponse(f"/users/{user.id}", status_code=303)


@pages.post("/users/{user_id}/active", dependencies=ADMIN_ONLY)
def user_set_active(
    request: Request,
    db: DbSession,
    ws: CurrentWebSession,
    actor: CurrentActor,
    user_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
    active: Annotated[int, Form(ge=0, le=1)] = 0,
) -> Response:
    user = user_or_404(db, user_id)
    try:
        service.set_active(db, user.id, bool(active), actor)
        account_sessions.add_flash(db, ws, f"已{'启用' if active else '停用'}用户 {user.username}。")
    except service.AccountError as exc:
        db.rollback()
        account_sessions.add_flash(db, ws, str(exc), "error")
    return RedirectResponse(f"/users/{user.id}", status_code=303)


@pages.post("/users/{user_id}/password", dependencies=ADMIN_ONLY)
def user_reset_password(
    request: Request,
    db: DbSession,
    ws: CurrentWebSession,
    actor: CurrentActor,
    user_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    user = user_or_404(db, user_id)
    try:
        service.reset_password(
            db, user.id, password, actor, keep_token=getattr(request.state, "session_token", None)
        )
        account_sessions.add_flash(db, ws, f"已重置 {user.username} 的密码，其登录会话已全部失效。")
    except service.AccountError as exc:
        db.rollback()
        account_sessions.add_flash(db, ws, str(exc), "error")
    return RedirectResponse(f"/users/{user.id}", status_code=303)
