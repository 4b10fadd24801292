"""Real events the province lived through (DOMAIN.md §13), injected into the generated series.

Each event has a period, the cities and sectors it hit, how its enterprises were chosen and
the depth assumed (how far output fell), with the basis of each. The depth by enterprise was
never published, so every depth here is the project's assumption, stated beside the event.
An event lowers the affected enterprises' monthly 快报 (output, revenue), monthly power and
daily power over its days, and their annual accounts by the share of the year lost, so the
monthly figures still add up to the annual ones. Power falls less than output: a stopped
plant still draws base load (:data:`BASE_LOAD`, assumption).

The early-2020 shutdown is part of the 2020 calendar profile itself (:mod:`.series`: the
festival fortnight at 15% of normal and a 48-day recovery) and so touches everyone; it is
listed for the record with that depth. The manifest key ``events`` lists every event (see
:func:`manifest_entry`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from jingxin.synth.series import FESTIVAL_WEEK_END, RECOVERY_DAYS, daily_profile, spring_festival, year_days

BASE_LOAD = 0.15  # share of normal electricity a stopped plant still uses (assumption)
JINHUA_CLASS_DEPTH = {"A": 0.0, "B": 0.25, "C": 0.5, "D": 1.0}  # 开3停1 = 1 day in 4 off, 开2停2 = 2 in 4
CLASS_SHARES = (("A", 0.20), ("B", 0.60), ("C", 0.15), ("D", 0.05))  # 温岭 shares, DOMAIN §3
DYEING_CLASSES = ("1713", "1723", "1733", "1743", "1752", "1762")  # 印染精加工 classes of GB/T 4754


@dataclass(frozen=True)
class EventSpec:
    """An event as documented: where, when, who, how deep, and why we think so."""

    id: str
    kind: str  # shutdown | power_rationing | production_stop | capacity_cut
    title: str
    start: dt.date
    end: dt.date
    cities: tuple[str, ...]  # 4-digit city prefixes; () = the whole province
    sectors: tuple[str, ...]  # GB/T 4754 prefixes or section letters
    depth: float | dict[str, float]  # share of output lost per day (by 亩均 class when a dict)
    depth_basis: str
    source: str
    full_scale_count: int | None = None  # how many enterprises the source names, at full scale
    above_only: bool = False


@dataclass
class Event:
    """An event with the enterprises it hit (indices into the population) and their depths."""

    spec: EventSpec
    who: np.ndarray  # int indices
    depth: np.ndarray  # per affected enterprise, share of output lost on the event's days
    classes: np.ndarray | None = None  # 亩均 class proxy per affected enterprise (金华 2020)
    extra: dict[str, object] = field(default_factory=dict)


SPECS: tuple[EventSpec, ...] = (
    EventSpec(
        id="2020-01-shutdown",
        kind="shutdown",
        title="2020年初新冠疫情停工与复工复产",
        start=dt.date(2020, 1, 24),
        end=spring_festival(2020) + dt.timedelta(days=FESTIVAL_WEEK_END + RECOVERY_DAYS[2020]),
        cities=(),
        sectors=("B", "C", "D", "G", "I", "L", "M", "N", "O", "P", "Q", "R"),
        depth=0.85,
        depth_basis="assumption: activity at 15% of normal from 除夕 to 初七, then back to normal "
        "linearly over 48 days (to 20 March); part of the 2020 calendar profile for every enterprise, "
        "plus a 2020 revenue dip of ~15% for 25–60% of industrial enterprises in the annual accounts",
        source="DOMAIN.md §13 (extended holiday from late January, restart through February and March)",
    ),
    EventSpec(
        id="2020-12-jinhua-rationing",
        kind="power_rationing",
        title="2020年12月金华、义乌有序用电（按亩均分类限产）",
        start=dt.date(2020, 12, 21),
        end=dt.date(2020, 12, 31),
        cities=("3307",),
        sectors=("C",),
        depth=JINHUA_CLASS_DEPTH,
        depth_basis="published rule (A 不限, B 开3停1, C 开2停2, D 停产) applied to a proxy of each "
        "enterprise's 亩均 class (rank of 亩均税收 among the 规上, or the 规下, of its county, 温岭 "
        "shares 20/60/15/5; tenants without land B); "
        "start date = the date of the cited report (assumption: some plants stopped earlier)",
        source="chinaccm.cn 2020-12-21 via DOMAIN.md §13",
    ),
    EventSpec(
        id="2021-09-shaoxing-dyeing-stop",
        kind="production_stop",
        title="2021年9月绍兴印染、化纤企业停产（能耗双控）",
        start=dt.date(2021, 9, 22),
        end=dt.date(2021, 9, 30),
        cities=("3306",),
        sectors=(*DYEING_CLASSES, "28"),
        depth=1.0,
        depth_basis="assumption: full stop (power at base load); 161 enterprises at full scale, the "
        "largest energy users of the named trades; start date assumed (the source gives the end)",
        source="qubanbao.cn summary of September 2021 notices via DOMAIN.md §13",
        full_scale_count=161,
    ),
    EventSpec(
        id="2021-09-jiaxing-cement",
        kind="capacity_cut",
        title="2021年9—10月嘉兴水泥限产一半",
        start=dt.date(2021, 9, 22),
        end=dt.date(2021, 10, 31),
        cities=("3304",),
        sectors=("3011",),
        depth=0.5,
        depth_basis="published: cement capacity halved; dates assumed (September to the end of October)",
        source="qubanbao.cn summary of September 2021 notices via DOMAIN.md §13",
    ),
    EventSpec(
        id="2021-q4-rationing",
        kind="power_rationing",
        title="2021年四季度宁波、温州、金华有序用电（限电约10%）",
        start=dt.date(2021, 10, 1),
        end=dt.date(2021, 11, 5),
        cities=("3302", "3303", "3307"),
        sectors=("B", "C"),
        depth=0.10,
        depth_basis="published ratio (~10%) applied to every 规上 industrial enterprise of the three "
        "cities; end date assumed (restrictions lifted in early November 2021, xcfg.com.cn 2021-11-11)",
        source="qubanbao.cn summary of September 2021 notices via DOMAIN.md §13",
        above_only=True,
    ),
)


def _in_sectors(codes: np.ndarray, sections: np.ndarray, sectors: tuple[str, ...]) -> np.ndarray:
    hit = np.zeros(codes.shape[0], dtype=bool)
    for s in sectors:
        hit |= (sections == s) if s.isalpha() else np.strings.startswith(codes, s)
    return hit


def class_proxy(county: np.ndarray, per_mu: np.ndarray) -> np.ndarray:
    """A stand-in for each enterprise's 亩均 class: its rank of `per_mu` within its group (`county`:
    a county, or a county and scale), cut at 温岭's shares (NaN, e.g. tenants without land, → B)."""
    out = np.full(county.shape[0], "B")
    ok = ~np.isnan(per_mu)
    idx = np.flatnonzero(ok)
    order = idx[np.lexsort((-per_mu[idx], county[idx]))]
    counties, starts, counts = np.unique(county[order], return_index=True, return_counts=True)
    del counties
    rank = np.empty(order.shape[0])
    for s, c in zip(starts.tolist(), counts.tolist(), strict=True):  # ≤ 90 counties
        rank[s : s + c] = (np.arange(c) + 0.5) / c
    edges = np.cumsum([share for _, share in CLASS_SHARES])
    labels = np.array([label for label, _ in CLASS_SHARES])
    out[order] = labels[np.searchsorted(edges, rank)]
    return out


