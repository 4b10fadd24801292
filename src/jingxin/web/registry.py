"""How a scenario package plugs into the web app: its routers, nav items and templates.

A scenario's `views.py` defines one module-level `scenario = WebScenario(...)`; the app factory
(`jingxin.web.app`) lists the modules in `SCENARIO_MODULES` and includes each one:

```python
from fastapi import APIRouter
from jingxin.core.auth import ANALYSTS, Role
from jingxin.web.registry import NavItem, WebScenario

pages = APIRouter(prefix="/evaluation", include_in_schema=False)   # HTML, not in OpenAPI
api = APIRouter(prefix="/evaluation", tags=["亩均评价"])            # mounted under /api/v1

scenario = WebScenario(
    name="evaluation",
    pages=pages,
    api=api,
    nav=(NavItem("evaluation", "亩均评价", "/evaluation", roles=ANALYSTS | {Role.ADMIN}, order=20),),
    templates=Path(__file__).parent / "templates",
)
```

Templates live in `<package>/templates/<scenario>/...` and are named with that folder
(`"evaluation/index.html"`), so names from different scenarios never collide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import APIRouter

from jingxin.core.auth import ALL_ROLES, Role


@dataclass(frozen=True)
class NavItem:
    """One entry of the left navigation. It shows only for `roles`; `order` sorts it
    (首页 10, 亩均评价 20, 数据归集 50, 用户管理 80, 审计日志 90); `match` is the path prefix that
    marks it active (defaults to `path`)."""

    key: str
    title: str
    path: str
    roles: frozenset[Role] = ALL_ROLES
    order: int = 100
    icon: str = "•"
    match: str | None = None

    def visible_to(self, role: Role | None) -> bool:
        return role is not None and role in self.roles

    def active_for(self, path: str) -> bool:
        prefix = self.match or self.path
        if prefix == "/":
            return path == "/"
        return path == prefix or path.startswith(prefix.rstrip("/") + "/")


@dataclass(frozen=True)
class WebScenario:
    """A scenario's contribution to the web app."""

    name: str
    pages: APIRouter | None = None
    api: APIRouter | None = None
    nav: Sequence[NavItem] = field(default_factory=tuple)
    templates: Path | None = None
