"""Development zones, high-tech zones, special towns and small-and-micro parks (园区) and their
member enterprises (入驻企业), for the parks evaluation (DOMAIN.md §3, §9).

The 经信 department keeps the park list (开发区（园区）名录: id, name, kind, county, star,
area) and the membership list (园区入驻企业名单) each year. Counts at full scale, by kind:

- 经开区 82 and 高新区 48 (project assumption: Zhejiang's national and provincial zones after
  the 2020 consolidation, order of magnitude); they hold about 54% of the 规上 industrial
  enterprises, the larger ones more often, a share tuned so that they hold about 64% of 规上
  value added (the 省商务厅 reported 64.3% in 经济开发区 in 2019 H1, :mod:`.calibration`);
  高新区 also take information and research services.
- 特色小镇 110 (assumption), each about 4,500 亩 (3 km², the provincial planning norm as the
  project understands it: assumption), members mostly services (I, M, L, R) and some makers.
- 小微企业园: 1,000 in 2019, 1,200 in 2020 and 1,400 in 2021, +200 a year after (the 2021
  work plan: 200 new parks in 2021, the 1,200 target met; earlier years are assumptions), each
  with ~25 small members (规下, tenants first: they rent the park's standard factory units).
  Stars (0 = not rated): a park is not rated in its first year (温州 gives new parks a
  transition period, DOMAIN §9); of the rated, the best reach 4 or 5 stars up to the four-star
  count (100 in 2021, the work plan's target; 40 in 2019 and 70 in 2020 are assumptions), the
  next 20% 3 stars, 30% 2 stars and the rest 1 star (assumption; thresholds are unpublished).

At scale ``s`` < 1 (:mod:`.calibration`) small parks and four-star counts scale by ``s`` and
zones and towns by ``√s`` (at least one each), so a small province still has zones in a good
share of its counties and enough members per zone to be evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jingxin import reference
from jingxin.synth.population import BRAND_CHARS, Population, county_weights, short_name
from jingxin.synth.streams import Streams

KINDS = ("经开区", "高新区", "特色小镇", "小微企业园")
ZONE_COUNTS = {"经开区": 82, "高新区": 48, "特色小镇": 110}
ID_PREFIX = {"经开区": "KF", "高新区": "GX", "特色小镇": "TS", "小微企业园": "XW"}
ZONE_SHARE = 0.54  # of 规上 industry inside a 经开区 or 高新区 (tuned to the 64.3% of value added)
SMALL_PARKS_2021 = 1_400
SMALL_PARKS_PER_YEAR = 200
FOUR_STAR = {2019: 40, 2020: 70, 2021: 100}
MEMBERS_PER_SMALL_PARK = 25
TOWN_AREA_MU = 4_500.0
ZONE_LAND_USE = 0.6  # share of a zone's area that is its members' industrial land (assumption)
TOWN_THEMES = np.array(["智造", "数字", "基金", "云栖", "梦想", "丝绸", "袜艺", "青瓷", "时尚", "健康"])
HIGH_TECH_DIVISIONS = (27, 35, 38, 39, 40, 63, 64, 65, 73, 74, 75)


@dataclass
class Parks:
    """Parks (one element per park) and memberships (one per enterprise and park)."""

    park_id: np.ndarray
    name: np.ndarray
    kind: np.ndarray
    county: np.ndarray
    area_mu: np.ndarray
    start_year: np.ndarray  # first year the park exists
    quality: np.ndarray  # latent, drives stars
    member_enterprise: np.ndarray  # int index into the population
    member_park: np.ndarray  # int index into the parks

    @property
    def n(self) -> int:
        return int(self.park_id.shape[0])

    def exists(self, year: int) -> np.ndarray:
        return self.start_year <= year

    def stars(self, year: int, scale: float) -> np.ndarray:
        """Star rating (星级, 0–5) of every park in `year`; only 小微企业园 are rated."""
        out = np.zeros(self.n, dtype=np.int64)
        rated = np.flatnonzero((self.kind == "小微企业园") & (self.start_year < year))
        if not rated.size:
            return out
        order = rated[np.argsort(-self.quality[rated], kind="stable")]
        four = FOUR_STAR.get(year, FOUR_STAR[2021] + 30 * (year - 2021) if year > 2021 else 0)
        n4 = min(order.shape[0], int(round(four * scale)))
        n3 = int(round(0.2 * order.shape[0]))
        n2 = int(round(0.3 * order.shape[0]))
        out[order[:n4]] = 4
        out[order[: int(round(0.2 * n4))]] = 5
        out[order[n4 : n4 + n3]] = 3
        out[order[n4 + n3 : n4 + n3 + n2]] = 2
        out[order[n4 + n3 + n2 :]] = 1
        return out


def small_park_count(year: int) -> int:
    """小微企业园 in the province in `year` (1,400 in 2021, ±200 a year: see the module note)."""
    return max(0, SMALL_PARKS_2021 + SMALL_PARKS_PER_YEAR * (year - 2021))


def _names(kind: str, county: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    short = {c.code: short_name(c.name) for c in reference.counties()}
    place = np.array([short[c] for c in county.tolist()]) if county.size else np.array([], dtype="<U4")
    brand = np.strings.add(
        BRAND_CHARS[rng.integers(0, BRAND_CHARS.shape[0], county.shape[0])],
        BRAND_CHARS[rng.integers(0, BRAND_CHARS.shape[0], county.shape[0])],
    )
    if kind == "经开区":
        return np.strings.add(np.strings.add(place, brand), "经济开发区")
    if kind == "高新区":
        return np.strings.add(np.strings.add(place, brand), "高新技术产业园区")
    if kind == "特色小镇":
        theme = TOWN_THEMES[rng.integers(0, TOWN_THEMES.shape[0], county.shape[0])]
        return np.strings.add(np.strings.add(place, brand), np.strings.add(theme, "小镇"))
    return np.strings.add(np.strings.add(place, brand), "小微企业园")


def _pick_counties(
    count: int, weights: np.ndarray, codes: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """`count` county codes, distinct while there are counties left, weighted."""
    picked: list[np.ndarray] = []
    left = count
    while left > 0:
        take = min(left, codes.shape[0])
        picked.append(codes[rng.choice(codes.shape[0], take, replace=False, p=weights)])
        left -= take
    return np.concatenate(picked) if picked else np.array([], dtype=codes.dtype)


def build_parks(pop: Population, land: np.ndarray, scale: float, streams: Streams) -> Parks:
    """Draw the parks and their members for the generated years."""
    rng = streams("parks")
    counties = reference.counties()
    codes = np.array([c.code for c in counties])
    weights = county_weights(counties)
    root = min(1.0, np.sqrt(scale))
    last = pop.years[-1]

    kinds: list[np.ndarray] = []
    county: list[np.ndarray] = []
    start: list[np.ndarray] = []
    for zone_kind, full in ZONE_COUNTS.items():
        k = max(1, int(round(full * root)))
        w = weights if zone_kind != "特色小镇" else county_weights(counties, "services")
        county.append(_pick_counties(k, w, codes, rng))
        kinds.append(np.full(k, zone_kind))
        start.append(np.full(k, min(pop.years[0], 2015)))
    n_small = max(1, int(round(small_park_count(last) * scale)))
    small_below = np.bincount(
        np.searchsorted(codes, pop.county_code[~pop.above_scale]), minlength=codes.shape[0]
    ).astype(float)
    small_w = (small_below + 1) / (small_below + 1).sum()
    county.append(codes[rng.choice(codes.shape[0], n_small, p=small_w)])
    kinds.append(np.full(n_small, "小微企业园"))
    # Opening years: the count of each year, as in small_park_count, scaled; earliest before 2019.
    per_year = [max(0, int(round(small_park_count(y) * scale))) for y in range(pop.years[0], last + 1)]
    opened = np.full(n_small, min(pop.years[0], 2016))
    order = rng.permutation(n_small)
    for offset, count in enumerate(per_year):
        opened[order[count:]] = pop.years[0] + offset + 1
    start.append(opened)

    kind = np.concatenate(kinds)
    park_county = np.concatenate(county).astype("<U6")
    start_year = np.concatenate(start)
    n_parks = kind.shape[0]
    serial = np.zeros(n_parks, dtype=np.int64)
    seen: dict[tuple[str, str], int] = {}
    for i, (k, c) in enumerate(zip(kind.tolist(), park_county.tolist(), strict=True)):  # ≤ ~2,000 parks
        seen[(k, c)] = seen.get((k, c), 0) + 1
        serial[i] = seen[(k, c)]
    prefix = np.array([ID_PREFIX[k] for k in kind.tolist()])
    park_id = np.strings.add(np.strings.add(prefix, park_county), np.strings.zfill(serial.astype("U3"), 3))
    name = np.empty(n_parks, dtype="<U24")
    for park_kind in KINDS:
        rows = np.flatnonzero(kind == park_kind)
        name[rows] = _names(park_kind, park_county[rows], rng)

    members_e, members_p = _members(pop, kind, park_county, land, rng)
    area = _areas(kind, members_e, members_p, land, n_parks, rng)
    return Parks(
        park_id=park_id,
        name=name,
        kind=kind,
        county=park_county,
        area_mu=area,
        start_year=start_year,
        quality=np.asarray(rng.normal(0, 1, n_parks)),
        member_enterprise=members_e,
        member_park=members_p,
    )


def _choose_park(
    candidates: np.ndarray, ent_county: np.ndarray, parks_of: dict[str, np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate enterprise, one park of its county (uniformly); drops those without."""
    e_out, p_out = [], []
    for c, parks in parks_of.items():  # ≤ 90 counties
        here = candidates[ent_county[candidates] == c]
        if here.size:
            e_out.append(here)
            p_out.append(parks[rng.integers(0, parks.shape[0], here.shape[0])])
    if not e_out:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    return np.concatenate(e_out), np.concatenate(p_out)


