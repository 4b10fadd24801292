"""Download of the result notice (评价结果告知书) as PDF.

An enterprise downloads its own notice; analysts download the notice of any enterprise in their
region (`core/auth.scope_for` decides, through `CurrentScope`: an enterprise outside the scope
answers 404, exactly like one without a result). Readers without clearance get the tax figures
masked. Every download is written to the audit log. A whole county's notices are a long job:
the results page's button submits the `evaluation.notices` job (`jobs/platform_kinds.py`,
`POST /evaluation/runs/{run_id}/notices-job`), whose zip is downloaded from the job's page;
`jingxin evaluation notices` writes the zip locally.

Registered as its own web scenario without navigation (`scenario` below, listed in
`web.app.SCENARIO_MODULES`).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse

from jingxin.core import audit
from jingxin.core.auth import ANALYSTS, Role
from jingxin.core.visibility import visibility_for
from jingxin.evaluation.notice import notice_pdf
from jingxin.web.deps import (
    CurrentActor,
    CurrentScope,
    CurrentUser,
    CurrentWebSession,
    DbSession,
    WarehouseReader,
    require_roles,
)
from jingxin.web.registry import WebScenario

NOTICE_ROLES = frozenset({*ANALYSTS, Role.ADMIN, Role.ENTERPRISE})
"""Who may download a notice: analysts and admins in their region, an enterprise its own."""

RunId = Annotated[str, PathParam(max_length=80, pattern=r"^[0-9]{4}-[a-z][a-z0-9_]*-[0-9a-f]{6,32}$")]
CreditCode = Annotated[str, PathParam(min_length=18, max_length=18, pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$")]

pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["亩均评价"])


def _download(
    wh: WarehouseReader,
    scope: CurrentScope,
    user: CurrentUser,
    db: DbSession,
    actor: CurrentActor,
    run_id: str,
    credit_code: str,
) -> Response:
    masked = visibility_for(user.role_enum).masked  # the one rule; an enterprise's scope is itself
    try:
        body = notice_pdf(wh, run_id, credit_code, scope, masked=masked)
    except (KeyError, ValueError):
        body = None
    if body is None:
        raise HTTPException(status_code=404, detail="评价结果不存在或不在您的数据范围内")
    name = f"评价结果告知书_{credit_code}_{run_id}.pdf"
    audit.record(
        db,
        actor,
        audit.Action.EXPORT,
        "eval_notice",
        f"{run_id}/{credit_code}",
        {"format": "pdf", "masked": masked, "file_name": name},
        commit=True,
    )
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="notice-{credit_code}.pdf"; '
            f"filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )


@pages.get(
    "/evaluation/runs/{run_id}/notices/{credit_code}.pdf",
    dependencies=[Depends(require_roles(*NOTICE_ROLES))],
)
def notice_page(
    wh: WarehouseReader,
    scope: CurrentScope,
    user: CurrentUser,
    db: DbSession,
    actor: CurrentActor,
    run_id: RunId,
    credit_code: CreditCode,
) -> Response:
    """评价结果告知书（PDF）。"""
    return _download(wh, scope, user, db, actor, run_id, credit_code)


@api.get(
    "/evaluation/runs/{run_id}/notices/{credit_code}.pdf",
    dependencies=[Depends(require_roles(*NOTICE_ROLES))],
    responses={200: {"content": {"application/pdf": {}}, "description": "评价结果告知书"}, 404: {}},
    response_class=Response,
)
def notice_api(
    wh: WarehouseReader,
    scope: CurrentScope,
    user: CurrentUser,
    db: DbSession,
    actor: CurrentActor,
    run_id: RunId,
    credit_code: CreditCode,
) -> Response:
    """一家企业的评价结果告知书（PDF）：企业下载本企业的，分析人员下载本辖区内企业的。"""
    return _download(wh, scope, user, db, actor, run_id, credit_code)


@pages.post(
    "/evaluation/runs/{run_id}/notices-job",
    dependencies=[Depends(require_roles(*ANALYSTS, Role.ADMIN))],
)
def notices_job_page(
    request: Request,
    db: DbSession,
    ws: CurrentWebSession,
    user: CurrentUser,
    actor: CurrentActor,
    run_id: RunId,
    county: Annotated[str, Form(pattern=r"^\d{6}$")],
) -> Response:
    """生成一个区县的全部告知书（后台作业），完成后在作业页面下载 zip。"""
    from jingxin.accounts.sessions import add_flash
    from jingxin.jobs.schemas import JobSubmit
    from jingxin.jobs.views import submit_for

    data = JobSubmit(kind="evaluation.notices", params={"run_id": run_id, "county": county})
    try:
        job, _ = submit_for(request, db, user, actor, data)  # the kind checks the county's scope
    except HTTPException as exc:
        add_flash(db, ws, f"未能生成告知书：{exc.detail}", "error")
        return RedirectResponse("/evaluation", status_code=303)
    add_flash(db, ws, "告知书正在后台生成，完成后可在本页下载。", "success")
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


scenario = WebScenario(name="evaluation_notice", pages=pages, api=api, nav=())
