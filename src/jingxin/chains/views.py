"""Pages and API of the chains scenario (十大标志性产业链).

Pages: /chains (产业链图谱: local rates by chain and segment, Sankey of where each chain's
purchases come from), /chains/weak-links (薄弱环节, 单一供应商依赖), /chains/match (产业精准合作:
buyers with outside purchases, recommendations with evidence), /chains/export.xlsx.
API under /api/v1/chains/... with the same service functions. Region scope through
`CurrentScope`; exports are audited.
"""

from __future__ import annotations

import io
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse

from jingxin.chains import compute, service
from jingxin.chains.compute import ChainsError
from jingxin.chains.definitions import definitions
from jingxin.core import audit
from jingxin.core.auth import ANALYSTS, Role
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
from jingxin.web.schemas import ProblemOut
from jingxin.web.templating import render

ROLES = frozenset({Role.ADMIN, *ANALYSTS, Role.SERVICE_STAFF})
ROLE_CHECK = [Depends(require_roles(*ROLES))]
pages = APIRouter(prefix="/chains", include_in_schema=False, dependencies=ROLE_CHECK)
# Domain refusals answer 422 with one Chinese sentence; malformed parameters with FastAPI's list.
api = APIRouter(
    prefix="/chains", tags=["产业链"], dependencies=ROLE_CHECK, responses={422: {"model": ProblemOut}}
)

