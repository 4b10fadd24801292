"""`GET /api/docs`: Swagger UI for the JSON API (`/api/v1`), for administrators only.

Self-hosted: swagger-ui-dist comes from npm (package.json) and is copied into
`static/vendor/` by `scripts/vendor_assets.py` like ECharts and HTMX; no CDN. The page has no
inline script (the Content-Security-Policy allows scripts from the app only): it loads
`static/js/api-docs.js`, which starts Swagger UI on `/openapi.json`. Other roles get 403 (and
the refusal is audited, as every 403).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from jingxin.core.auth import Role
from jingxin.web.deps import require_roles

router = APIRouter(include_in_schema=False)


@router.get("/api/docs", dependencies=[Depends(require_roles(Role.ADMIN))])
def api_docs(request: Request) -> HTMLResponse:
    v = request.app.state.asset_version
    return HTMLResponse(
        f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>数字经信 API 文档</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui.css?v={v}">
</head>
<body>
<div id="swagger-ui" data-spec="{request.app.openapi_url}"></div>
<script src="/static/vendor/swagger-ui-bundle.js?v={v}"></script>
<script src="/static/js/api-docs.js?v={v}"></script>
</body>
</html>"""
    )
