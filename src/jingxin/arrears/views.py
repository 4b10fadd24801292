"""Pages and API of the arrears ledger (清欠).

Page /arrears: the ledger in scope with repaid and outstanding amounts, overdue by debtor, the
progress report by county, a form to record a debt (officials); /arrears.xlsx downloads it.
API: GET /api/v1/arrears, POST /api/v1/arrears, POST /api/v1/arrears/{id}/repayments,
POST /api/v1/arrears/{id}/settle, GET /api/v1/arrears/report. Scope and roles are checked in
`jingxin.arrears.service`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, RedirectResponse

from jingxin.accounts import sessions as account_sessions
from jingxin.appeals.xlsx import XLSX_TYPE, workbook
from jingxin.arrears import service
from jingxin.arrears.rules import KIND_LABELS
from jingxin.core import audit
from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.workflow import service as wf
from jingxin.web.deps import CurrentActor, CurrentUser, CurrentWebSession, DbSession, require_roles
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import Message
from jingxin.web.templating import render

READERS = frozenset({Role.ADMIN, Role.ENTERPRISE, *ANALYSTS})
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Message},
    403: {"model": Message},
    404: {"model": Message},
    422: {"model": Message},
}
pages = APIRouter(prefix="/arrears", include_in_schema=False)
api = APIRouter(prefix="/arrears", tags=["清欠"])
Reader = Annotated[Any, Depends(require_roles(*READERS))]
EntryId = Annotated[int, PathParam(ge=1, le=2**62)]


def _row(e: Any, repaid: Any, left: Any, today: date) -> dict[str, Any]:
    return {
        "id": e.id,
        "debtor_name": e.debtor_name,
        "debtor_kind": e.debtor_kind,
        "debtor_kind_label": KIND_LABELS[e.debtor_kind],
        "creditor_code": e.creditor_code,
        "creditor_name": e.creditor_name,
        "division_code": e.division_code,
        "contract_no": e.contract_no,
        "signed_on": e.signed_on.isoformat(),
        "delivered_on": e.delivered_on.isoformat(),
        "contract_days": e.contract_days,
        "amount": str(e.amount),
        "due_date": e.due_date.isoformat(),
        "due_rule": e.due_rule,
        "repaid": str(repaid),
        "outstanding": str(left),
        "overdue": service.overdue_flag(e, left, today),
        "disputed": e.disputed,
        "dispute_item_id": e.dispute_item_id,
        "appeal_item_id": e.appeal_item_id,
    }


def _fail(exc: service.ArrearsError | wf.WorkflowError) -> Response:
    fields = exc.problems if isinstance(exc, service.ArrearsError | wf.FieldProblems) else {}
    return JSONResponse({"detail": str(exc), "fields": fields}, status_code=exc.status)


@api.get("", responses=ERRORS)
def list_api(
    db: DbSession, user: Reader, overdue_on: date | None = None, disputed: bool | None = None
) -> list[dict[str, Any]]:
    """Ledger entries in scope; `overdue_on` keeps those overdue on that day."""
    today = overdue_on or service.today()
    return [
        _row(e, r, left, today)
        for e, r, left in service.entries(db, user, overdue_on=overdue_on, disputed=disputed)
    ]


@api.post("", status_code=201, responses=ERRORS)
def record_api(
    db: DbSession, user: CurrentUser, actor: CurrentActor, body: Annotated[dict[str, Any], Body()]
) -> Any:
    try:
        e = service.record_entry(db, user, body, actor)
    except (service.ArrearsError, wf.WorkflowError) as exc:
        return _fail(exc)
    return _row(e, 0, e.amount, service.today())


@api.post("/{entry_id}/repayments", status_code=201, responses=ERRORS)
def repay_api(
    db: DbSession,
    user: CurrentUser,
    actor: CurrentActor,
    entry_id: EntryId,
    body: Annotated[dict[str, Any], Body()],
) -> Any:
    try:
        service.repay(db, user, entry_id, body, actor)
        e = service.get(db, user, entry_id)
    except (service.ArrearsError, wf.WorkflowError) as exc:
        return _fail(exc)
    repaid = e.amount - service.outstanding(e)
    return _row(e, repaid, service.outstanding(e), service.today())


@api.post("/{entry_id}/settle", responses=ERRORS)
def settle_api(
    db: DbSession, user: CurrentUser, entry_id: EntryId, body: Annotated[dict[str, Any], Body()]
) -> Any:
    """Settle a disputed debt (有分歧欠款) through its workflow case."""
    try:
        e = service.settle(
            db,
            user,
            entry_id,
            outcome=str(body.get("outcome") or ""),
            comment=str(body.get("comment") or ""),
            agreed_amount=body.get("agreed_amount"),
        )
    except (service.ArrearsError, wf.WorkflowError) as exc:
        return _fail(exc)
    return _row(e, e.amount - service.outstanding(e), service.outstanding(e), service.today())


@api.get("/report", responses=ERRORS)
def report_api(db: DbSession, user: Reader, as_of: date | None = None) -> dict[str, Any]:
    """Progress by county and overdue by debtor (元)."""
    today = as_of or service.today()
    return {
        "as_of": today.isoformat(),
        "by_county": [_line(x) for x in service.by_county(db, user, today)],
        "by_debtor": [_line(x) for x in service.by_debtor(db, user, today)],
    }


def _line(x: service.Line) -> dict[str, Any]:
    return {
        "key": x.key,
        "label": x.label,
        "entries": x.entries,
        "amount": str(x.amount),
        "repaid": str(x.repaid),
        "outstanding": str(x.outstanding),
        "overdue": str(x.overdue),
        "disputed": x.disputed,
        "cleared_share": round(x.cleared_share, 4),
    }


def _context(db: Any, user: Any, today: date) -> dict[str, Any]:
    return {
        "page_title": "清欠台账",
        "today": today,
        "rows": [_row(e, r, left, today) for e, r, left in service.entries(db, user)],
        "by_county": service.by_county(db, user, today),
        "by_debtor": service.by_debtor(db, user, today),
        "kinds": KIND_LABELS,
        "can_write": user.role in service.WRITERS,
        "problems": {},
        "values": {},
    }


@pages.get("")
def arrears_page(request: Request, db: DbSession, user: Reader) -> Response:
    return render(request, "arrears/index.html", _context(db, user, service.today()))


@pages.post("")
async def arrears_record(
    request: Request, db: DbSession, user: Reader, actor: CurrentActor, ws: CurrentWebSession
) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        e = service.record_entry(db, user, form, actor)
    except service.ArrearsError as exc:
        if exc.status == 403:
            raise HTTPException(403, str(exc)) from None
        db.rollback()
        context = _context(db, user, service.today())
        context.update(problems=exc.problems, values=form)
        return render(request, "arrears/index.html", context, status_code=422)
    account_sessions.add_flash(db, ws, f"已登记欠款 #{e.id}，到期日 {e.due_date:%Y-%m-%d}（{e.due_rule}）。")
    return RedirectResponse("/arrears", status_code=303)


@pages.get(".xlsx")
def arrears_xlsx(db: DbSession, user: Reader, actor: CurrentActor) -> Response:
    today = service.today()
    rows = [_row(e, r, left, today) for e, r, left in service.entries(db, user, limit=100_000)]
    lines = service.by_county(db, user, today)
    data = workbook(
        [
            (
                "清欠台账",
                [
                    "编号",
                    "欠款方",
                    "类型",
                    "中小企业信用代码",
                    "中小企业",
                    "区县代码",
                    "合同编号",
                    "交付日期",
                    "金额（元）",
                    "到期日",
                    "到期规则",
                    "已还（元）",
                    "未还（元）",
                    "逾期",
                    "有分歧",
                ],
                [
                    [
                        r["id"],
                        r["debtor_name"],
                        r["debtor_kind_label"],
                        r["creditor_code"],
                        r["creditor_name"],
                        r["division_code"],
                        r["contract_no"],
                        r["delivered_on"],
                        float(r["amount"]),
                        r["due_date"],
                        r["due_rule"],
                        float(r["repaid"]),
                        float(r["outstanding"]),
                        r["overdue"],
                        r["disputed"],
                    ]
                    for r in rows
                ],
            ),
            (
                "区县进度",
                [
                    "区县",
                    "笔数",
                    "金额（元）",
                    "已还（元）",
                    "未还（元）",
                    "逾期未还（元）",
                    "有分歧笔数",
                    "清偿比例",
                ],
                [
                    [
                        x.label,
                        x.entries,
                        float(x.amount),
                        float(x.repaid),
                        float(x.outstanding),
                        float(x.overdue),
                        x.disputed,
                        round(x.cleared_share, 4),
                    ]
                    for x in lines
                ],
            ),
        ]
    )
    audit.record(db, actor, audit.Action.EXPORT, "arrears", None, {"rows": len(rows)})
    db.commit()
    return Response(
        data,
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": "attachment; filename*=UTF-8''arrears.xlsx"},
    )


scenario = WebScenario(
    name="arrears",
    pages=pages,
    api=api,
    nav=(NavItem("arrears", "清欠台账", "/arrears", roles=READERS, order=33, icon="¥"),),
    templates=Path(__file__).parent / "templates",
)
