"""Pages and API of the risk scenario (企业风险分级、一企一策).

Pages: /risk (a month's grades in the reader's scope, general-concern groups, common problems,
model stability), /risk/enterprises/{code} (grade, reasons, points, guarantee neighbourhood),
/risk/cases (lists by county; open the month's cases), /risk/export.xlsx. API under
/api/v1/risk/... with the same service functions. Who sees what: `jingxin.risk.access`.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from starlette.background import BackgroundTask

from jingxin.accounts import sessions as account_sessions
from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.workflow import service as wf
from jingxin.risk import access
from jingxin.risk.cases import case_lists, concentration, general_groups, open_cases
from jingxin.risk.config import GENERAL, KEY, NORMAL, load_config
from jingxin.risk.features import CHARACTERISTICS
from jingxin.risk.service import RiskError, available_months, explain, neighbourhood, score_month, to_records
from jingxin.web.deps import (
    CurrentActor,
    CurrentScope,
    CurrentUser,
    CurrentWebSession,
    DbSession,
    WarehouseReader,
    require_roles,
)
from jingxin.web.params import MonthQuery
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import ProblemOut
from jingxin.web.templating import render

ROLES = frozenset({Role.ADMIN, *ANALYSTS, Role.SERVICE_STAFF, Role.ENTERPRISE})
ROLE_CHECK = [Depends(require_roles(*ROLES))]
pages = APIRouter(prefix="/risk", include_in_schema=False, dependencies=ROLE_CHECK)
api = APIRouter(prefix="/risk", tags=["企业风险"], dependencies=ROLE_CHECK)

Code = Annotated[str, Query(min_length=18, max_length=18)]
MAX_LISTED = 500
GRADE_CLASS = {KEY: "red", GENERAL: "orange", NORMAL: "green"}


def _check(user: Any) -> Any:
    cfg = load_config()
    try:
        access.check_read(user.role_enum, cfg)
    except access.GradeHidden as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from None
    return cfg


def _result(wh: Any, month: str | None) -> Any:
    months = available_months(wh)
    if not months:
        raise HTTPException(
            status_code=404, detail="仓库中还没有风险数据源（参保、纳税、水电、信贷、诉讼、担保）"
        )
    try:
        return score_month(wh, month or months[-1]), months
    except RiskError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


def _overview(wh: Any, user: Any, scope: Any, month: str | None, grade: str | None) -> dict[str, Any]:
    cfg = _check(user)
    result, months = _result(wh, month)
    rows = access.visible(result.table, scope)
    counts = {g: int((rows["grade"] == g).sum()) for g in (KEY, GENERAL, NORMAL)}
    listed = rows[rows["grade"] != NORMAL] if grade is None else rows[rows["grade"] == grade]
    listed = listed.sort_values(["grade", "score"], ascending=[False, True]).head(MAX_LISTED)
    regional = not scope.pinned
    scoped = result if regional else None
    return {
        "result": result,
        "months": months,
        "counts": counts,
        "rows": listed,
        "records": to_records(result, listed),
        "groups": general_groups(_subset(result, rows)) if regional else [],
        "concentration": [c for c in concentration(_subset(result, rows)) if c["warning"]][:30]
        if regional
        else [],
        "cfg": cfg,
        "scoped": scoped,
    }


def _subset(result: Any, rows: Any) -> Any:
    from dataclasses import replace

    return replace(result, table=rows)


@pages.get("")
def risk_page(
    request: Request,
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    actor: CurrentActor,
    month: MonthQuery = None,
    grade: Annotated[str | None, Query(pattern="^(重点关注|一般关注|正常)$")] = None,
) -> Response:
    ctx = _overview(wh, user, scope, month, grade)
    access.audit_view(
        db, actor, "list", ctx["result"].month, [r["credit_code"] for r in ctx["records"]], page="/risk"
    )
    return render(
        request,
        "risk/index.html",
        {
            **ctx,
            "grade": grade,
            "grade_class": GRADE_CLASS,
            "can_open": user.role_enum in access.CASE_OPENERS,
        },
    )


@api.get("/grades")
def grades_api(
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    actor: CurrentActor,
    month: MonthQuery = None,
    grade: Annotated[str | None, Query(pattern="^(重点关注|一般关注|正常)$")] = None,
) -> dict[str, Any]:
    """A month's grades in the caller's scope (重点关注 and 一般关注 unless `grade` is given)."""
    ctx = _overview(wh, user, scope, month, grade)
    access.audit_view(
        db, actor, "list", ctx["result"].month, [r["credit_code"] for r in ctx["records"]], page="api"
    )
    return {
        "month": ctx["result"].month,
        "counts": ctx["counts"],
        "enterprises": ctx["records"],
        "general_groups": ctx["groups"],
        "warnings": ctx["concentration"],
        "lineage": ctx["result"].lineage,
        "model_drift": ctx["result"].drift,
    }


def _enterprise(wh: Any, user: Any, scope: Any, code: str, month: str | None) -> dict[str, Any]:
    _check(user)
    result, months = _result(wh, month)
    t = result.table
    row = t[t["credit_code"] == code]
    if row.empty or access.visible(row, scope).empty:
        raise HTTPException(status_code=404, detail="企业不存在或不在您的数据范围内")
    r = row.iloc[0]
    nodes, edges = neighbourhood(result, code)
    info = t.set_index("credit_code")
    inside = set(access.visible(t[t["credit_code"].isin(nodes)], scope)["credit_code"])
    graph_nodes = []
    for n in nodes:
        if n in inside and n in info.index:
            graph_nodes.append(
                {
                    "id": n,
                    "name": str(info.at[n, "name"]),
                    "grade": str(info.at[n, "grade"]),
                    "materialised": bool(info.at[n, "materialised"]),
                }
            )
        else:  # outside the reader's scope: the link is shown, the enterprise is not
            graph_nodes.append({"id": n, "name": "（范围外企业）", "grade": None, "materialised": None})
    points = result.model.bin_points(row)
    return {
        "result": result,
        "months": months,
        "row": r,
        "record": to_records(result, row)[0],
        "reasons": explain(r, result.config),
        "points": [
            {
                "name": f,
                "label": CHARACTERISTICS[f],
                "value": None if r[f] != r[f] else float(r[f]),
                "points": round(float(points.iloc[0][f]), 1),
                "best": round(result.model.best[f], 1),
            }
            for f in result.model.features
        ],
        "graph": {
            "nodes": graph_nodes,
            "edges": [{"source": a, "target": b, "amount": amt} for a, b, amt in edges],
        },
        "circle": None if r["circle"] < 0 else int(r["circle"]),
    }


@pages.get("/enterprises/{code}")
def enterprise_page(
    request: Request,
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    actor: CurrentActor,
    code: str,
    month: MonthQuery = None,
) -> Response:
    ctx = _enterprise(wh, user, scope, code, month)
    access.audit_view(db, actor, "enterprise", ctx["result"].month, [code], page="/risk/enterprises")
    return render(
        request,
        "risk/enterprise.html",
        {**ctx, "grade_class": GRADE_CLASS, "chart_option": _graph_option(ctx["graph"], code)},
    )


@api.get("/enterprises/{code}")
def enterprise_api(
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    actor: CurrentActor,
    code: str,
    month: MonthQuery = None,
) -> dict[str, Any]:
    """One enterprise's grade, reasons, points by characteristic and guarantee neighbourhood."""
    ctx = _enterprise(wh, user, scope, code, month)
    access.audit_view(db, actor, "enterprise", ctx["result"].month, [code], page="api")
    return {"grade": ctx["record"], "points": ctx["points"], "guarantees": ctx["graph"]}