Code = Annotated[str, Query(min_length=18, max_length=18, pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$")]


def _month(wh: Any, month: str | None) -> str:
    found = month or service.latest_month(wh)
    if not found:
        raise HTTPException(status_code=404, detail="仓库中还没有增值税发票流向数据，请先导入税务发票文件")
    return found


def _guard(fn, *args):
    try:
        return fn(*args)
    except ChainsError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


@pages.get("")
def chains_page(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    month: MonthQuery = None,
    chain: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    m = _month(wh, month)
    data = _guard(service.overview, wh, m, scope)
    ids = [c["chain_id"] for c in data["chains"]]
    chosen = chain if chain in ids else (ids[0] if ids else None)
    return render(
        request,
        "chains/index.html",
        {
            **data,
            "chain": chosen,
            "defs": definitions(),
            "sankey": service.sankey(data["segments"], chosen) if chosen else None,
            "owners": [o for o in _guard(service.owners, wh, m, scope) if o["chain_id"] == chosen],
        },
    )


def _weak(db: Any, wh: Any, scope: Any, actor: Any, month: str | None) -> dict[str, Any]:
    """The weak links; which suppliers the reader sees flagged as distressed is audited."""
    m = _month(wh, month)
    data = _guard(service.weak, wh, m, scope)
    shown = sorted(
        {r["supplier"] for r in data["single"] if r.get("supplier_distressed")}
        | {d["code"] for s in data["segments"] for d in s.get("distressed") or []}
    )
    if shown:
        audit.record(
            db,
            actor,
            audit.Action.RISK_GRADE_VIEW,
            "risk_grade",
            f"chains-weak-links:{m}",
            {"month": m, "count": len(shown), "credit_codes": shown[:200], "page": "chains weak links"},
            commit=True,
        )
    return data


@pages.get("/weak-links")
def weak_page(
    request: Request,
    db: DbSession,
    wh: WarehouseReader,
    scope: CurrentScope,
    actor: CurrentActor,
    month: MonthQuery = None,
) -> Response:
    return render(request, "chains/weak.html", _weak(db, wh, scope, actor, month))


@pages.get("/trend")
def trend_page(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    month: MonthQuery = None,
    chain: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """本地配套率 and weak links month by month for one chain."""
    m = _month(wh, month)
    data = _guard(service.trend, wh, m, scope)
    ids = sorted({r["chain_id"] for r in data["chains"]})
    chosen = chain if chain in ids else (ids[0] if ids else None)
    rows = [r for r in data["chains"] if r["chain_id"] == chosen]
    names = {c.id: c.name for c in definitions().chains}
    seg_names = {(c.id, s.id): s.name for c in definitions().chains for s in c.segments}
    segs = [r for r in data["segments"] if r["chain_id"] == chosen]
    months = [r["month"] for r in rows]
    table: dict[str, dict[str, Any]] = {}
    for r in segs:
        table.setdefault(seg_names.get((r["chain_id"], r["segment_id"]), r["segment_id"]), {})[r["month"]] = r
    line = {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": ["本县", "本市", "本省"], "bottom": 0},
        "grid": {"left": 50, "right": 20, "top": 30, "bottom": 60},
        "xAxis": {"type": "category", "data": months},
        "yAxis": {"type": "value", "min": 0, "max": 100, "name": "%"},
        "series": [
            {"name": label, "type": "line", "data": [round(r[key] * 100, 1) for r in rows]}
            for label, key in (("本县", "county"), ("本市", "city"), ("本省", "province"))
        ],
    }
    return render(
        request,
        "chains/trend.html",
        {
            "month": m,
            "chain": chosen,
            "chains": [{"chain_id": i, "chain_name": names.get(i, i)} for i in ids],
            "months": months,
            "rows": rows,
            "table": table,
            "line": line,
            "thresholds": {"outside": compute.WEAK_OUTSIDE, "hhi": compute.WEAK_HHI},
        },
    )


@pages.get("/match")
def match_page(
    request: Request,
    db: DbSession,
    wh: WarehouseReader,
    scope: CurrentScope,
    month: MonthQuery = None,
    buyer: Annotated[str | None, Query(max_length=18)] = None,
) -> Response:
    m = _month(wh, month)
    buyers = _guard(service.buyers_with_outside_needs, wh, m, scope)
    recs = _guard(service.recommendations, wh, buyer.strip().upper(), m, scope) if buyer else []
    from jingxin.chains.cooperation import conversion

    return render(
        request,
        "chains/match.html",
        {"month": m, "buyers": buyers, "buyer": buyer, "recs": recs, "conversion": conversion(db, wh, scope)},
    )


@pages.post("/match/propose")
def propose_page(
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    buyer: Annotated[str, Form(max_length=18)],
    seller: Annotated[str, Form(max_length=18)],
    keyword: Annotated[str, Form(max_length=64)],
    month: Annotated[str, Form(pattern=r"^\d{4}-\d{2}$")],
) -> Response:
    """发起对接: a case of the `chain_match` workflow for one recommendation."""
    from jingxin.chains.cooperation import propose

    item = _guard(propose, db, wh, user, scope, buyer, seller, keyword, month)
    db.commit()
    return RedirectResponse(f"/work/{item.id}", status_code=303)


@pages.get("/export.xlsx")
def export_page(
    db: DbSession, wh: WarehouseReader, scope: CurrentScope, actor: CurrentActor, month: MonthQuery = None
) -> Response:
    import pandas as pd

    m = _month(wh, month)
    over = _guard(service.overview, wh, m, scope)
    weak = _guard(service.weak, wh, m, scope)
    buf = io.BytesIO()
    sheets = {
        "本地配套率_产业链": (
            over["chains"],
            {
                "chain_name": "产业链",
                "amount": "采购额(万元)",
                "county": "本县配套率",
                "city": "本市配套率",
                "province": "本省配套率",
                "lines": "发票行数",
                "buyers": "购方数",
                "suppliers": "供方数",
            },
        ),
        "本地配套率_环节": (
            over["segments"],
            {
                "chain_name": "产业链",
                "position": "环节",
                "segment_name": "环节名称",
                "amount": "采购额(万元)",
                "county": "本县配套率",
                "city": "本市配套率",
                "province": "本省配套率",
            },
        ),
        "薄弱环节": (
            weak["segments"],
            {
                "chain_name": "产业链",
                "segment_name": "环节",
                "amount": "采购额(万元)",
                "outside": "省外占比",
                "hhi": "供应集中度HHI",
                "top_share": "最大供方占比",
                "weak_outside": "外省依赖",
                "weak_concentrated": "供应集中",
            },
        ),
        "单一供应商依赖": (
            weak["single"],
            {
                "buyer_code": "购方信用代码",
                "buyer_name": "购方",
                "chain_name": "产业链",
                "keyword": "货物",
                "supplier": "唯一供方",
                "supplier_place": "供方所在地",
                "amount": "采购额(万元)",
                "months": "月数",
            },
        ),
    }
    from jingxin.chains import plans

    sheets["链主企业"] = (
        _guard(service.owners, wh, m, scope),
        {
            "chain_id": "产业链",
            "rank": "名次",
            "credit_code": "信用代码",
            "name": "企业",
            "place": "所在地",
            "sales": "销售额(万元)",
            "buyers": "购方数",
            "suppliers": "供方数",
            "local_suppliers": "省内供方数",
            "local_rate": "本省配套率",
            "score": "得分",
        },
    )
    sheets["415集群"] = (
        _guard(service.cluster_overview, wh, m, scope)["clusters"],
        {
            "rank": "排名",
            "name": "集群",
            "tier_label": "层级",
            "members": "企业数",
            "output": "产值(万元)",
            "growth": "同比",
            "tax_per_mu": "亩均税收(万元/亩)",
            "class_a": "A类占比",
            "body": "促进机构",
        },
    )
    sheets["链长制任务"] = (
        plans.task_rows(db, scope),
        {
            "id": "事项编号",
            "chain_name": "产业链",
            "title": "任务",
            "type": "类型",
            "owner": "责任单位",
            "division_name": "地区",
            "state_label": "状态",
            "progress": "进度",
            "term": "时限",
            "overdue": "已超期",
        },
    )
    with pd.ExcelWriter(buf, engine="xlsxwriter") as xl:
        for name, (rows, cols) in sheets.items():
            df = pd.DataFrame(rows, columns=list(cols)) if rows else pd.DataFrame(columns=list(cols))
            df[list(cols)].rename(columns=cols).to_excel(xl, sheet_name=name, index=False)
    audit.record(
        db,
        actor,
        "export",
        "chains",
        m,
        {"page": "/chains/export.xlsx", "division": scope.division},
        commit=True,
    )
    name = f"产业链分析_{m}.xlsx"
    return Response(
        buf.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@api.get("/local-rates")
def local_rates_api(wh: WarehouseReader, scope: CurrentScope, month: MonthQuery = None) -> dict[str, Any]:
    """本地配套率 by chain and by segment for buyers in the reader's region."""
    return _guard(service.overview, wh, _month(wh, month), scope)


@api.get("/weak-links")
def weak_api(
    db: DbSession, wh: WarehouseReader, scope: CurrentScope, actor: CurrentActor, month: MonthQuery = None
) -> dict[str, Any]:
    """薄弱环节 (outside dependence, concentration, distressed suppliers where risk grades
    exist) and 单一供应商依赖 in the reader's region."""
    return _weak(db, wh, scope, actor, month)


@api.get("/trend")
def trend_api(wh: WarehouseReader, scope: CurrentScope, month: MonthQuery = None) -> dict[str, Any]:
    """本地配套率 by chain and month, and each segment's outside share, HHI and weak-link flags by
    month, over the 12 months ending with `month`."""
    return _guard(service.trend, wh, _month(wh, month), scope)


@api.get("/match/conversion")
def conversion_api(db: DbSession, wh: WarehouseReader, scope: CurrentScope) -> dict[str, Any]:
    """Of the matches both sides agreed to (已对接) in the reader's region, how many turned into
    trade: invoices from the recommended seller to the buyer from the month of the agreement."""
    from jingxin.chains.cooperation import conversion

    return conversion(db, wh, scope)


@api.get("/history")
def history_api(
    wh: WarehouseReader, scope: CurrentScope, chain: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    """Stored months (`jingxin chains refresh`): 本地配套率 by chain and month for buyers in the
    reader's region, and for a reader of the whole province the segments' weak-link measures."""
    from jingxin.chains import store

    return _guard(store.history, wh, scope, chain)


@api.get("/owners")
def owners_api(wh: WarehouseReader, scope: CurrentScope, month: MonthQuery = None) -> list[dict[str, Any]]:
    """链主: the top members of each chain by size and trade-network position, located in the
    reader's region, with their local suppliers."""
    return _guard(service.owners, wh, _month(wh, month), scope)


@api.get("/match")
def match_api(
    wh: WarehouseReader, scope: CurrentScope, buyer: Code, month: MonthQuery = None
) -> dict[str, Any]:
    """Top in-province sellers for the buyer's outside purchases, with evidence (empty when the
    buyer is outside the reader's scope or buys nothing from outside)."""
    m = _month(wh, month)
    return {
        "month": m,
        "buyer": buyer,
        "recommendations": _guard(service.recommendations, wh, buyer, m, scope),
    }


from jingxin.chains import cluster_views, plan_views  # noqa: E402  (链长制, 415 clusters: same routers)

pages.include_router(plan_views.pages)
api.include_router(plan_views.api)
pages.include_router(cluster_views.pages)
api.include_router(cluster_views.api)

scenario = WebScenario(
    name="chains",
    pages=pages,
    api=api,
    nav=(NavItem("chains", "产业链", "/chains", roles=ROLES, order=35, icon="⛓"),),
    templates=__import__("pathlib").Path(__file__).parent / "templates",
)
