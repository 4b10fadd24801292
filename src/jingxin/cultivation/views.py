"""Pages and API of cultivation (梯队培育): screening, traces, recognition, pool, 首台(套).

Pages: /cultivation (a ladder's candidates by county), /cultivation/enterprises/{code} (each
criterion traced, the gap to the next rung, apply or nominate), /cultivation/pool (the published
pool; the province publishes), /cultivation/first-set (首台(套) items from the 经信 recognition
lists, compensation claims, count vs target).

Who sees what (`core/scope.py`): analysts and admins their region; service staff their
enterprises; an enterprise its own trace and application only; liaisons nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from jingxin.accounts import sessions as account_sessions
from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.workflow import service as wf
from jingxin.cultivation import service
from jingxin.cultivation.config import load_first_set, load_ladders
from jingxin.cultivation.screen import ScreeningError, by_county, ladder_position, ladder_table, screen, years
from jingxin.web.deps import (
    CurrentActor,
    CurrentScope,
    CurrentUser,
    CurrentWebSession,
    DbSession,
    WarehouseReader,
    require_roles,
)
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import ProblemOut
from jingxin.web.templating import render

READERS = frozenset({Role.ADMIN, *ANALYSTS, Role.SERVICE_STAFF, Role.ENTERPRISE})
SCREENERS = frozenset({Role.ADMIN, *ANALYSTS, Role.SERVICE_STAFF})
pages = APIRouter(
    prefix="/cultivation", include_in_schema=False, dependencies=[Depends(require_roles(*READERS))]
)
# Domain refusals answer 422 with one Chinese sentence; malformed parameters with FastAPI's list.
api = APIRouter(
    prefix="/cultivation",
    tags=["梯队培育"],
    dependencies=[Depends(require_roles(*READERS))],
    responses={422: {"model": ProblemOut}},
)
Year = Annotated[int | None, Query(ge=2000, le=2100, description="数据年度；默认最新")]
LadderQ = Annotated[str, Query(max_length=32, description="梯队：champion、eagle、chain_leader、factory")]
MAX_LISTED = 500


def _screen(wh: Any, scope: Any, year: int | None) -> Any:
    held = years(wh)
    if not held:
        raise HTTPException(status_code=404, detail="仓库中还没有培育库企业指标")
    y = year or held[-1]
    try:
        return screen(wh, y, scope)
    except ScreeningError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


def _ladder(ladder: str) -> str:
    cfg = load_ladders()
    if ladder not in cfg.ladders:
        raise HTTPException(
            status_code=422, detail=f"未知梯队 {ladder[:32]}（可选：{'、'.join(cfg.ladders)}）"
        )
    return ladder


def _screener(user: Any) -> None:
    if user.role_enum not in SCREENERS:
        raise HTTPException(status_code=403, detail="梯队筛选名单不向企业展示；企业可查看本企业的逐项条件")


def _candidates(s: Any, ladder: str) -> dict[str, Any]:
    table = ladder_table(s, ladder)
    rungs = s.config.ladders[ladder].rungs
    met = table[table["current"].notna()]
    near = table[table["current"].isna() & (table["next_failing"] == 1)]
    return {
        "year": s.year,
        "ladder": ladder,
        "label": s.config.ladders[ladder].label,
        "rungs": [
            {"id": r.id, "label": r.label, "count": int(s.table[r.id].sum()), "source": r.source}
            for r in rungs
        ],
        "by_county": by_county(s, ladder),
        "qualifying": met.head(MAX_LISTED).to_dict("records"),
        "near": near.head(MAX_LISTED).to_dict("records"),
        "screened": len(table),
    }


@pages.get("")
def screen_page(
    request: Request,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    ladder: LadderQ = "champion",
    year: Year = None,
) -> Response:
    _screener(user)
    ctx = _candidates(_screen(wh, scope, year), _ladder(ladder))
    return render(request, "cultivation/index.html", {**ctx, "ladders": load_ladders().ladders})


@api.get("/screen")
def screen_api(
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    ladder: LadderQ = "champion",
    year: Year = None,
) -> dict[str, Any]:
    """Every enterprise in scope against one ladder: qualifying, one criterion short, counts by county."""
    _screener(user)
    return _candidates(_screen(wh, scope, year), _ladder(ladder))


def _position(wh: Any, scope: Any, code: str, ladder: str, year: int | None) -> tuple[Any, dict[str, Any]]:
    s = _screen(wh, scope, year)
    rows = s.table[s.table["credit_code"] == code]
    if rows.empty:
        raise HTTPException(status_code=404, detail="企业不存在或不在您的数据范围内")
    return s, ladder_position(s, _ladder(ladder), rows.iloc[0])


@pages.get("/enterprises/{code}")
def enterprise_page(
    request: Request,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    code: str,
    ladder: LadderQ = "champion",
    year: Year = None,
) -> Response:
    s, pos = _position(wh, scope, code, ladder, year)
    rungs = s.config.ladders[ladder].rungs
    return render(
        request,
        "cultivation/enterprise.html",
        {
            "pos": pos,
            "year": s.year,
            "ladder": ladder,
            "rungs": rungs,
            "ladders": s.config.ladders,
            "can_apply": user.role_enum in (Role.ENTERPRISE, Role.COUNTY_ANALYST, Role.SERVICE_STAFF),
        },
    )


@api.get("/enterprises/{code}")
def enterprise_api(
    wh: WarehouseReader, scope: CurrentScope, code: str, ladder: LadderQ = "champion", year: Year = None
) -> dict[str, Any]:
    """One enterprise on a ladder: the rung met, the next rung, each criterion's value and gap."""
    s, pos = _position(wh, scope, code, ladder, year)
    return {"year": s.year, **pos}


