"""Pages of monitoring (运行监测): dashboard, region and industry pages, the warnings list with
their cases, an enterprise's monitoring tab, and Excel downloads of each table.

Regional pages are for analysts and administrators inside their scope; the enterprise tab also
for service staff (their enterprises) and an enterprise (itself). Data come from the stored
refreshes (`jingxin monitor refresh`); tax-derived figures (开票销售额) are withheld from roles
without clearance by `core.visibility`; views of them by cleared users and every download are
audited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from jingxin.core import audit
from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.visibility import visibility_for
from jingxin.evaluation.pages import TemporaryFileResponse
from jingxin.monitoring import presenters as p
from jingxin.monitoring.export import write_workbook
from jingxin.monitoring.measures import TAX_DERIVED
from jingxin.web.deps import (
    CurrentActor,
    CurrentScope,
    CurrentUser,
    DbSession,
    WarehouseReader,
    require_roles,
)
from jingxin.web.params import MonthQuery
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.templating import render

REGION_ROLES = frozenset({*ANALYSTS, Role.ADMIN})
ENTERPRISE_ROLES = frozenset({*REGION_ROLES, Role.SERVICE_STAFF, Role.ENTERPRISE})

Division = Annotated[str | None, Query(pattern=r"^\d{6}$", description="区划代码")]
Measure = Annotated[str, Query(pattern=r"^[a-z_]{1,32}$")]

pages = APIRouter(prefix="/monitoring", include_in_schema=False)


def _404(exc: Exception) -> HTTPException:
    return HTTPException(status_code=404, detail=str(exc) or "不存在或不在您的数据范围内")


def _audit_tax(db, actor, user, object_type: str, object_id: str) -> None:
    if user.clearance:
        audit.record_sensitive_view(db, actor, object_type, object_id, sorted(TAX_DERIVED))


@pages.get("", dependencies=[Depends(require_roles(*REGION_ROLES))])
def dashboard(
    request: Request,
    user: CurrentUser,
    scope: CurrentScope,
    wh: WarehouseReader,
    db: DbSession,
    actor: CurrentActor,
    month: MonthQuery = None,
    region: Division = None,
    measure: Measure = "output_value",
) -> Response:
    vis = visibility_for(user.role_enum)
    try:
        reg = p.region_of(scope, region)
        target, months = p.choose_month(wh, month)
    except p.NotFound as exc:
        raise _404(exc) from None
    ctx: dict[str, Any] = {"page_title": "运行监测", "region": reg, "month": target, "months": months}
    if target is not None:
        warns = p.warnings_in_scope(
            wh, scope, target, vis, prefix="" if reg["level"] == "province" else reg["prefix"]
        )
        ctx.update(
            headline=p.group_rows(wh, target, reg["level"], reg["code"], vis),
            trend=p.trend(wh, reg["level"], reg["code"], vis),
            map_config=p.map_config(wh, target, reg, vis, measure, warns),
            children=p.child_table(wh, target, reg["children"], reg["prefix"], vis)
            if reg["children"]
            else [],
            child_measures=p.measures_for(vis, ("output_value", "kwh", "customs_export", "invoice_sales")),
            warnings=warns[:50],
            warning_count=len(warns),
        )
        _audit_tax(db, actor, user, "monitor_region", reg["code"])
    return render(request, "monitoring/dashboard.html", ctx)


@pages.get("/regions/{code}", dependencies=[Depends(require_roles(*REGION_ROLES))])
def region_page(
    request: Request,
    code: str,
    user: CurrentUser,
    scope: CurrentScope,
    wh: WarehouseReader,
    db: DbSession,
    actor: CurrentActor,
    month: MonthQuery = None,
) -> Response:
    vis = visibility_for(user.role_enum)
    try:
        reg = p.region_of(scope, code)
        target, months = p.choose_month(wh, month)
    except p.NotFound as exc:
        raise _404(exc) from None
    if target is None:
        raise _404(p.NotFound("尚未刷新任何月份"))
    warns = p.warnings_in_scope(wh, scope, target, vis, prefix=reg["prefix"])
    _audit_tax(db, actor, user, "monitor_region", reg["code"])
    return render(
        request,
        "monitoring/group.html",
        {
            "page_title": f"{reg['name']}运行监测",
            "title": reg["name"],
            "kind": "region",
            "code": reg["code"],
            "month": target,
            "months": months,
            "rows": p.group_rows(wh, target, reg["level"], reg["code"], vis),
            "trend": p.trend(wh, reg["level"], reg["code"], vis),
            "warnings": warns,
        },
    )


@pages.get("/industries/{code}", dependencies=[Depends(require_roles(*REGION_ROLES))])
def industry_page(
    request: Request,
    code: str,
    user: CurrentUser,
    scope: CurrentScope,
    wh: WarehouseReader,
    db: DbSession,
    actor: CurrentActor,
    month: MonthQuery = None,
) -> Response:
    """A GB/T 4754 division across the province (province-wide scopes only: a county's share
    of an industry is on its region page)."""
    vis = visibility_for(user.role_enum)
    if not scope.covers_province:
        raise _404(p.NotFound("行业全省数据不在您的数据范围内"))
    try:
        target, months = p.choose_month(wh, month)
        name = p.group_name("industry", code)
        if target is None or name == code:
            raise p.NotFound("行业不存在或尚未刷新")
    except p.NotFound as exc:
        raise _404(exc) from None
    warns = [
        w for w in p.warnings_in_scope(wh, scope, target, vis) if (w["industry_code"] or "").startswith(code)
    ]
    _audit_tax(db, actor, user, "monitor_industry", code)
    return render(
        request,
        "monitoring/group.html",
        {
            "page_title": f"{name}运行监测",
            "title": f"{code} {name}",
            "kind": "industry",
            "code": code,
            "month": target,
            "months": months,
            "rows": p.group_rows(wh, target, "industry", code, vis),
            "trend": p.trend(wh, "industry", code, vis),
            "warnings": warns,
        },
    )


@pages.get("/warnings", dependencies=[Depends(require_roles(*REGION_ROLES))])
def warnings_page(
    request: Request,
    user: CurrentUser,
    scope: CurrentScope,
    wh: WarehouseReader,
    month: MonthQuery = None,
    kind: Annotated[str | None, Query(pattern="^(region|enterprise)$")] = None,
    colour: Annotated[str | None, Query(pattern="^(blue|orange|red)$")] = None,
) -> Response:
    vis = visibility_for(user.role_enum)
    try:
        target, months = (
            p.choose_month(wh, month)
            if month
            else (None, p.store.months(wh) if p.store.has_results(wh) else [])
        )
    except p.NotFound as exc:
        raise _404(exc) from None
    rows = p.warnings_in_scope(wh, scope, target, vis, kind=kind, colour=colour)
    return render(
        request,
        "monitoring/warnings.html",
        {
            "page_title": "运行监测预警",
            "rows": rows[:500],
            "total": len(rows),
            "month": target,
            "months": months,
            "kind": kind,
            "colour": colour,
        },
    )


@pages.get("/enterprises/{credit_code}", dependencies=[Depends(require_roles(*ENTERPRISE_ROLES))])
def enterprise_tab(
    request: Request,
    credit_code: str,
    user: CurrentUser,
    scope: CurrentScope,
    wh: WarehouseReader,
    db: DbSession,
    actor: CurrentActor,
) -> Response:
    vis = visibility_for(user.role_enum)
    try:
        data = p.enterprise_series(wh, scope, credit_code, vis)
    except p.NotFound as exc:
        raise _404(exc) from None
    if any(m in TAX_DERIVED for m in data["measures"]):
        _audit_tax(db, actor, user, "monitor_enterprise", credit_code)
    return render(
        request,
        "monitoring/enterprise.html",
        {"page_title": f"{data['name']}运行监测", "code": credit_code, **data},
    )


TABLES = {"indicators", "children", "warnings"}


@pages.get("/export.xlsx", dependencies=[Depends(require_roles(*REGION_ROLES))])
def export_page(
    user: CurrentUser,
    scope: CurrentScope,
    wh: WarehouseReader,
    db: DbSession,
    actor: CurrentActor,
    table: Annotated[str, Query(pattern="^(indicators|children|warnings)$")],
    month: MonthQuery = None,
    region: Division = None,
) -> Response:
    """The table on screen as a workbook: only what the scope and visibility allow; audited."""
    vis = visibility_for(user.role_enum)
    try:
        reg = p.region_of(scope, region)
        target, _ = p.choose_month(wh, month)
    except p.NotFound as exc:
        raise _404(exc) from None
    if target is None:
        raise _404(p.NotFound("尚未刷新任何月份"))
    title = f"{reg['name']}运行监测（{target:%Y年%m月}）"
    if table == "indicators":
        rows = p.group_rows(wh, target, reg["level"], reg["code"], vis)
        cols = [
            ("label", "指标"),
            ("unit", "单位"),
            ("value_month", "当月（1—2月合并）"),
            ("yoy_month", "当月同比%"),
            ("value_ytd", "累计"),
            ("yoy_ytd", "累计同比%"),
            ("enterprises", "企业数"),
            ("growing", "增长企业"),
            ("shrinking", "下降企业"),
            ("growing_share", "增长面%"),
            ("shrinking_share", "下降面%"),
        ]
    elif table == "children":
        if not reg["children"]:
            raise _404(p.NotFound("县级没有下级区划"))
        rows = p.child_table(wh, target, reg["children"], reg["prefix"], vis)
        cols = [("code", "区划代码"), ("name", "名称")]
        for m, name in p.measures_for(vis).items():
            cols += [(f"{m}_yoy", f"{name}当月同比%"), (f"{m}_ytd", f"{name}累计同比%")]
    else:
        rows = p.warnings_in_scope(
            wh, scope, target, vis, prefix="" if reg["level"] == "province" else reg["prefix"]
        )
        cols = [
            ("colour_label", "等级"),
            ("level_label", "层级"),
            ("code", "代码"),
            ("name", "名称"),
            ("measure_label", "指标"),
            ("reason", "原因"),
            ("available_on", "数据到达日"),
            ("case_id", "处置工单"),
        ]
    path, n = write_workbook(title, "数据", cols, rows)
    name = f"{title}_{table}.xlsx"
    audit.record(
        db,
        actor,
        audit.Action.EXPORT,
        "monitor_table",
        f"{reg['code']}:{target:%Y-%m}:{table}",
        {"format": "xlsx", "rows": n, "scope": scope.division or "330000", "file_name": name},
    )
    return TemporaryFileResponse(
        path,
        filename=name,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


scenario = WebScenario(
    name="monitoring",
    pages=pages,
    api=None,
    nav=(NavItem("monitoring", "运行监测", "/monitoring", roles=REGION_ROLES, order=30, icon="◔"),),
    templates=Path(__file__).parent / "templates",
)
