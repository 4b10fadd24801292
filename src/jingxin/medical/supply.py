"""Days of supply and warnings (保障天数与预警).

Days of supply of an item in a region = usable stock / daily demand under a scenario, where
usable stock counts only lots not yet expired on the day, and daily demand is the region's
normal use (`medical_demands`, summed over the counties of a city or the province) times the
scenario's multiplier for the item's category (config/norms.yaml). The norm of DOMAIN.md §10 is
checked in two parts: physical stock (实物) for `physical_days` (10) and stock under agreement
(产能储备 + 流通储备) for `agreement_days` (20) more.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin import reference
from jingxin.core.scope import Scope, division_prefix
from jingxin.medical import config
from jingxin.medical.ledger import reserves_in, stock_at
from jingxin.medical.models import Demand, Reserve


@dataclass(frozen=True)
class Supply:
    division_code: str
    item_id: str
    physical: int
    agreement: int
    daily: float
    physical_days: float | None  # None: no demand, so no days to count
    agreement_days: float | None

    @property
    def below_norm(self) -> list[str]:
        n = config.norms()
        out = []
        if self.physical_days is not None and self.physical_days < n.physical_days:
            out.append(f"实物储备可保障 {self.physical_days:.1f} 天，低于 {n.physical_days:g} 天")
        if self.agreement_days is not None and self.agreement_days < n.agreement_days:
            out.append(f"协议储备可保障 {self.agreement_days:.1f} 天，低于 {n.agreement_days:g} 天")
        return out


@dataclass(frozen=True)
class Warning:
    kind: str  # expiry, expired, below_norm
    division_code: str
    item_id: str
    text: str
    reserve_id: int | None = None
    lot: str | None = None


def daily_demand(db: Session, division_code: str, scenario: str) -> dict[str, float]:
    """Daily demand of every item in a region under a scenario (units per day)."""
    sc = config.norms().scenarios.get(scenario)
    if sc is None:
        raise ValueError(f"需求情景 {scenario!r} 未配置，可选：{'、'.join(config.norms().scenarios)}")
    prefix = division_prefix(division_code)
    out: dict[str, float] = defaultdict(float)
    for d in db.scalars(select(Demand).where(Demand.division_code.startswith(prefix))):
        out[d.item_id] += d.daily * sc.multiplier(config.item(d.item_id).category)
    return dict(out)


def _usable(lot_expires: date | None, on: date) -> bool:
    return lot_expires is None or lot_expires > on


def supply(db: Session, scope: Scope, division_code: str, on: date, scenario: str = "normal") -> list[Supply]:
    """Days of supply of every item in `division_code` (a region inside `scope`)."""
    if not scope.allows_division(division_code):
        raise PermissionError("该区划不在您的数据范围内")
    prefix = division_prefix(division_code)
    holders = [r for r in reserves_in(db, scope) if r.division_code.startswith(prefix)]
    kind = {r.id: r.kind for r in holders}
    phys: dict[str, int] = defaultdict(int)
    agreed: dict[str, int] = defaultdict(int)
    for lot in stock_at(db, on, reserve_ids=list(kind)):
        if lot.quantity > 0 and _usable(lot.expires_on, on):
            (phys if kind[lot.reserve_id] == "physical" else agreed)[lot.item_id] += lot.quantity
    demand = daily_demand(db, division_code, scenario)
    out = []
    for item_id in sorted(set(phys) | set(agreed) | set(demand)):
        daily = demand.get(item_id, 0.0)
        out.append(
            Supply(
                division_code,
                item_id,
                phys[item_id],
                agreed[item_id],
                daily,
                phys[item_id] / daily if daily > 0 else None,
                agreed[item_id] / daily if daily > 0 else None,
            )
        )
    return out


def warnings(
    db: Session, scope: Scope, on: date, scenario: str = "normal", level: str = "county"
) -> list[Warning]:
    """Expiry warnings for every lot in scope, and below-norm warnings for every region of
    `level` (county or city) inside scope."""
    n = config.norms()
    out: list[Warning] = []
    holders = {r.id: r for r in reserves_in(db, scope)}
    horizon = on + timedelta(days=n.expiry_warning_days)
    for lot in stock_at(db, on, reserve_ids=list(holders)):
        if lot.quantity <= 0 or lot.expires_on is None:
            continue
        r = holders[lot.reserve_id]
        name = config.item(lot.item_id).name
        if lot.expires_on <= on:
            out.append(
                Warning(
                    "expired",
                    r.division_code,
                    lot.item_id,
                    f"{r.name} {name} 批号 {lot.lot} 已于 {lot.expires_on} 过期，{lot.quantity} 待报废",
                    r.id,
                    lot.lot,
                )
            )
        elif lot.expires_on <= horizon:
            days = (lot.expires_on - on).days
            out.append(
                Warning(
                    "expiry",
                    r.division_code,
                    lot.item_id,
                    f"{r.name} {name} 批号 {lot.lot} 将于 {days} 天后"
                    f"（{lot.expires_on}）过期，{lot.quantity} 请轮换",
                    r.id,
                    lot.lot,
                )
            )
    regions = reference.counties() if level == "county" else reference.cities()
    for region in regions:
        if not scope.allows_division(region.code):
            continue
        for s in supply(db, scope, region.code, on, scenario):
            for text in s.below_norm:
                out.append(
                    Warning(
                        "below_norm",
                        region.code,
                        s.item_id,
                        f"{region.name} {config.item(s.item_id).name}：{text}",
                    )
                )
    return out


def stock_map(
    db: Session, scope: Scope, on: date, item_id: str, scenario: str = "normal"
) -> list[dict[str, object]]:
    """Physical days of supply of one item by county inside scope (for the map)."""
    rows = []
    for county in reference.counties():
        if not scope.allows_division(county.code):
            continue
        found = [s for s in supply(db, scope, county.code, on, scenario) if s.item_id == item_id]
        s = found[0] if found else None
        rows.append(
            {
                "code": county.code,
                "name": county.name,
                "physical": s.physical if s else 0,
                "agreement": s.agreement if s else 0,
                "days": round(s.physical_days, 1) if s and s.physical_days is not None else None,
            }
        )
    return rows


def holders_by_division(db: Session) -> dict[str, list[Reserve]]:
    out: dict[str, list[Reserve]] = defaultdict(list)
    for r in db.scalars(select(Reserve)):
        out[r.division_code].append(r)
    return out


def region_map(
    db: Session, scope: Scope, parent: str, on: date, item_id: str, scenario: str = "normal"
) -> dict[str, object]:
    """The map's configuration (the JS of the evaluation pages draws it): the divisions under
    `parent` (cities of the province, counties of a city) coloured by days of supply of one item."""
    if not scope.allows_division(parent):
        raise PermissionError("该区划不在您的数据范围内")
    level = reference.division(parent).level
    if level == "province":
        children = reference.cities()
    elif level == "city":
        children = [c for c in reference.counties() if c.parent_code == parent]
    else:
        children = [reference.division(parent)]
    regions = []
    for child in children:
        if not scope.allows_division(child.code):
            continue
        found = [s for s in supply(db, scope, child.code, on, scenario) if s.item_id == item_id]
        s = found[0] if found else None
        regions.append(
            {
                "name": child.name,
                "code": child.code,
                "physical_days": round(s.physical_days, 1) if s and s.physical_days is not None else None,
                "agreement_days": round(s.agreement_days, 1) if s and s.agreement_days is not None else None,
                "physical": s.physical if s else 0,
            }
        )
    return {
        "geo_url": f"/api/v1/geo/{parent}",
        "map_name": f"medical-{parent}",
        "measure": "physical_days",
        "measures": {
            "physical_days": {"name": "实物可保障天数", "unit": "天"},
            "agreement_days": {"name": "协议可保障天数", "unit": "天"},
            "physical": {"name": "实物库存", "unit": config.item(item_id).unit},
        },
        "regions": regions,
        "drill": {"url": f"/medical?item={item_id}&scenario={scenario}&on={on.isoformat()}&region={{code}}"},
    }
