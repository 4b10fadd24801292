"""Error answers: JSON for `/api/...`, a Chinese page for everything else.

Routes raise `HTTPException` (or `LoginRequired`) and never format errors themselves; these
handlers pick the form by path, so an API client always gets `{"detail": ...}` and a browser
always gets a readable page inside the layout.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
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


class LoginRequired(Exception):
    """Raised by `current_user` when no one is logged in: 401 for the API, a redirect to the
    login page (back to where the user was going) for pages."""


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


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
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


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if wants_json(request):
        from fastapi.encoders import jsonable_encoder

        return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
    return _error_page(request, 422, "提交的内容格式不正确，请返回检查后重试")


async def _warehouse_error(request: Request, exc: Exception) -> Response:
    """The warehouse cannot be opened (e.g. another process holds the DuckDB file): say so."""
    message = str(exc) or "数据仓库暂不可用"
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=503)
    return _error_page(request, 503, message)


def install(app: FastAPI) -> None:
    from jingxin.core.warehouse import WarehouseError

    app.add_exception_handler(WarehouseError, _warehouse_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(RequestValidationError, _validation_error)
