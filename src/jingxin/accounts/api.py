"""API of the accounts scenario: /api/v1/me, /api/v1/me/password, /api/v1/users (admin).
They call `jingxin.accounts.service`, as the pages do."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi import Path as PathParam

from jingxin.accounts import login as account_login
from jingxin.accounts import service
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
from jingxin.accounts.user_pages import ADMIN_ONLY, MAX_ID, user_or_404
from jingxin.core.auth import Role
from jingxin.web.deps import (
    CurrentActor,
    CurrentUser,
    CurrentWebSession,
    DbSession,
)
from jingxin.web.schemas import Message, Page
from jingxin.web.templating import scope_label

api = APIRouter(tags=["账号"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Message},
    401: {"model": Message},
    403: {"model": Message},
}
USER_ERRORS: dict[int | str, dict[str, Any]] = {**ERRORS, 404: {"model": Message}}


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
    return UserOut.model_validate(user_or_404(db, user_id))


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
    user_or_404(db, user_id)
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
    user_or_404(db, user_id)
    try:
        service.reset_password(
            db, user_id, body.password, actor, keep_token=getattr(request.state, "session_token", None)
        )
    except service.AccountError as exc:
        db.rollback()
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return Response(status_code=204)
