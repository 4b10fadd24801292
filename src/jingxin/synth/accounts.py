"""Annual accounts (年度数据) of every enterprise: revenue, value added, tax, R&D, staff, energy,
discharge and electricity, for each generated year.

Each quantity is a correlated lognormal: revenue sets the size, division ratios
(:mod:`.industry`) set the shape, persistent enterprise effects make some firms consistently
more taxed, more efficient or dirtier than their peers, and revenue grows ~7% a year nominal
with a 2020 dip for part of the population (COVID-19, hitting textiles, apparel and autos
hardest). The 规上 totals are then calibrated to the province's published ratios
(:mod:`.calibration`), because that is what a reviewer compares the platform's output with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jingxin.synth.calibration import Targets, targets
from jingxin.synth.industry import division_table
from jingxin.synth.population import ABOVE_SCALE_REVENUE, Population
from jingxin.synth.streams import Streams

KWH_TCE = 0.0001229  # tce per kWh (电力折标系数, 当量值)

# Persistent enterprise effects (log scale): value added, tax, R&D, labour, energy, discharge.
_EFFECT_SD = np.array([0.22, 0.45, 0.6, 0.3, 0.4, 0.6])
_EFFECT_CORR = np.array(
    [
        [1.0, 0.5, 0.2, -0.3, -0.2, -0.1],
        [0.5, 1.0, 0.1, -0.1, 0.0, 0.0],
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

    def index(self, year: int) -> int:
        return self.years.index(year)


def _draw(pop: Population, streams: Streams) -> Accounts:
    rng = streams("accounts")
    n, years = pop.n, pop.years
    div, above = pop.division, pop.above_scale
    ny = len(years)
    cov = _EFFECT_CORR * np.outer(_EFFECT_SD, _EFFECT_SD)
    eff = rng.multivariate_normal(np.zeros(6), cov, n, method="cholesky")
    below_penalty = np.where(above, 1.0, 1.3)  # small plants use more energy per unit output

    research_heavy = division_table("rd_ratio", div) > 0.03
    has_rd = rng.random(n) < np.where(above, 0.8, 0.25) * np.where(research_heavy, 1.15, 1.0)
    dip_prob = np.isin(div, [17, 18, 19, 36, 37]) * 0.35 + 0.25
    founded_month = pop.founded.astype("datetime64[M]").astype(np.int64) % 12 + 1
    va_ratio = division_table("va_ratio", div) * np.exp(eff[:, 0])
    tax_ratio = division_table("tax_ratio", div) * division_table("tax_factor", div) * np.exp(eff[:, 1])
    rd_ratio = division_table("rd_ratio", div) * np.exp(eff[:, 2]) * has_rd
    va_per_emp = division_table("va_per_employee", div) * np.exp(eff[:, 3]) * np.where(above, 1.0, 0.55)
    energy_per_va = division_table("energy_per_va", div) * np.exp(eff[:, 4]) * below_penalty
    discharge_per_va = division_table("discharge_per_va", div) * np.exp(eff[:, 5]) * below_penalty
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
    for k, year in enumerate(years):  # a handful of years, each step vectorised over enterprises
        if k > 0:
            log_r = log_r + rng.normal(0.07, 0.10, n)
            if year == 2020:
                log_r = log_r + np.where(rng.random(n) < dip_prob, rng.normal(-0.15, 0.06, n), 0.0)
        first = pop.first_year == year
        revenue = np.exp(log_r) * np.where(first, (12.5 - founded_month) / 12.0, 1.0)
        revenue = np.where(above, revenue, np.minimum(revenue, ABOVE_SCALE_REVENUE * 0.99))
        va = revenue * va_ratio * rng.lognormal(0, 0.05, n)
        employees = va / (va_per_emp * rng.lognormal(0, 0.05, n))
        energy = va * energy_per_va * rng.lognormal(0, 0.08, n)
        act = pop.active(year)
        active[k] = act
        values = {
            "revenue": revenue,
            "value_added": va,
            "tax": revenue * tax_ratio * rng.lognormal(0, 0.15, n),
            "rd": revenue * rd_ratio * rng.lognormal(0, 0.1, n),
            "employees": employees,
            "college": np.where(
                college_blank[k], np.nan, employees * college_share * rng.lognormal(0, 0.35, n)
            ),
            "energy": energy,
            "discharge": va * discharge_per_va * rng.lognormal(0, 0.1, n),
            "kwh": energy * elec_share / KWH_TCE * rng.lognormal(0, 0.05, n),
        }
        for name, value in values.items():
            out[name][k] = np.where(act, value, np.nan)

    reports_energy = above | (rng.random(n) < 0.4)
    cover = division_table("discharge_cover", div)
    reports_discharge = rng.random(n) < np.where(above, cover, cover * 0.25)
    exporter = rng.random(n) < 0.55
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


def _scale_to(values: np.ndarray, mask: np.ndarray, total: float) -> float:
    """Rescale values[mask] in place so that they sum to `total`; returns the factor applied."""
    current = float(np.nansum(values[mask]))
    factor = total / current if current > 0 else 1.0
    values[mask] *= factor
    return factor


def _calibrate_year(acc: Accounts, k: int, pop: Population, land: np.ndarray, t: Targets) -> dict[str, float]:
    """Rescale one year's 规上 accounts to the targets, round, and report the achieved ratios.

    Tax and value added are scaled over the 规上 with land (the 亩均 population) and the factor
    applied to every 规上; the other ratios are scaled over all 规上 that report them.
    """
    above = pop.above_scale & acc.active[k]
    with_land = above & (land > 0)
    land_sum = float(land[with_land].sum())
    for values, per_mu in ((acc.tax[k], t.tax_per_mu), (acc.value_added[k], t.va_per_mu)):
        current = float(values[with_land].sum())
        if current > 0:
            values[above] *= per_mu * land_sum / current
    va_sum = float(acc.value_added[k][above].sum())
    _scale_to(acc.revenue[k], above, va_sum / t.va_to_revenue)
    acc.revenue[k][above] = np.maximum(acc.revenue[k][above], ABOVE_SCALE_REVENUE)
    _scale_to(acc.rd[k], above, t.rd_to_revenue * float(acc.revenue[k][above].sum()))
    _scale_to(acc.employees[k], above, va_sum / t.labour_productivity)
    energy_mask = above & acc.reports_energy
    discharge_mask = above & acc.reports_discharge
    factor = _scale_to(
        acc.energy[k], energy_mask, float(acc.value_added[k][energy_mask].sum()) / t.va_per_energy
    )
    acc.energy[k][above & ~acc.reports_energy] *= factor
    acc.kwh[k][above] *= factor  # electricity follows energy
    _scale_to(
        acc.discharge[k], discharge_mask, float(acc.value_added[k][discharge_mask].sum()) / t.va_per_discharge
    )

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

    va, rev = acc.value_added[k], acc.revenue[k]
    return {
        "above_scale_enterprises": int(above.sum()),
        "above_scale_with_land": int(with_land.sum()),
        "land_mu": round(land_sum, 2),
        "tax_per_mu": _ratio(acc.tax[k][with_land], land[with_land]),
        "va_per_mu": _ratio(va[with_land], land[with_land]),
        "labour_productivity": _ratio(va[above], acc.employees[k][above]),
        "va_per_energy": _ratio(va[energy_mask], acc.energy[k][energy_mask]),
        "va_per_discharge": _ratio(va[discharge_mask], acc.discharge[k][discharge_mask]),
        "va_to_revenue": _ratio(va[above], rev[above]),
        "rd_to_revenue": _ratio(acc.rd[k][above], rev[above]),
    }


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> float:
    """Σnumerator / Σdenominator (sum over sum, as evaluations compute), 0 when empty."""
    den = float(denominator.sum())
    return round(float(numerator.sum()) / den, 6) if den else 0.0


def build_accounts(pop: Population, streams: Streams) -> Accounts:
    """Draw every enterprise's annual accounts and calibrate each year's 规上 totals."""
    acc = _draw(pop, streams)
    land = pop.land_area()
    for k, year in enumerate(pop.years):
        acc.achieved[year] = _calibrate_year(acc, k, pop, land, targets(year))
    return acc