def _apply(
    db: Any, wh: Any, user: Any, scope: Any, code: str, rung: str, evidence: str, year: int | None
) -> Any:
    s = _screen(wh, scope, year)
    if s.table[s.table["credit_code"] == code].empty:
        raise HTTPException(status_code=404, detail="企业不存在或不在您的数据范围内")
    try:
        return service.apply(db, user, s, code, rung, evidence)
    except service.CultivationError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    except wf.WorkflowError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None


@pages.post("/applications")
def apply_page(
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    ws: CurrentWebSession,
    credit_code: Annotated[str, Form(min_length=18, max_length=18)],
    rung: Annotated[str, Form(max_length=32)],
    evidence: Annotated[str, Form(min_length=2, max_length=5000)],
) -> Response:
    item = _apply(db, wh, user, scope, credit_code, rung, evidence, None)
    account_sessions.add_flash(db, ws, f"已提交认定申报（事项 {item.id}），进入县级审核。")
    return RedirectResponse(f"/work/{item.id}", status_code=303)


class ApplyIn(BaseModel):
    credit_code: str = Field(min_length=18, max_length=18)
    rung: str = Field(max_length=32)
    evidence: str = Field(min_length=2, max_length=5000)
    year: int | None = None


@api.post("/applications", status_code=201)
def apply_api(
    body: ApplyIn, db: DbSession, wh: WarehouseReader, user: CurrentUser, scope: CurrentScope
) -> dict[str, Any]:
    """Apply (enterprise) or nominate (county, service worker) for a rung; the screening trace is attached."""
    item = _apply(db, wh, user, scope, body.credit_code, body.rung, body.evidence, body.year)
    return {"id": item.id, "state": item.state, "screening": item.fields.get("screening")}


@pages.get("/pool")
def pool_page(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    scope: CurrentScope,
    status: Annotated[str, Query(pattern="^(listed|promoted|removed)$")] = "listed",
) -> Response:
    _screener(user)
    cfg = load_ladders()
    labels = {r.id: r.label for _n, r in cfg.rungs()}
    return render(
        request,
        "cultivation/pool.html",
        {
            "entries": service.pool(db, scope, status=status),
            "labels": labels,
            "status": status,
            "can_publish": user.role_enum in (Role.ADMIN, Role.PROVINCE_ANALYST),
        },
    )