COLOURS = {KEY: "#d93025", GENERAL: "#f29900", NORMAL: "#1e8e3e", None: "#9aa0a6"}


def _graph_option(graph: dict[str, Any], centre: str) -> dict[str, Any]:
    """ECharts graph: enterprises coloured by grade, arrows guarantor → borrower."""
    return {
        "tooltip": {},
        "legend": [{"data": [KEY, GENERAL, NORMAL, "范围外"]}],
        "series": [
            {
                "type": "graph",
                "layout": "force",
                "roam": True,
                "draggable": True,
                "force": {"repulsion": 220, "edgeLength": 90},
                "edgeSymbol": ["none", "arrow"],
                "categories": [
                    {"name": name, "itemStyle": {"color": COLOURS[grade]}}
                    for name, grade in ((KEY, KEY), (GENERAL, GENERAL), (NORMAL, NORMAL), ("范围外", None))
                ],
                "zoom": 1.6,
                "label": {"show": True, "position": "right", "fontSize": 11},
                "data": [
                    {
                        "id": n["id"],
                        "name": n["name"] + ("（本企业）" if n["id"] == centre else ""),
                        "category": [KEY, GENERAL, NORMAL].index(n["grade"]) if n["grade"] else 3,
                        "symbolSize": 34 if n["id"] == centre else 20,
                        "itemStyle": {
                            "color": COLOURS[n["grade"]],
                            "borderColor": "#000" if n["materialised"] else "#fff",
                            "borderWidth": 3 if n["materialised"] else 1,
                        },
                    }
                    for n in graph["nodes"]
                ],
                "links": [
                    {
                        "source": e["source"],
                        "target": e["target"],
                        "value": e["amount"],
                        "label": {"show": False},
                    }
                    for e in graph["edges"]
                ],
            }
        ],
    }


