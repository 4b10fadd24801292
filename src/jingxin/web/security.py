"""ASGI middleware: the session cookie, the security headers, and requests refused at the door.

Routes decide *that* the session cookie changes (login sets a new id, logout clears it) by
calling `jingxin.web.deps.set_session_cookie`; this middleware writes the header, with the
flags the security model asks for: HttpOnly (scripts cannot read it), SameSite=Lax (other
sites cannot send it with a form post), Path=/, and Secure when the request came over HTTPS
or when `JINGXIN_SECURE_COOKIES` says the platform is only reached through a TLS proxy (which
may speak plain HTTP to the app and not say so).

Security headers: a Content-Security-Policy that allows scripts only from the app itself
(no CDN, no inline script), frame blocking, no MIME sniffing, no referrer leaks to other sites.
`security_headers` gives the same set to the 500 answer, which is made outside this middleware.

A URL with a NUL character (`%00`) in its path or query is refused here with a 400, before
any route sees it: no parameter of the platform can hold one, and the databases refuse them
in text (PostgreSQL) or cut the text short.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jingxin.web.deps import SESSION_COOKIE

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # ECharts sets inline styles on its elements
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


NUL_MESSAGE = "请求地址含有控制字符 NUL（空字符，%00），已拒绝。请去掉该字符后重试"


def security_headers(path: str) -> dict[str, str]:
    """The headers every answer for `path` carries (the middleware adds them unless a route
    set its own)."""
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY}
    if not path.startswith("/static/"):
        # Pages and API answers carry data of one user: never keep them in a cache,
        # so the back button after logout shows nothing.
        headers["Cache-Control"] = "no-store"
    return headers


def has_nul(scope: Scope) -> bool:
    """Whether the request's path or query string holds a NUL character, raw or %-encoded."""
    query: bytes = scope.get("query_string", b"")
    raw_path: bytes = scope.get("raw_path") or b""
    return (
        "\x00" in scope.get("path", "")
        or b"\x00" in query
        or b"%00" in query
        or b"%00" in raw_path
        or b"\x00" in raw_path
    )


def _secure_cookies(scope: Scope) -> bool:
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    return bool(getattr(settings, "secure_cookies", False))


def session_cookie_header(token: str, secure: bool, max_age: int | None = None) -> str:
    cookie: SimpleCookie = SimpleCookie()
    cookie[SESSION_COOKIE] = token
    morsel = cookie[SESSION_COOKIE]
    morsel["path"] = "/"
    morsel["httponly"] = True
    morsel["samesite"] = "Lax"
    if secure:
        morsel["secure"] = True
    if not token:
        morsel["max-age"] = 0
        morsel["expires"] = "Thu, 01 Jan 1970 00:00:00 GMT"
    elif max_age is not None:
        morsel["max-age"] = max_age
    return morsel.OutputString()


class PlatformMiddleware:
    """Writes the session cookie that a route asked for and adds the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        secure = scope.get("scheme") == "https" or _secure_cookies(scope)
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                token = state.get("set_session_cookie")
                if token is not None:
                    headers.append("Set-Cookie", session_cookie_header(token, secure))
                for name, value in security_headers(path).items():
                    headers.setdefault(name, value)
            await send(message)

        if has_nul(scope):
            from jingxin.web.errors import error_response

            response = error_response(Request(scope, receive), 400, NUL_MESSAGE)
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
