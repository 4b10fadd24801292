"""The enterprise population (企业名录) and its land (用地): who exists, where, in what trade.

Everything else the generator writes hangs off this: every department's file refers to these
enterprises by their unified social credit code (统一社会信用代码), so one population keeps the
files consistent with one another. Enterprises are spread over the 90 county-level units
weighted by how industrial they are (the districts and county-level cities of 杭州, 宁波, 温州,
嘉兴, 湖州, 绍兴, 金华, 台州 heavy; the 山区26县 light), and over the industrial divisions (mining
B, manufacturing C, utilities D) in Zhejiang's proportions (:mod:`.industry`); 35% of the
industrial ones are 规上 (above designated size). A fifth of the registry are 规上 services
enterprises (规模以上服务业), gathered in city districts; 规下 services are not generated (no
evaluation reads them).

Land (用地) follows the 亩均 evaluation's reality: 规上 hold 10–300 亩 typically, 规下 1–30 亩,
some 规下 are tenants with no land record at all, some 规上 hold two parcels, and a few
enterprises share one parcel (共用宗地: same 宗地编号, each row carrying its apportioned area),
which the evaluation merges into one result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jingxin import reference
from jingxin.core import credit_code
from jingxin.synth.industry import INDUSTRIAL, SERVICES, DivisionProfile, division_table
from jingxin.synth.streams import Streams

ABOVE_SCALE_SHARE = 0.35  # of industrial enterprises (project assumption)
# Share of the registry that is 规上 services (project assumption: the province's 规上 services
# are counted at about 0.7 of its 规上 industrial enterprises).
SERVICES_SHARE = 0.2
ABOVE_SCALE_REVENUE = 2000.0  # 万元: the 规上 threshold (年主营业务收入 2000 万元)
TENANT_SHARE = 0.30  # 规下 without own land (租赁厂房)
# Land grows with size less than proportionally (assumption: bigger plants build denser), so 亩均
# figures rise with size, but only as revenue^0.3: a sqrt law would give a 100 亿元 plant 70 times
# the 亩均税收 of a 2,000 万元 one, which no county sees.
LAND_ELASTICITY = 0.7
TWO_PARCEL_SHARE = 0.12  # 规上 holding two parcels
SHARED_PARCEL_SHARE = 0.03  # landholders sharing a parcel with another enterprise

# Cities whose districts and county-level cities carry most of Zhejiang's industry: 杭州, 宁波,
# 温州, 嘉兴, 湖州, 绍兴, 金华 and 台州 (金华's 规上 industry had 6,067 亿元 of revenue in 2021,
# 6.2% of the province: 金华市统计局 via ilynn.cn/document_detail/71563.html; 湖州's textile,
# timber and new-energy industries make it as industrial per county as 嘉兴).
INDUSTRIAL_CITIES = ("3301", "3302", "3303", "3304", "3305", "3306", "3307", "3310")
# 金华's nine county-level units are many small industrial ones: at full industrial weight the
# city would take 11% of the province's 规上 revenue, against the published 6.2% (the factor is
# tuned to it: 6.1% at full scale).
CITY_FACTOR = {"3307": 0.45}
# Hangzhou's central districts: mostly services, fewer factories than the industrial districts
# (but some: research-led plants and the west of 西湖区).
URBAN_CORES = ("330102", "330105", "330106")

ACTIVE_STATUSES = np.array(["存续", "在业", "开业"])
CLOSED_STATUSES = np.array(["注销", "吊销", "停业", "迁出"])
LAND_USES = np.array(["工业用地", "仓储用地"])
ACQUISITIONS = np.array(["出让", "租赁", "划拨", "作价出资", "其他"])

BRAND_CHARS = np.array(
    list("恒华新宏达鑫盛隆泰兴利源通金宇力丰锦诚信德明亿嘉瑞天科创顺发永康海阳光正东方中联云博")
)
NAME_SUFFIXES = np.array(["有限公司", "股份有限公司", "科技有限公司", "制造有限公司"])
SERVICE_SUFFIXES = np.array(["有限公司", "股份有限公司", "集团有限公司"])

# Organisation-code check (组织机构代码, GB 11714) weights, as in credit_code.
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])
_CODE_BYTES = np.frombuffer(credit_code.ALPHABET.encode("ascii"), dtype=np.uint8)
_CODE_WEIGHTS = np.array(credit_code.WEIGHTS)


@dataclass(frozen=True)
class Parcels:
    """Land records (宗地), one row per (enterprise, parcel); `enterprise` indexes the population."""

    enterprise: np.ndarray  # int
    parcel_id: np.ndarray  # 宗地编号, e.g. 330109003012GB00417
    area_mu: np.ndarray  # 亩, this enterprise's (apportioned) area
    land_use: np.ndarray
    acquisition: np.ndarray
    shared: np.ndarray  # bool: the parcel is shared by several enterprises (共用宗地)

    def __len__(self) -> int:
        return int(self.enterprise.shape[0])


@dataclass(frozen=True)
class Population:
    """All enterprises, as parallel numpy arrays (one element per enterprise)."""

    years: tuple[int, ...]
    credit_code: np.ndarray  # U18
    name: np.ndarray
    county_code: np.ndarray  # U6
    industry_code: np.ndarray  # U4, a class (小类) of GB/T 4754-2017
    division: np.ndarray  # int, 13–43
    founded: np.ndarray  # datetime64[D], 成立日期
    status: np.ndarray  # 经营状态
    above_scale: np.ndarray  # bool, 规上 (规上工业 for industry, 规上服务业 for services)
    services: np.ndarray  # bool, a services enterprise (sections G–R), else industrial (B, C, D)
    first_year: np.ndarray  # first year with accounts (the founding year)
    last_year: np.ndarray  # last year with accounts (closed enterprises stop early)
    base_revenue: np.ndarray  # 万元, revenue in the first generated year (before calibration)
    parcels: Parcels

    @property
    def n(self) -> int:
        return int(self.credit_code.shape[0])

    @property
    def industrial_above(self) -> np.ndarray:
        """规上工业: 规上 enterprises of sections B, C and D."""
        return self.above_scale & ~self.services

    def active(self, year: int) -> np.ndarray:
        """Enterprises that operate, and so report, in `year`."""
        return (self.first_year <= year) & (self.last_year >= year)

    def land_area(self) -> np.ndarray:
        """Total land (亩) per enterprise over all its parcels; 0 for tenants."""
        return np.bincount(self.parcels.enterprise, weights=self.parcels.area_mu, minlength=self.n)


def county_weights(counties: list[reference.Division], kind: str = "industry") -> np.ndarray:
    """Relative number of industrial (or, with `kind` "services", 规上 services) enterprises per
    county-level unit (县级单位). Services gather in city districts, Hangzhou's core most."""
    weights = []
    for c in counties:
        if kind == "services":
            w = (
                6.0
                if c.code in URBAN_CORES
                else 3.0
                if c.kind == "市辖区"
                else 1.5
                if c.kind == "县级市"
                else 0.8
            )
            weights.append(w * (0.6 if c.mountain26 else 1.0))
            continue
        if c.mountain26:
            w = 0.4
        elif c.code in URBAN_CORES:
            w = 1.3
        elif c.code[:4] in INDUSTRIAL_CITIES:
            w = 3.0 if c.kind in ("市辖区", "县级市") else 1.6
        else:
            w = 1.5 if c.kind in ("市辖区", "县级市") else 1.0
        weights.append(w * CITY_FACTOR.get(c.code[:4], 1.0))
    arr = np.array(weights)
    return arr / arr.sum()


