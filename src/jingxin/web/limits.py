"""Request body limits (请求体限额): who may send a body, and how big, decided before reading it.

FastAPI reads a whole multipart body (spooling it to disk) before any dependency runs, so the
app-wide CSRF check (`jingxin.web.deps.csrf_protect`) and the login check came only after an
anonymous client had uploaded as much as it liked. This ASGI middleware runs first, for every
state-changing request (POST, PUT, PATCH, DELETE), and refuses before the body is read:

1. a declared `Content-Length` above the route's limit → 413 (the upload routes allow
   `upload_max_bytes`, every other route `request_max_bytes`);
2. no live session for the cookie → 403, as the CSRF check would answer;
3. on the upload routes, no logged-in user → 401, or a role that may not upload → 403;
4. a CSRF token that does not match the session's → 403. The token comes from the
   `X-CSRF-Token` header, or else from the form: only the first `CSRF_PREFIX_BYTES` of a
   multipart body are read to find the `csrf_token` field (the page's forms put it first);
   those bytes are then handed on to the app unchanged.

A body sent without a length (chunked) is counted as it is read, and the request is answered
413 as soon as it passes the limit. The route's own checks (CSRF dependency, roles, form
validation) still run afterwards; this layer only makes them happen before the cost.

A refusal here is audited like the app's own: every 403 goes through
`jingxin.web.errors.audit_denial`, a CSRF failure as `csrf_failed`, a role without the right
as `access_denied`, so the audit log does not depend on which layer caught the request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jingxin.core.auth import Role, tokens_equal
from jingxin.web.errors import CsrfFailed, audit_denial

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
SESSION_COOKIE = "jingxin_session"
CSRF_FIELD = "csrf_token"
CSRF_PREFIX_BYTES = 64 * 1024
UPLOAD_ROUTES = frozenset({("POST", "/data/upload"), ("POST", "/api/v1/batches")})
UPLOAD_ROLES = frozenset({Role.ADMIN, Role.LIAISON})

ROLE_REFUSED = "您的角色无权访问此功能"


class _TooLarge(Exception):
    pass


@dataclass
class BodyLimits:
    """The limits one app applies (from `Settings.upload_max_bytes` / `request_max_bytes`)."""

    upload_max_bytes: int
    request_max_bytes: int
    upload_routes: frozenset[tuple[str, str]] = UPLOAD_ROUTES
    upload_roles: frozenset[Role] = field(default=UPLOAD_ROLES)

    def for_route(self, method: str, path: str) -> tuple[int, bool]:
        """The body limit of a route and whether it is an upload route."""
        if (method, path.rstrip("/") or "/") in self.upload_routes:
            return self.upload_max_bytes, True
        return self.request_max_bytes, False


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


class RequestLimits:
    """ASGI middleware applying `BodyLimits` (see the module docstring)."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope.get("path", "")
        limit, upload = self.limits.for_route(method, path)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        too_large = f"请求内容超过 {_mb(limit)} 的上限，未读取。" + (
            "请拆分文件后分批提交（upload_max_bytes）。" if upload else "（request_max_bytes）"
        )
        declared = headers.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > limit:
            await _answer(scope, send, 413, too_large)
            return

        ws = await _session(scope, headers.get("cookie", ""))
        if ws is None:
            await _refuse(scope, send, CsrfFailed(), None)
            return
        if upload:
            user = ws.user
            if user is None:
                await _answer(scope, send, 401, "请先登录")
                return
            if user.role_enum not in self.limits.upload_roles:
                await _refuse(scope, send, HTTPException(403, ROLE_REFUSED), user)
                return

        buffered: list[Message] = []
        sent = headers.get("x-csrf-token")
        if not sent:
            try:
                sent, buffered = await _form_token(receive, headers.get("content-type", ""), limit)
            except _TooLarge:
                await _answer(scope, send, 413, too_large)
                return
        if not tokens_equal(sent, ws.csrf_token):
            await _refuse(scope, send, CsrfFailed(), ws.user)
            return

        seen = sum(len(m.get("body", b"")) for m in buffered)
        exceeded = seen > limit
        answered = False  # a response has been started (by the app, or the 413 here)
        app_answers = False  # the app started its response before the limit was passed

        async def replay_then_count() -> Message:
            nonlocal seen, exceeded
            if buffered:
                return buffered.pop(0)
            if exceeded:
                raise _TooLarge
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def answer_413_if_exceeded(message: Message) -> None:
            # The app turns a failed body read into an answer of its own (FastAPI: 400 "error
            # parsing the body"); once the limit is passed, 413 is sent instead of it.
            nonlocal answered, app_answers
            if app_answers or not exceeded:
                app_answers = app_answers or message["type"] == "http.response.start"
                answered = answered or app_answers
                await send(message)
            elif not answered:
                answered = True
                await _answer(scope, send, 413, too_large)

        try:
            if exceeded:
                raise _TooLarge
            await self.app(scope, replay_then_count, answer_413_if_exceeded)
        except _TooLarge:
            if not answered:
                await _answer(scope, send, 413, too_large)


