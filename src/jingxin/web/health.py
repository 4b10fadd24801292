"""Health checks (健康检查) for process managers, load balancers and monitoring.

- `GET /livez`: the process answers (its event loop runs). Touches no store, so a database
  outage never gets a healthy process restarted; it is what `/api/v1/health` also says.
- `GET /readyz`: the process can serve: the platform database answers and its migrations are
  at head, the warehouse answers and has every table and column the platform defines, the
  static assets (vendored ECharts, HTMX) are present, and the job queue answers. A load
  balancer sends traffic only to a ready process; while a store is down every process reports
  503 with the failing check named, and reports ready again as soon as it is back (nothing is
  remembered between calls).

Both answer JSON without login: `{"status": "ok"|"fail", "checks": {name: {"ok", "detail"}}}`,
200 when every check passes, else 503. The details name what failed, never a password, a
host or data (a connection error is named by its kind; the driver's message goes to the log).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from jingxin.core.outage import is_store_busy, is_store_down
from jingxin.web.registry import WebScenario

log = logging.getLogger(__name__)

pages = APIRouter(tags=["health"])


def _reason(exc: BaseException) -> str:
    """The reason shown to anyone who asks (no login): a store that cannot be reached is named
    by the error's kind only (the driver's message names hosts, ports and databases; it goes to
    the server's log); the platform's own checks say what is missing."""
    if is_store_down(exc) or is_store_busy(exc):
        log.warning("就绪检查：存储不可用：%s", exc)
        return f"无法连接（{type(exc).__name__}），详情见服务日志"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def check_platform_database(app: Any) -> str:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import text

    from jingxin.core.db import head_revision

    with app.state.db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        current = MigrationContext.configure(connection).get_current_revision()
    head = head_revision()
    if current != head:
        raise RuntimeError(f"平台数据库迁移版本 {current} 不是最新 {head}：请运行迁移（重启服务即自动迁移）")
    return f"迁移版本 {current}"


def check_warehouse(app: Any) -> str:
    from jingxin.core.warehouse import schema_problems

    with app.state.warehouse.reader() as wh:
        if wh.kind == "postgres":
            wh.con.con.execute("SELECT 1").fetchall()
        problems = schema_problems(wh)
    if problems:
        raise RuntimeError("仓库表结构不完整：" + "；".join(problems[:5]))
    return f"{wh.kind} 表结构完整"


OWN_ASSETS = ("css/jingxin.css", "js/jingxin.js")


def check_static(app: Any) -> str:
    from jingxin.web.assets import STATIC_DIR, missing_vendor_files

    missing = missing_vendor_files()
    missing += [name for name in OWN_ASSETS if not (STATIC_DIR / name).is_file()]
    if missing:
        raise RuntimeError(f"缺少静态资源：{', '.join(missing)}。请运行 `npm ci` 后重启（或重新安装）")
    return "前端资源齐全"


def check_queue(app: Any) -> str:
    pending = app.state.jobs.huey.pending_count()
    return f"队列待处理 {pending} 项"


CHECKS: dict[str, Callable[[Any], str]] = {
    "platform_database": check_platform_database,
    "warehouse": check_warehouse,
    "static_assets": check_static,
    "job_queue": check_queue,
}


def run_checks(app: Any) -> tuple[bool, dict[str, dict[str, Any]]]:
    results: dict[str, dict[str, Any]] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            detail, ok = check(app), True
        except Exception as exc:  # noqa: BLE001 - any failure is reported, named
            detail, ok = _reason(exc), False
        results[name] = {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}
    return all(r["ok"] for r in results.values()), results


@pages.get("/livez", summary="存活检查", include_in_schema=True)
async def livez() -> JSONResponse:
    """The process answers (no store is touched)."""
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


@pages.get("/readyz", summary="就绪检查")
async def readyz(request: Request) -> JSONResponse:
    """Both stores reachable and current, static assets present, job queue reachable; 503 with
    the failing checks named otherwise."""
    ok, checks = await anyio.to_thread.run_sync(run_checks, request.app)
    body: dict[str, Any] = {"status": "ok" if ok else "fail", "checks": checks}
    if not ok:
        body["failed"] = [name for name, r in checks.items() if not r["ok"]]
    return JSONResponse(body, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})


scenario = WebScenario(name="health", pages=pages, api=None, nav=(), templates=None)
