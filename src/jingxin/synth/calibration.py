"""Calibration targets (校准目标) of the generated province, each labelled by where it comes from.

A target is either **published** (a figure with its source, re-checkable), **unverified** (a
figure the project was given without a source it could check), **derived** (computed from
published figures and the project's assumptions) or the project's own **assumption**. Nothing
is called published that is not. :data:`FIGURES` lists them all; ``bench/calibration.py`` prints
the generated value beside each one.

Scale. The real province has about :data:`FULL_SCALE_ABOVE_INDUSTRY` 规上 industrial enterprises.
A generated province with ``n`` enterprises has 35% of its industrial ones (80% of ``n``) 规上,
so its scale is ``s = 规上工业 / 48,000`` and a full-size province is about 171,000 enterprises.
Absolute totals (value added, revenue, the count of enterprises above 10 亿元, park counts)
are targeted at ``s ×`` the provincial figure; ratios (per mu, per person, per tce) are
targeted as they are. The calibration check divides generated totals by ``s`` to compare.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

GROWTH_OUTSIDE_KNOWN = 0.05  # per year, beyond the years with figures (assumption)

FULL_SCALE_ABOVE_INDUSTRY = 48_000
BIG_REVENUE = 100_000.0  # 万元 = 10 亿元: the "revenue above 10 亿元" line
YI = 10_000.0  # 万元 per 亿元


@dataclass(frozen=True)
class Figure:
    """One calibration figure with its provenance."""

    key: str
    label: str  # Chinese name as reports print it
    year: int
    value: float
    unit: str
    status: str  # published | unverified | derived | assumption
    source: str
    forced: bool = True  # the generator calibrates to it (else it is an independent check)


FIGURES: tuple[Figure, ...] = (
    Figure(
        "above_industry_count",
        "规上工业企业数",
        2020,
        FULL_SCALE_ABOVE_INDUSTRY,
        "家",
        "unverified",
        "DOMAIN.md §3 ('roughly 4.8 万', marked unverified there); used only to set the scale s",
    ),
    Figure(
        "va_total",
        "规上工业增加值",
        2020,
        16_715.0,
        "亿元",
        "published",
        "DOMAIN.md §3 (2020: about 16,715 亿元)",
    ),
    Figure(
        "revenue_total",
        "规上工业营业收入",
        2021,
        97_968.0,
        "亿元",
        "published",
        "2021年浙江省国民经济和社会发展统计公报, as quoted in fx361.cc/page/2022/1208/12607708.shtml; "
        "DOMAIN.md §3",
    ),
    Figure(
        "big_count",
        "营业收入超10亿元企业数",
        2021,
        1_303.0,
        "家",
        "published",
        "same bulletin (fx361.cc/page/2022/1208/12607708.shtml); DOMAIN.md §3",
    ),
    Figure(
        "big_revenue_share",
        "超10亿元企业营收占规上工业营收比重",
        2021,
        0.512,
        "",
        "derived",
        "published: those 1,303 had 45.1% of all industrial revenue (111,253 亿元), i.e. 50,175 亿元 = "
        "51.2% of 规上 revenue (same bulletin)",
    ),
    Figure(
        "tax_per_mu",
        "规上工业亩均税收",
        2021,
        28.1,
        "万元/亩",
        "published",
        "2021 provincial 亩均 evaluation, DOMAIN.md §3",
    ),
    Figure(
        "va_per_mu",
        "规上工业亩均增加值",
        2021,
        135.7,
        "万元/亩",
        "published",
        "2021 provincial 亩均 evaluation, DOMAIN.md §3",
    ),
    Figure(
        "jinhua_revenue_share",
        "金华规上工业营收占全省比重",
        2021,
        6_066.96 / 97_968.0,
        "",
        "derived",
        "金华 2021 规上工业营业收入 6,066.96 亿元 (金华市统计局 via ilynn.cn/document_detail/71563.html) "
        "÷ the province's 97,968 亿元; 金华's county weights are tuned to it (other cities: assumption)",
    ),
    Figure(
        "zone_va_share",
        "开发区规上工业增加值占全省比重",
        2019,
        0.643,
        "",
        "published",
        "省商务厅: 经济开发区 规上工业增加值 4,904.8 亿元 in 2019 H1, 64.3% of the province (quoted "
        "by jizihe.com/page/2019/0127/15940115.shtml); the share of 规上 industrial enterprises put in "
        "经开区/高新区 (54%, bigger ones more often) is tuned to it at full scale",
    ),
    Figure(
        "small_parks",
        "小微企业园数",
        2021,
        1_400.0,
        "个",
        "derived",
        "2021 经信 work plan (shared/reference): 1,200 built or upgraded by 2021 plus 200 new in 2021",
    ),
    Figure(
        "small_parks_4star",
        "四星级以上小微企业园数",
        2021,
        100.0,
        "个",
        "published",
        "2021 经信 work plan: 累计创建四星级以上小微企业园100个 (a target for 2021)",
    ),
)


def figure(key: str) -> Figure:
    return next(f for f in FIGURES if f.key == key)


@dataclass(frozen=True)
class Targets:
    """Province 规上工业 targets for one year. Ratios are sum over sum; totals are full scale."""

    tax_per_mu: float  # 亩均税收, 万元/亩 = Σ实缴税收 / Σ用地面积
    va_per_mu: float  # 亩均增加值, 万元/亩 (only targeted in the anchor year; see accounts)
    labour_productivity: float  # 全员劳动生产率, 万元/人 = Σ增加值 / Σ年平均职工人数
    va_per_energy: float  # 单位能耗增加值, 万元/tce
    va_per_discharge: float  # 单位排放增加值, 万元/t
    va_to_revenue: float  # 增加值率
    rd_to_revenue: float  # R&D经费 / 营业收入
    va_total: float  # 规上工业增加值, 亿元, full scale
    big_count: float  # enterprises with revenue ≥ 10 亿元, full scale
    big_revenue_share: float  # their share of 规上 revenue
    sources: dict[str, str]  # key → status of the figure this year

    @property
    def revenue_total(self) -> float:
        """规上工业营业收入, 亿元, full scale (value added ÷ 增加值率)."""
        return self.va_total / self.va_to_revenue

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["revenue_total"] = round(self.revenue_total, 1)
        return out


_RATIO_SOURCES = {
    "va_per_energy": "assumption (set near 黄岩's 2021 reference 2.54, a county figure)",
    "va_per_discharge": "assumption (province sum over sum; 黄岩's reference 4,861 is a county mean)",
    "va_to_revenue": "assumption (20.7% puts 2021 value added at ~20,280 亿元 beside the published "
    "all-industry 20,428 亿元)",
    "rd_to_revenue": "assumption (黄岩's reference 0.0305)",
    "labour_productivity": "assumption (DOMAIN §3: 2023 target 33 万元/人)",
}

# 2021: revenue 97,968 亿元 (published) × 0.207 → value added 20,279 亿元 (derived).
# 2020: value added 16,715 亿元 (published). 2019: 2020's ÷ 1.054 (the published 2020 real growth of
# 规上 value added, 5.4%, used as nominal: assumption).
KNOWN: dict[int, Targets] = {
    2019: Targets(
        tax_per_mu=26.8,
        va_per_mu=0.0,
        labour_productivity=27.0,
        va_per_energy=2.40,
        va_per_discharge=1500.0,
        va_to_revenue=0.205,
        rd_to_revenue=0.026,
        va_total=16_715.0 / 1.054,
        big_count=1_303 * 0.786,
        big_revenue_share=0.512,
        sources={
            "tax_per_mu": "assumption (between 2017's 25.5 and 2021's 28.1)",
            "va_total": "assumption (2020's ÷ 1.054)",
            "big_count": "assumption (2021's count × the revenue ratio to 2021)",
            "big_revenue_share": "assumption (2021's)",
            **_RATIO_SOURCES,
        },
    ),
    2020: Targets(
        tax_per_mu=27.5,
        va_per_mu=0.0,
        labour_productivity=28.0,
        va_per_energy=2.48,
        va_per_discharge=1500.0,
        va_to_revenue=0.206,
        rd_to_revenue=0.028,
        va_total=16_715.0,
        big_count=1_303 * 0.828,
        big_revenue_share=0.512,
        sources={
            "tax_per_mu": "assumption (between 2017's 25.5 and 2021's 28.1)",
            "va_total": "published",
            "big_count": "assumption (2021's count × the revenue ratio to 2021)",
            "big_revenue_share": "assumption (2021's)",
            **_RATIO_SOURCES,
        },
    ),
    2021: Targets(
        tax_per_mu=28.1,
        va_per_mu=135.7,
        labour_productivity=30.0,
        va_per_energy=2.56,
        va_per_discharge=1500.0,
        va_to_revenue=0.207,
        rd_to_revenue=0.0305,
        va_total=97_968.0 * 0.207,
        big_count=1_303.0,
        big_revenue_share=0.512,
        sources={
            "tax_per_mu": "published",
            "va_per_mu": "published",
            "va_total": "derived (published revenue × assumed 增加值率)",
            "big_count": "published",
            "big_revenue_share": "derived (published)",
            **_RATIO_SOURCES,
        },
    ),
}
ANCHOR_YEAR = 2021  # the year whose published 亩均增加值 fixes the generated land


def targets(year: int, stable_from: int | None = None) -> Targets:
    """Targets for `year`: the figures above for 2019–2021, else the nearest known year grown or
    shrunk by 5% a year (efficiency ratios by 3%), since no later actuals are in DOMAIN.md.
    `stable_from` (stable-years mode) gives every year the targets of that year."""
    if stable_from is not None:
        year = stable_from
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
        va_total=round(base.va_total * g, 1),
        big_count=round(base.big_count * g, 1),
        big_revenue_share=base.big_revenue_share,
        sources={k: f"assumption (extrapolated from {nearest})" for k in base.sources},
    )


def anchor_year(years: tuple[int, ...]) -> int:
    """The generated year whose 亩均增加值 target sets the land: 2021 if generated, else the
    generated year nearest to it."""
    return min(years, key=lambda y: abs(y - ANCHOR_YEAR))