async def _session(scope: Scope, cookie_header: str) -> Any:
    """The live session (an accounts `WebSession`) named by the cookie, as
    `jingxin.web.deps.get_web_session` finds it: from memory when read moments ago, else from
    the platform database on a thread."""
    from jingxin.accounts import sessions as account_sessions

    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(cookie_header)
    except Exception:  # a malformed Cookie header names no session
        return None
    morsel = cookie.get(SESSION_COOKIE)
    token = morsel.value if morsel else None
    if not token:
        return None
    app = scope["app"]
    policy = app.state.session_policy
    ws = account_sessions.cached_session(token, policy)
    if ws is not None:
        return ws

    def load() -> Any:
        db = app.state.db.session()
        try:
            return account_sessions.load_session(db, token, policy)
        finally:
            db.close()

    return await run_in_threadpool(load)


async def _form_token(receive: Receive, content_type: str, limit: int) -> tuple[str | None, list[Message]]:
    """The form's `csrf_token` from the start of the body, and the messages read to find it.

    A urlencoded form is small (bounded by the route's limit) and read whole; a multipart body
    only until the field has been seen, at most CSRF_PREFIX_BYTES."""
    kind, options = parse_options_header(content_type)
    kind_text = kind.decode("latin-1") if isinstance(kind, bytes) else kind
    if kind_text == "application/x-www-form-urlencoded":
        whole, body = await _read(receive, limit + 1)
        if len(body) > limit:
            raise _TooLarge
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(CSRF_FIELD)
        return (values[0] if values else None), whole
    if kind_text != "multipart/form-data" or b"boundary" not in options:
        return None, []
    finder = _MultipartToken(options[b"boundary"])
    messages: list[Message] = []
    read = 0
    while finder.value is None and read < CSRF_PREFIX_BYTES:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        read += len(chunk)
        finder.feed(chunk)
        if not message.get("more_body", False):
            break
    return finder.value, messages


async def _read(receive: Receive, at_most: int) -> tuple[list[Message], bytes]:
    messages: list[Message] = []
    body = b""
    while len(body) < at_most:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    return messages, body


class _MultipartToken:
    """Finds the `csrf_token` field of a multipart body fed in pieces (python-multipart)."""

    def __init__(self, boundary: bytes) -> None:
        self.value: str | None = None
        self._header_field = b""
        self._header_value = b""
        self._is_token = False
        self._data = b""
        self._failed = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._field,
                "on_header_value": self._value,
                "on_header_end": self._header_end,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    def feed(self, chunk: bytes) -> None:
        if self._failed or self.value is not None:
            return
        try:
            self._parser.write(chunk)
        except Exception:  # not a valid multipart body: no token found in it
            self._failed = True

    def _part_begin(self) -> None:
        self._is_token = False
        self._data = b""

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_field.lower() == b"content-disposition":
            _, options = parse_options_header(self._header_value)
            self._is_token = options.get(b"name") == CSRF_FIELD.encode()
        self._header_field = self._header_value = b""

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_token and len(self._data) < 1024:
            self._data += data[start:end]

    def _part_end(self) -> None:
        if self._is_token:
            self.value = self._data.decode("utf-8", "replace")


async def _refuse(scope: Scope, send: Send, exc: HTTPException, user: Any) -> None:
    """A 403 before the body was read, written to the audit log first (as the app's own 403s
    are, by `jingxin.web.errors`)."""
    await audit_denial(Request(scope), exc, user)
    await _answer(scope, send, exc.status_code, str(exc.detail))


async def _answer(scope: Scope, send: Send, status: int, detail: str) -> None:
    """A refusal before the body was read: JSON for the API, a short page otherwise. The
    connection is closed after it, since the unread body cannot be skipped cheaply."""
    path: str = scope.get("path", "")
    accept = next((v for k, v in scope.get("headers", []) if k == b"accept"), b"").decode("latin-1")
    if path.startswith("/api/") or "application/json" in accept:
        body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
        media = "application/json"
    else:
        body = (
            '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>请求未被接受</title>'
            f'<p>{detail}</p><p><a href="/">返回首页</a></p></html>'
        ).encode()
        media = "text/html; charset=utf-8"
    headers: Iterable[tuple[bytes, bytes]] = [
        (b"content-type", media.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})
