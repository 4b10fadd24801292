"""Single sign-on through OpenID Connect (统一身份认证), beside the local accounts.

The bureau's identity provider (any OpenID Connect provider: Keycloak, the province's unified
identity platform, ...) is configured with `JINGXIN_OIDC_ISSUER`, `JINGXIN_OIDC_CLIENT_ID` and
`JINGXIN_OIDC_CLIENT_SECRET`. The login page then shows a second button next to the password
form; local accounts keep working (the embedded default has no provider at all).

The flow is the authorization-code flow with PKCE (authlib's OAuth 2 client and JOSE):

1. `GET /login/oidc?next=...` makes `state`, `nonce` and the PKCE verifier, keeps them in a
   short-lived signed HttpOnly cookie (itsdangerous, `JINGXIN_SECRET_KEY`), and redirects to
   the provider's authorization endpoint (from its discovery document).
2. `GET /login/oidc/callback` checks `state`, exchanges the code for tokens, verifies the ID
   token (signature against the provider's JWKS, issuer, audience, expiry, nonce), merges the
   userinfo claims, maps them to an account and starts a session exactly as a password login
   does (new session id, audit entry `login` with `via: oidc`).

Mapping claims to an account (configured, never guessed): the role comes from the claim
`JINGXIN_OIDC_ROLE_CLAIM` through `JINGXIN_OIDC_ROLE_MAP` (claim value -> role); the division
from `JINGXIN_OIDC_DIVISION_CLAIM`; the department (liaison role) from
`JINGXIN_OIDC_DEPARTMENT_CLAIM`. An unmapped role, an unknown division or an enterprise role
(bound to a credit code an administrator assigns) refuses the login with the reason. The
account is matched by the provider's subject (`<issuer>|<sub>`, `users.oidc_subject`), created
at the first login, and its role, division and department follow the provider at every login.
It has no usable password: it cannot log in through the form.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from authlib.jose import JsonWebKey, jwt
from authlib.jose.errors import JoseError
from authlib.oidc.core import CodeIDToken
from cachetools import TTLCache, cached
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin.accounts import service as accounts
from jingxin.accounts import sessions as account_sessions
from jingxin.accounts.models import User
from jingxin.core.audit import Action, Actor, record
from jingxin.core.auth import Role, scope_for
from jingxin.core.db import utcnow
from jingxin.core.settings import Settings
from jingxin.web.deps import DbSession, client_ip, set_session_cookie

router = APIRouter(include_in_schema=False)

FLOW_COOKIE = "jingxin_oidc"
FLOW_MAX_AGE = 600  # seconds a user may spend at the provider (project default)
UNUSABLE_PASSWORD = "!oidc"  # not an argon2 hash: the password form never accepts it
HTTP_TIMEOUT = 10.0


class OidcRefused(Exception):
    """The provider's answer does not make a platform account; the message says why."""


