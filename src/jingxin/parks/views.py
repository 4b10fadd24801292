"""Pages and API of 小微企业园 ratings (绩效评价与星级评定).

Pages: /parks (a year's parks in scope: dimension scores, points, grade, proposed star, the
rating case and its state; a county analyst starts a case), /parks/cases/{id} (the case: score,
evidence, clocks, the steps this user may take, history), /parks/export.xlsx.
API: /api/v1/parks/ratings, /api/v1/parks/cases/{id}/steps (the manufacturing parks' stars
are in `manufacturing_views`). The star rule (which level rates
which star) is enforced by `jingxin.parks.service.take_step`; the generic /work page refuses
steps of this workflow (`managed_by: /parks`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi import Path as FastPath
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from jingxin.accounts import sessions as account_sessions
from jingxin.core import audit
from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.db import utcnow
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.config import load_workflow
from jingxin.core.workflow.schemas import item_out
from jingxin.parks.config import load_park_config
from jingxin.parks.service import (
    NoParkData,
    RatingRefused,
    open_rating,
    rated_parks,
    rating_cases,
    take_step,
    visible_parks,
)
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

ROLES = frozenset({Role.ADMIN, *ANALYSTS})
ROLE_CHECK = [Depends(require_roles(*ROLES))]
pages = APIRouter(prefix="/parks", include_in_schema=False, dependencies=ROLE_CHECK)
# Domain refusals answer 422 with one Chinese sentence; malformed parameters with FastAPI's list.
api = APIRouter(
    prefix="/parks", tags=["小微企业园"], dependencies=ROLE_CHECK, responses={422: {"model": ProblemOut}}
)
Year = Annotated[int | None, Query(ge=1990, le=2100, description="评价年度；默认最新")]
STARS = "★"
CaseId = Annotated[int, FastPath(ge=1, le=2**53, description="评定事项编号")]
Transition = Annotated[str, FastPath(pattern=r"^[a-z_]{1,40}$")]


def _years(wh: Any) -> list[int]:
    try:
        t = wh.current("park_reports")
        return sorted(int(y) for y in wh.execute(t.select("year").distinct())["year"])
    except Exception:  # noqa: BLE001 - no park-reports batch yet
        return []


def _table(wh: Any, year: int | None) -> tuple[Any, int, list[int]]:
    years = _years(wh)
    if not years:
        raise HTTPException(status_code=404, detail="仓库中还没有小微企业园运营报告（数据源 park-reports）")
    y = year or years[-1]
    try:
        return rated_parks(wh, y), y, years
    except NoParkData as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@pages.get("")
def parks_page(
    request: Request,
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    scope: CurrentScope,
    year: Year = None,
    grade: Annotated[str | None, Query(pattern="^[ABCD]$")] = None,
) -> Response:
    table, y, years = _table(wh, year)
    rows = visible_parks(table, scope)
    counts = {g: int((rows["grade"] == g).sum()) for g in "ABCD"}
    stars = {s: int((rows["proposed_star"] == s).sum()) for s in range(1, 6)}
    if grade:
        rows = rows[rows["grade"] == grade]
    cases = rating_cases(db, scope, y)
    definition = load_workflow("park_rating")
    return render(
        request,
        "parks/index.html",
        {
            "page_title": "小微企业园星级评定",
            "year": y,
            "years": years,
            "rows": rows.head(500),
            "total": len(rows),
            "counts": counts,
            "stars": stars,
            "grade": grade,
            "cases": cases,
            "states": definition.states,
            "cfg": load_park_config(),
            "can_start": user.role in ("county_analyst", "admin"),
            "star_mark": STARS,
        },
    )


@pages.post("/{park_id}/start")
def start_page(
    db: DbSession,
    wh: WarehouseReader,
    user: CurrentUser,
    ws: CurrentWebSession,
    park_id: str,
    year: Annotated[int, Form(ge=1990, le=2100)],
) -> Response:
    table, y, _ = _table(wh, year)
    if park_id not in table.index or not user.scope.allows_division(str(table.at[park_id, "division_code"])):
        raise HTTPException(status_code=404, detail="园区不存在或不在您的数据范围内")
    try:
        item = open_rating(db, user, table.loc[park_id], park_id, y)
    except wf.WorkflowError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None
    account_sessions.add_flash(db, ws, f"已发起 {table.at[park_id, 'park_name']} {y}年星级评定。")
    return RedirectResponse(f"/parks/cases/{item.id}", status_code=303)


def _case_context(db: Any, user: Any, item_id: int) -> dict[str, Any]:
    try:
        item = wf.get_item(db, user.scope, item_id)
    except wf.WorkflowError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None
    if item.workflow != "park_rating":
        raise HTTPException(status_code=404, detail="事项不存在")
    return {
        "page_title": f"小微企业园星级评定 #{item.id}",
        "item": item_out(item, user, utcnow()),
        "steps": wf.history(db, user.scope, item_id),
        "definition": load_workflow("park_rating"),
        "problem": None,
        "failed": None,
    }


@pages.get("/cases/{item_id}")
def case_page(request: Request, db: DbSession, user: CurrentUser, item_id: CaseId) -> Response:
    return render(request, "parks/case.html", _case_context(db, user, item_id))


@pages.post("/cases/{item_id}/act/{transition}")
async def case_act(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    ws: CurrentWebSession,
    actor: CurrentActor,
    item_id: CaseId,
    transition: Transition,
) -> Response:
    form = await request.form()
    fields = {k[2:]: v for k, v in form.items() if k.startswith("f.") and isinstance(v, str) and v != ""}
    comment = form.get("comment")
    version = form.get("version")
    try:
        take_step(
            db,
            user,
            item_id,
            transition,
            fields,
            comment if isinstance(comment, str) else "",
            expected_version=int(version) if isinstance(version, str) and version.isdigit() else None,
        )
    except (RatingRefused, wf.FieldProblems, wf.InvalidTransition, wf.NotAllowed, wf.Conflict) as exc:
        ctx = _case_context(db, user, item_id)
        ctx.update(problem=str(exc), failed=transition)
        return render(request, "parks/case.html", ctx, status_code=422)
    except wf.WorkflowError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None
    account_sessions.add_flash(db, ws, "已办理。")
    return RedirectResponse(f"/parks/cases/{item_id}", status_code=303)


@pages.get("/export.xlsx")
def export_page(
    db: DbSession, wh: WarehouseReader, scope: CurrentScope, actor: CurrentActor, year: Year = None
) -> Response:
    from jingxin.parks.export import parks_workbook

    table, y, _ = _table(wh, year)
    body = parks_workbook(visible_parks(table, scope), load_park_config(), y, rating_cases(db, scope, y))
    audit.record(
        db, actor, "export", "park_ratings", str(y), {"scope": scope.division or "330000"}, commit=True
    )
    name = f"小微企业园绩效评价_{y}.xlsx"
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@api.get("/ratings")
def ratings_api(db: DbSession, wh: WarehouseReader, scope: CurrentScope, year: Year = None) -> dict[str, Any]:
    """Parks in scope with dimension scores, points, total, grade, proposed star and case state."""
    table, y, _ = _table(wh, year)
    rows = visible_parks(table, scope)
    cases = rating_cases(db, scope, y)
    out = []
    for pid, r in rows.iterrows():
        item = cases.get(str(pid))
        rec = {"park_id": pid, **{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}}
        rec["case_id"] = item.id if item is not None else None
        rec["case_state"] = item.state if item is not None else None
        rec["star"] = (item.fields or {}).get("star") if item is not None and item.state == "rated" else None
        out.append(rec)
    return {"year": y, "parks": len(out), "rows": out}


class StepIn(BaseModel):
    transition: str = Field(max_length=40)
    fields: dict[str, str] = {}
    comment: str = Field("", max_length=2000)
    version: int | None = None


@api.post("/cases/{item_id}/steps")
def step_api(db: DbSession, user: CurrentUser, item_id: CaseId, body: StepIn) -> dict[str, Any]:
    """Take one step of a rating case (the star rule applies: 422 with the reason)."""
    try:
        item = take_step(
            db, user, item_id, body.transition, body.fields, body.comment, expected_version=body.version
        )
    except RatingRefused as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    except wf.WorkflowError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None
    return {"id": item.id, "state": item.state, "fields": item.fields}


scenario = WebScenario(
    name="parks",
    pages=pages,
    api=api,
    nav=(NavItem("parks", "小微企业园", "/parks", roles=ROLES, order=27, icon="★"),),
    templates=Path(__file__).parent / "templates",
)