@pages.post("/pool/publish", dependencies=[Depends(require_roles(Role.ADMIN, Role.PROVINCE_ANALYST))])
def publish_page(
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    actor: CurrentActor,
    ws: CurrentWebSession,
    label: Annotated[str, Form(min_length=2, max_length=32)],
) -> Response:
    s = _screen(wh, scope, None)
    pub = service.publish(db, user, s, label, date.today(), actor)
    account_sessions.add_flash(
        db,
        ws,
        f"{label}：新入库 {len(pub.entered)} 家，晋级 {len(pub.promoted)} 家，移出 {len(pub.removed)} 家。",
    )
    return RedirectResponse("/cultivation/pool", status_code=303)


@api.get("/pool")
def pool_api(
    db: DbSession,
    user: CurrentUser,
    scope: CurrentScope,
    rung: str | None = None,
    status: Annotated[str, Query(pattern="^(listed|promoted|removed)$")] = "listed",
) -> list[dict[str, Any]]:
    """The published pool in the caller's scope."""
    _screener(user)
    return [
        {
            "rung": e.rung,
            "credit_code": e.credit_code,
            "name": e.name,
            "division_code": e.division_code,
            "status": e.status,
            "entered_on": e.entered_on.isoformat(),
            "left_on": e.left_on.isoformat() if e.left_on else None,
            "reason": e.reason,
            "publication": e.publication,
        }
        for e in service.pool(db, scope, rung, status)
    ]


@pages.get("/first-set")
def first_set_page(
    request: Request,
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    year: Year = None,
) -> Response:
    _screener(user)
    rules = load_first_set()
    items = service.first_set_items(wh, scope, rules)
    today = date.today()
    y = year or (items[0].recognised_on.year if items else today.year)
    return render(
        request,
        "cultivation/first_set.html",
        {
            "items": items,
            "rules": rules,
            "today": today,
            "count": service.first_set_count(items, y, rules),
            "years": sorted({i.recognised_on.year for i in items}, reverse=True),
            "claims": service.first_set_claims(db, scope),
            "in_catalogue": service.in_catalogue,
            "batches": sorted({i.batch_id for i in items}),
            "can_claim": user.role_enum in (Role.ADMIN, *ANALYSTS),
        },
    )


@pages.post("/first-set/{item_code}/claims", dependencies=[Depends(require_roles(Role.ADMIN, *ANALYSTS))])
def claim_page(
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    ws: CurrentWebSession,
    item_code: Annotated[str, Path(max_length=32)],
    kind: Annotated[str, Form(pattern="^(insurance|reward)$")],
    year: Annotated[int, Form(ge=2000, le=2100)],
    premium: Annotated[str | None, Form(max_length=20)] = None,
) -> Response:
    try:
        amount = Decimal(premium) if premium else None
    except InvalidOperation:
        raise HTTPException(status_code=422, detail=f"保费“{premium}”不是数字，请填写万元数") from None
    try:
        c = service.claim(db, user, service.first_set_items(wh, scope), item_code, kind, year, amount)
    except service.CultivationError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    except wf.WorkflowError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None
    account_sessions.add_flash(
        db, ws, f"已登记{'保险补偿' if kind == 'insurance' else '认定奖励'} {c.amount} 万元。"
    )
    return RedirectResponse("/cultivation/first-set", status_code=303)


@api.get("/first-set")
def first_set_api(
    wh: WarehouseReader, user: CurrentUser, scope: CurrentScope, year: Year = None
) -> dict[str, Any]:
    """首台(套) items in scope (the 经信 recognition lists) with their catalogue validity and
    lineage, and the year's count against the target."""
    _screener(user)
    items = service.first_set_items(wh, scope)
    y = year or (items[0].recognised_on.year if items else date.today().year)
    return {
        "count": service.first_set_count(items, y),
        "items": [
            {
                "item_code": i.item_code,
                "credit_code": i.credit_code,
                "county_code": i.division_code,
                "product": i.product,
                "category": i.category,
                "level": i.level,
                "recognised_on": i.recognised_on.isoformat(),
                "expires_on": i.expires_on.isoformat(),
                "batch": i.batch,
                "lineage": {"batch_id": i.batch_id, "source_row": i.source_row},
            }
            for i in items
        ],
    }


scenario = WebScenario(
    name="cultivation",
    pages=pages,
    api=api,
    nav=(NavItem("cultivation", "梯队培育", "/cultivation", roles=SCREENERS, order=36, icon="▲"),),
    templates=FsPath(__file__).parent / "templates",
)
