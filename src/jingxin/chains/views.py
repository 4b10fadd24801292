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

from jingxin.chains import service
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
        },
    )


@pages.get("/weak-links")
def weak_page(
    request: Request, wh: WarehouseReader, scope: CurrentScope, month: MonthQuery = None
) -> Response:
    return render(request, "chains/weak.html", _guard(service.weak, wh, _month(wh, month), scope))


@pages.get("/match")
def match_page(
    request: Request,
    wh: WarehouseReader,
    scope: CurrentScope,
    month: MonthQuery = None,
    buyer: Annotated[str | None, Query(max_length=18)] = None,
) -> Response:
    m = _month(wh, month)
    buyers = _guard(service.buyers_with_outside_needs, wh, m, scope)
    recs = _guard(service.recommendations, wh, buyer.strip().upper(), m, scope) if buyer else []
    return render(request, "chains/match.html", {"month": m, "buyers": buyers, "buyer": buyer, "recs": recs})


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
def weak_api(wh: WarehouseReader, scope: CurrentScope, month: MonthQuery = None) -> dict[str, Any]:
    """薄弱环节 and 单一供应商依赖 in the reader's region."""
    return _guard(service.weak, wh, _month(wh, month), scope)


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
