"""Who is evaluated, as what unit, with which facts (评价对象与基础数据).

The warehouse holds facts by source and period; an evaluation needs one row per evaluation unit
with the year's facts side by side. This module builds that table with Ibis, materialising a
few intermediate stages (`stage`) so that each query plan stays small:

- facts are the live rows (`Warehouse.current`: superseded batches left out), or exactly the
  batches a past run recorded (`batches=`), so a run can be recomputed; where two live batches
  give the same key, the later batch wins;
- enterprises sharing a parcel (宗地) are merged into one unit that shares one result, led by its
  main enterprise (主体企业: the holder of the land-use right, or the largest by revenue, as the
  system says): the unit id is the lead's credit code and its name, county, industry and scale
  are the lead's; its land is the sum of its distinct parcels (a shared parcel counted once, at
  its largest recorded area), its facts the sums of its members';
- the population rules (规上/规下, land, industries, 未投产) apply to units; enterprises that
  cannot qualify are dropped before the fact joins (unless a shared parcel ties them to others);
- park master data (`parks`) and membership (`park_members`) are ingested sources with
  lineage, read for the evaluation year (or the latest earlier year present). For park systems
  the unit is a park and its facts are sums over its member enterprises, so every ratio
  indicator is sum-over-sum (合计口径); enterprise systems may take members of rated parks in
  whatever their land (`Population.parks`), those without land of their own as tenants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import ibis
import ibis.expr.datatypes as idt
import pyarrow as pa

from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.config import Population, System
from jingxin.evaluation.formula import FACT_COLUMNS
from jingxin.evaluation.reuse import decision
from jingxin.evaluation.staging import COLLECTED, memtable, stage

YEARLY_SOURCES: dict[str, tuple[str, ...]] = {
    "tax": ("tax_paid",),
    "statistics": ("above_scale", "value_added", "revenue", "rd_expense", "employees", "college_staff"),
    "energy": ("energy_tce",),
    "discharge": ("discharge_t",),
}
FACT_TABLES = ("registry", "land", "tax", "statistics", "energy", "discharge", "power_monthly")
SUM_COLUMNS = tuple(c for c in FACT_COLUMNS if c != "area_mu")

Batches = Mapping[str, Sequence[int]]

# Optional inputs of the evaluation (not departmental contracts): created empty when missing.
INPUT_SCHEMAS: dict[str, ibis.Schema] = {
    "sublets": ibis.schema({"credit_code": "string", "year": "int32", "tenants": "int64"}),
    "vetoes": ibis.schema({"credit_code": "string", "year": "int32", "class": "string", "reason": "string"}),
}

PARK_SCHEMAS: dict[str, ibis.Schema] = {
    "parks": ibis.schema(
        {
            "batch_id": "int64",
            "source_row": "int64",
            "park_id": "string",
            "park_name": "string",
            "kind": "string",
            "division_code": "string",
            "star": "int64",
            "area_mu": "float64",
            "year": "int32",
        }
    ),
    "park_members": ibis.schema(
        {
            "batch_id": "int64",
            "source_row": "int64",
            "credit_code": "string",
            "park_id": "string",
            "year": "int32",
        }
    ),
}
"""Park master data (source `parks`) and membership (source `park-members`), ingested through
`core/contracts.yaml` like every departmental file; the columns the evaluation reads."""
PARK_TABLES = tuple(PARK_SCHEMAS)
LEASED = "租赁"
"""Land acquired by lease (`land.acquisition`): its user is not the holder of the land right."""


@dataclass(frozen=True)
class Units:
    """`units`: one row per evaluation unit; `members`: credit_code → unit_id for every
    enterprise that shares a unit's result (for parks, the park's member enterprises)."""

    units: ibis.Table
    members: ibis.Table


def live(wh: Warehouse, name: str, batches: Batches | None = None) -> ibis.Table:
    """Fact rows of `name`: the live ones, or exactly the batches given for that table."""
    if batches is not None and name in batches:
        table = wh.table(name)
        ids = [int(b) for b in batches[name]]
        return table.filter(table.batch_id.isin(ids)) if ids else table.limit(0)
    return wh.current(name)


@dataclass(frozen=True)
class Facts:
    """A fact table as read for an evaluation: its key and, when it has one, its period column."""

    table: ibis.Table
    keys: tuple[str, ...]
    period: str | None = None


def _candidate_batches(wh: Warehouse, tables: Sequence[str], batches: Batches | None) -> dict[str, set[int]]:
    """Live (or pinned) batch ids per fact table, from the small `batches` registry.

    A batch's `source` is a contract source id (e.g. ``power`` for table ``power_monthly``)
    or the table name itself.
    """
    if batches is not None:
        return {t: {int(b) for b in batches.get(t, ())} for t in tables}
    from jingxin.core.contracts import load_contracts

    table_of = {sid: src.table for sid, src in load_contracts().sources.items()}
    reg = wh.table("batches")
    rows = wh.to_pyarrow(reg.filter(reg.superseded_by.isnull()).select("source", "batch_id")).to_pylist()
    out: dict[str, set[int]] = {t: set() for t in tables}
    for row in rows:
        table = table_of.get(row["source"], row["source"])
        if table in out:
            out[table].add(int(row["batch_id"]))
    return out


@decision
def crowded_periods(
    wh: Warehouse, facts: Mapping[str, Facts], batches: Batches | None = None
) -> dict[str, list[str] | None]:
    """Per fact table, the periods (as text) with more than one live batch; None when a table
    without a period has several live batches (all of it needs deduplication).

    Two live batches can only repeat a key when they cover the same period (a file never
    repeats a key). A table with a single live batch needs no look at its rows at all; for
    the others one small query over their rows answers it, so in the usual case (one batch per
    period) the facts are read untouched. The batch ids are recorded (`collecting`) as the
    lineage of the evaluation. A `decision`: a kept build is reused while the answer is the
    same, whatever new batches for other periods came in (`reuse`).
    """
    collected = COLLECTED.get()
    candidates = _candidate_batches(wh, list(facts), batches)
    parts = []
    for name, f in facts.items():
        if len(candidates[name]) == 1:
            if collected is not None:
                collected.batches.setdefault(name, set()).update(candidates[name])
            continue
        period = f.table[f.period].cast("string") if f.period else ibis.literal("")
        parts.append(
            f.table.select(src=ibis.literal(name), period=period, batch_id=f.table.batch_id).distinct()
        )
    seen = (
        wh.to_pyarrow(parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]).to_pylist() if parts else []
    )
    counts: dict[tuple[str, str], int] = {}
    for row in seen:
        key = (row["src"], row["period"])
        counts[key] = counts.get(key, 0) + 1
        if collected is not None:
            collected.batches.setdefault(row["src"], set()).add(int(row["batch_id"]))
    out: dict[str, list[str] | None] = {}
    for name, f in facts.items():
        crowded = sorted(p for (src, p), n in counts.items() if src == name and n > 1)
        out[name] = None if (crowded and f.period is None) else crowded
    return out


def latest(f: Facts, crowded: list[str] | None) -> ibis.Table:
    """One row per key: the row of the latest batch (a correction loaded later wins), only
    where `crowded_periods` found overlapping batches. The dedup is an aggregate and a semi
    join: a ROW_NUMBER window would sort the whole payload."""
    table, keys = f.table, list(f.keys)
    if crowded == []:
        return table
    part = table if crowded is None else table.filter(table[f.period].cast("string").isin(crowded))
    newest = part.group_by(keys).aggregate(__newest=part.batch_id.max())
    newest = newest.rename({f"__k_{k}": k for k in keys})
    pred = [part[k] == newest[f"__k_{k}"] for k in keys] + [part.batch_id == newest.__newest]
    deduped = part.semi_join(newest, pred)
    if crowded is None:
        return deduped
    return table.filter(~table[f.period].cast("string").isin(crowded)).union(deduped)


def optional_input(wh: Warehouse, name: str) -> ibis.Table:
    """An optional input table, or an empty one of its schema when the warehouse has none."""
    if wh.has_table(name):
        return wh.table(name)
    return memtable(INPUT_SCHEMAS[name].to_pyarrow().empty_table())


def attach(left: ibis.Table, right: ibis.Table, key: str = "credit_code") -> ibis.Table:
    """`left` LEFT JOIN `right` on `key`, keeping one key column."""
    return attach_all(left, [right], key)


def attach_all(left: ibis.Table, rights: Sequence[ibis.Table], key: str = "credit_code") -> ibis.Table:
    """`left` LEFT JOIN each of `rights` on `key`, keeping one key column.

    Why one chain: an `attach` ends with a projection of every column, and Ibis dereferences the
    next join through it; chained, the joins build about three times faster (wide fact tables
    make this a tenth of a second of Python per evaluation at any size).
    """
    out = left
    for n, right in enumerate(rights):
        r = right.rename({f"__key{n}": key})
        out = out.left_join(r, out[key] == r[f"__key{n}"])
    return out.drop(*[f"__key{n}" for n in range(len(rights))])


@lru_cache(maxsize=1)
def _section_divisions() -> dict[str, tuple[str, ...]]:
    from jingxin.reference import industries

    out: dict[str, list[str]] = {}
    for item in industries():
        if item.level == "division":
            out.setdefault(item.section, []).append(item.code)
    return {k: tuple(v) for k, v in out.items()}


def industry_filter(industry_code: ibis.StringValue, selectors: Sequence[str]) -> ibis.BooleanValue:
    """True where the industry code matches any selector (C, 13, F51, K7010, see Population)."""
    divisions: set[str] = set()
    prefixes: set[str] = set()
    for sel in selectors:
        digits = sel.lstrip("ABCDEFGHIJKLMNOPQRST")
        if not digits:
            divisions.update(_section_divisions().get(sel, ()))
        elif len(digits) == 2:
            divisions.add(digits)
        else:
            prefixes.add(digits)
    cond: ibis.BooleanValue = ibis.literal(False)
    if divisions:
        cond = cond | industry_code.substr(0, 2).isin(sorted(divisions))
    for prefix in sorted(prefixes):
        cond = cond | industry_code.startswith(prefix)
    return cond.fill_null(False)


@dataclass(frozen=True)
class Enterprises:
    """The enterprises an evaluation may need, with the year's facts (`table`), their parcels
    (`land`) and the (credit_code, parcel_id) links of parcels used by several (`shared`)."""

    table: ibis.Table
    land: ibis.Table
    shared: ibis.Table | None


def _industry_rule(industry_code: ibis.StringValue, pop: Population) -> ibis.BooleanValue:
    cond: ibis.BooleanValue = ibis.literal(True)
    if pop.include:
        cond = cond & industry_filter(industry_code, pop.include)
    if pop.exclude:
        cond = cond & ~industry_filter(industry_code, pop.exclude)
    return cond


def enterprise_facts(
    wh: Warehouse,
    year: int,
    population: Population,
    prefix: str = "",
    batches: Batches | None = None,
) -> Enterprises:
    """One row per live enterprise with the year's facts, and its parcels.

    Enterprises whose status is excluded (吊销, 注销, 迁出) are left out before anything else;
    `prefix` limits the computation to a division (the caller decides when that is safe).
    Enterprises that cannot be in the population (wrong industry or scale) are left out before
    the fact joins, unless they share a parcel (then their unit decides): in a real registry
    most entities are not 规上 manufacturers, so this is most of the work saved.
    """
    power = live(wh, "power_monthly", batches)
    power = power.filter((power.month >= dt.date(year, 1, 1)) & (power.month < dt.date(year + 1, 1, 1)))
    facts = {
        "registry": Facts(live(wh, "registry", batches), ("credit_code",)),
        "land": Facts(live(wh, "land", batches), ("credit_code", "parcel_id")),
        "power_monthly": Facts(power, ("credit_code", "month"), "month"),
    }
    for source in YEARLY_SOURCES:
        table = live(wh, source, batches)
        facts[source] = Facts(table.filter(table.year == year), ("credit_code",), "year")
    crowded = crowded_periods(wh, facts, batches)
    read = {name: latest(f, crowded[name]) for name, f in facts.items()}

    reg = read["registry"]
    if population.excluded_statuses:
        reg = reg.filter(reg.status.isnull() | ~reg.status.isin(population.excluded_statuses))
    if prefix:
        reg = reg.filter(reg.county_code.startswith(prefix))
    land = read["land"].semi_join(reg.select("credit_code"), "credit_code")
    land = stage(land.select("credit_code", "parcel_id", "area_mu", "acquisition"))
    shared = None
    ent = reg.select("credit_code", "name", "county_code", "industry_code", "founded_on")
    if population.merge_shared_parcels:
        users = land.group_by("parcel_id").aggregate(users=land.count())  # (code, parcel) is unique
        shared = stage(
            land.semi_join(users.filter(users.users > 1), "parcel_id").select("credit_code", "parcel_id")
        )
        flags = shared.select("credit_code").distinct().mutate(on_shared=ibis.literal(True))
        ent = attach(ent, flags).mutate(on_shared=ibis._.on_shared.fill_null(False))
    else:
        ent = ent.mutate(on_shared=ibis.literal(False))
    if population.include or population.exclude:
        ent = ent.filter(_industry_rule(ent.industry_code, population) | ent.on_shared)
    ent = attach(ent, read["statistics"].select("credit_code", *YEARLY_SOURCES["statistics"]))
    if population.scale != "all":
        above = ent.above_scale.fill_null(False)
        ent = ent.filter((above if population.scale == "above" else ~above) | ent.on_shared)
    power = read["power_monthly"].semi_join(ent.select("credit_code"), "credit_code")
    yearly = [read[s].select("credit_code", *cols) for s, cols in YEARLY_SOURCES.items() if s != "statistics"]
    ent = attach_all(ent, [*yearly, power.group_by("credit_code").aggregate(kwh=power.kwh.sum())])
    if population.parks is not None:
        rated = rated_park_members(wh, year, population, batches)
        ent = attach(ent, rated).mutate(in_rated_park=ibis._.in_rated_park.fill_null(False))
    else:
        ent = ent.mutate(in_rated_park=ibis.literal(False))
    return Enterprises(ent, land, shared)


def _labels(links: ibis.Table, rounds: int) -> ibis.Table:
    """credit_code → label (smallest credit code reachable through shared parcels), for the
    enterprises on shared parcels only: the propagation joins run over that small subgraph."""
    label = links.group_by("credit_code").aggregate(label=links.credit_code.min())
    for _ in range(rounds):
        by_parcel = links.join(label, "credit_code")
        parcel = by_parcel.group_by("parcel_id").aggregate(label=by_parcel.label.min())
        by_ent = links.join(parcel, "parcel_id")
        label = by_ent.group_by("credit_code").aggregate(label=by_ent.label.min())
    return label


def _lead_order(ent: ibis.Table, rule: str) -> list[ibis.Value]:
    """Order of the members of a merged unit, its main enterprise (主体企业) first."""
    right = ent.right_mu.fill_null(0)
    revenue = ent.revenue.fill_null(0)
    if rule == "revenue":
        return [ibis.desc(revenue), ibis.desc(right), ent.credit_code]
    return [ibis.desc(right), ibis.desc(revenue), ent.credit_code]


def _with_leads(ent: ibis.Table, land: ibis.Table, shared: ibis.Table | None, pop: Population) -> ibis.Table:
    """`unit_id` per enterprise: its own code, or its unit's main enterprise's code when it
    shares a parcel (merged units: the component of the parcel links, `_labels`)."""
    if shared is None:
        return ent.mutate(unit_id=ent.credit_code)
    label = _labels(shared, pop.merge_rounds)
    owned = land.filter(land.acquisition.isnull() | (land.acquisition != LEASED))
    right = owned.group_by("credit_code").aggregate(right_mu=owned.area_mu.sum())
    merged = attach_all(ent.select("credit_code", "revenue").semi_join(label, "credit_code"), [label, right])
    rn = ibis.row_number().over(group_by="label", order_by=_lead_order(merged, pop.unit_lead))
    leads = merged.mutate(__rn=rn).filter(ibis._.__rn == 0).select("label", lead=ibis._.credit_code)
    lead_of = label.join(leads, "label").select("credit_code", "lead")
    return attach(ent, lead_of).mutate(unit_id=ibis.coalesce(ibis._.lead, ibis._.credit_code)).drop("lead")


def build_units(
    wh: Warehouse, system: System, year: int, prefix: str = "", batches: Batches | None = None
) -> Units:
    """Evaluation units of `system` for `year` with their facts, population rules applied."""
    pop = system.population
    found = enterprise_facts(wh, year, pop, prefix, batches)
    ent, land = found.table, found.land
    if pop.level == "park":
        return _park_units(wh, ent.drop("on_shared", "in_rated_park"), land, pop, year, batches)
    ent = stage(_with_leads(ent.drop("on_shared"), land, found.shared, pop))
    members = ent.select("credit_code", "unit_id", "name")
    parcels = land.join(members.select("credit_code", "unit_id"), "credit_code")
    unit_land = (
        parcels.group_by(["unit_id", "parcel_id"])
        .aggregate(area=parcels.area_mu.max())
        .group_by("unit_id")
        .aggregate(land_mu=ibis._.area.sum())
    )
    sums = {c: ent[c].sum() for c in SUM_COLUMNS}
    agg = ent.group_by("unit_id").aggregate(
        member_count=ent.credit_code.count(),
        in_rated_park=ibis.ifelse(ent.in_rated_park, 1, 0).max() == 1,
        **sums,
    )
    lead = ent.filter(ent.credit_code == ent.unit_id).select(
        "unit_id", "name", "county_code", "industry_code", "founded_on", "above_scale"
    )
    units = attach_all(lead, [agg, unit_land], "unit_id")
    units = _with_codes(units)
    no_land = units.land_mu.fill_null(0) <= 0
    units = units.mutate(tenant=units.in_rated_park & no_land)
    keep = _population_filter(units, pop, year)
    if pop.parks is not None:  # members of rated parks are in whatever their land
        keep = keep | (_population_filter(units, pop, year, land=False) & units.in_rated_park)
        if pop.tenants == "exclude":
            keep = keep & ~units.tenant
    units = stage(units.filter(keep))
    return Units(units=units, members=stage(members.semi_join(units.select("unit_id"), "unit_id")))


def _with_codes(units: ibis.Table) -> ibis.Table:
    return units.mutate(
        city_code=units.county_code.substr(0, 4).concat("00"),
        division_code=units.industry_code.substr(0, 2).fill_null(""),
        above_scale=units.above_scale.fill_null(False),
    )


def _population_filter(units: ibis.Table, pop: Population, year: int, land: bool = True) -> ibis.BooleanValue:
    """The population rules as one condition; `land=False` leaves the land rules to the caller
    (parks apply them to the park, not to each member)."""
    cond: ibis.BooleanValue = ibis.literal(True)
    if pop.scale == "above":
        cond = cond & units.above_scale
    elif pop.scale == "below":
        cond = cond & ~units.above_scale
    if land and pop.require_land:
        cond = cond & (units.land_mu.fill_null(0) > 0)
    if land and pop.min_land_mu > 0:
        cond = cond & (units.land_mu.fill_null(0) >= pop.min_land_mu)
    if "industry_code" in units.columns and (pop.include or pop.exclude):
        cond = cond & _industry_rule(units.industry_code, pop)
    if "founded_on" in units.columns:
        founded = units.founded_on
        cond = cond & (founded.isnull() | (founded <= dt.date(year, 12, 31)))
        if pop.not_producing.exclude:
            idle = (units.revenue.fill_null(0) <= 0) & (units.tax_paid.fill_null(0) <= 0)
            young = founded >= dt.date(year - pop.not_producing.grace_years + 1, 1, 1)
            cond = cond & ~(idle & young.fill_null(False))
    return cond


def _year_facts(
    wh: Warehouse, name: str, year: int, keys: tuple[str, ...], batches: Batches | None
) -> Facts | None:
    """The rows of a yearly master table for `year`, or for the latest earlier year it has
    (park master data and membership are not re-sent every year); None when there are none."""
    if not wh.has_table(name):
        return None
    table = live(wh, name, batches)
    found = wh.execute(table.filter(table.year <= year).year.max())
    if found is None or (isinstance(found, float) and found != found):
        return None
    return Facts(table.filter(table.year == int(found)), keys, "year")


def park_tables(wh: Warehouse, year: int, batches: Batches | None = None) -> tuple[ibis.Table, ibis.Table]:
    """(parks, members) of `year`: park_id, park_name, kind, county_code, star, park_area_mu;
    credit_code, park_id. Empty when the sources were never ingested. Batches are recorded
    as the run's lineage (`collecting`)."""
    facts = {
        "parks": _year_facts(wh, "parks", year, ("park_id",), batches),
        "park_members": _year_facts(wh, "park_members", year, ("credit_code", "park_id"), batches),
    }
    if any(f is None for f in facts.values()):
        empty_parks = memtable(
            pa.table(
                {
                    "park_id": [],
                    "park_name": [],
                    "kind": [],
                    "county_code": [],
                    "star": [],
                    "park_area_mu": [],
                },
                schema=pa.schema(
                    [
                        ("park_id", pa.string()),
                        ("park_name", pa.string()),
                        ("kind", pa.string()),
                        ("county_code", pa.string()),
                        ("star", pa.int64()),
                        ("park_area_mu", pa.float64()),
                    ]
                ),
            )
        )
        empty_members = memtable(
            pa.table(
                {"credit_code": [], "park_id": []},
                schema=pa.schema([("credit_code", pa.string()), ("park_id", pa.string())]),
            )
        )
        return empty_parks, empty_members
    present = {k: f for k, f in facts.items() if f is not None}
    crowded = crowded_periods(wh, present, batches)
    parks = latest(present["parks"], crowded["parks"])
    members = latest(present["park_members"], crowded["park_members"])
    parks = parks.select(
        "park_id",
        "park_name",
        "kind",
        county_code=parks.division_code.cast("string"),
        star=parks.star.cast("int64").fill_null(0),
        park_area_mu=parks.area_mu.cast("float64"),
    )
    members = members.select("credit_code", "park_id").distinct()
    return parks, members


