"""Generated medical reserves, key suppliers and 5G applications, with their known truth.

Every figure here is this project's assumption (no published per-county reserve data):
- normal daily use of an item in a county: 5–60 units (uniform), priority 1 for the 26
  mountain counties' protective and testing items (the project's choice), else 2 or 3;
- physical stock 12–25 days of normal use, except injected `below_norm` pairs (3–8 days);
  agreement stock (产能/流通) 22–40 days, except injected `agreement_short` pairs (8–15 days);
- one lot per (county, item), shelf life from the catalogue; injected `expiring` lots expire
  10–80 days after the as-of date (inside the 90-day warning), others 200+ days after;
- province and city reserves: 5 and 3 days of the normal use of the counties they serve;
- key suppliers: one per item in a random county, capacity 50–400 a day; their daily reports
  are written as the 经信 department's file (:mod:`.medical_supply`: skipped days are the
  injected `missing_reports` of the as-of date) and reach the platform through ingestion;
- 5G: applications with each department's decision delay in working hours; injected late
  decisions (after the limit) are the truth the escalation and approval times are measured on.

`truth()` returns what was injected; `load(db)` writes the reserves into the platform database
and returns the truth; `dispatch_instance(...)` builds a surge instance for the optimiser
directly (bench: 90 counties × 50 items, more items than the catalogue holds).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from jingxin import reference
from jingxin.core import credit_code as cc
from jingxin.medical import config, dispatch, ledger
from jingxin.medical.models import Demand, Reserve, Supplier
from jingxin.synth.medical_supply import SupplierSpec, SupplyTruth, write_reports

MOUNTAIN_PRIORITY = {"protective", "testing"}


@dataclass
class MedicalTruth:
    as_of: date
    below_norm: set[tuple[str, str]] = field(default_factory=set)
    agreement_short: set[tuple[str, str]] = field(default_factory=set)
    expiring: set[tuple[str, str]] = field(default_factory=set)  # (reserve code, lot)
    missing_reports: set[str] = field(default_factory=set)  # supplier credit codes
    supply: SupplyTruth | None = None  # the reports file written for the source medical-supply

    def manifest(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "below_norm": sorted(map(list, self.below_norm)),
            "agreement_short": sorted(map(list, self.agreement_short)),
            "expiring": sorted(map(list, self.expiring)),
            "missing_reports": sorted(self.missing_reports),
            **({"supply": self.supply.manifest()} if self.supply else {}),
        }


def load(
    db: Any,
    *,
    seed: int = 1,
    as_of: date = date(2021, 6, 1),
    counties: list[str] | None = None,
    items: list[str] | None = None,
    share_injected: float = 0.1,
    out_dir: str | Path | None = None,
    supply_days: int = 7,
    supply_defects: float = 0.0,
) -> MedicalTruth:
    """Write a generated province's reserves, demand list and suppliers into the platform
    database, and (into `out_dir`) the suppliers' daily reports as the 经信 department sends
    them, to be ingested as the source `medical-supply`; return the truth."""
    rnd = random.Random(seed)
    cat = config.catalogue()
    items = items or list(cat.items)
    regions = [c for c in reference.counties() if counties is None or c.code in counties]
    truth = MedicalTruth(as_of)
    province = ledger.add_reserve(db, "R330000", "浙江省医疗物资储备库", "province", "physical", "330000")
    city_reserves = {
        city.code: ledger.add_reserve(
            db, f"R{city.code}", f"{city.name}医疗物资储备库", "city", "physical", city.code
        )
        for city in reference.cities()
    }
    received = as_of - timedelta(days=60)
    city_daily: dict[tuple[str, str], float] = {}  # (city, item) -> daily use of its counties
    for county in regions:
        phys = ledger.add_reserve(
            db, f"R{county.code}", f"{county.name}医疗物资储备库", "county", "physical", county.code
        )
        agree = ledger.add_reserve(
            db, f"A{county.code}", f"{county.name}协议储备", "county", "circulation", county.code
        )
        for item_id in items:
            spec = cat.items[item_id]
            daily = rnd.randint(5, 60)
            key = (county.code[:4] + "00", item_id)
            city_daily[key] = city_daily.get(key, 0) + daily
            prio = 1 if county.mountain26 and spec.category in MOUNTAIN_PRIORITY else rnd.choice([2, 3])
            db.add(
                Demand(
                    division_code=county.code,
                    item_id=item_id,
                    daily=daily,
                    priority=prio,
                    source="synth.medical（项目假设：每日5–60）",
                )
            )
            low = rnd.random() < share_injected
            days = rnd.uniform(3, 8) if low else rnd.uniform(12, 25)
            if low:
                truth.below_norm.add((county.code, item_id))
            short = rnd.random() < share_injected
            adays = rnd.uniform(8, 15) if short else rnd.uniform(22, 40)
            if short:
                truth.agreement_short.add((county.code, item_id))
            soon = spec.shelf_months > 0 and rnd.random() < share_injected
            expires = None
            if spec.shelf_months:
                expires = as_of + timedelta(
                    days=rnd.randint(10, 80) if soon else rnd.randint(200, 30 * spec.shelf_months)
                )
            lot = f"{county.code}-{item_id}"[:40]
            if soon:
                truth.expiring.add((phys.code, lot))
            ledger.record(
                db,
                kind="receipt",
                item_id=item_id,
                lot=lot,
                quantity=max(1, math.floor(days * daily)),
                on=received,
                recorded_by="synth",
                to_reserve=phys.id,
                expires_on=expires,
                commit=False,
            )
            alot = f"A{county.code}-{item_id}"[:40]
            aexp = as_of + timedelta(days=400) if spec.shelf_months else None
            ledger.record(
                db,
                kind="receipt",
                item_id=item_id,
                lot=alot,
                quantity=max(1, math.floor(adays * daily)),
                on=received,
                recorded_by="synth",
                to_reserve=agree.id,
                expires_on=aexp,
                commit=False,
            )
    # Province and city reserves: 5 and 3 days of the normal use of the counties they serve
    # (the project's assumption), one lot each, long-dated.
    for (city_code, item_id), use in sorted(city_daily.items()):
        spec = cat.items[item_id]
        exp = as_of + timedelta(days=365) if spec.shelf_months else None
        ledger.record(
            db,
            kind="receipt",
            item_id=item_id,
            lot=f"C{city_code}-{item_id}"[:40],
            quantity=max(1, round(3 * use)),
            on=received,
            recorded_by="synth",
            to_reserve=city_reserves[city_code].id,
            expires_on=exp,
            commit=False,
        )
        ledger.record(
            db,
            kind="receipt",
            item_id=item_id,
            lot=f"P{city_code}-{item_id}"[:40],
            quantity=max(1, round(5 * use)),
            on=received,
            recorded_by="synth",
            to_reserve=province.id,
            expires_on=exp,
            commit=False,
        )
    specs = []
    for item_id in items:
        county = rnd.choice(regions)
        code = cc.generate(county.code, rnd)
        s = Supplier(
            credit_code=code,
            name=f"{county.name}{cat.items[item_id].name}生产企业",
            division_code=county.code,
            item_id=item_id,
            industry_code=config.norms().supplier_industries[cat.items[item_id].category][0],
            daily_capacity=rnd.randint(50, 400),
            lead_days=2,
        )
        db.add(s)
        specs.append(SupplierSpec(s.credit_code, s.name, s.item_id, s.daily_capacity))
    if out_dir is not None:
        # The suppliers' daily reports: a 经信 file to ingest as the source medical-supply.
        truth.supply = write_reports(
            out_dir, specs, as_of=as_of, days=supply_days, seed=seed, defects=supply_defects
        )
        truth.missing_reports = {code for code, _ in truth.supply.missing_on(as_of)}
    else:  # no file: no supplier has reported
        truth.missing_reports = {sp.credit_code for sp in specs}
    db.commit()
    return truth


def dispatch_instance(
    seed: int = 1, n_items: int = 50, surge: float = 5.0
) -> tuple[dispatch.Instance, set[tuple[str, str]]]:
    """A surge over every county: each county short of some items, sources with spare stock,
    one supplier per item; returns the instance and the priority-1 needs that stocks allow
    to cover (spare stock within reach ≥ need), for the 'no priority-1 shortfall' check."""
    from jingxin.medical import geo

    rnd = random.Random(seed)
    counties = [c.code for c in reference.counties()]
    cities = [c.code for c in reference.cities()]
    items = [f"item{k:02d}" for k in range(n_items)]
    need, prio, avail = {}, {}, {}
    for c in counties:
        for i in items:
            r = rnd.random()
            if r < 0.35:
                need[(c, i)] = int(rnd.randint(20, 200) * surge)
                prio[(c, i)] = rnd.choice([1, 2, 2, 3])
            elif r < 0.6:
                avail[(c, i)] = rnd.randint(50, 600)
    for place in ["330000", *cities]:
        for i in items:
            avail[(place, i)] = rnd.randint(100, 1200)
    suppliers = [dispatch.Supplier(f"S{i}", i, rnd.choice(counties), rnd.randint(200, 1200)) for i in items]
    places = sorted({s for s, _ in avail} | {s.place for s in suppliers})
    hours = {(a, b): geo.hours(a, b) for a in places for b in counties if a != b}
    inst = dispatch.Instance(need, prio, avail, suppliers, hours, max_hours=8.0)
    return inst, {k for k, p in prio.items() if p == 1}


def reserves_count(db: Any) -> int:
    return db.query(Reserve).count()


@dataclass
class FiveGTruth:
    """What the generated 5G applications hold: per department, how many decisions were made
    after their limit (late), and per county how many stations were built."""

    late: dict[str, int] = field(default_factory=dict)
    decided: dict[str, int] = field(default_factory=dict)
    built: dict[str, int] = field(default_factory=dict)


def load_fiveg(
    db: Any,
    operator: Any,
    county_user: Any,
    liaisons: dict[str, Any],
    *,
    n: int = 12,
    seed: int = 1,
    start: Any = None,
) -> FiveGTruth:
    """Run `n` applications of `county_user`'s county through the real service at generated
    moments: each department decides 0.5–`limit`+3 working days after the survey (a decision
    after its limit is late, the truth); two in three approved sites are built. The project's
    assumptions, not published figures."""
    from datetime import datetime as dt

    from jingxin.core.workflow.config import load_workflow
    from jingxin.fiveg import service as fiveg
    from jingxin.fiveg import survey

    rnd = random.Random(seed)
    hours = load_workflow(fiveg.APPROVAL).hours
    limits = load_workflow(fiveg.APPROVAL).clocks["approval"].working_days_by
    truth = FiveGTruth()
    moment = start or dt(2021, 3, 1, 1, 30, tzinfo=None)
    from jingxin.core.calendar import CHINA_TZ

    moment = moment.replace(tzinfo=CHINA_TZ) if moment.tzinfo is None else moment
    county = county_user.division_code
    for k in range(n):
        filed = hours.add_working_seconds(moment, k * 4 * 3600)
        site_type = rnd.choice(list(fiveg.settings().site_types))
        app = fiveg.file_application(
            db,
            operator,
            county=county,
            site_name=f"生成站点{k + 1}",
            site_type=site_type,
            power="grid",
            lon=120.05 + rnd.random() * 0.02,
            lat=30.30 + rnd.random() * 0.02,
            now=filed,
        )
        surveyed = hours.add_working_seconds(filed, 8 * 3600)
        survey.schedule(db, county_user, app.id, surveyed.date(), now=filed)
        branches = fiveg.record_survey(db, county_user, app.id, "可行", now=surveyed)
        last = surveyed
        for b in branches:
            dept = b.fields["department"]
            delay_days = rnd.uniform(0.5, limits[dept] + 3)
            when = hours.add_working_seconds(surveyed, round(delay_days * 9 * 3600))
            clock = b.clock("approval")
            assert clock is not None and clock.due_at is not None
            due = clock.due_at
            truth.decided[dept] = truth.decided.get(dept, 0) + 1
            truth.late[dept] = truth.late.get(dept, 0) + (when > due)
            fiveg.decide(db, liaisons[dept], b.id, True, now=when)
            last = max(last, when)
        if rnd.random() < 2 / 3:
            fiveg.report_built(
                db, operator, app.id, (last + timedelta(days=20)).date(), now=last + timedelta(days=20)
            )
            truth.built[county] = truth.built.get(county, 0) + 1
    return truth
