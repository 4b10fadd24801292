"""Which enterprises the demo accounts stand for (演示账号绑定的企业).

The service worker (驻企服务员 `fuwu`) and the enterprise account (企业 `qiye`) only see data
if their credit codes belong to enterprises of the province in the warehouse. A province is
generated with a seed, so the codes change with it: they are chosen from the warehouse's
registry when the accounts are made, and chosen again whenever the codes an existing account
holds are no longer in the warehouse (a new province was generated and ingested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DEMO_COUNTY = "330106"  # 西湖区: where the county analyst sits (project default)
STAFF_ENTERPRISES = 3  # enterprises assigned to the demo service worker (project default)


@dataclass(frozen=True)
class DemoBinding:
    """Where the demo service worker works and whom the two accounts stand for."""

    county: str
    enterprise: str  # the enterprise account's credit code
    staff: tuple[str, ...]  # the service worker's enterprises, all in `county`


def choose(wh: Any, county: str = DEMO_COUNTY, count: int = STAFF_ENTERPRISES) -> DemoBinding | None:
    """Enterprises of the current province: the first `count` by credit code in `county`, or,
    when the province has none there, in the county with the most enterprises. None while the
    warehouse holds no registry rows (nothing ingested yet)."""
    if not wh.has_table("registry"):
        return None
    reg = wh.current("registry")
    codes = _codes_in(wh, reg, county, count)
    if not codes:
        counts = reg.group_by("county_code").aggregate(n=reg.credit_code.nunique())
        top = wh.execute(counts.order_by([counts.n.desc(), counts.county_code]).limit(1))
        if top.empty:
            return None
        county = str(top["county_code"].iloc[0])
        codes = _codes_in(wh, reg, county, count)
    return DemoBinding(county, codes[0], tuple(codes)) if codes else None


def _codes_in(wh: Any, reg: Any, county: str, count: int) -> list[str]:
    local = reg.filter(reg.county_code == county).select("credit_code").distinct()
    return [str(c) for c in wh.execute(local.order_by("credit_code").limit(count).credit_code)]


def missing(wh: Any, codes: Sequence[str]) -> bool:
    """Whether any of `codes` is not an enterprise of the province in the warehouse."""
    if not codes:
        return False
    if not wh.has_table("registry"):
        return True
    reg = wh.current("registry")
    found = wh.execute(reg.filter(reg.credit_code.isin(list(codes))).credit_code.nunique())
    return int(found) < len(set(codes))


def demo_user_options(wh: Any) -> dict[str, Any]:
    """The keyword arguments of `create_demo_users` that bind the service worker and the
    enterprise account to the province in `wh` (empty while nothing is ingested)."""
    binding = choose(wh)
    if binding is None:
        return {}
    return {
        "enterprise_code": binding.enterprise,
        "staff_enterprises": list(binding.staff),
        "staff_division": binding.county,
        "stale": lambda codes: missing(wh, codes),
    }