def rated_park_members(wh: Warehouse, year: int, pop: Population, batches: Batches | None) -> ibis.Table:
    """credit_code, in_rated_park (True) of the enterprises in a park of `pop.parks`' kinds
    with at least its stars (4-star-and-above 小微企业园 by default)."""
    assert pop.parks is not None
    parks, members = park_tables(wh, year, batches)
    rated = parks.filter(parks.kind.isin(list(pop.parks.kinds)) & (parks.star >= pop.parks.min_star))
    inside = members.semi_join(rated, "park_id")
    return inside.select("credit_code").distinct().mutate(in_rated_park=ibis.literal(True))


def _park_units(
    wh: Warehouse, ent: ibis.Table, land: ibis.Table, pop: Population, year: int, batches: Batches | None
) -> Units:
    """Parks as units: members' facts summed, land over the members' distinct parcels; name,
    kind and county from the park master data (a park without master data: its members' most
    frequent county)."""
    ent = _with_codes(ent)
    ent = stage(ent.filter(_population_filter(ent, pop, year, land=False)))
    parks, members = park_tables(wh, year, batches)
    inside = ent.join(members, "credit_code")
    sums = {c: inside[c].sum() for c in SUM_COLUMNS}
    agg = inside.group_by("park_id").aggregate(member_count=inside.credit_code.count(), **sums)
    # fallback county: the county with most members (ties: the smallest code)
    by_county = inside.group_by(["park_id", "county_code"]).aggregate(n=inside.credit_code.count())
    rn = ibis.row_number().over(group_by="park_id", order_by=[ibis.desc(by_county.n), by_county.county_code])
    county = by_county.mutate(rn=rn).filter(ibis._.rn == 0).select("park_id", member_county="county_code")
    parcels = land.join(inside.select("credit_code", "park_id"), "credit_code")
    park_land = (
        parcels.group_by(["park_id", "parcel_id"])
        .aggregate(area=parcels.area_mu.max())
        .group_by("park_id")
        .aggregate(land_mu=ibis._.area.sum())
    )
    master = parks.select("park_id", "park_name", "kind", master_county="county_code")
    units = attach_all(agg, [master, county, park_land], "park_id")
    units = units.rename(unit_id="park_id").mutate(
        name=ibis.coalesce(ibis._.park_name, ibis._.unit_id),
        county_code=ibis.coalesce(ibis._.master_county, ibis._.member_county),
    )
    units = units.drop("park_name", "master_county", "member_county")
    units = units.mutate(
        city_code=units.county_code.substr(0, 4).concat("00"),
        industry_code=ibis.null(idt.string),
        division_code=ibis.null(idt.string),
        above_scale=ibis.literal(False),
        tenant=ibis.literal(False),
    )
    if pop.require_land:
        area = units.land_mu.fill_null(0)
        units = units.filter((area > 0) & (area >= pop.min_land_mu))
    units = stage(units)
    members_out = inside.select("credit_code", "name", unit_id=inside.park_id)
    return Units(units=units, members=stage(members_out.semi_join(units.select("unit_id"), "unit_id")))
