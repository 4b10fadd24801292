"""The accounts scenario's web side: the login, logout and own-password pages here, the
admin's user pages in `user_pages`, the API in `api`; all call `jingxin.accounts.service`.

Pages: /login, /logout, /account/password, /users (admin). API: /api/v1/me,
/api/v1/me/password, /api/v1/users (admin).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from jingxin.accounts import api as accounts_api
from jingxin.accounts import login as account_login
from jingxin.accounts import service, user_pages
from jingxin.accounts import sessions as account_sessions
from jingxin.core.auth import Role
from jingxin.web.deps import (
    CurrentActor,
    CurrentUser,
    CurrentWebSession,
    DbSession,
    clear_session_cookie,
    client_ip,
    set_session_cookie,
)
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.templating import render

pages = APIRouter(include_in_schema=False)
pages.include_router(user_pages.pages)
api = accounts_api.api


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


scenario = WebScenario(
    name="accounts",
    pages=pages,
    api=api,
    nav=(NavItem("users", "用户管理", "/users", roles=frozenset({Role.ADMIN}), order=80, icon="◎"),),
    templates=Path(__file__).parent / "templates",
)
