"""Warming a server process's caches before it takes requests (启动预热).

Each server process keeps its own read cache (`jingxin.core.cache`). Without warming, the
first analysts of each region to open the dashboard after a start wait for what the cache
would have answered, and with several processes (`jingxin serve --workers N`) that happens
once per process, under load: the slowest answers of a busy morning. So a process makes the
headline answers first — the dashboard and the result list of the latest run, for the
province and each city, as the analysts and admins of those regions ask for them — and only
then starts answering. With several processes behind one port, a process that is still
warming takes no connection; the others answer.

Warming has a time budget (`Settings.warm_seconds`, 0 turns it off): what is not warmed by
then is made at its first request, as before. A failure (a store unreachable at start) is
logged and the process starts anyway. County views are not warmed (90 regions: the budget
would go to the least-asked views); a new batch or run changes the data version, and the
next request of each view makes it again.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from jingxin.core.auth import Role, scope_for
from jingxin.core.scope import Scope
from jingxin.core.visibility import visibility_for

if TYPE_CHECKING:
    from jingxin.web.warehouse import WarehouseAccess

log = logging.getLogger(__name__)


def headline_scopes() -> list[Scope]:
    """The scopes whose headline views are warmed, most asked first: admin, the province,
    then each city (as their analysts' accounts see them, `scope_for`)."""
    from jingxin.evaluation.dashboard import PROVINCE
    from jingxin.reference import cities

    return [
        scope_for(Role.ADMIN, PROVINCE),
        scope_for(Role.PROVINCE_ANALYST, PROVINCE),
        *(scope_for(Role.CITY_ANALYST, city.code) for city in cities()),
    ]


def warm_headline_views(warehouse: WarehouseAccess, budget: float) -> int:
    """Make the dashboard and the first result list of each headline scope, within `budget`
    seconds; returns how many scopes were warmed."""
    from jingxin.evaluation.dashboard import ordered_results
    from jingxin.evaluation.presenters import dashboard_data
    from jingxin.evaluation.service import ResultFilters

    if budget <= 0:
        return 0
    started = time.monotonic()
    warmed = 0
    vis = visibility_for(Role.PROVINCE_ANALYST)  # the answers cached below do not depend on it
    try:
        with warehouse.reader() as wh:
            for scope in headline_scopes():
                if time.monotonic() - started > budget:
                    break
                data = dashboard_data(wh, scope, None, None, None, vis)
                if data["run"] is not None:
                    ordered_results(wh, data["run"]["run_id"], scope, ResultFilters(), "", "-total_score")
                warmed += 1
    except Exception:  # noqa: BLE001 - a cold cache is slower, not wrong: start anyway
        log.warning("cache warming stopped after %d regions", warmed, exc_info=True)
    log.info("caches warmed for %d regions in %.1f s", warmed, time.monotonic() - started)
    return warmed
