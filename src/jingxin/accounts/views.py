"""Pages and API of the accounts scenario: login, logout, password, user management.

Pages: /login, /logout, /account/password, /users (admin). API: /api/v1/me,
/api/v1/me/password, /api/v1/users (admin). Both call `jingxin.accounts.service`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse

from jingxin import reference
from jingxin.accounts import login as account_login
from jingxin.accounts import service
from jingxin.accounts import sessions as account_sessions
from jingxin.accounts.models import User
from jingxin.accounts.schemas import (
    MeOut,
    PasswordChange,
    PasswordReset,
    ScopeOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from jingxin.core import audit
from jingxin.core.auth import ROLE_LABELS, Role, departments
from jingxin.web.deps import (
    CurrentActor,
    CurrentUser,
    CurrentWebSession,
    DbSession,
    clear_session_cookie,
    client_ip,
    require_roles,
    set_session_cookie,
)
from jingxin.web.pagination import Pager
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import Message, Page
from jingxin.web.templating import is_htmx, render, scope_label

pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["账号"])

ADMIN_ONLY = [Depends(require_roles(Role.ADMIN))]
MAX_ID = 2**62
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Message},
    401: {"model": Message},
    403: {"model": Message},
}
USER_ERRORS: dict[int | str, dict[str, Any]] = {**ERRORS, 404: {"model": Message}}


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (open redirect), never a protocol-relative
    `//host` or a backslash trick."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc:
        return "/"
    return target


# ---- login / logout -----------------------------------------------------------------------


def _sso_label(request: Request) -> str | None:
    """The single sign-on button's text when a provider is configured (`jingxin.ops.oidc`)."""
    from jingxin.ops.oidc import enabled

    settings = request.app.state.settings
    return settings.oidc_label if enabled(settings) else None


def _login_page(
    request: Request,
    next_url: str,
    error: str | None = None,
    username: str = "",
    status_code: int = 200,
    notice: str | None = None,
) -> Response:
    return render(
        request,
        "accounts/login.html",
        {
            "page_title": "登录",
            "next": next_url,
            "error": error,
            "username": username,
            "notice": notice,
            "sso_label": _sso_label(request),
        },
        status_code=status_code,
    )


