"""Dispatch plans from the ledger (调度方案): build the instance, solve, save, approve, execute.

- Regions: the counties inside the user's scope with a demand list. A region's need is what
  it lacks to cover `target_days` of the scenario's demand with usable physical stock.
- Sources: government physical reserves (province, city, county; not a hospital's own shelf)
  with usable stock beyond `keep_days` of their own county's scenario demand (province and
  city reserves keep nothing back: they exist to be dispatched).
- Suppliers: key suppliers of the item, capacity = daily capacity (latest report, else the
  registered figure) × the days left in the horizon after their lead time.

An approved plan (workflow `medical_dispatch`) is executed as ledger movements: each transfer
takes the source's lots first-expiring-first-out (先到期先出) into the region's county reserve;
each production order is received there as a new lot.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin import reference
from jingxin.core import audit
from jingxin.core.scope import Scope
from jingxin.core.workflow import service as wf
from jingxin.medical import config, dispatch, geo, ledger
from jingxin.medical import suppliers as suppliers_mod
from jingxin.medical.models import Demand, Plan, Reserve, Supplier, SupplierReport
from jingxin.medical.supply import daily_demand

WORKFLOW = "medical_dispatch"


class PlanError(ValueError):
    pass


def _usable_stock(db: Session, on: date, holders: list[Reserve]) -> dict[tuple[str, str], int]:
    by_id = {r.id: r for r in holders}
    out: dict[tuple[str, str], int] = defaultdict(int)
    for lot in ledger.stock_at(db, on, reserve_ids=list(by_id)):
        if lot.quantity > 0 and (lot.expires_on is None or lot.expires_on > on):
            out[(by_id[lot.reserve_id].division_code, lot.item_id)] += lot.quantity
    return out


def build_instance(
    db: Session, scope: Scope, on: date, scenario: str, facts: Any = None
) -> dispatch.Instance:
    """The dispatch instance of `scope` on `on`. A supplier's daily capacity is its latest
    report on or before `on`: from the source in the warehouse (`facts`, the live rows of
    `medical_supply`) when given, else by the form, else the capacity it was registered with."""
    d = config.norms().dispatch
    holders = [r for r in ledger.reserves_in(db, scope, kind="physical")]
    stock = _usable_stock(db, on, holders)
    spare_stock = _usable_stock(db, on, [r for r in holders if r.level != "institution"])
    counties = {c.code for c in reference.counties() if scope.allows_division(c.code)}
    priorities = {(x.division_code, x.item_id): x.priority for x in db.scalars(select(Demand))}
    need, prio, avail = {}, {}, {}
    demand_by_county = {
        c: daily_demand(db, c, scenario) for c in sorted({k[0] for k in priorities} & counties)
    }
    for county, items in demand_by_county.items():
        for item_id, daily in items.items():
            lack = math.ceil(d.target_days * daily) - stock.get((county, item_id), 0)
            if lack > 0:
                need[(county, item_id)] = lack
                prio[(county, item_id)] = priorities.get((county, item_id), 2)
    for (place_code, item_id), qty in spare_stock.items():
        keep = math.ceil(d.keep_days * demand_by_county.get(place_code, {}).get(item_id, 0.0))
        own_total = stock.get((place_code, item_id), 0)
        spare = min(qty, own_total - keep)
        if spare > 0:
            avail[(place_code, item_id)] = spare
    suppliers = []
    horizon = d.target_days
    registered = list(db.scalars(select(Supplier).order_by(Supplier.id)))
    from_source = (
        suppliers_mod.latest_source_reports(facts, on, [s.credit_code for s in registered])
        if facts is not None
        else {}
    )
    for s in registered:
        latest: Any = from_source.get((s.credit_code, s.item_id)) or db.scalar(
            select(SupplierReport)
            .where(SupplierReport.supplier_id == s.id, SupplierReport.on_date <= on)
            .order_by(SupplierReport.on_date.desc())
            .limit(1)
        )
        daily = latest.capacity if latest is not None else s.daily_capacity
        cap = int(daily * max(0.0, horizon - s.lead_days))
        if cap > 0:
            suppliers.append(dispatch.Supplier(s.credit_code, s.item_id, s.division_code, cap))
    places = {s for s, _ in avail} | {s.place for s in suppliers}
    regions = {r for r, _ in need}
    hours = {(a, b): geo.hours(a, b) for a in places for b in regions if a != b}
    return dispatch.Instance(
        need, prio, avail, suppliers, hours, d.max_hours, d.cost_per_unit_hour, d.production_cost
    )


def names() -> dict[str, str]:
    return {x.code: x.name for x in reference.divisions()}


def propose(
    db: Session, user: Any, on: date, scenario: str = "surge", time_limit: float = 60.0, facts: Any = None
) -> Plan:
    """Solve for the user's scope and open a plan case for approval (`facts`: see build_instance)."""
    inst = build_instance(db, user.scope, on, scenario, facts)
    result = dispatch.solve(inst, time_limit=time_limit)
    place_names = {**names(), **{s.credit_code: s.name for s in db.scalars(select(Supplier))}}
    item_names = {k: v.name for k, v in config.catalogue().items.items()}
    lines = [
        {
            "kind": ln.kind,
            "source": ln.source,
            "region": ln.region,
            "item": ln.item,
            "quantity": ln.quantity,
            "hours": ln.hours,
            "priority": ln.priority,
            "need": ln.need,
            "why": dispatch.explain(ln, place_names, item_names),
        }
        for ln in result.lines
    ]
    plan = Plan(
        created_by=user.username,
        scenario=scenario,
        on_date=on,
        solver_status=result.status,
        gap=result.gap,
        seconds=round(result.seconds, 3),
        lines=lines,
        summary={
            "shortfall": {str(k): v for k, v in result.shortfall.items()},
            "cost": result.cost,
            "needs": len(inst.need),
            "variables": result.variables,
            "short": [[r, i, q] for (r, i), q in sorted(result.short.items())],
        },
    )
    db.add(plan)
    db.flush()
    division = user.division_code if user.division_code else "330000"
    item = wf.start_item(
        db,
        WORKFLOW,
        user,
        division_code=division,
        fields={"title": f"调度方案 #{plan.id}（{config.norms().scenarios[scenario].label}，{on}）"},
        assigned={"plan": str(plan.id)},
    )
    plan.item_id = item.id
    db.commit()
    return plan


