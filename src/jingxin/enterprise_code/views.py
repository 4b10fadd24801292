"""The enterprise code pages (企业码): /qiye (your own page, or a lookup for staff and
officials), /qiye/{code} (the page), /qiye/{code}/qr.svg (its QR code, which opens the page
after login). Scope decides who sees which enterprise: outside it the answer is 404, exactly
like an enterprise that does not exist. Viewing a page is audited (it shows tax-based figures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse

from jingxin.core import audit
from jingxin.core.auth import ANALYSTS, Role
from jingxin.enterprise_code import service
from jingxin.web.deps import (
    CurrentActor,
    CurrentScope,
    CurrentUser,
    DbSession,
    WarehouseReader,
    require_roles,
)
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.templating import render

CreditCode = Annotated[str, PathParam(min_length=18, max_length=18, pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$")]

CODE_ROLES = frozenset({*ANALYSTS, Role.ADMIN, Role.SERVICE_STAFF, Role.ENTERPRISE})
"""Who reaches code pages: the enterprise itself, its service workers, officials in their region.
Data liaisons upload departmental files and have no business on an enterprise's page."""

pages = APIRouter(prefix="/qiye", include_in_schema=False, dependencies=[Depends(require_roles(*CODE_ROLES))])


@pages.get("")
def own_or_lookup(
    request: Request, user: CurrentUser, code: Annotated[str | None, Query(max_length=18)] = None
) -> Response:
    """An enterprise goes straight to its own page; others look one up by credit code."""
    if user.credit_code and user.role == "enterprise":
        return RedirectResponse(f"/qiye/{user.credit_code}", status_code=303)
    if code:
        return RedirectResponse(f"/qiye/{code.strip().upper()}", status_code=303)
    return render(request, "enterprise_code/lookup.html", {"page_title": "企业码"})


@pages.get("/{credit_code}")
def code_page(
    request: Request,
    db: DbSession,
    wh: WarehouseReader,
    scope: CurrentScope,
    actor: CurrentActor,
    credit_code: CreditCode,
) -> Response:
    data = service.page(db, wh, scope, credit_code)
    if data is None:
        raise HTTPException(status_code=404, detail="企业不存在或不在您的数据范围内")
    audit.record_sensitive_view(db, actor, "enterprise_code", credit_code, ["tax_paid"])
    return render(request, "enterprise_code/page.html", {"page_title": data["profile"]["name"], **data})


@pages.get("/{credit_code}/qr.svg")
def qr(request: Request, wh: WarehouseReader, scope: CurrentScope, credit_code: CreditCode) -> Response:
    if service.profile(wh, scope, credit_code) is None:
        raise HTTPException(status_code=404, detail="企业不存在或不在您的数据范围内")
    base = request.app.state.settings.public_url.rstrip("/")
    return Response(
        service.qr_svg(f"{base}/qiye/{credit_code}"),
        media_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=3600"},
    )


scenario = WebScenario(
    name="enterprise_code",
    pages=pages,
    nav=(NavItem("enterprise_code", "企业码", "/qiye", roles=CODE_ROLES, order=30, icon="▣"),),
    templates=Path(__file__).parent / "templates",
)
