"""Error answers: JSON for `/api/...`, a Chinese page for everything else.

Routes raise `HTTPException` (or `LoginRequired`) and never format errors themselves; these
handlers pick the form by path, so an API client always gets `{"detail": ...}` and a browser
always gets a readable page inside the layout.

- A parameter that fails validation gets a 422 that says, in Chinese, which parameter and
  what is wrong with it (`describe_error`); the API keeps FastAPI's documented shape
  (`detail` is a list of `{loc, msg, type}`), with `msg` in Chinese. This is the one rule for
  every bad parameter, of pages and API alike: pydantic's own constraints and the platform's
  validators (`jingxin.evaluation.params`, which raise `ValueError` with a Chinese message)
  both end here.
- Every 403 (a role without the right, a failed CSRF check) is written to the audit log by
  `audit_denial`, whichever layer refused: these handlers, or `jingxin.web.limits` before
  the body was read.
- A store that cannot be reached gets a 503 with Retry-After, never a 500
  (`jingxin.web.outage`, which also retries a read-only request once).
- An unexpected exception gets a plain 500 answer that carries the same security headers
  (CSP, frame blocking, no-store) as every other answer: it is made outside the middleware
  that adds them, so it adds them itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

STATUS_TITLES = {
    400: "请求有误",
    401: "请先登录",
    403: "没有权限",
    404: "页面不存在",
    405: "不支持的操作",
    409: "操作冲突",
    413: "文件过大",
    422: "输入有误",
    429: "操作过于频繁",
    500: "服务器内部错误",
    503: "服务暂不可用",
}

SERVER_ERROR_MESSAGE = "服务器处理请求时出错，已记录。请稍后重试；如果一再出现，请联系管理员。"


class LoginRequired(Exception):
    """Raised by `current_user` when no one is logged in: 401 for the API, a redirect to the
    login page (back to where the user was going) for pages."""


CSRF_FAILED_MESSAGE = "安全校验失败（CSRF），请刷新页面后重试"


class CsrfFailed(StarletteHTTPException):
    """A state-changing request whose CSRF token is missing or wrong (403, audited as such)."""

    def __init__(self) -> None:
        super().__init__(status_code=403, detail=CSRF_FAILED_MESSAGE)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_page(request: Request, status: int, detail: Any) -> Response:
    from jingxin.web.templating import render

    message = detail if isinstance(detail, str) else STATUS_TITLES.get(status, "出错了")
    return render(
        request,
        "layout/error.html",
        {"status": status, "title": STATUS_TITLES.get(status, "出错了"), "message": message},
        status_code=status,
    )


def error_response(request: Request, status: int, message: str) -> Response:
    """The error answer in the request's form: `{"detail": message}` or the error page."""
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    return _error_page(request, status, message)


