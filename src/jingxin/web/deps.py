"""FastAPI dependencies: the database session, the logged-in user, their Scope, the warehouse.

Dependencies that do no blocking I/O are `async`, so FastAPI runs them on the event loop
instead of handing each to a worker thread (every hand-over costs a thread switch and a wait
for the interpreter lock, which under load adds up to more than the work itself).

A route asks for what it needs and gets it already checked:

```python
from jingxin.web.deps import CurrentScope, CurrentUser, DbSession, WarehouseReader, require_roles

@pages.get("/things")
def things(request: Request, user: CurrentUser, scope: CurrentScope, wh: WarehouseReader): ...

@api.get("/admin-only", dependencies=[Depends(require_roles(Role.ADMIN))])
def admin_only(...): ...
```

- `DbSession`: a SQLAlchemy session for this request (service functions commit their work).
- `CurrentUser` / `OptionalUser`: the logged-in `User` (401 / login redirect without one).
- `CurrentScope`: the user's `Scope` — the only thing data-access functions filter on.
- `CurrentActor`: who to write in the audit log (user and IP).
- `WarehouseReader`: a warehouse connection of this request's own (see `jingxin.web.warehouse`).
- `require_roles(...)`: 403 unless the user has one of the roles (every 403 is audited).

CSRF is checked for every state-changing request by `csrf_protect`, which the app factory
installs as an app-wide dependency, so no route can forget it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie
from sqlalchemy.orm import Session

from jingxin.accounts.models import User, WebSession
from jingxin.core.audit import Actor
from jingxin.core.auth import Role, tokens_equal
from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse
from jingxin.web.errors import CsrfFailed, LoginRequired

SESSION_COOKIE = "jingxin_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

# Documents the session cookie in OpenAPI; the session itself is checked in `web_session`.
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="session",
    auto_error=False,
    description="登录后由 /login 设置的会话 Cookie（HttpOnly）。修改数据的请求还须带 X-CSRF-Token 头。",
)


async def get_db(request: Request) -> AsyncIterator[Session]:
    """A platform-database session for this request, closed (and rolled back if a service
    function left work uncommitted) when the request ends.

    Async on purpose: opening and closing a session does no I/O, and closing it on the event
    loop returns its connection to the pool at once, not after waiting for a worker thread
    (which, with every thread waiting for a connection, would never come)."""
    session = request.app.state.db.session()
    request.state.db = session
    try:
        yield session
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_db)]


def client_ip(request: Request) -> str:
    """The client's address as the server sees it: what throttling and the audit log use.

    Behind a reverse proxy, `jingxin serve --proxy-headers` takes it from X-Forwarded-For, but
    only on connections from the proxies listed in JINGXIN_TRUSTED_PROXIES (see
    `jingxin.web.cli.proxy_options`); anyone else's header is ignored."""
    return request.client.host if request.client else "unknown"


async def get_web_session(request: Request, db: DbSession) -> WebSession | None:
    """The live server-side session named by the cookie, or None (from memory when it was
    read moments ago, else from the database on a worker thread)."""
    from jingxin.accounts import sessions as account_sessions

    if hasattr(request.state, "web_session"):
        return request.state.web_session
    token = request.cookies.get(SESSION_COOKIE)
    policy = request.app.state.session_policy
    ws = account_sessions.cached_session(token, policy)
    if ws is None:
        ws = await run_in_threadpool(account_sessions.load_session, db, token, policy)
    request.state.web_session = ws
    request.state.session_token = token if ws is not None else None
    request.state.user = ws.user if ws is not None else None
    return ws


CurrentWebSession = Annotated[WebSession | None, Depends(get_web_session)]


async def optional_user(request: Request, ws: CurrentWebSession) -> User | None:
    return ws.user if ws is not None else None


async def current_user(
    user: Annotated[User | None, Depends(optional_user)],
    _cookie: Annotated[str | None, Security(session_cookie)] = None,
) -> User:
    """The logged-in user (the `Security` parameter only documents the cookie in OpenAPI)."""
    if user is None:
        raise LoginRequired()
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(current_user)]


async def current_scope(user: CurrentUser) -> Scope:
    """The logged-in user's region scope (数据权限): the one input every data query filters on."""
    return user.scope


CurrentScope = Annotated[Scope, Depends(current_scope)]


async def current_actor(request: Request, user: OptionalUser) -> Actor:
    """Who acts, for the audit log."""
    return Actor(user.id if user else None, user.username if user else None, client_ip(request))


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require_roles(*roles: Role) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets only users with one of `roles` through (403 otherwise)."""
    allowed = frozenset(roles)

    async def check(user: CurrentUser) -> User:
        if user.role_enum not in allowed:
            raise HTTPException(status_code=403, detail="您的角色无权访问此功能")
        return user

    return check


async def csrf_protect(request: Request, ws: CurrentWebSession) -> None:
    """Refuse a state-changing request whose CSRF token does not match its session's.

    The token (synchronizer pattern, bound to the server-side session) comes in the
    X-CSRF-Token header (HTMX and API clients) or the `csrf_token` form field (plain forms).
    Together with the SameSite=Lax cookie this stops another site from acting in a user's name.
    """
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if ws is None or not tokens_equal(sent, ws.csrf_token):
        raise CsrfFailed()  # audited by the 403 handler (`jingxin.web.errors`)


async def get_warehouse(request: Request) -> AsyncIterator[Warehouse]:
    """A warehouse connection for this request only (see `jingxin.web.warehouse`)."""
    async with request.app.state.warehouse.lend() as wh:
        yield wh


WarehouseReader = Annotated[Warehouse, Depends(get_warehouse)]


def set_session_cookie(request: Request, token: str) -> None:
    """Ask the middleware to send this session token as the cookie (after login)."""
    request.state.set_session_cookie = token


def clear_session_cookie(request: Request) -> None:
    request.state.set_session_cookie = ""
