"""The 亩均 evaluation in the web app (亩均评价): its pages, API and navigation as one scenario.

The parts live in modules of one purpose:

- `params`: query and path parameters, checked at the edge with Chinese messages;
- `schemas`: the API's response models;
- `presenters`: what pages and API show, built once for both with the user's Scope (rows) and
  Visibility (figures, `jingxin.core.visibility`);
- `charts`: ECharts options;
- `pages`: the HTML pages; `api`: the JSON API under /api/v1;
- `whatif`: what-if evaluation of a county (情景推演), its page and API included here.

The home dashboard (`jingxin.web.home`) uses `dashboard_data` and `dashboard_context`.
"""

from __future__ import annotations

from pathlib import Path

from jingxin.core.auth import Role
from jingxin.evaluation.api import api
from jingxin.evaluation.pages import EVAL_ROLES, LIST_ROLES, REGION_ROLES, pages
from jingxin.evaluation.presenters import dashboard_context, dashboard_data
from jingxin.evaluation.whatif.views import whatif_api, whatif_pages
from jingxin.web.registry import NavItem, WebScenario

__all__ = ["EVAL_ROLES", "LIST_ROLES", "REGION_ROLES", "dashboard_context", "dashboard_data", "scenario"]

pages.include_router(whatif_pages)
api.include_router(whatif_api)

scenario = WebScenario(
    name="evaluation",
    pages=pages,
    api=api,
    nav=(
        NavItem("evaluation", "亩均评价", "/evaluation", roles=LIST_ROLES, order=20, icon="▤"),
        NavItem(
            "my-evaluation",
            "本企业评价",
            "/evaluation/mine",
            roles=frozenset({Role.ENTERPRISE}),
            order=20,
            icon="▤",
            match="/evaluation",
        ),
        NavItem("ranking", "区县排名", "/ranking", roles=REGION_ROLES, order=22, icon="≡"),
    ),
    templates=Path(__file__).parent / "templates",
)
