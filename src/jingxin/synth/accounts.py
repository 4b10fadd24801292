"""Annual accounts (年度数据) of every enterprise: revenue, value added, tax, R&D, staff, energy,
discharge and electricity, for each generated year.

Each quantity is a correlated lognormal: revenue sets the size, division ratios
(:mod:`.industry`) set the shape, persistent enterprise effects make some firms consistently
more taxed, more efficient or dirtier than their peers, and revenue grows ~7% a year nominal
with a 2020 dip for part of the population (COVID-19, hitting textiles, apparel and autos
hardest), and the real events of :mod:`.events` take their share of the affected enterprises'
year. The 规上 industrial totals are then calibrated (:mod:`.calibration`): revenue by a
rank-preserving map that hits both the province's total and its count of enterprises above
10 亿元, value added to its total, land once so that the anchor year's 亩均增加值 is the
published one, tax to 亩均税收, and the other ratios sum over sum.

Distributions (project assumptions, chosen so that no indicator of the 亩均 score is driven by
an impossible value): enterprise effects are bounded at ±2.5 standard deviations (a plant's
technology bounds its intensities); discharge per value added is set by industry (印染 classes
three times their division), falls gently with size (elasticity −0.15: bigger plants treat
better) and has a floor of 10 kg a year; only permit holders (排污许可) have a discharge record,
larger plants more often; energy per value added by industry; staff from value added and
industry productivity, so that revenue per person lands near 145 万元 (Zhejiang's 规上 revenue
per employee order of magnitude). Services enterprises have no 工业增加值 (blank), no energy or
discharge record, and their tax, staff and R&D follow their own ratios, uncalibrated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jingxin.synth import events as ev
from jingxin.synth.calibration import (
    BIG_REVENUE,
    FULL_SCALE_ABOVE_INDUSTRY,
    KNOWN,
    YI,
    Targets,
    anchor_year,
    targets,
)
from jingxin.synth.industry import DIVISIONS, division_table
from jingxin.synth.population import ABOVE_SCALE_REVENUE, Population
from jingxin.synth.streams import Streams

EFFECT_BOUND = 2.2  # standard deviations
DISCHARGE_FLOOR = 0.01  # t a year: the smallest permit holder's four main pollutants
DISCHARGE_SIZE_ELASTICITY = -0.15
DYEING_FACTOR = 3.0

KWH_TCE = 0.0001229  # tce per kWh (电力折标系数, 当量值)

# Persistent enterprise effects (log scale): value added, tax, R&D, labour, energy, discharge.
# Tax follows value added closely (VAT is levied on it: corr 0.8, so tax ÷ value added varies
# by ~18%), which keeps 亩均税收 from running away from 亩均增加值 (assumption).
_EFFECT_SD = np.array([0.22, 0.3, 0.6, 0.3, 0.3, 0.5])
_EFFECT_CORR = np.array(
    [
        [1.0, 0.8, 0.2, -0.3, -0.2, -0.1],
        [0.8, 1.0, 0.1, -0.2, -0.1, 0.0],
        [0.2, 0.1, 1.0, -0.2, -0.1, -0.1],
        [-0.3, -0.1, -0.2, 1.0, 0.1, 0.1],
        [-0.2, 0.0, -0.1, 0.1, 1.0, 0.6],
        [-0.1, 0.0, -0.1, 0.1, 0.6, 1.0],
    ]
)


@dataclass
class Accounts:
    """Arrays shaped (years × enterprises); NaN where an enterprise does not report that year."""

    years: tuple[int, ...]
    active: np.ndarray  # bool
    revenue: np.ndarray  # 营业收入, 万元
    value_added: np.ndarray  # 工业增加值, 万元
    tax: np.ndarray  # 实缴税收, 万元
    rd: np.ndarray  # 研发经费, 万元
    employees: np.ndarray  # 年平均职工人数, 人
    college: np.ndarray  # 大专以上学历人数, 人 (NaN = blank, the column is optional)
    energy: np.ndarray  # 综合能耗, 吨标准煤
    discharge: np.ndarray  # 主要污染物排放量, 吨
    kwh: np.ndarray  # annual electricity, 千瓦时
    reports_energy: np.ndarray  # bool per enterprise: in the energy department's list
    reports_discharge: np.ndarray  # bool per enterprise: holds a discharge permit
    export_share: np.ndarray  # per enterprise, 出口交货值 / 营业收入
    margin: np.ndarray  # per enterprise, 利润总额 / 营业收入
    output_ratio: np.ndarray  # per enterprise, 工业总产值 / 营业收入
    achieved: dict[int, dict[str, float]] = field(default_factory=dict)
    events: list[ev.Event] = field(default_factory=list)
    scale: float = 1.0  # 规上工业 / FULL_SCALE_ABOVE_INDUSTRY
    land_factor: float = 1.0  # applied to the 规上 industrial land to hit the anchor's 亩均增加值

    def index(self, year: int) -> int:
        return self.years.index(year)


def _draw(pop: Population, streams: Streams, stable: bool) -> Accounts:
    rng = streams("accounts")
    n, years = pop.n, pop.years
    div, above, svc = pop.division, pop.above_scale, pop.services
    ny = len(years)
    cov = _EFFECT_CORR * np.outer(_EFFECT_SD, _EFFECT_SD)
    eff = rng.multivariate_normal(np.zeros(6), cov, n, method="cholesky")
    eff = np.clip(eff, -EFFECT_BOUND * _EFFECT_SD, EFFECT_BOUND * _EFFECT_SD)
    below_penalty = np.where(above, 1.0, 1.3)  # small plants use more energy per unit output

    research_heavy = division_table("rd_ratio", div) > 0.03
    has_rd = rng.random(n) < np.where(above, 0.8, 0.25) * np.where(research_heavy, 1.15, 1.0)
    dip_prob = (np.isin(div, [17, 18, 19, 36, 37]) * 0.35 + 0.25) * ~svc
    founded_month = pop.founded.astype("datetime64[M]").astype(np.int64) % 12 + 1
    va_ratio = division_table("va_ratio", div) * np.exp(eff[:, 0])
    tax_ratio = division_table("tax_ratio", div) * division_table("tax_factor", div) * np.exp(eff[:, 1])
    rd_ratio = division_table("rd_ratio", div) * np.exp(eff[:, 2]) * has_rd
    va_per_emp = division_table("va_per_employee", div) * np.exp(eff[:, 3]) * np.where(above, 1.0, 0.55)
    energy_per_va = division_table("energy_per_va", div) * np.exp(eff[:, 4]) * below_penalty
    dyeing = np.isin(pop.industry_code, ev.DYEING_CLASSES)
    discharge_per_va = (
        division_table("discharge_per_va", div) * np.where(dyeing, DYEING_FACTOR, 1.0) * np.exp(eff[:, 5])
    )
    elec_share = np.clip(division_table("elec_share", div) * rng.lognormal(0, 0.1, n), 0.05, 0.95)
    college_share = division_table("college_share", div)
    college_blank = rng.random((ny, n)) < 0.08

    shape = (ny, n)
    out = {
        k: np.full(shape, np.nan)
        for k in ("revenue", "value_added", "tax", "rd", "employees", "college", "energy", "discharge", "kwh")
    }
    active = np.zeros(shape, dtype=bool)
    log_r = np.log(pop.base_revenue)
    growth = (0.0, 0.0) if stable else (0.07, 0.10)
    for k, year in enumerate(years):  # a handful of years, each step vectorised over enterprises
        if k > 0:
            log_r = log_r + rng.normal(growth[0], growth[1], n)
            if year == 2020 and not stable:
                log_r = log_r + np.where(rng.random(n) < dip_prob, rng.normal(-0.15, 0.06, n), 0.0)
        first = pop.first_year == year
        revenue = np.exp(log_r) * np.where(first, (12.5 - founded_month) / 12.0, 1.0)
        floor = np.where(svc, division_table("threshold", div), ABOVE_SCALE_REVENUE)
        revenue = np.where(above, revenue, np.minimum(revenue, ABOVE_SCALE_REVENUE * 0.99))
        revenue = np.where(svc, np.maximum(revenue, floor), revenue)
        va = revenue * va_ratio * rng.lognormal(0, 0.05, n)
        employees = va / (va_per_emp * rng.lognormal(0, 0.05, n))
        energy = va * energy_per_va * rng.lognormal(0, 0.08, n)
        size = np.maximum(va, 1.0) / 1000.0
        discharge = va * discharge_per_va * size**DISCHARGE_SIZE_ELASTICITY * rng.lognormal(0, 0.1, n)
        act = pop.active(year)
        active[k] = act
        values = {
            "revenue": revenue,
            "value_added": va,
            "tax": revenue * tax_ratio * rng.lognormal(0, 0.10, n),
            "rd": revenue * rd_ratio * rng.lognormal(0, 0.1, n),
            "employees": employees,
            "college": np.where(
                college_blank[k], np.nan, employees * college_share * rng.lognormal(0, 0.35, n)
            ),
            "energy": energy,
            "discharge": discharge,
            "kwh": energy * elec_share / KWH_TCE * rng.lognormal(0, 0.05, n),
        }
        for name, value in values.items():
            out[name][k] = np.where(act, value, np.nan)

    reports_energy = ~svc & (above | (rng.random(n) < 0.4))
    cover = division_table("discharge_cover", div)
    size_bonus = np.clip(np.log(pop.base_revenue / ABOVE_SCALE_REVENUE) / 6, 0, 0.3)
    permit = rng.random(n) < np.where(above, np.minimum(cover + size_bonus, 1.0), cover * 0.25)
    reports_discharge = ~svc & (permit | dyeing & above)
    exporter = ~svc & (rng.random(n) < 0.55)
    export_share = np.where(
        exporter, np.clip(division_table("export_share", div) * rng.lognormal(0, 0.6, n), 0.0, 0.95), 0.0
    )
    return Accounts(
        years=years,
        active=active,
        reports_energy=reports_energy,
        reports_discharge=reports_discharge,
        export_share=export_share,
        margin=rng.normal(0.065, 0.05, n),
        output_ratio=rng.uniform(0.97, 1.06, n),
        revenue=out["revenue"],
        value_added=out["value_added"],
        tax=out["tax"],
        rd=out["rd"],
        employees=out["employees"],
        college=out["college"],
        energy=out["energy"],
        discharge=out["discharge"],
        kwh=out["kwh"],
    )


def _scale_to(values: np.ndarray, mask: np.ndarray, total: float, also: np.ndarray | None = None) -> float:
    """Rescale values[mask] in place so that they sum to `total` (and values[also] by the same
    factor); returns the factor applied."""
    current = float(np.nansum(values[mask]))
    factor = total / current if current > 0 else 1.0
    values[mask] *= factor
    if also is not None:
        values[also] *= factor
    return factor


def _bisect(f, lo: float, hi: float, target: float, increasing: bool, steps: int = 60) -> float:  # noqa: ANN001
    """The x in [lo, hi] where the monotone f(x) meets target (an end when out of reach)."""
    for _ in range(steps):
        mid = (lo + hi) / 2
        if (f(mid) < target) == increasing:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def fit_revenue(revenue: np.ndarray, total: float, big: int, big_share: float) -> np.ndarray:
    """Map 规上 revenues monotonically (ranks kept) so that they sum to `total`, exactly `big` of
    them reach 10 亿元 and those hold `big_share` of the total; none falls below the 规上 line.

    With x = ln(revenue / 2,000 万元) and m a point between the big-th and the next largest x,
    the body (x < m) maps to L·(x/m)^p and the tail to L + q·(x − m), L = ln(10 亿 / 2,000 万):
    the line falls between the two, p sets the body's total and q the tail's.
    """
    n = revenue.shape[0]
    if n < 2 or total <= 0:
        return revenue
    big = int(np.clip(big, 0, n - 1))
    x = np.log(np.maximum(revenue, ABOVE_SCALE_REVENUE) / ABOVE_SCALE_REVENUE)
    x = x + np.argsort(np.argsort(x, kind="stable"), kind="stable") * 1e-9  # break ties
    desc = np.sort(x)[::-1]
    line = np.log(BIG_REVENUE / ABOVE_SCALE_REVENUE)
    m = desc[0] * 1.01 + 1e-6 if big == 0 else (desc[big - 1] + desc[big]) / 2
    m = max(m, 1e-6)
    tail = x > m
    body_x = x[~tail] / m
    tail_x = x[tail] - m
    tail_total = total * big_share if big else 0.0

    def body_sum(p: float) -> float:
        return float((ABOVE_SCALE_REVENUE * np.exp(line * body_x**p)).sum())

    def tail_sum(q: float) -> float:
        return float((BIG_REVENUE * np.exp(q * tail_x)).sum())

    p = _bisect(body_sum, 0.05, 40.0, total - tail_total, increasing=False)
    out = np.empty(n)
    out[~tail] = ABOVE_SCALE_REVENUE * np.exp(line * body_x**p)
    if big:
        q = _bisect(tail_sum, 1e-4, 20.0, tail_total, increasing=True)
        out[tail] = BIG_REVENUE * np.exp(q * tail_x)
    return out


def _calibrate_year(
    acc: Accounts, k: int, pop: Population, land: np.ndarray, t: Targets, va_per_mu: float | None
) -> dict[str, float]:
    """Calibrate one year's 规上 industrial accounts, round, and report the achieved figures.

    Revenue: :func:`fit_revenue` to the scaled total and count above 10 亿元; value added keeps
    each enterprise's 增加值率 and is scaled to its total; tax to 亩均税收 × land; the other ratios
    sum over sum. 规下 industrial enterprises take the same factors (same economy), revenue aside.
    `va_per_mu` is given in the anchor year only, when land was fixed to it.
    """
    s = acc.scale
    active = acc.active[k]
    above = pop.industrial_above & active
    below = ~pop.above_scale & ~pop.services & active
    with_land = above & (land > 0)
    land_sum = float(land[with_land].sum())
    rev, va = acc.revenue[k], acc.value_added[k]
    before = rev[above].copy()
    rev[above] = fit_revenue(
        before, t.revenue_total * YI * s, int(round(t.big_count * s)), t.big_revenue_share
    )
    resized = rev[above] / before  # everything else of an enterprise follows its new size
    for name in ("value_added", "tax", "rd", "employees", "college", "energy", "discharge", "kwh"):
        getattr(acc, name)[k][above] *= resized
    va_sum = t.va_total * YI * s
    _scale_to(va, above, va_sum, also=below)
    _scale_to(acc.tax[k], with_land, t.tax_per_mu * land_sum, also=(above & ~with_land) | below)
    _scale_to(acc.rd[k], above, t.rd_to_revenue * float(rev[above].sum()))
    _scale_to(acc.employees[k], above, va_sum / t.labour_productivity, also=below)
    energy_mask = above & acc.reports_energy
    discharge_mask = above & acc.reports_discharge
    factor = _scale_to(acc.energy[k], energy_mask, float(va[energy_mask].sum()) / t.va_per_energy, also=below)
    acc.kwh[k][above | below] *= factor  # electricity follows energy
    _scale_to(
        acc.discharge[k], discharge_mask, float(va[discharge_mask].sum()) / t.va_per_discharge, also=below
    )
    acc.discharge[k] = np.maximum(acc.discharge[k], DISCHARGE_FLOOR)
    _round(acc, k, pop)

    va, rev = acc.value_added[k], acc.revenue[k]
    return {
        "above_scale_enterprises": int(above.sum()),
        "above_scale_with_land": int(with_land.sum()),
        "land_mu": round(land_sum, 2),
        "tax_per_mu": _ratio(acc.tax[k][with_land], land[with_land]),
        "va_per_mu": _ratio(va[with_land], land[with_land]),
        "va_per_mu_targeted": va_per_mu is not None,
        "labour_productivity": _ratio(va[above], acc.employees[k][above]),
        "va_per_energy": _ratio(va[energy_mask], acc.energy[k][energy_mask]),
        "va_per_discharge": _ratio(va[discharge_mask], acc.discharge[k][discharge_mask]),
        "va_to_revenue": _ratio(va[above], rev[above]),
        "rd_to_revenue": _ratio(acc.rd[k][above], rev[above]),
        "va_total_yi": round(float(va[above].sum()) / YI, 2),
        "revenue_total_yi": round(float(rev[above].sum()) / YI, 2),
        "big_count": int((rev[above] >= BIG_REVENUE).sum()),
        "big_revenue_share": _ratio(rev[above & (rev >= BIG_REVENUE)], rev[above]),
        "scale": round(s, 9),
    }


def _round(acc: Accounts, k: int, pop: Population) -> None:
    for name, decimals in (
        ("revenue", 2),
        ("value_added", 2),
        ("tax", 2),
        ("rd", 2),
        ("energy", 2),
        ("discharge", 3),
        ("kwh", 0),
    ):
        arr = getattr(acc, name)[k]
        arr[:] = np.round(arr, decimals)
    emp = acc.employees[k]
    emp[:] = np.where(np.isnan(emp), np.nan, np.maximum(np.round(emp), np.where(pop.above_scale, 8, 1)))
    col = acc.college[k]
    col[:] = np.where(np.isnan(col), np.nan, np.minimum(np.round(col), emp))


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> float:
    """Σnumerator / Σdenominator (sum over sum, as evaluations compute), 0 when empty."""
    den = float(denominator.sum())
    return round(float(numerator.sum()) / den, 6) if den else 0.0


def _sections(pop: Population) -> np.ndarray:
    table = np.full(100, "C", dtype="<U1")
    for d in DIVISIONS:
        table[d.code] = d.section
    return table[pop.division]


def _apply_events(acc: Accounts, pop: Population, stable: bool) -> None:
    """Plan the real events (none in stable-years mode) and take their share of the year."""
    if stable:
        return
    land = pop.land_area()
    per_year = {y: k for k, y in enumerate(pop.years)}
    acc.events = ev.plan_events(
        pop.years,
        pop.county_code,
        pop.industry_code,
        _sections(pop),
        pop.industrial_above,
        pop.services,
        {y: acc.active[k] for y, k in per_year.items()},
        {y: acc.energy[k] for y, k in per_year.items()},
        {
            y: np.where(land > 0, acc.tax[k] / np.where(land > 0, land, 1.0), np.nan)
            for y, k in per_year.items()
        },
        acc.scale,
    )
    everyone = np.arange(pop.n)
    for year, k in per_year.items():
        output = ev.annual_share(acc.events, everyone, year)
        if (output == 1).all():
            continue
        power = ev.annual_share(acc.events, everyone, year, kind="power")
        for name in ("revenue", "value_added", "tax", "energy", "discharge"):
            getattr(acc, name)[k] *= output
        acc.kwh[k] *= power


def build_accounts(pop: Population, streams: Streams, stable: bool = False) -> Accounts:
    """Draw every enterprise's annual accounts, apply the year's events, fix the land of 规上
    industry to the anchor year's 亩均增加值 and calibrate each year (see :func:`_calibrate_year`).
    `stable` (stable-years mode): no growth, no 2020 dip, no events, every year the same targets."""
    acc = _draw(pop, streams, stable)
    acc.scale = max(int(pop.industrial_above.sum()), 1) / FULL_SCALE_ABOVE_INDUSTRY
    _apply_events(acc, pop, stable)
    anchor = anchor_year(pop.years)
    stable_from = anchor if stable else None
    t_anchor = targets(anchor, stable_from)
    va_per_mu = t_anchor.va_per_mu or KNOWN[2021].va_per_mu * t_anchor.va_total / KNOWN[2021].va_total
    # Land: the 规上 industrial land operating in the anchor year carries its value added at the
    # published 亩均增加值 (the land is one snapshot, so other years' 亩均增加值 follow their totals).
    k_anchor = pop.years.index(anchor)
    holders = pop.industrial_above & acc.active[k_anchor]
    land = pop.land_area()
    current = float(land[holders].sum())
    wanted = t_anchor.va_total * YI * acc.scale / va_per_mu
    if current > 0:
        acc.land_factor = wanted / current
        rows = pop.industrial_above[pop.parcels.enterprise]
        pop.parcels.area_mu[rows] = np.round(pop.parcels.area_mu[rows] * acc.land_factor, 2)
        land = pop.land_area()
    for k, year in enumerate(pop.years):
        t = targets(year, stable_from)
        acc.achieved[year] = _calibrate_year(acc, k, pop, land, t, va_per_mu if year == anchor else None)
    for k in range(len(pop.years)):  # services: their own ratios, rounded like the rest
        _round(acc, k, pop)
    return acc