def _members(
    pop: Population, kind: np.ndarray, park_county: np.ndarray, land: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    ent_county = pop.county_code
    out_e: list[np.ndarray] = []
    out_p: list[np.ndarray] = []

    def parks_by_county(*kinds: str) -> dict[str, np.ndarray]:
        rows = np.flatnonzero(np.isin(kind, kinds))
        return {c: rows[park_county[rows] == c] for c in np.unique(park_county[rows]).tolist()}

    # Zones: 规上 industry at ZONE_SHARE of the province where the counties allow it.
    zones = parks_by_county("经开区", "高新区")
    industrial = ~pop.services
    in_zone_county = np.isin(ent_county, list(zones))
    above = pop.above_scale & industrial
    p_above = min(0.95, ZONE_SHARE * above.sum() / max(1, (above & in_zone_county).sum()))
    high_tech = np.isin(pop.division, HIGH_TECH_DIVISIONS)
    # Bigger plants sit in zones more often (0.7× to 1.3× by size rank among 规上 industry).
    rank = np.zeros(pop.n)
    rank[np.flatnonzero(above)] = np.argsort(np.argsort(pop.base_revenue[above])) / max(1, above.sum() - 1)
    sized = np.minimum(0.98, p_above * (0.7 + 0.6 * rank))
    prob = np.where(above, sized, np.where(industrial, p_above * 0.35, np.where(high_tech, 0.4, 0.0)))
    # High-tech services go to a 高新区 when their county has one.
    draw = rng.random(pop.n) < prob
    gx = parks_by_county("高新区")
    svc = np.flatnonzero(draw & pop.services & np.isin(ent_county, list(gx)))
    e, p = _choose_park(svc, ent_county, gx, rng)
    out_e.append(e)
    out_p.append(p)
    e, p = _choose_park(np.flatnonzero(draw & industrial), ent_county, zones, rng)
    out_e.append(e)
    out_p.append(p)

    # Special towns: services of I, L, M, R and a few makers, ~30 members a town at full scale.
    towns = parks_by_county("特色小镇")
    town_svc = pop.services & np.isin(pop.division, [63, 64, 65, 71, 72, 73, 74, 75, 86, 87, 88, 89, 90])
    t_prob = np.where(town_svc, 0.25, np.where(industrial, 0.02, 0.0))
    e, p = _choose_park(np.flatnonzero(rng.random(pop.n) < t_prob), ent_county, towns, rng)
    out_e.append(e)
    out_p.append(p)

    # Small-and-micro parks: 规下 industrial of the county, tenants first.
    small = np.flatnonzero(kind == "小微企业园")
    below = np.flatnonzero(industrial & ~pop.above_scale)
    priority = rng.random(below.shape[0]) + (land[below] == 0) * 1.0 + (land[below] < 10) * 0.5
    below = below[np.argsort(-priority, kind="stable")]
    for c in np.unique(park_county[small]).tolist():  # ≤ 90 counties
        parks = small[park_county[small] == c]
        pool = below[ent_county[below] == c]
        want = rng.poisson(MEMBERS_PER_SMALL_PARK, parks.shape[0])
        take = min(int(want.sum()), pool.shape[0])
        if take:
            out_e.append(pool[:take])
            out_p.append(np.repeat(parks, want)[:take])
    return np.concatenate(out_e).astype(np.int64), np.concatenate(out_p).astype(np.int64)


def _areas(
    kind: np.ndarray,
    members_e: np.ndarray,
    members_p: np.ndarray,
    land: np.ndarray,
    n_parks: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """占地面积 (亩): zones from their members' land, towns ~3 km², small parks their members'
    land plus ~3 亩 of standard factory floor per tenant (assumptions, see the module note)."""
    member_land = np.bincount(members_p, weights=land[members_e], minlength=n_parks)
    tenants = np.bincount(members_p, weights=(land[members_e] == 0).astype(float), minlength=n_parks)
    zone = np.maximum(member_land / ZONE_LAND_USE, 500.0) * rng.uniform(1.0, 1.5, n_parks)
    town = TOWN_AREA_MU * rng.uniform(0.6, 1.3, n_parks)
    small = np.maximum(member_land + 3.0 * tenants, 20.0) * rng.uniform(1.1, 1.4, n_parks)
    area = np.where(kind == "特色小镇", town, np.where(kind == "小微企业园", small, zone))
    return np.round(area, 2)
