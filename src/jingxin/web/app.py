"""The app factory (应用工厂): `create_app(settings)` builds the whole web app and JSON API.

What it wires, in one place:

- the platform database (migrated to the newest revision at start) and the warehouse access
  (`jingxin.web.warehouse`), both on `app.state`;
- the scenarios listed in `SCENARIO_MODULES`, each a module with a `scenario = WebScenario(...)`
  (pages, `/api/v1` routes, nav items, templates; see `jingxin.web.registry`). A scenario adds
  its pages by adding its module here. Modules in `OPTIONAL_SCENARIOS` are skipped while their
  package does not provide them yet;
- request body limits, with the session, role and CSRF checked before a body is read
  (`jingxin.web.limits`);
- CSRF checking on every state-changing request (an app-wide dependency), the session cookie
  and security headers (`jingxin.web.security`), error pages (`jingxin.web.errors`);
- static files under /static (own CSS/JS and vendored ECharts and HTMX, no CDN);
- the job runtime (`jingxin.core.jobs.runner.JobRuntime`, on `app.state.jobs`): huey's
  consumer threads, heartbeats and schedules run inside the server process, started and
  stopped with it (DuckDB lets only this process open the warehouse file).

Run it with `jingxin serve`, or `uvicorn --factory jingxin.web.app:create_app`.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from jingxin.accounts import live_sessions
from jingxin.accounts.login import DEFAULT_THROTTLE, ThrottlePolicy
from jingxin.accounts.sessions import DEFAULT_SESSIONS, SessionPolicy
from jingxin.core.audit import GroupWriter
from jingxin.core.calendar import check_coverage
from jingxin.core.db import Database, upgrade
from jingxin.core.jobs.client import remove_server_file
from jingxin.core.jobs.runner import JobRuntime
from jingxin.core.jobs.runner import set_current as set_current_jobs
from jingxin.core.settings import Settings, get_settings
from jingxin.ops.middleware import RequestObservability
from jingxin.web import errors
from jingxin.web.assets import STATIC_DIR, asset_version, ensure_vendor
from jingxin.web.deps import csrf_protect
from jingxin.web.limits import BodyLimits, RequestLimits
from jingxin.web.outage import StoreOutage
from jingxin.web.registry import WebScenario
from jingxin.web.security import PlatformMiddleware
from jingxin.web.templating import build_templates
from jingxin.web.warehouse import WarehouseAccess
from jingxin.web.warmup import warm_headline_views

API_PREFIX = "/api/v1"

# Every scenario that has pages or API routes, in the order their routes are matched.
SCENARIO_MODULES: tuple[str, ...] = (
    "jingxin.web.home",
    "jingxin.web.health",
    "jingxin.evaluation.views",
    "jingxin.evaluation.notice_views",
    "jingxin.datahub.views",
    "jingxin.accounts.views",
    "jingxin.web.audit_views",
    "jingxin.core.workflow.views",
    "jingxin.core.notify.views",
    "jingxin.nowcast.views",
    "jingxin.exchange.views",
    "jingxin.jobs.views",
    "jingxin.ops.views",
    # 诉求直办, 清欠, 减负降本
    "jingxin.appeals.views",
    "jingxin.arrears.views",
    "jingxin.burden.views",
    "jingxin.enterprise_code.views",
    "jingxin.policies.views",
    "jingxin.risk.views",
    "jingxin.monitoring.views",  # 运行监测
    "jingxin.medical.views",  # 医疗应急物资
    "jingxin.fiveg.views",  # 5G基站一件事
    # 项目推进与梯队培育
    "jingxin.projects.views",
    "jingxin.cultivation.views",
    "jingxin.chains.views",  # 十大标志性产业链
    "jingxin.places.views",  # 县域制造业高质量发展评价
    "jingxin.parks.views",  # 小微企业园星级评定
    "jingxin.parks.manufacturing_views",  # 制造业园区星级评价
)

# Scenarios still being built: skipped while the module does not exist (an import error inside
# an existing module is never hidden).
OPTIONAL_SCENARIOS: frozenset[str] = frozenset({"jingxin.evaluation.views"})

API_DESCRIPTION = """数字经信平台 JSON 接口。

- 认证：先在网页 `/login` 登录，接口使用同一个会话 Cookie（`jingxin_session`，HttpOnly）。
- CSRF：所有修改数据的请求（POST、PUT、PATCH、DELETE）须带请求头 `X-CSRF-Token`，其值为
  `GET /api/v1/me` 返回的 `csrf_token`。
- 数据范围：每个接口都按登录用户的区划、部门或企业范围返回数据，与网页完全一致；超出范围的
  对象返回 404。
