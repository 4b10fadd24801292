"""Answers while a store is unreachable (存储故障应答): 503 with a retry hint, never a 500.

`StoreOutage` wraps the app (inside the layer that adds the security headers). When a route
fails because the platform database or the warehouse cannot be reached (`is_store_down`: the
driver's connection errors, however wrapped) or because every pooled connection is taken
(`is_store_busy`):

- a read-only request (GET, HEAD) is run once more, at once: a connection cut by a database
  restart is dropped by the pools' pre-ping, so the second try gets a fresh one and the user
  never sees the blip; it has no body to replay and changes nothing, so running it twice is
  safe. Requests that change data are never retried here: an upload cut halfway was rolled
  back whole by its transaction and is refused, and the user sends it again;
- otherwise the answer is 503 with `Retry-After` (`retry_after` seconds, a project default)
  and a Chinese message, as `{"detail": ...}` for `/api/...` and as a page for the rest. The
  page is plain HTML, not the layout: the layout reads the session, which needs the store that
  is down.

An answer already started cannot be changed; such a failure goes on to the server's log.
"""

from __future__ import annotations

import logging

from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jingxin.core.outage import is_store_busy, is_store_down, outage_message

log = logging.getLogger(__name__)

RETRIED_METHODS = frozenset({"GET", "HEAD"})

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>服务暂不可用 · 数字经信</title></head>
<body><h1>503 服务暂不可用</h1><p>{message}</p>
<p><a href="">重新加载</a> · <a href="/">返回首页</a></p></body></html>
"""


def is_outage(exc: BaseException) -> bool:
    return is_store_down(exc) or is_store_busy(exc)


def outage_response(path: str, exc: BaseException, retry_after: int) -> Response:
    """The 503 for a store failure, in the form the path asks for."""
    message = outage_message(exc, retry_after)
    headers = {"Retry-After": str(retry_after), "Cache-Control": "no-store"}
    if path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=503, headers=headers)
    return HTMLResponse(_PAGE.format(message=message), status_code=503, headers=headers)


class StoreOutage:
    def __init__(self, app: ASGIApp, retry_after: int = 5) -> None:
        self.app = app
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        tries = 2 if scope.get("method") in RETRIED_METHODS else 1
        for attempt in range(1, tries + 1):
            try:
                await self.app(scope, receive if attempt == 1 else _empty_body, tracking_send)
                return
            except Exception as exc:
                if started or not is_outage(exc):
                    raise
                if attempt < tries and is_store_down(exc):
                    log.warning("存储连接中断，重试只读请求 %s：%s", scope.get("path"), exc)
                    continue
                log.warning("存储不可用，答复 503：%s %s：%s", scope.get("method"), scope.get("path"), exc)
                response = outage_response(scope.get("path", ""), exc, self.retry_after)
                await response(scope, receive, send)
                return


async def _empty_body() -> Message:
    """The body of a retried GET (already read once: a GET has none)."""
    return {"type": "http.request", "body": b"", "more_body": False}
