"""Calibration targets (校准目标) of the generated province, from DOMAIN.md §3.

The 2021 provincial 亩均 evaluation reported, for 规上 industry, 亩均税收 28.1 万元/亩 and
亩均增加值 135.7 万元/亩; labour productivity was around 30 万元/人 (target 33 for 2023),
规上 revenue about 4.8× value added, R&D about 3% of revenue (黄岩's reference 0.0305),
value added per tce about 2.5 and per tonne of discharge about 4,900 万元 (黄岩's references).
Draws are shaped by industry (:mod:`.industry`), then rescaled so that the 规上 province totals
hit these ratios exactly, as sum over sum, the way evaluations compute them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

GROWTH_OUTSIDE_KNOWN = 0.05  # per year, beyond the years with published figures


@dataclass(frozen=True)
class Targets:
    """Province 规上 ratios for one year (all sum over sum)."""

    tax_per_mu: float  # 亩均税收, 万元/亩 = Σ实缴税收 / Σ用地面积
    va_per_mu: float  # 亩均增加值, 万元/亩 = Σ工业增加值 / Σ用地面积
    labour_productivity: float  # 全员劳动生产率, 万元/人 = Σ增加值 / Σ年平均职工人数
    va_per_energy: float  # 单位能耗增加值, 万元/tce
    va_per_discharge: float  # 单位排放增加值, 万元/t
    va_to_revenue: float  # 增加值率
    rd_to_revenue: float  # R&D经费 / 营业收入

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


KNOWN: dict[int, Targets] = {
    2019: Targets(26.5, 125.0, 27.0, 2.40, 4500.0, 0.205, 0.026),
    2020: Targets(26.8, 128.0, 28.0, 2.48, 4700.0, 0.206, 0.028),
    2021: Targets(28.1, 135.7, 30.0, 2.56, 4900.0, 0.207, 0.0305),
}


def targets(year: int) -> Targets:
    """Targets for `year`: published figures for 2019–2021, else the nearest known year grown or
    shrunk by ~5% a year (efficiency ratios by 3%), since no later actuals are in DOMAIN.md."""
    if year in KNOWN:
        return KNOWN[year]
    nearest = min(KNOWN, key=lambda y: abs(y - year))
    base, steps = KNOWN[nearest], year - nearest
    g = (1 + GROWTH_OUTSIDE_KNOWN) ** steps
    e = 1.03**steps
    return Targets(
        tax_per_mu=round(base.tax_per_mu * g, 2),
        va_per_mu=round(base.va_per_mu * g, 2),
        labour_productivity=round(base.labour_productivity * g, 2),
        va_per_energy=round(base.va_per_energy * e, 3),
        va_per_discharge=round(base.va_per_discharge * e, 1),
        va_to_revenue=base.va_to_revenue,
        rd_to_revenue=base.rd_to_revenue,
    )