@pages.get("/login")
def login_form(
    request: Request,
    db: DbSession,
    ws: CurrentWebSession,
    next: Annotated[str, Query(max_length=2000)] = "/",
    bye: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    """The login form. An anonymous session is opened here to carry the form's CSRF token."""
    if ws is not None and ws.user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    if ws is None:
        token, ws = account_sessions.start_session(
            db,
            None,
            client_ip(request),
            request.headers.get("user-agent"),
            policy=request.app.state.session_policy,
        )
        request.state.web_session = ws
        set_session_cookie(request, token)
    notice = "您已安全退出。" if bye else None
    return _login_page(request, safe_next(next), notice=notice)


@pages.post("/login")
def login(
    request: Request,
    db: DbSession,
    ws: CurrentWebSession,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the credentials; on success replace the session with a new one (new id)."""
    target = safe_next(next)
    outcome = account_login.authenticate(
        db, username, password, client_ip(request), request.app.state.throttle
    )
    if not outcome.ok:
        status = 429 if outcome.locked_until is not None else 401
        return _login_page(request, target, outcome.error, username[:64], status_code=status)
    assert outcome.user is not None
    token, new_ws = account_sessions.start_session(
        db,
        outcome.user,
        client_ip(request),
        request.headers.get("user-agent"),
        replacing=getattr(request.state, "session_token", None),
        policy=request.app.state.session_policy,
    )
    set_session_cookie(request, token)
    return RedirectResponse(target, status_code=303)


@pages.post("/logout")
def logout(request: Request, db: DbSession, actor: CurrentActor) -> Response:
    account_sessions.logout(db, getattr(request.state, "session_token", None), actor)
    clear_session_cookie(request)
    return RedirectResponse("/login?bye=1", status_code=303)


# ---- own password -------------------------------------------------------------------------


@pages.get("/account/password")
def password_form(request: Request, user: CurrentUser) -> Response:
    return render(request, "accounts/password.html", {"page_title": "修改密码"})


@pages.post("/account/password")
def password_change(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    ws: CurrentWebSession,
    actor: CurrentActor,
    old_password: Annotated[str, Form(max_length=200)] = "",
    new_password: Annotated[str, Form(max_length=200)] = "",
    confirm_password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    error, status = None, 400
    if new_password != confirm_password:
        error = "两次输入的新密码不一致"
    else:
        try:
            account_login.change_password(
                db,
                user,
                old_password,
                new_password,
                actor,
                keep_token=getattr(request.state, "session_token", None),
                policy=request.app.state.throttle,
            )
        except account_login.PasswordChangeLocked as exc:
            error, status = str(exc), 429
        except service.AccountError as exc:
            error = str(exc)
    if error:
        return render(
            request, "accounts/password.html", {"page_title": "修改密码", "error": error}, status_code=status
        )
    account_sessions.add_flash(db, ws, "密码已修改，其他设备上的登录已失效。")
    return RedirectResponse("/", status_code=303)


# ---- user management (admin) --------------------------------------------------------------

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


def _user_or_404(db: DbSession, user_id: int) -> User:
    try:
        return service.get_user(db, user_id)
    except service.UserNotFound:
        raise HTTPException(status_code=404, detail="用户不存在") from None


@pages.get("/users/{user_id}", dependencies=ADMIN_ONLY)
def user_detail(
    request: Request, db: DbSession, user_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]
) -> Response:
    user = _user_or_404(db, user_id)
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
    user = _user_or_404(db, user_id)
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
    user = _user_or_404(db, user_id)
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
    user = _user_or_404(db, user_id)
    try:
        service.reset_password(
            db, user.id, password, actor, keep_token=getattr(request.state, "session_token", None)
        )
        account_sessions.add_flash(db, ws, f"已重置 {user.username} 的密码，其登录会话已全部失效。")
    except service.AccountError as exc:
        db.rollback()
        account_sessions.add_flash(db, ws, str(exc), "error")
    return RedirectResponse(f"/users/{user.id}", status_code=303)


# ---- API ----------------------------------------------------------------------------------


def _scope_out(user: User) -> ScopeOut:
    scope = user.scope
    return ScopeOut(
        division=scope.division,
        division_name=scope_label(user),
        department=scope.department,
        credit_code=scope.credit_code,
        enterprises=sorted(scope.enterprises) if scope.enterprises is not None else None,
        workflows=sorted(scope.workflows) if scope.workflows is not None else None,
    )


class MeWithToken(MeOut):
    csrf_token: str


@api.get("/me", response_model=MeWithToken, responses=ERRORS, summary="当前用户")
def me(request: Request, user: CurrentUser, ws: CurrentWebSession) -> MeWithToken:
    """The logged-in user, their scope and clearance, and the CSRF token that state-changing
    API calls must send in the X-CSRF-Token header."""
    base = UserOut.model_validate(user).model_dump()
    return MeWithToken(
        **base, clearance=user.clearance, scope=_scope_out(user), csrf_token=ws.csrf_token if ws else ""
    )


@api.post(
    "/me/password",
    status_code=204,
    responses={**ERRORS, 429: {"model": Message}},
    summary="修改本人密码（原密码错误与登录失败一同计入锁定）",
)
def me_password(
    request: Request, body: PasswordChange, db: DbSession, user: CurrentUser, actor: CurrentActor
) -> Response:
    try:
        account_login.change_password(
            db,
            user,
            body.old_password,
            body.new_password,
            actor,
            keep_token=getattr(request.state, "session_token", None),
            policy=request.app.state.throttle,
        )
    except account_login.PasswordChangeLocked as exc:
        raise HTTPException(status_code=429, detail=str(exc)) from None
    except service.AccountError as exc:
        db.rollback()
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return Response(status_code=204)


@api.get(
    "/users", response_model=Page[UserOut], dependencies=ADMIN_ONLY, responses=ERRORS, summary="用户列表"
)
def api_users(
    db: DbSession,
    q: Annotated[str | None, Query(max_length=100, description="登录名或姓名的一部分")] = None,
    role: Role | None = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[UserOut]:
    users, total = service.list_users(
        db, q=q, role=role.value if role else None, active=active, limit=limit, offset=offset
    )
    return Page[UserOut](
        items=[UserOut.model_validate(u) for u in users], total=total, limit=limit, offset=offset
    )


@api.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    dependencies=ADMIN_ONLY,
    responses={**ERRORS, 409: {"model": Message}},
    summary="新增用户",
)
def api_user_create(body: UserCreate, db: DbSession, actor: CurrentActor, me: CurrentUser) -> UserOut:
    if service.get_user_by_username(db, body.username) is not None:
        raise HTTPException(status_code=409, detail=f"登录名 {body.username.strip().lower()} 已存在")
    try:
        user = service.create_user(db, body, actor, assigner=me.scope)
    except service.AccountError as exc:
        db.rollback()
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return UserOut.model_validate(user)


@api.get(
    "/users/{user_id}",
    response_model=UserOut,
    dependencies=ADMIN_ONLY,
    responses=USER_ERRORS,
    summary="用户详情",
)
def api_user(db: DbSession, user_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]) -> UserOut:
    return UserOut.model_validate(_user_or_404(db, user_id))


@api.patch(
    "/users/{user_id}",
    response_model=UserOut,
    dependencies=ADMIN_ONLY,
    responses=USER_ERRORS,
    summary="修改用户（角色、区划、启用/停用）",
)
def api_user_update(
    body: UserUpdate,
    db: DbSession,
    actor: CurrentActor,
    me: CurrentUser,
    user_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
) -> UserOut:
    _user_or_404(db, user_id)
    try:
        user = service.update_user(db, user_id, body, actor, assigner=me.scope)
    except service.AccountError as exc:
        db.rollback()
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return UserOut.model_validate(user)


@api.post(
    "/users/{user_id}/password",
    status_code=204,
    dependencies=ADMIN_ONLY,
    responses=USER_ERRORS,
    summary="重置用户密码",
)
def api_user_password(
    request: Request,
    body: PasswordReset,
    db: DbSession,
    actor: CurrentActor,
    user_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
) -> Response:
    _user_or_404(db, user_id)
    try:
        service.reset_password(
            db, user_id, body.password, actor, keep_token=getattr(request.state, "session_token", None)
        )
    except service.AccountError as exc:
        db.rollback()
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return Response(status_code=204)


scenario = WebScenario(
    name="accounts",
    pages=pages,
    api=api,
    nav=(NavItem("users", "用户管理", "/users", roles=frozenset({Role.ADMIN}), order=80, icon="◎"),),
    templates=Path(__file__).parent / "templates",
)