def short_name(county_name: str) -> str:
    """The name used inside enterprise names: 萧山区 → 萧山, 景宁畲族自治县 → 景宁."""
    if county_name.endswith("自治县"):
        return county_name[:2]
    return county_name[:-1] if len(county_name) > 2 else county_name


def credit_codes(division_codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unique, valid unified social credit codes (统一社会信用代码), vectorised.

    Same layout as :func:`jingxin.core.credit_code.generate` — registrar 9 (市场监管), entity 1
    (企业), the county's division code, an 8-digit organisation body with its GB 11714 check
    character, then the GB 32100 check character — but computed for all enterprises at once
    (one million Python calls take ~9 s). `division_codes` are 6-digit codes (ints or strings);
    bodies are redrawn until (division, body) is unique.
    """
    n = division_codes.shape[0]
    county_int = division_codes.astype(np.int64)  # 6-digit codes, as integers or strings
    body = np.asarray(rng.integers(0, 10**8, n))
    while True:
        key = county_int * 10**8 + body
        _, first = np.unique(key, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if not dup.any():
            break
        body[dup] = rng.integers(0, 10**8, int(dup.sum()))
    # Character values (0–30 in the code alphabet), one column per position, as small integers.
    values = np.empty((n, 18), dtype=np.int64)
    values[:, 0], values[:, 1] = 9, 1
    for i in range(6):
        values[:, 2 + i] = (county_int // 10 ** (5 - i)) % 10
    org_total = np.zeros(n, dtype=np.int64)
    for i in range(8):
        values[:, 8 + i] = (body // 10 ** (7 - i)) % 10
        org_total += values[:, 8 + i] * _ORG_WEIGHTS[i]
    org = 11 - org_total % 11
    values[:, 16] = np.where(org == 11, 0, np.where(org == 10, credit_code.ALPHABET.index("X"), org))
    total = np.zeros(n, dtype=np.int64)
    for i in range(17):
        total += values[:, i] * _CODE_WEIGHTS[i]
    values[:, 17] = (31 - total % 31) % 31
    ascii_codes = _CODE_BYTES[values]
    return np.ascontiguousarray(ascii_codes).view("S18").ravel().astype("U18")


def _industry_classes(
    divisions: tuple[DivisionProfile, ...], rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per division, its 4-digit classes (小类) and their relative sizes; a division the project's
    industry table does not subdivide gives its own 2-digit code."""
    classes: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    by_division: dict[str, list[str]] = {}
    for item in reference.industries():
        if item.level == "class":
            by_division.setdefault(item.code[:2], []).append(item.code)
    for d in divisions:
        codes = np.array(sorted(by_division.get(f"{d.code:02d}", [f"{d.code:02d}"])))
        w = np.asarray(rng.gamma(0.9, size=codes.shape[0])) + 0.05
        classes.append(codes)
        weights.append(w / w.sum())
    return classes, weights


def _draw_codes(
    n: int, divisions: tuple[DivisionProfile, ...], rng: np.random.Generator, class_rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Division position, division code and industry class of `n` enterprises."""
    div_codes = np.array([d.code for d in divisions])
    div_w = np.array([d.weight for d in divisions])
    div_pos = rng.choice(div_codes.shape[0], n, p=div_w / div_w.sum())
    classes, class_w = _industry_classes(divisions, class_rng)
    industry_code = np.empty(n, dtype="<U4")
    for pos in range(div_codes.shape[0]):  # a few dozen divisions, not a per-enterprise loop
        members = np.flatnonzero(div_pos == pos)
        industry_code[members] = classes[pos][
            rng.choice(classes[pos].shape[0], members.shape[0], p=class_w[pos])
        ]
    return div_pos, div_codes[div_pos], industry_code


def _founding(above: np.ndarray, last_year: int, rng: np.random.Generator) -> np.ndarray:
    """成立日期: 规上 are older (median ~15 years), 规下 younger and more recent."""
    n = above.shape[0]
    age = np.where(above, rng.gamma(2.5, 6.0, n), rng.exponential(8.0, n))
    oldest = last_year - 1980
    age = np.where(age > oldest, rng.uniform(0, oldest, n), age)  # no pile-up at 1980
    year = np.clip(last_year - np.floor(age).astype(np.int64), 1980, last_year)
    year = np.where(above, np.minimum(year, last_year - 1), year)
    start = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    days_in_year = np.where((year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0)), 366, 365)
    return start + (rng.random(n) * days_in_year).astype(np.int64).astype("timedelta64[D]")


def _parcels(
    county_idx: np.ndarray,
    county_codes: np.ndarray,
    above: np.ndarray,
    land: np.ndarray,
    rng: np.random.Generator,
) -> Parcels:
    """Turn per-enterprise land into parcel rows: two parcels for some 规上, shared parcels
    (共用宗地) for a few pairs or triples in one county, and 宗地编号 unique within a county."""
    holders = np.flatnonzero(land > 0)
    is_two = above[holders] & (rng.random(holders.shape[0]) < TWO_PARCEL_SHARE)
    two, single = holders[is_two], holders[~is_two]

    # Shared parcels: candidates grouped in runs of 2 or 3 inside one county.
    candidates = single[rng.random(single.shape[0]) < SHARED_PARCEL_SHARE]
    candidates = candidates[np.lexsort((rng.random(candidates.shape[0]), county_idx[candidates]))]
    sizes = np.where(rng.random(candidates.shape[0]) < 0.8, 2, 3)
    group = np.repeat(np.arange(sizes.shape[0]), sizes)[: candidates.shape[0]]
    g_county_min = np.full(sizes.shape[0], np.iinfo(np.int64).max)
    g_county_max = np.full(sizes.shape[0], -1)
    np.minimum.at(g_county_min, group, county_idx[candidates])
    np.maximum.at(g_county_max, group, county_idx[candidates])
    g_count = np.bincount(group, minlength=sizes.shape[0])
    ok = (g_county_min == g_county_max) & (g_count >= 2)
    keep = ok[group]
    shared_members, shared_group = candidates[keep], group[keep]
    in_shared = np.zeros(land.shape[0], dtype=bool)
    in_shared[shared_members] = True
    solo = single[~in_shared[single]]

    # One parcel key per parcel: solo enterprises, each half of a two-parcel holder, each group.
    split = rng.uniform(0.3, 0.7, two.shape[0])
    ent = np.concatenate([solo, two, two, shared_members])
    area = np.concatenate([land[solo], land[two] * split, land[two] * (1 - split), land[shared_members]])
    n_solo, n_two = solo.shape[0], two.shape[0]
    _, shared_parcel = np.unique(shared_group, return_inverse=True)
    parcel_key = np.concatenate(
        [
            np.arange(n_solo + 2 * n_two),
            n_solo + 2 * n_two + shared_parcel,
        ]
    )
    shared = np.concatenate(
        [np.zeros(n_solo + 2 * n_two, dtype=bool), np.ones(shared_members.shape[0], bool)]
    )

    # Number the parcels within their county in random order (地籍区/子区 + GB + 5-digit serial).
    n_parcels = int(parcel_key.max()) + 1 if parcel_key.size else 0
    parcel_county = np.zeros(n_parcels, dtype=np.int64)
    parcel_county[parcel_key] = county_idx[ent]
    order = np.lexsort((rng.random(n_parcels), parcel_county))
    starts = np.searchsorted(parcel_county[order], parcel_county[order], side="left")
    serial = np.empty(n_parcels, dtype=np.int64)
    serial[order] = np.arange(n_parcels) - starts + 1
    width = max(5, len(str(int(serial.max())))) if n_parcels else 5
    zone = rng.integers(1, 21, n_parcels) * 1000 + rng.integers(1, 31, n_parcels)
    ids = np.strings.add(
        np.strings.add(county_codes[parcel_county], np.strings.zfill(zone.astype("U6"), 6)),
        np.strings.add("GB", np.strings.zfill(serial.astype("U12"), width)),
    )
    n_rows = ent.shape[0]
    return Parcels(
        enterprise=ent,
        parcel_id=ids[parcel_key],
        area_mu=np.round(area, 2),
        land_use=LAND_USES[(rng.random(n_parcels) < 0.05).astype(np.int64)][parcel_key],
        acquisition=ACQUISITIONS[rng.choice(5, n_parcels, p=[0.85, 0.08, 0.04, 0.02, 0.01])][parcel_key],
        shared=shared[:n_rows],
    )


def _industrial(
    n: int, mountain: np.ndarray, county_idx: np.ndarray, streams: Streams
) -> dict[str, np.ndarray]:
    """Industrial enterprises (B, C, D): exactly ABOVE_SCALE_SHARE of them 规上."""
    rng = streams("population-industry")
    div_pos, division, industry_code = _draw_codes(n, INDUSTRIAL, rng, streams("industry-classes"))
    # 规上: the largest by a latent score, exactly ABOVE_SCALE_SHARE of the population.
    score = division_table("above_bias", division) - 0.4 * mountain[county_idx] + rng.logistic(0, 1, n)
    n_above = int(round(ABOVE_SCALE_SHARE * n))
    above = np.zeros(n, dtype=bool)
    above[np.argsort(-score, kind="stable")[:n_above]] = True

    spread = 1.5 * division_table("size_spread", division)
    base_revenue = np.where(
        above,
        ABOVE_SCALE_REVENUE * np.exp(np.abs(rng.normal(0, 1, n)) * spread),
        np.clip(rng.lognormal(np.log(350.0), 0.9, n), 10.0, ABOVE_SCALE_REVENUE * 0.95),
    )
    # Land (亩): grows less than proportionally with size, more for process industries.
    land_need = division_table("land_per_size", division)
    land_above = (
        np.exp(np.log(26.0) + LAND_ELASTICITY * np.log(base_revenue / 6000.0) + rng.normal(0, 0.35, n))
        * land_need
    )
    land_below = np.exp(rng.normal(np.log(6.0), 0.75, n)) * np.sqrt(land_need)
    land = np.where(above, np.clip(land_above, 3.0, 5000.0), np.clip(land_below, 1.0, 30.0))
    tenant = ~above & (rng.random(n) < TENANT_SHARE)
    words = np.array([d.word for d in INDUSTRIAL])[div_pos]
    return {
        "division": division,
        "industry_code": industry_code,
        "above": above,
        "base_revenue": base_revenue,
        "land": np.where(tenant, 0.0, land),
        "words": words,
        "suffix": NAME_SUFFIXES[rng.choice(4, n, p=[0.78, 0.08, 0.1, 0.04])],
    }


def _services(n: int, streams: Streams) -> dict[str, np.ndarray]:
    """规上 services enterprises (规模以上服务业): revenue above their section's threshold, some
    with land of their own (logistics yards, hospitals, schools, office buildings), the rest
    renting (no land row). Project assumptions throughout (see :mod:`.industry`)."""
    rng = streams("population-services")
    div_pos, division, industry_code = _draw_codes(n, SERVICES, rng, streams("industry-classes-services"))
    threshold = division_table("threshold", division)
    base_revenue = threshold * np.exp(np.abs(rng.normal(0, 1, n)) * 1.3)
    land_need = division_table("land_per_size", division)
    land = np.exp(np.log(12.0) + 0.5 * np.log(base_revenue / 5000.0) + rng.normal(0, 0.5, n)) * land_need
    owns = rng.random(n) < division_table("own_land", division)
    words = np.array([d.word for d in SERVICES])[div_pos]
    return {
        "division": division,
        "industry_code": industry_code,
        "above": np.ones(n, dtype=bool),
        "base_revenue": base_revenue,
        "land": np.where(owns, np.clip(land, 1.0, 2000.0), 0.0),
        "words": words,
        "suffix": SERVICE_SUFFIXES[rng.choice(3, n, p=[0.8, 0.12, 0.08])],
    }


def draw_population(n: int, years: tuple[int, ...], streams: Streams) -> Population:
    """Draw `n` enterprises active over `years` (the registry is as of 31 Dec of the last year):
    industrial ones (B, C, D; 35% of them 规上) and, SERVICES_SHARE of `n`, 规上 services ones."""
    if n < 1:
        raise ValueError("enterprises must be at least 1")
    rng = streams("population")
    counties = reference.counties()
    c_codes = np.array([c.code for c in counties])
    c_short = np.array([short_name(c.name) for c in counties])
    mountain = np.array([c.mountain26 for c in counties])

    n_svc = int(round(SERVICES_SHARE * n)) if n >= 10 else 0
    n_ind = n - n_svc
    county_ind = rng.choice(len(counties), n_ind, p=county_weights(counties))
    county_svc = streams("services-counties").choice(
        len(counties), n_svc, p=county_weights(counties, "services")
    )
    county_idx = np.concatenate([county_ind, county_svc])
    parts = [_industrial(n_ind, mountain, county_ind, streams), _services(n_svc, streams)]
    block = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    services = np.concatenate([np.zeros(n_ind, dtype=bool), np.ones(n_svc, dtype=bool)])
    above, land = block["above"], block["land"]

    rng = streams("population-dates")
    last = years[-1]
    founded = _founding(above, last, rng)
    first_year = founded.astype("datetime64[Y]").astype(np.int64) + 1970
    closed = ~above & (rng.random(n) < 0.04)
    status = np.where(
        closed,
        CLOSED_STATUSES[rng.choice(4, n, p=[0.4, 0.25, 0.25, 0.1])],
        ACTIVE_STATUSES[rng.choice(3, n, p=[0.7, 0.2, 0.1])],
    )
    last_year = np.where(closed, first_year + rng.integers(0, 12, n), 9999)
    last_year = np.where(closed, np.clip(last_year, first_year, last - 1), last_year)

    brand = np.strings.add(
        BRAND_CHARS[rng.integers(0, BRAND_CHARS.shape[0], n)],
        BRAND_CHARS[rng.integers(0, BRAND_CHARS.shape[0], n)],
    )
    name = np.strings.add(
        np.strings.add(c_short[county_idx], brand), np.strings.add(block["words"], block["suffix"])
    )
    return Population(
        years=years,
        credit_code=credit_codes(c_codes.astype(np.int64)[county_idx], streams("credit-codes")),
        name=name,
        county_code=c_codes[county_idx],
        industry_code=block["industry_code"],
        division=block["division"],
        founded=founded,
        status=status,
        above_scale=above,
        services=services,
        first_year=first_year,
        last_year=last_year,
        base_revenue=block["base_revenue"],
        parcels=_parcels(county_idx, c_codes, above, land, streams("parcels")),
    )
