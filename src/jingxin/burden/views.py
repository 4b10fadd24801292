"""Pages and API of the cost burden (减负降本).

Page /burden?year=YYYY (analysts and admins, their region): yearly indicators by county and
industry (with 人均社保缴费 from 人社's contributions), monthly 每百元营收成本 by county, the
relief each 亩均 policy delivered and its suggested classification, with a form to confirm
(province analysts, admins); /burden.xlsx downloads it.
API: GET /api/v1/burden/indicators, /monthly, /policies; POST /api/v1/burden/reviews.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jingxin.accounts import sessions as account_sessions
from jingxin.appeals.xlsx import XLSX_TYPE, workbook
from jingxin.burden import service
from jingxin.burden.config import DECISIONS
from jingxin.core import audit
from jingxin.core.auth import ANALYSTS, Role
from jingxin.web.deps import CurrentActor, CurrentWebSession, DbSession, WarehouseReader, require_roles
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import Message
from jingxin.web.templating import render

READERS = frozenset({Role.ADMIN, *ANALYSTS})
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Message},
    403: {"model": Message},
    422: {"model": Message},
}
pages = APIRouter(prefix="/burden", include_in_schema=False)
api = APIRouter(prefix="/burden", tags=["减负降本"])
Reader = Annotated[Any, Depends(require_roles(*READERS))]
Year = Annotated[int, Query(ge=2000, le=2100, description="年度")]


def _default_year() -> int:
    return date.today().year - 1


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy_id: str = Field(max_length=40)
    year: int = Field(ge=2000, le=2100)
    decision: str = Field(pattern="^(stop|extend|keep)$")
    reason: str = Field(default="", max_length=2000)


@api.get("/indicators", responses=ERRORS)
def indicators_api(wh: WarehouseReader, user: Reader, year: Year) -> list[dict[str, Any]]:
    """Yearly indicators by county and industry division (万元, %; `social_per_employee` in
    元 per insured person and year, null without 社保缴费 data; no financing cost: no source)."""
    return service.indicators(wh, user.scope, year)


@api.get("/monthly", responses=ERRORS)
def monthly_api(wh: WarehouseReader, user: Reader, year: Year) -> list[dict[str, Any]]:
    return service.monthly(wh, user.scope, year)


@api.get("/policies", responses=ERRORS)
def policies_api(wh: WarehouseReader, db: DbSession, user: Reader, year: Year) -> list[dict[str, Any]]:
    """Relief each policy delivered, its suggested and confirmed classification."""
    return [asdict(p) for p in service.policies(wh, db, user.scope, year)]


def _review(wh: Any, db: Any, user: Any, actor: Any, body: ReviewIn) -> Any:
    found = {p.policy: p for p in service.policies(wh, db, user.scope, body.year)}.get(body.policy_id)
    if found is None:
        raise HTTPException(422, "该年度没有此政策的评估数据（请先运行该年度的亩均评价）")
    try:
        return service.confirm(
            db,
            user,
            actor,
            policy_id=body.policy_id,
            year=body.year,
            decision=body.decision,
            suggested=found.suggested,
            reason=body.reason,
            figures=asdict(found),
        )
    except service.BurdenError as exc:
        raise HTTPException(403 if "只有" in str(exc) else 422, str(exc)) from None


@api.post("/reviews", status_code=201, responses=ERRORS)
def review_api(
    wh: WarehouseReader, db: DbSession, user: Reader, actor: CurrentActor, body: ReviewIn
) -> dict[str, Any]:
    """Confirm a policy's classification (停止实施 / 延续期限 / 长期有效); audited."""
    row = _review(wh, db, user, actor, body)
    return {
        "policy_id": row.policy_id,
        "year": row.year,
        "decision": row.decision,
        "suggested": row.suggested,
        "decided_by": row.decided_by,
    }


@pages.get("")
def burden_page(
    request: Request, wh: WarehouseReader, db: DbSession, user: Reader, year: Year | None = None
) -> Response:
    year = year or _default_year()
    return render(
        request,
        "burden/index.html",
        {
            "page_title": "减负降本",
            "year": year,
            "rows": service.indicators(wh, user.scope, year),
            "months": service.monthly(wh, user.scope, year),
            "policies": service.policies(wh, db, user.scope, year),
            "decisions": DECISIONS,
            "can_review": user.role in service.REVIEWERS,
        },
    )


@pages.post("/reviews")
async def review_page(
    request: Request,
    wh: WarehouseReader,
    db: DbSession,
    user: Reader,
    actor: CurrentActor,
    ws: CurrentWebSession,
) -> Response:
    form = await request.form()
    try:
        body = ReviewIn(
            policy_id=str(form.get("policy_id") or ""),
            year=int(str(form.get("year") or "0") or 0),
            decision=str(form.get("decision") or "extend"),
            reason=str(form.get("reason") or ""),
        )
    except (ValueError, ValidationError):  # a hand-made form: say what is wrong, never a 500
        raise HTTPException(422, "请填写政策编号、年度（2000 年以后）和评估结论") from None
    _review(wh, db, user, actor, body)
    account_sessions.add_flash(db, ws, "已确认政策评估结论。")
    return RedirectResponse(f"/burden?year={body.year}", status_code=303)


@pages.get(".xlsx")
def burden_xlsx(
    wh: WarehouseReader, db: DbSession, user: Reader, actor: CurrentActor, year: Year | None = None
) -> Response:
    year = year or _default_year()
    rows = service.indicators(wh, user.scope, year)
    pols = service.policies(wh, db, user.scope, year)
    data = workbook(
        [
            (
                "成本指标",
                [
                    "区县代码",
                    "行业大类",
                    "企业数",
                    "营业收入（万元）",
                    "每百元营收成本（元）",
                    "税负（%）",
                    "用电成本（万元）",
                    "其中差别化电价（万元）",
                    "每百元营收电费（元）",
                    "年平均缴费人数（人）",
                    "单位社保缴费（万元）",
                    "人均社保缴费（元/人·年）",
                ],
                [
                    [
                        r["county_code"],
                        r["industry"],
                        r["enterprises"],
                        r["revenue"],
                        r["cost_per_100"],
                        r["tax_burden_pct"],
                        r["electricity_cost"],
                        r["surcharge_cost"],
                        r["electricity_per_100"],
                        r["insured"],
                        r["social_contributions"],
                        r["social_per_employee"],
                    ]
                    for r in rows
                ],
            ),
            (
                "政策评估",
                [
                    "政策",
                    "评价企业数",
                    "受益企业数",
                    "覆盖率",
                    "金额（万元）",
                    "户均（万元）",
                    "效果（百分点）",
                    "系统建议",
                    "确认结论",
                    "确认人",
                ],
                [
                    [
                        p.title,
                        p.population,
                        p.beneficiaries,
                        p.uptake,
                        p.cost,
                        p.cost_per_beneficiary,
                        p.effect_pp,
                        p.suggested_label,
                        p.decision_label,
                        p.decided_by,
                    ]
                    for p in pols
                ],
            ),
        ]
    )
    audit.record(db, actor, audit.Action.EXPORT, "burden", year, {"rows": len(rows)})
    db.commit()
    return Response(
        data,
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''burden-{year}.xlsx"},
    )


scenario = WebScenario(
    name="burden",
    pages=pages,
    api=api,
    nav=(NavItem("burden", "减负降本", "/burden", roles=READERS, order=32, icon="↓"),),
    templates=Path(__file__).parent / "templates",
)