def plan_events(
    years: tuple[int, ...],
    county: np.ndarray,
    industry_code: np.ndarray,
    section: np.ndarray,
    industrial_above: np.ndarray,
    services: np.ndarray,
    active: dict[int, np.ndarray],
    energy: dict[int, np.ndarray],
    tax_per_mu: dict[int, np.ndarray],
    scale: float,
) -> list[Event]:
    """The events that fall in `years`, each with its enterprises. `active`, `energy` and
    `tax_per_mu` are per year (drawn before calibration: only their ranks matter)."""
    out: list[Event] = []
    for spec in SPECS:
        year = spec.start.year
        if year not in years:
            continue
        in_city = np.ones(county.shape[0], bool) if not spec.cities else np.zeros(county.shape[0], bool)
        for city in spec.cities:
            in_city |= np.strings.startswith(county, city)
        hit = in_city & active[year] & _in_sectors(industry_code, section, spec.sectors)
        if spec.above_only:
            hit &= industrial_above
        who = np.flatnonzero(hit)
        classes = None
        if spec.full_scale_count is not None and who.size:
            limit = max(1, int(round(spec.full_scale_count * scale)))
            who = who[np.argsort(-np.nan_to_num(energy[year][who]), kind="stable")[:limit]]
            who.sort()
        if isinstance(spec.depth, dict):
            # 规上 and 规下 are classed separately, each within its county (DOMAIN §3).
            manufacturing = np.flatnonzero(in_city & active[year] & ~services)
            group = np.strings.add(county[manufacturing], np.where(industrial_above[manufacturing], "+", "-"))
            proxy = class_proxy(group, tax_per_mu[year][manufacturing])
            lookup = dict(zip(manufacturing.tolist(), proxy.tolist(), strict=True))
            classes = np.array([lookup[i] for i in who.tolist()], dtype="<U1")
            depth = np.array([spec.depth[c] for c in classes.tolist()])
            keep = depth > 0
            who, depth, classes = who[keep], depth[keep], classes[keep]
        elif spec.kind == "shutdown":
            depth = np.full(who.shape[0], spec.depth)
        else:
            depth = np.full(who.shape[0], float(spec.depth))
        out.append(Event(spec, who, depth, classes))
    return out


