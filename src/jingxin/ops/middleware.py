"""ASGI middleware that gives every request an id, counts it and writes its log line.

- The request id: from the incoming `X-Request-ID` when it is plain text, generated otherwise
  (`jingxin.core.request_context`), bound for the whole request (log lines, audit entries, jobs
  submitted) and echoed in the answer's `X-Request-ID` header.
- Metrics: count and duration by method, route *template* and status. Starlette puts the
  matched route into the scope; a request no route matched counts as `<unmatched>` and the
  static files as `/static`, so a scan of random paths cannot grow the label set.
- One log line per request: method, route, path, status, duration, user id (never the
  cookie, a password or a token), request id. At level `info`; `JINGXIN_LOG_LEVEL=warning`
  leaves it out when a proxy in front logs requests already.

It is the outermost middleware, so its duration is the whole time the app spent.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jingxin.core import metrics
from jingxin.core.request_context import REQUEST_ID_HEADER, accept_request_id, request_id_bound
from jingxin.ops.logs import request_logger


def route_template(scope: Scope) -> str:
    """The route pattern that answered (`/jobs/{job_id}`), not the path that was asked."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if path:
        return str(path)
    if scope.get("path", "").startswith("/static/"):
        return "/static"
    return "<unmatched>"


def _user_id(scope: Scope) -> int | None:
    user: Any = scope.get("state", {}).get("user")
    try:
        return int(user.id) if user is not None else None
    except Exception:  # a detached object: the id is not worth failing the log line over
        return None


class RequestObservability:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = request_logger()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        sent = headers.get(REQUEST_ID_HEADER.lower().encode())
        request_id = accept_request_id(sent.decode("latin-1") if sent else None)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with request_id_bound(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                route = route_template(scope)
                method = scope.get("method", "GET")
                metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
                metrics.HTTP_DURATION.labels(method, route).observe(elapsed)
                self.log.info(
                    "request",
                    method=method,
                    route=route,
                    path=scope.get("path", ""),
                    status=status,
                    duration_ms=round(elapsed * 1000, 1),
                    user_id=_user_id(scope),
                )
