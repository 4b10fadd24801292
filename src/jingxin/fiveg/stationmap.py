"""The map of 5G stations and applications (5G基站分布图), for the page `/fiveg/map`.

The configuration is the one the county maps of the platform draw (`static/js/evaluation.js`,
`[data-region-map]`): the divisions under a parent (the cities of the province, the counties
of a city, or one county) coloured by one measure — stations built, powered, completion against
the target, applications in progress, overdue approvals — and, on top, one point per
application at its coordinates, coloured by its stage, that opens the application when clicked.

Everything shown is read through `Scope` (`service.progress`, `wf.list_items`): a county
analyst sees its county, a city its counties, the province all; an operator its own
applications and stations only, on the map of the whole province (boundaries are public
geography; the numbers on them are the operator's own).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from jingxin import reference
from jingxin.core.scope import Scope, division_prefix
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.config import load_workflow
from jingxin.fiveg import service

MAX_POINTS = 5000  # the newest applications drawn as points (a province-wide map stays light)

# Stages of an application as the map groups them, with their colours.
STAGES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "survey": ("待踏勘", "#f3a712", ("filed", "survey_scheduled")),
    "approving": ("并联审批中", "#e4572e", ("approving",)),
    "approved": ("审批通过", "#4677b8", ("approved",)),
    "built": ("已建成", "#2e9e5b", ("built",)),
    "powered": ("已开通", "#136f3a", ("powered",)),
    "refused": ("未通过", "#8a8f98", ("refused",)),
}
OPEN_STATES = ("filed", "survey_scheduled", "approving")  # 在办: not yet decided
MEASURES = {
    "built": {"name": "已建成基站", "unit": "座", "decimals": 0},
    "powered": {"name": "已开通基站", "unit": "座", "decimals": 0},
    "completion": {"name": "建成率（对目标）", "unit": "%", "decimals": 2},
    "open": {"name": "在办申请", "unit": "件", "decimals": 0},
    "overdue": {"name": "超期审批", "unit": "件", "decimals": 0},
}


class NotInScope(LookupError):
    """The region is not one the user may map."""


def may_map(scope: Scope, code: str) -> bool:
    """Whether `code` may be the map's parent: inside the region scope; for an operator any
    division of the province (its own numbers are drawn on it)."""
    try:
        reference.division(code)
    except (KeyError, ValueError):
        return False
    if scope.credit_code is not None and scope.enterprises is None:
        return code.startswith("33")
    return scope.allows_division(code)


def _children(parent: str) -> list[Any]:
    level = reference.division(parent).level
    if level == "province":
        return list(reference.cities())
    if level == "city":
        return [c for c in reference.counties() if c.parent_code == parent]
    return [reference.division(parent)]


def _under(code: str, county_code: str) -> bool:
    return county_code.startswith(division_prefix(code))


def stage_of(state: str) -> str:
    return next(key for key, (_, _, states) in STAGES.items() if state in states)


def map_config(db: Any, scope: Scope, parent: str, now: datetime) -> dict[str, Any]:
    """The map's configuration (see the module docstring); raises NotInScope."""
    if not may_map(scope, parent):
        raise NotInScope(parent)
    rows = service.progress(db, scope, now)
    regions = []
    for child in _children(parent):
        if not may_map(scope, child.code):
            continue
        mine = [r for r in rows if _under(child.code, r.code)]
        built = sum(r.built for r in mine)
        target = sum(r.target for r in mine) if mine else None
        regions.append(
            {
                "name": child.name,
                "code": child.code,
                "built": built,
                "powered": sum(r.powered for r in mine),
                "completion": round(100 * built / target, 2) if target else None,
                "open": sum(n for r in mine for s, n in r.by_stage.items() if s in OPEN_STATES),
                "overdue": sum(r.overdue for r in mine),
            }
        )
    states = load_workflow(service.APPLICATION).states
    names = {d.code: d.name for d in reference.divisions()}
    items, total = wf.list_items(db, scope, workflow=service.APPLICATION, limit=MAX_POINTS)
    points = []
    counts: dict[str, int] = defaultdict(int)
    for it in items:
        if not _under(parent, it.division_code):
            continue
        stage = stage_of(it.state)
        counts[stage] += 1
        points.append(
            {
                "name": it.fields.get("site_name", f"#{it.id}"),
                "value": [float(it.fields["lon"]), float(it.fields["lat"])],
                "group": stage,
                "url": f"/fiveg/{it.id}",
                "tip": f"{it.fields.get('site_name', '')}（#{it.id}）<br>{names.get(it.division_code, '')}"
                f" · {service.settings().site_types[it.fields['site_type']].label}"
                f"<br>状态：{states[it.state].label}",
            }
        )
    return {
        "geo_url": f"/fiveg/map/geo/{parent}",
        "map_name": f"fiveg-{parent}",
        "measure": "built",
        "measures": MEASURES,
        "regions": regions,
        "drill": {"url": "/fiveg/map?region={code}"},
        "points": points,
        "point_groups": [
            {"key": k, "label": label, "color": colour, "count": counts.get(k, 0)}
            for k, (label, colour, _) in STAGES.items()
        ],
        "points_total": total,
        "points_shown": len(points),
    }