- 数据共享接口（`/api/v1/exchange/datasets…`）供其他部门和系统调用，不用会话：请求头
  `Authorization: Bearer <令牌>`，令牌由管理员签发，限定数据集、字段、区划、频率和有效期。
"""


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("jingxin")
    except PackageNotFoundError:
        return "0"


def load_scenarios(modules: Sequence[str] = SCENARIO_MODULES) -> list[WebScenario]:
    scenarios = []
    for name in modules:
        if name in OPTIONAL_SCENARIOS and not _module_exists(name):
            continue
        module = importlib.import_module(name)
        scenario = getattr(module, "scenario", None)
        if not isinstance(scenario, WebScenario):
            raise TypeError(f"{name} must define `scenario = WebScenario(...)`")
        scenarios.append(scenario)
    return scenarios


def create_app(
    settings: Settings | None = None,
    *,
    scenario_modules: Sequence[str] = SCENARIO_MODULES,
    migrate: bool = True,
    throttle: ThrottlePolicy = DEFAULT_THROTTLE,
    session_policy: SessionPolicy = DEFAULT_SESSIONS,
    run_jobs: bool = True,
    warm: bool = False,
) -> FastAPI:
    """Build the app for `settings` (default: from the environment).

    The platform database is brought up to date here (`migrate=False` skips it for a database
    known to be current); the warehouse is opened at the first request that needs it.
    `run_jobs=False` leaves the job threads stopped (jobs are then only queued). `warm=True`
    (`jingxin serve`) makes the headline views before the first request (`jingxin.web.warmup`).
    """
    settings = settings or get_settings()
    database_url = settings.platform_database_url
    if migrate:
        upgrade(database_url)
    check_coverage()  # warns in the log when this year or the next lacks its holiday calendar
    ensure_vendor()
    scenarios = load_scenarios(scenario_modules)

    database = Database(database_url)
    warehouse = WarehouseAccess(settings.warehouse_url)
    audit_writer = GroupWriter(database.session, on_loop=database.engine.dialect.name == "sqlite")
    jobs = JobRuntime(settings, database, warehouse)
    # Several processes share one PostgreSQL platform database: each hears the others' session
    # revocations at once (`jingxin.accounts.live_sessions`).
    listener = (
        live_sessions.Listener(database_url, settings.connect_timeout)
        if database.engine.dialect.name == "postgresql"
        else None
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Open the warehouse now, so that a DuckDB file held by another process stops the
        # server at start with the holder named, rather than failing page by page later.
        with warehouse.reader():
            pass
        if warm:
            await anyio.to_thread.run_sync(warm_headline_views, warehouse, settings.warm_seconds)
            # What a serving process holds now (modules, templates, warmed caches) lives as long
            # as it does. Frozen, it is left out of the collector's full passes, which otherwise
            # walk it all while requests wait: the slowest answers under load.
            gc.collect()
            gc.freeze()
        if listener is not None:
            listener.start()
        if run_jobs:
            jobs.start()
            set_current_jobs(jobs)
        try:
            yield
        finally:
            if run_jobs:
                set_current_jobs(None)
                jobs.stop()
            # `jingxin serve` (one process) wrote it; uvicorn re-raises SIGTERM after the
            # shutdown, so the command's own clean-up may never run.
            remove_server_file(settings)
        if listener is not None:
            listener.stop()
        warehouse.close()
        database.dispose()

    app = FastAPI(
        title="数字经信 API",
        version=_version(),
        description=API_DESCRIPTION,
        docs_url=None,  # Swagger UI is self-hosted at /api/docs for admins (jingxin.ops.apidocs)
        redoc_url=None,
        dependencies=[Depends(csrf_protect)],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.warehouse = warehouse
    app.state.audit_writer = audit_writer
    app.state.jobs = jobs
    app.state.throttle = throttle
    app.state.session_policy = session_policy
    app.state.asset_version = asset_version()
    app.state.templates = build_templates(
        [s.templates for s in scenarios if s.templates is not None], app.state.asset_version
    )
    app.state.nav = sorted((item for s in scenarios for item in s.nav), key=lambda i: (i.order, i.title))
    app.state.scenarios = scenarios

    errors.install(app)
    # innermost: a store outage becomes a 503 (a read retried once) before any other layer
    app.add_middleware(StoreOutage, retry_after=settings.retry_after)
    app.add_middleware(
        RequestLimits, limits=BodyLimits(settings.upload_max_bytes, settings.request_max_bytes)
    )
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(PlatformMiddleware)
    app.add_middleware(RequestObservability)  # outermost: request id, metrics, request log line
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    api = APIRouter(prefix=API_PREFIX)
    for scenario in scenarios:
        if scenario.pages is not None:
            app.include_router(scenario.pages)
        if scenario.api is not None:
            api.include_router(scenario.api)
    app.include_router(api)
    return app
