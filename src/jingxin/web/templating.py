"""Jinja2 templates of the web app and the one `render` function every page uses.

Templates are looked up first in `jingxin/web/templates` (layout and shared pieces), then in
each scenario's `templates/` folder. `render` adds what the layout needs to every page: the
user, their role and scope name, the navigation for their role, the CSRF token for forms and
HTMX, and the one-time flash messages. Autoescaping is on for every `.html` template, so a
value can never inject markup; `|safe` is not used on user data anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from jingxin.core.audit import mask
from jingxin.web.filters import FILTERS
from jingxin.web.registry import NavItem

WEB_TEMPLATES = Path(__file__).parent / "templates"


def build_templates(directories: Sequence[Path], asset_version: str = "1") -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(d)) for d in [WEB_TEMPLATES, *directories]]),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # tojson keeps Chinese readable; it still escapes < > & ' so its output is safe in HTML.
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    env.filters.update(FILTERS)
    env.filters["mask"] = mask
    env.globals["asset_version"] = asset_version
    return Jinja2Templates(env=env)


def is_htmx(request: Request) -> bool:
    """True for a request HTMX sent (the page then returns only the fragment it swaps in)."""
    return request.headers.get("HX-Request") == "true"


def static_url(request: Request, path: str) -> str:
    """A URL under /static with the asset version appended, so browsers refetch after upgrades."""
    root = request.scope.get("root_path", "")
    version = request.app.state.asset_version
    return f"{root}/static/{path}?v={version}"


def scope_label(user: Any) -> str:
    """The scope shown in the top bar: 浙江省 / 杭州市 / 西湖区, 税务 · 浙江省, 西湖区 · 政策兑现
    (finance), or the enterprise."""
    from jingxin import reference
    from jingxin.core.auth import Role

    if user is None:
        return ""
    role = Role(user.role)
    if role is Role.ADMIN:
        return "全省（不限）"
    try:
        region = reference.division(user.division_code).name
    except KeyError:
        region = user.division_code
    if role is Role.ENTERPRISE:
        return f"本企业 {user.credit_code}"
    if role is Role.SERVICE_STAFF:
        return f"{region} · 服务企业{len(user.enterprises)}家"
    if role is Role.LIAISON:
        return f"{user.department} · {region}"
    if role is Role.FINANCE:
        return f"{region} · 政策兑现"
    return region


def nav_for(request: Request, user: Any) -> list[dict[str, Any]]:
    from jingxin.core.auth import Role

    if user is None:
        return []
    role = Role(user.role)
    items: Sequence[NavItem] = request.app.state.nav
    path = request.url.path
    return [
        {"key": i.key, "title": i.title, "path": i.path, "icon": i.icon, "active": i.active_for(path)}
        for i in items
        if i.visible_to(role)
    ]


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render a page (or an HTMX fragment) with the layout's context filled in."""
    from jingxin.accounts import sessions as account_sessions

    state = request.state
    user = getattr(state, "user", None)
    web_session = getattr(state, "web_session", None)
    db = getattr(state, "db", None)
    # An HTMX fragment has no place for messages: they wait for the next full page.
    flashes = []
    if db is not None and web_session is not None and not is_htmx(request):
        flashes = account_sessions.pop_flash(db, web_session)
    csrf_token = web_session.csrf_token if web_session is not None else ""
    shown_user = user
    if getattr(state, "shared_view", False):
        # A page of the shared response cache: personal bits go into this rendering's slots.
        from jingxin.web.response_cache import ViewUser

        slots = state.shared_slots
        shown_user, csrf_token = ViewUser(user, slots), slots.csrf
        state.personal_view = bool(flashes)
    base: dict[str, Any] = {
        "user": shown_user,
        "scope_label": scope_label(user),
        "nav": nav_for(request, user),
        "csrf_token": csrf_token,
        "flashes": flashes,
        "static": lambda path: static_url(request, path),
        "htmx": is_htmx(request),
        "platform_name": "数字经信",
    }
    base.update(context or {})
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, name, base, status_code=status_code, headers=dict(headers or {})
    )