def _period(start: str | None, end: str | None) -> tuple[date, date]:
    try:
        lo = date.fromisoformat(start) if start else date(date.today().year, 1, 1)
        hi = date.fromisoformat(end) if end else date.today()
    except ValueError:
        raise HTTPException(status_code=422, detail="日期格式应为 YYYY-MM-DD") from None
    if hi < lo:
        raise HTTPException(status_code=422, detail="截止日期早于起始日期")
    return lo, hi


@pages.get("/cases")
def cases_page(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    scope: CurrentScope,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    _check(user)
    lo, hi = _period(start, end)
    items, total = wf.list_items(db, scope, workflow="risk_case", open_only=False, limit=200)
    return render(
        request,
        "risk/cases.html",
        {
            "lists": case_lists(db, scope, lo, hi),
            "items": items,
            "total": total,
            "can_open": user.role_enum in access.CASE_OPENERS,
        },
    )


@api.get("/cases", responses={422: {"model": ProblemOut}})
def cases_api(
    db: DbSession,
    user: CurrentUser,
    scope: CurrentScope,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """一企一策 lists by county for the period: entered, in progress, closed."""
    _check(user)
    lo, hi = _period(start, end)
    return case_lists(db, scope, lo, hi)


@pages.post("/cases/open", dependencies=[Depends(require_roles(*access.CASE_OPENERS))])
def open_page(
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    ws: CurrentWebSession,
    month: Annotated[str, Form(pattern=r"^\d{4}-\d{2}$")],
) -> Response:
    result, _ = _result(wh, month)
    done = open_cases(db, result, user)
    account_sessions.add_flash(
        db,
        ws,
        f"{result.month}：新列入一企一策清单 {len(done.opened)} 家，已在清单中 {len(done.already_open)} 家。",
    )
    return RedirectResponse("/risk/cases", status_code=303)


@pages.get("/export.xlsx")
def export_page(
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    actor: CurrentActor,
    month: MonthQuery = None,
) -> Response:
    from jingxin.risk.export import write_lists

    ctx = _overview(wh, user, scope, month, None)
    rows = access.visible(ctx["result"].table, scope)
    tmp = Path(tempfile.mkstemp(suffix=".xlsx")[1])
    write_lists(ctx["result"], tmp, ctx["groups"], ctx["concentration"], rows)
    access.audit_view(
        db,
        actor,
        "export",
        ctx["result"].month,
        sorted(rows.loc[rows["grade"] != NORMAL, "credit_code"]),
        page="/risk/export.xlsx",
    )
    name = f"风险企业清单_{ctx['result'].month}.xlsx"
    return FileResponse(
        tmp,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
        background=BackgroundTask(tmp.unlink, missing_ok=True),
    )


scenario = WebScenario(
    name="risk",
    pages=pages,
    api=api,
    nav=(
        NavItem(
            "risk",
            "企业风险",
            "/risk",
            roles=frozenset({Role.ADMIN, *ANALYSTS, Role.SERVICE_STAFF}),
            order=30,
            icon="⚠",
        ),
    ),
    templates=Path(__file__).parent / "templates",
)