def _event_days(spec: EventSpec, days: np.ndarray) -> np.ndarray:
    return (days >= np.datetime64(spec.start)) & (days <= np.datetime64(spec.end))


def day_factors(
    events: list[Event], idx: np.ndarray, days: np.ndarray, kind: str = "output"
) -> tuple[np.ndarray, np.ndarray] | None:
    """Multipliers for the enterprises of (sorted) `idx` hit on `days` by any event, as (their
    positions in `idx`, factors rows × days); None when nobody is hit. The 2020 shutdown is
    already in the calendar profile and adds nothing here. `kind` "power" keeps base load."""
    live = [ev for ev in events if ev.spec.kind != "shutdown" and _event_days(ev.spec, days).any()]
    if not live:
        return None
    hit = np.zeros(idx.shape[0], dtype=bool)
    for ev in live:
        hit |= np.isin(idx, ev.who)
    rows = np.flatnonzero(hit)
    if not rows.size:
        return None
    factors = np.ones((rows.shape[0], days.shape[0]))
    for ev in live:
        on = np.flatnonzero(_event_days(ev.spec, days))
        inside = np.isin(ev.who, idx[rows])
        sel = np.searchsorted(idx[rows], ev.who[inside])
        loss = ev.depth[inside] * ((1 - BASE_LOAD) if kind == "power" else 1.0)
        factors[np.ix_(sel, on)] *= (1 - loss)[:, None]
    return rows, factors


def _month_matrix(days: np.ndarray) -> np.ndarray:
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    out = np.zeros((days.shape[0], 12))
    out[np.arange(days.shape[0]), month] = 1.0
    return out


CHUNK = 20_000  # enterprises per block of day factors (a block is CHUNK × 366 floats)


def month_factors(
    events: list[Event], idx: np.ndarray, year: int, kind: str = "output"
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-month multipliers (rows × 12) of activity, weighted by the calendar profile, for the
    enterprises of (sorted) `idx` hit in `year`: (their positions in `idx`, multipliers)."""
    days = year_days(year)
    profile = daily_profile(days)
    months = _month_matrix(days)
    normal = profile @ months
    rows_out: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for start in range(0, idx.shape[0], CHUNK):  # blocks bound the memory at a million enterprises
        hit = day_factors(events, idx[start : start + CHUNK], days, kind)
        if hit is not None:
            rows_out.append(hit[0] + start)
            values.append((hit[1] * profile) @ months / normal)
    if not rows_out:
        return None
    return np.concatenate(rows_out), np.concatenate(values)


def annual_share(events: list[Event], idx: np.ndarray, year: int, kind: str = "output") -> np.ndarray:
    """Share of a normal year each enterprise of `idx` keeps after the year's events (1 = none)."""
    out = np.ones(idx.shape[0])
    hit = month_factors(events, idx, year, kind)
    if hit is None:
        return out
    rows, factors = hit
    days = year_days(year)
    weights = daily_profile(days) @ _month_matrix(days)
    out[rows] = factors @ (weights / weights.sum())
    return out


def manifest_entry(
    ev: Event, credit_code: np.ndarray, county: np.ndarray, province_wide: int
) -> dict[str, object]:
    """The event as the manifest lists it (key ``events``)."""
    spec = ev.spec
    entry: dict[str, object] = {
        "id": spec.id,
        "kind": spec.kind,
        "title": spec.title,
        "start": spec.start.isoformat(),
        "end": spec.end.isoformat(),
        "cities": [c + "00" for c in spec.cities] or ["330000"],
        "counties": sorted(set(county[ev.who].tolist())) if spec.cities else [],
        "sectors": list(spec.sectors),
        "depth": spec.depth,
        "depth_basis": spec.depth_basis,
        "source": spec.source,
        "series": ["monthly", "power", "power-daily"],
        "affected_count": int(ev.who.shape[0]) if spec.cities else province_wide,
    }
    if spec.cities:
        entry["affected_credit_codes"] = credit_code[ev.who].tolist()
    else:
        entry["affected_credit_codes"] = None
        entry["affected_rule"] = "every enterprise operating in 2020 (calendar profile)"
    if ev.classes is not None:
        entry["affected_by_class"] = {
            c: credit_code[ev.who[ev.classes == c]].tolist() for c in sorted(set(ev.classes.tolist()))
        }
    return entry