async def audit_denial(request: Request, exc: StarletteHTTPException, user: Any = None) -> None:
    """Write a refused request (403) to the audit log, before the answer goes out: as
    `csrf_failed` for a `CsrfFailed`, else as `access_denied`. `user` is who sent it when the
    caller knows (the body-limit layer, before the app has set `request.state.user`)."""
    from jingxin.core.audit import Action, Actor
    from jingxin.web.deps import client_ip

    writer = getattr(request.app.state, "audit_writer", None)
    if writer is None:
        return
    if user is None:
        user = getattr(request.state, "user", None)
    actor = Actor(user.id if user else None, user.username if user else None, client_ip(request))
    action = Action.CSRF_FAILED if isinstance(exc, CsrfFailed) else Action.ACCESS_DENIED
    detail = {"method": request.method, "path": request.url.path, "reason": str(exc.detail)}
    await writer.save_entry(actor, action, "request", request.url.path, detail)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 403:
        await audit_denial(request, exc)
    headers = getattr(exc, "headers", None)
    if wants_json(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
    return _error_page(request, exc.status_code, exc.detail)


async def _login_required(request: Request, exc: Exception) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": "请先登录"}, status_code=401)
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.method != "GET" or request.headers.get("HX-Request") == "true":
        target = "/"
    response: Response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    if request.headers.get("HX-Request") == "true":
        response = Response(status_code=204, headers={"HX-Redirect": "/login"})
    return response


# ---- validation messages ------------------------------------------------------------------

_PLACES = {
    "query": "查询参数",
    "path": "路径参数",
    "body": "请求内容",
    "header": "请求头",
    "cookie": "Cookie",
}

# pydantic error type -> Chinese message; `{name}` takes the error's context (limits etc.).
_MESSAGES = {
    "missing": "缺少必填项",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数，不能带小数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "finite_number": "应为有限的数字",
    "decimal_parsing": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "date_parsing": "应为日期，格式 YYYY-MM-DD",
    "date_from_datetime_parsing": "应为日期，格式 YYYY-MM-DD",
    "date_from_datetime_inexact": "应为日期，格式 YYYY-MM-DD，不带时间",
    "date_type": "应为日期，格式 YYYY-MM-DD",
    "datetime_parsing": "应为日期时间，格式 YYYY-MM-DDTHH:MM:SS",
    "datetime_from_date_parsing": "应为日期时间，格式 YYYY-MM-DDTHH:MM:SS",
    "datetime_type": "应为日期时间，格式 YYYY-MM-DDTHH:MM:SS",
    "greater_than_equal": "不能小于 {ge}",
    "greater_than": "须大于 {gt}",
    "less_than_equal": "不能大于 {le}",
    "less_than": "须小于 {lt}",
    "string_too_long": "不能超过 {max_length} 个字符",
    "string_too_short": "至少 {min_length} 个字符",
    "too_long": "最多 {max_length} 项",
    "too_short": "至少 {min_length} 项",
    "string_pattern_mismatch": "格式不正确，应符合 {pattern}",
    "string_type": "应为文本",
    "string_unicode": "应为有效的 UTF-8 文本",
    "enum": "应为以下之一：{expected}",
    "literal_error": "应为以下之一：{expected}",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "json_invalid": "不是有效的 JSON",
    "json_type": "不是有效的 JSON",
    "extra_forbidden": "不接受此字段",
    "url_parsing": "应为网址",
    "uuid_parsing": "应为 UUID",
}


def _where(loc: Any) -> str:
    parts = [str(p) for p in (loc or ())]
    if not parts:
        return "请求"
    place = _PLACES.get(parts[0])
    if place is None:
        return ".".join(parts)
    if len(parts) == 1:
        return place
    return f"{place} {'.'.join(parts[1:])}"


def describe_error(error: Mapping[str, Any]) -> str:
    """One validation error in Chinese: where, then what is wrong (`查询参数 page：不能小于 1`)."""
    kind = str(error.get("type", ""))
    context = error.get("ctx") or {}
    template = _MESSAGES.get(kind)
    if template is not None:
        try:
            text = template.format(**{k: str(v) for k, v in context.items()})
        except (KeyError, IndexError):
            text = template
    elif kind in ("value_error", "assertion_error"):
        # Our own validators raise ValueError with a Chinese message: keep it, without the prefix.
        text = str(error.get("msg", "")).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    else:
        text = f"取值不正确（{error.get('msg', kind)}）"
    return f"{_where(error.get('loc'))}：{text}"


def _validation_error_list(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e.get("loc", ())), "msg": describe_error(e), "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_error_list(exc)
    if wants_json(request):
        return JSONResponse({"detail": errors}, status_code=422)
    problems = "；".join(dict.fromkeys(e["msg"] for e in errors))
    return _error_page(request, 422, f"请求参数有误：{problems}。请改正后重试")


def invalid_parameter(place: str, name: str, message: str) -> RequestValidationError:
    """A validation error for one parameter, raised by a route for a rule between parameters
    (answered like any other: a 422 naming the parameter). `message` says what is wrong and
    how to fix it, without the parameter's name (`describe_error` puts that in front)."""
    return RequestValidationError([{"loc": (place, name), "msg": message, "type": "value_error"}])


# ---- other failures -----------------------------------------------------------------------


async def _warehouse_error(request: Request, exc: Exception) -> Response:
    """The warehouse cannot be opened (e.g. another process holds the DuckDB file): say so."""
    message = str(exc) or "数据仓库暂不可用"
    headers = {"Retry-After": str(_retry_after(request))}
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=503, headers=headers)
    response = _error_page(request, 503, message)
    response.headers.update(headers)
    return response


def _retry_after(request: Request) -> int:
    settings = getattr(request.app.state, "settings", None)
    return int(getattr(settings, "retry_after", 5))


_SERVER_ERROR_PAGE = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>服务器内部错误 · 数字经信</title></head>
<body><h1>500 服务器内部错误</h1><p>{SERVER_ERROR_MESSAGE}</p><p><a href="/">返回首页</a></p></body></html>
"""


async def _server_error(request: Request, exc: Exception) -> Response:
    """An unexpected exception: a 500 without internals, with the security headers.

    The page is plain HTML, not the layout: whatever failed (the database, a template) may
    fail again while rendering it. The exception itself goes on to the server's log."""
    from jingxin.web.outage import is_outage, outage_response
    from jingxin.web.security import security_headers

    headers = security_headers(request.url.path)
    if is_outage(exc):  # a store failure outside the routes (e.g. in a middleware): 503 too
        response = outage_response(request.url.path, exc, _retry_after(request))
        response.headers.update(headers)
        return response
    if wants_json(request):
        return JSONResponse({"detail": SERVER_ERROR_MESSAGE}, status_code=500, headers=headers)
    return HTMLResponse(_SERVER_ERROR_PAGE, status_code=500, headers=headers)


def install(app: FastAPI) -> None:
    from jingxin.core.warehouse import WarehouseError

    app.add_exception_handler(WarehouseError, _warehouse_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # Starlette hands `Exception` to its outermost middleware, outside the one adding headers.
    app.add_exception_handler(Exception, _server_error)
