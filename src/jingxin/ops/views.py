"""The operations routes as a web scenario: `/metrics`, `/api/docs`, `/login/oidc...`."""

from __future__ import annotations

from fastapi import APIRouter

from jingxin.core.auth import Role
from jingxin.ops import apidocs, metrics_view, oidc
from jingxin.web.registry import NavItem, WebScenario

pages = APIRouter(include_in_schema=False)
pages.include_router(metrics_view.router)
pages.include_router(apidocs.router)
pages.include_router(oidc.router)

scenario = WebScenario(
    name="ops",
    pages=pages,
    nav=(NavItem("api-docs", "接口文档", "/api/docs", roles=frozenset({Role.ADMIN}), order=95, icon="⌘"),),
)