def execute(db: Session, plan_id: int, user: Any, on: date | None = None) -> list[int]:
    """Book an approved plan in the ledger; returns the movement ids. Once only."""
    plan = db.get(Plan, plan_id)
    if plan is None:
        raise PlanError(f"调度方案 {plan_id} 不存在")
    case = wf.get_item(db, user.scope, plan.item_id) if plan.item_id else None
    if case is None or case.state != "approved":
        raise PlanError("调度方案须经审批通过后才能执行")
    if plan.status == "executed":
        raise PlanError("该调度方案已执行")
    on = on or plan.on_date
    county_reserve = {
        r.division_code: r
        for r in db.scalars(select(Reserve).where(Reserve.level == "county", Reserve.kind == "physical"))
    }
    ids: list[int] = []
    try:
        for n, line in enumerate(plan.lines):
            target = county_reserve.get(line["region"])
            if target is None:
                raise PlanError(f"{line['region']} 没有县级实物储备库，无法接收调拨")
            ref = f"plan:{plan.id}:{n}"
            if line["kind"] == "production":
                spec = config.item(line["item"])
                exp = on + timedelta(days=30 * spec.shelf_months) if spec.shelf_months else None
                ids.append(
                    ledger.record(
                        db,
                        kind="receipt",
                        item_id=line["item"],
                        lot=f"PO{plan.id}-{n}",
                        quantity=line["quantity"],
                        on=on,
                        recorded_by=user.username,
                        to_reserve=target.id,
                        expires_on=exp,
                        reference_text=ref,
                        commit=False,
                    ).id
                )
                continue
            sources = [
                r
                for r in db.scalars(
                    select(Reserve).where(
                        Reserve.division_code == line["source"],
                        Reserve.kind == "physical",
                        Reserve.level != "institution",
                    )
                )
            ]
            left = line["quantity"]
            lots = [
                x
                for x in ledger.stock_at(db, on, reserve_ids=[r.id for r in sources], item_id=line["item"])
                if x.quantity > 0 and (x.expires_on is None or x.expires_on > on)
            ]
            for lot in sorted(lots, key=lambda x: (x.expires_on or date.max, x.lot)):
                take = min(left, lot.quantity)
                if take <= 0:
                    break
                ids.append(
                    ledger.record(
                        db,
                        kind="transfer",
                        item_id=line["item"],
                        lot=lot.lot,
                        quantity=take,
                        on=on,
                        recorded_by=user.username,
                        from_reserve=lot.reserve_id,
                        to_reserve=target.id,
                        reference_text=ref,
                        commit=False,
                    ).id
                )
                left -= take
            if left > 0:
                raise PlanError(f"{line['source']} 的 {line['item']} 库存已变化，缺 {left}：请重新生成方案")
        plan.status = "executed"
        audit.record(
            db,
            audit.Actor(user.id, user.username),
            audit.Action.MEDICAL_PLAN_EXECUTE,
            "medical_plan",
            plan.id,
            {"movements": len(ids)},
        )
        db.commit()
    except Exception:
        db.rollback()
        raise
    return ids