def enabled(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


# The discovery document and the keys change rarely; an hour keeps key rotation working.
@cached(TTLCache(maxsize=8, ttl=3600))
def discovery(issuer: str) -> dict[str, Any]:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    answer = httpx.get(url, timeout=HTTP_TIMEOUT)
    answer.raise_for_status()
    return dict(answer.json())


@cached(TTLCache(maxsize=8, ttl=3600))
def _jwks(uri: str) -> dict[str, Any]:
    answer = httpx.get(uri, timeout=HTTP_TIMEOUT)
    answer.raise_for_status()
    return dict(answer.json())


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    if not settings.secret_key:
        # A per-process random key would break logins that return to another worker.
        raise RuntimeError("单点登录需要设置 JINGXIN_SECRET_KEY（各服务进程相同的随机字符串）")
    return URLSafeTimedSerializer(settings.secret_key, salt="jingxin-oidc-flow")


def _client(settings: Settings) -> OAuth2Client:
    return OAuth2Client(
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        scope="openid profile email",
        redirect_uri=settings.public_url.rstrip("/") + "/login/oidc/callback",
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT,
    )


def _flow_cookie(value: str, secure: bool, max_age: int) -> str:
    flags = f"; Path=/login/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}"
    return f"{FLOW_COOKIE}={value}{flags}{'; Secure' if secure else ''}"


def _page(request: Request, message: str, status: int) -> Response:
    """The platform's own error page, with the reason and a way back to the login page."""
    from jingxin.web.errors import error_response

    return error_response(request, status, f"统一身份认证登录失败：{message}")


def verify_id_token(settings: Settings, meta: dict[str, Any], id_token: str, nonce: str) -> dict[str, Any]:
    """The ID token's claims once its signature, issuer, audience, expiry and nonce check out."""
    keys = JsonWebKey.import_key_set(_jwks(meta["jwks_uri"]))
    try:
        claims = jwt.decode(
            id_token,
            keys,
            claims_cls=CodeIDToken,
            claims_options={
                "iss": {"essential": True, "value": meta.get("issuer", settings.oidc_issuer)},
                "aud": {"essential": True, "value": settings.oidc_client_id},
            },
            claims_params={"nonce": nonce},
        )
        claims.validate(leeway=60)
    except JoseError as exc:
        raise OidcRefused(f"身份令牌校验失败（{exc.error}）") from None
    return dict(claims)


def map_claims(settings: Settings, claims: dict[str, Any]) -> dict[str, Any]:
    """The account fields the configured mapping gives these claims (OidcRefused if none)."""
    raw_role = claims.get(settings.oidc_role_claim)
    values = raw_role if isinstance(raw_role, list) else [raw_role]
    roles = [settings.oidc_role_map[v] for v in values if isinstance(v, str) and v in settings.oidc_role_map]
    if not roles:
        raise OidcRefused(
            f"身份提供方未给出可映射的角色（声明 {settings.oidc_role_claim} = {raw_role!r}），"
            "请联系管理员配置"
        )
    try:
        role = Role(roles[0])
    except ValueError:
        raise OidcRefused(f"角色映射配置有误：{roles[0]!r} 不是平台角色") from None
    if role is Role.ENTERPRISE:
        raise OidcRefused("企业用户须绑定统一社会信用代码，请使用管理员开设的本地账号")
    division = str(claims.get(settings.oidc_division_claim) or ("330000" if role is Role.ADMIN else ""))
    department = claims.get(settings.oidc_department_claim) or None
    try:
        accounts._division(division)
        scope_for(role, division, department)
    except (accounts.AccountError, ValueError) as exc:
        raise OidcRefused(
            f"{exc}（声明 {settings.oidc_division_claim} / {settings.oidc_department_claim}）"
        ) from None
    username = accounts.normalise_username(str(claims.get(settings.oidc_username_claim) or claims["sub"]))[
        :64
    ]
    display = str(claims.get("name") or username)[:100]
    return {
        "role": role.value,
        "division_code": division,
        "department": department,
        "username": username,
        "display_name": display,
    }


def account_for(db: Session, subject: str, fields: dict[str, Any]) -> User:
    """The account of this provider subject, created at the first login and kept in step with
    the provider's claims at every later one."""
    user = db.scalar(select(User).where(User.oidc_subject == subject))
    if user is None:
        clash = accounts.get_user_by_username(db, fields["username"])
        if clash is not None:
            raise OidcRefused(f"登录名 {fields['username']} 已被本地账号使用，请管理员处理")
        user = User(oidc_subject=subject, password_hash=UNUSABLE_PASSWORD, created_at=utcnow(), **fields)
        db.add(user)
        db.flush()
        record(db, Actor(user.id, user.username, None), Action.USER_CREATE, "user", user.id, {"via": "oidc"})
    else:
        if not user.is_active:
            raise OidcRefused("账号已停用")
        for key in ("role", "division_code", "department", "display_name"):
            setattr(user, key, fields[key])
        user.updated_at = utcnow()
    return user


@router.get("/login/oidc")
def oidc_start(request: Request, next: str = Query("/", max_length=2000)) -> Response:
    from jingxin.accounts.views import safe_next

    settings: Settings = request.app.state.settings
    if not enabled(settings):
        return _page(request, "本平台未配置统一身份认证", 404)
    try:
        meta = discovery(settings.oidc_issuer or "")
    except httpx.HTTPError as exc:
        return _page(request, f"无法连接身份提供方（{type(exc).__name__}）", 502)
    state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
    url, _ = _client(settings).create_authorization_url(
        meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
    )
    flow = _serializer(settings).dumps({"s": state, "n": nonce, "v": verifier, "next": safe_next(next)})
    response = RedirectResponse(url, status_code=303)
    response.headers.append("Set-Cookie", _flow_cookie(flow, settings.secure_cookies, FLOW_MAX_AGE))
    return response


@router.get("/login/oidc/callback")
def oidc_callback(
    request: Request,
    db: DbSession,
    code: str = Query("", max_length=2000),
    state: str = Query("", max_length=200),
    error: str = Query("", max_length=200),
) -> Response:
    settings: Settings = request.app.state.settings
    if not enabled(settings):
        return _page(request, "本平台未配置统一身份认证", 404)
    if error:
        return _page(request, f"身份提供方拒绝了登录（{error}）", 403)
    try:
        flow = _serializer(settings).loads(request.cookies.get(FLOW_COOKIE, ""), max_age=FLOW_MAX_AGE)
    except BadSignature:
        return _page(request, "登录已超时或不是从本平台发起，请重新登录", 400)
    if not code or not secrets.compare_digest(state, flow["s"]):
        return _page(request, "登录状态不符（state），请重新登录", 400)
    ip = client_ip(request)
    try:
        meta = discovery(settings.oidc_issuer or "")
        with _client(settings) as client:
            token = client.fetch_token(meta["token_endpoint"], code=code, code_verifier=flow["v"])
            claims = verify_id_token(settings, meta, token["id_token"], flow["n"])
            if meta.get("userinfo_endpoint"):
                info = client.get(meta["userinfo_endpoint"])
                info.raise_for_status()
                claims = {**dict(info.json()), **claims}
        fields = map_claims(settings, claims)
        user = account_for(db, f"{claims['iss']}|{claims['sub']}", fields)
    except OidcRefused as exc:
        db.rollback()
        record(
            db,
            Actor(None, None, ip),
            Action.LOGIN_FAILED,
            None,
            None,
            {"via": "oidc", "reason": str(exc)},
            commit=True,
        )
        return _page(request, str(exc), 403)
    except (httpx.HTTPError, KeyError) as exc:
        db.rollback()
        return _page(request, f"与身份提供方通信失败（{type(exc).__name__}）", 502)
    user.last_login_at = utcnow()
    record(db, Actor(user.id, user.username, ip), Action.LOGIN, "user", user.id, {"via": "oidc"})
    db.commit()
    token_value, _ws = account_sessions.start_session(
        db,
        user,
        ip,
        request.headers.get("user-agent"),
        replacing=request.cookies.get("jingxin_session"),
        policy=request.app.state.session_policy,
    )
    set_session_cookie(request, token_value)
    response = RedirectResponse(flow["next"], status_code=303)
    response.headers.append("Set-Cookie", _flow_cookie("", settings.secure_cookies, 0))
    return response
