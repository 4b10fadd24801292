"""The home page (首页) and a health check.

What the home page is depends on the role, because each role's first question differs:

- analysts and the administrator get the 亩均 dashboard of their region: headline 亩均税收 and
  亩均增加值 with the change on last year, the class distribution, a map of cities or counties
  coloured by a chosen indicator with drill-down (province → city → county), the trend over
  the years. The figures come from `jingxin.evaluation.views.dashboard_data`, the same
  function behind `/api/v1/dashboard`, with the user's Scope;
- an enterprise user is sent to its own evaluation (企业画像);
- a data liaison or service worker gets the shortcuts to their pages.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from jingxin.core.auth import ANALYSTS, Role
from jingxin.evaluation.params import DivisionCode, MapMeasure, SystemId, Year
from jingxin.web.deps import CurrentActor, CurrentScope, CurrentUser, DbSession, WarehouseReader
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.response_cache import serve_shared
from jingxin.web.templating import nav_for, render

pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["系统"])

DASHBOARD_ROLES = frozenset({*ANALYSTS, Role.ADMIN})

NAV_HINTS = {
    "evaluation": "亩均效益综合评价：企业的评价结果、得分构成与差别化政策。",
    "ranking": "县（市、区）亩均效益排名与亩均效益领跑者。",
    "datahub": "上传部门数据文件，查看入库批次、拒收行及原因。",
    "users": "开设账号、分配角色与数据范围、停用与重置密码。",
    "audit": "登录、导出、下载、敏感字段查看与用户变更的全部记录。",
}


@pages.get("/")
async def home(
    request: Request,
    user: CurrentUser,
    scope: CurrentScope,
    wh: WarehouseReader,
    actor: CurrentActor,
    db: DbSession,
    region: DivisionCode = None,
    year: Year = None,
    system: SystemId = None,
    measure: MapMeasure = "tax_per_mu",
) -> Response:
    role = user.role_enum
    if role is Role.ENTERPRISE and user.credit_code:
        return RedirectResponse(f"/evaluation/enterprises/{user.credit_code}", status_code=303)
    if role in DASHBOARD_ROLES:
        return await serve_shared(
            lambda: _dashboard(request, wh, scope, user, db, actor, region, year, system, measure),
            name="home.dashboard",
            request=request,
            user=user,
            wh=wh,
            actor=actor,
        )
    shortcuts = [
        dict(item, hint=NAV_HINTS.get(item["key"], ""))
        for item in nav_for(request, user)
        if item["key"] != "home"
    ]
    # Rendering reads the session's flash messages from the database: on a worker thread.
    return await run_in_threadpool(
        render, request, "home/welcome.html", {"page_title": "首页", "shortcuts": shortcuts}
    )


def _dashboard(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    user: CurrentUser,
    db: DbSession,
    actor: CurrentActor,
    region: str | None,
    year: int | None,
    system: str | None,
    measure: str,
) -> Response:
    from jingxin.core import audit
    from jingxin.core.visibility import visibility_for
    from jingxin.evaluation.dashboard import NotInScope
    from jingxin.evaluation.views import dashboard_context, dashboard_data

    vis = visibility_for(user.role_enum)
    try:
        data = dashboard_data(wh, scope, region, year, system, vis)
    except NotInScope:
        raise HTTPException(status_code=404, detail="区划不存在或不在您的数据范围内") from None
    if data["run"] is not None and user.clearance:
        # a county's 亩均税收 is a sum of its enterprises' tax (of one, in a county with one)
        audit.record_sensitive_view(db, actor, "dashboard", data["region"]["code"], ["tax_per_mu"])
    context = {"page_title": "首页", **data, **dashboard_context(data, measure, vis)}
    return render(request, "home/index.html", context)


class Health(BaseModel):
    status: str


@api.get("/health", response_model=Health, summary="存活检查（同 /livez）")
def health() -> Health:
    """Liveness, as `/livez`: answers "ok" without login while the process answers, whatever
    the stores' state. Whether it can serve (stores reachable, migrations current) is
    `/readyz` (`jingxin.web.health`)."""
    return Health(status="ok")


scenario = WebScenario(
    name="home",
    pages=pages,
    api=api,
    nav=(NavItem("home", "首页", "/", order=10, icon="⌂"),),
    templates=None,
)
