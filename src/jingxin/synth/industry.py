"""Industry profiles (行业画像) for generation: Zhejiang's industrial divisions — mining (采矿业,
section B, 06–12), manufacturing (制造业, C, 13–43), power, gas and water (电力热力燃气及水生产和
供应业, D, 44–46) — and the service divisions whose 规上 enterprises the statistics count
(规模以上服务业, sections G, I, L–R).

Zhejiang's industry is dominated by textiles (纺织), general and special equipment (通用/专用设备),
electrical machinery (电气机械), chemicals (化学原料), metal products (金属制品), plastics, autos
and electronics; refining and tobacco are few but very large or very taxed. The generator needs,
per division (大类): how many enterprises it has, how likely they are to be 规上, and the ratios
that shape their accounts (value added and tax per revenue, energy and discharge per value
added, R&D intensity, labour intensity). Absolute levels are fixed later by calibration
(:mod:`.calibration`); these profiles only set the mix. Every number here is the project's own
assumption (an order of magnitude reasoned from the trade, not a published figure) unless its
comment names a source.

Mining and utilities are few in Zhejiang (quarrying of building stone, 非金属矿采选, is most of
its mining; utilities are few but large): together about 1.5% of industrial enterprises and
2–3% of 规上 ones (project assumption; no published count by section was at hand).

Services: the 规上 threshold differs by section (规模以上服务业, the National Bureau of
Statistics' definition as the project reads it: 2,000 万元 of annual revenue for transport,
storage and post G, information services I, water, environment and public facilities N and
health Q84; 1,000 万元 for leasing and business services L, research and technical services M,
education P; 500 万元 for resident services O, culture, sports and entertainment R and social
work Q85). Wholesale, retail, hotels and catering (限额以上批零住餐), finance J and construction are
counted separately by the statistics and are not generated. Real estate K is left out too: the
project's industry table has no classes below division 70, so a services enterprise there could
not be told from 房地产开发经营 (7010), which the services evaluation excludes. Outside C and
63–65 the project's industry table stops at the division, so such enterprises carry the
2-digit division code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GroupProfile:
    """Ratios shared by a group of similar divisions (e.g. heavy process industries)."""

    va_ratio: float  # 工业增加值 / 营业收入
    tax_ratio: float  # 实缴税收 / 营业收入
    energy_per_va: float  # 综合能耗 (tce) per 万元 增加值
    discharge_per_va: float  # 主要污染物排放量 (t) per 万元 增加值
    rd_ratio: float  # 研发经费 / 营业收入
    va_per_employee: float  # 万元 per person (劳动生产率)
    college_share: float  # 大专以上学历 / 职工
    elec_share: float  # electricity's share of 综合能耗
    export_share: float  # mean 出口交货值 / 营业收入 among exporters
    discharge_cover: float  # share of 规上 enterprises with a discharge record (排污许可)
    land_per_size: float  # relative land need (亩 per unit of size)
    own_land: float = 1.0  # services: share that hold their own land (the rest rent offices)


GROUPS: dict[str, GroupProfile] = {
    # 化工, 化纤, 石化, 建材, 冶炼, 造纸, 印染: energy and discharge heavy, land hungry.
    "heavy": GroupProfile(0.19, 0.040, 0.90, 0.00040, 0.018, 32.0, 0.22, 0.45, 0.15, 0.95, 1.5),
    # 纺织服装, 皮革, 家具, 文教用品: labour intensive, thin margins, many exporters.
    "light": GroupProfile(0.18, 0.032, 0.28, 0.00018, 0.015, 18.0, 0.15, 0.70, 0.30, 0.55, 0.8),
    # 设备, 汽车, 电气, 电子, 仪表, 医药: higher value added, R&D and skills.
    "equipment": GroupProfile(0.23, 0.045, 0.16, 0.00008, 0.040, 34.0, 0.35, 0.80, 0.25, 0.45, 1.0),
    # 塑料, 金属制品, 食品 and the rest.
    "general": GroupProfile(0.20, 0.040, 0.35, 0.00020, 0.022, 26.0, 0.22, 0.65, 0.18, 0.65, 1.0),
    # 采矿 (quarries): dust rather than the four main pollutants, diesel and explosives.
    "mining": GroupProfile(0.30, 0.060, 0.45, 0.00010, 0.005, 40.0, 0.12, 0.40, 0.0, 0.60, 3.0),
    # 电力、热力 (thermal plants dominate energy; hydro, solar and grid companies do not discharge).
    "power": GroupProfile(0.25, 0.050, 2.50, 0.00150, 0.010, 60.0, 0.45, 0.10, 0.0, 0.35, 2.0),
    # 燃气, 水 (gas distribution, waterworks and 污水处理 4620).
    "utility": GroupProfile(0.30, 0.040, 0.30, 0.00060, 0.008, 45.0, 0.35, 0.70, 0.0, 0.50, 1.5),
    # Services (value added is not reported: 工业增加值 is blank; va_ratio only sizes electricity).
    "transport": GroupProfile(0.30, 0.030, 0.40, 0.0, 0.003, 18.0, 0.20, 0.25, 0.0, 0.0, 1.6, 0.75),
    "tech": GroupProfile(0.45, 0.060, 0.04, 0.0, 0.070, 35.0, 0.85, 0.95, 0.0, 0.0, 0.35, 0.45),
    "business": GroupProfile(0.35, 0.050, 0.04, 0.0, 0.010, 22.0, 0.60, 0.95, 0.0, 0.0, 0.35, 0.45),
    "public": GroupProfile(0.40, 0.035, 0.10, 0.0, 0.005, 16.0, 0.55, 0.90, 0.0, 0.0, 0.9, 0.80),
    "personal": GroupProfile(0.40, 0.040, 0.08, 0.0, 0.003, 12.0, 0.25, 0.90, 0.0, 0.0, 0.5, 0.50),
}


@dataclass(frozen=True)
class DivisionProfile:
    """One manufacturing division (制造业大类)."""

    code: int
    word: str  # the trade word in enterprise names, e.g. 纺织 in 绍兴某某纺织有限公司
    weight: float  # relative number of enterprises in Zhejiang
    group: str
    above_bias: float = 0.0  # log-odds shift of being 规上 (capital-intensive divisions are larger)
    size_spread: float = 1.0  # spread of 规上 revenue (autos and refining have giants)
    tax_factor: float = 1.0  # tobacco and refining pay consumption tax
    section: str = "C"  # GB/T 4754 门类
    threshold: float = 2000.0  # 万元 of revenue above which an enterprise is 规上


INDUSTRY_SECTIONS = ("B", "C", "D")

DIVISIONS: tuple[DivisionProfile, ...] = (
    DivisionProfile(8, "矿业", 0.05, "mining", 0.5, 1.0, section="B"),
    DivisionProfile(9, "矿业", 0.07, "mining", 0.5, 1.0, section="B"),
    DivisionProfile(10, "石料", 0.50, "mining", 0.3, 0.9, section="B"),
    DivisionProfile(11, "矿山服务", 0.03, "mining", 0.0, 0.9, section="B"),
    DivisionProfile(44, "电力", 0.80, "power", 2.0, 1.35, section="D"),
    DivisionProfile(45, "燃气", 0.25, "utility", 1.5, 1.1, section="D"),
    DivisionProfile(46, "水务", 0.35, "utility", 1.5, 1.0, section="D"),
    DivisionProfile(13, "食品", 1.5, "general"),
    DivisionProfile(14, "食品", 1.2, "general"),
    DivisionProfile(15, "饮料", 0.8, "general", 0.2, 1.1, 2.0),
    DivisionProfile(16, "烟草", 0.05, "general", 2.5, 1.3, 12.0),
    DivisionProfile(17, "纺织", 9.0, "heavy", 0.1, 0.95, 0.7),
    DivisionProfile(18, "服饰", 5.0, "light", -0.2, 0.9, 0.8),
    DivisionProfile(19, "鞋业", 3.0, "light", -0.2, 0.9, 0.8),
    DivisionProfile(20, "木业", 1.5, "light", -0.3, 0.85),
    DivisionProfile(21, "家具", 2.5, "light", -0.1, 0.95),
    DivisionProfile(22, "纸业", 2.0, "heavy", 0.2, 1.0),
    DivisionProfile(23, "印刷", 1.5, "light", -0.3, 0.85),
    DivisionProfile(24, "文体用品", 3.0, "light", -0.2, 0.9),
    DivisionProfile(25, "石化", 0.2, "heavy", 1.5, 1.35, 3.0),
    DivisionProfile(26, "化工", 6.0, "heavy", 0.5, 1.15, 1.1),
    DivisionProfile(27, "药业", 2.0, "equipment", 0.6, 1.1, 1.3),
    DivisionProfile(28, "化纤", 2.0, "heavy", 0.6, 1.25, 0.8),
    DivisionProfile(29, "塑业", 7.0, "general", 0.0, 0.95),
    DivisionProfile(30, "建材", 4.0, "heavy", 0.1, 0.95),
    DivisionProfile(31, "钢铁", 0.8, "heavy", 0.8, 1.2),
    DivisionProfile(32, "有色金属", 1.5, "heavy", 0.7, 1.2),
    DivisionProfile(33, "五金", 8.0, "general", -0.1, 0.9),
    DivisionProfile(34, "机械", 12.0, "equipment", 0.0, 0.95),
    DivisionProfile(35, "装备", 7.0, "equipment", 0.0, 1.0),
    DivisionProfile(36, "汽车部件", 6.0, "equipment", 0.4, 1.2),
    DivisionProfile(37, "船舶", 2.0, "equipment", 0.2, 1.05),
    DivisionProfile(38, "电气", 10.0, "equipment", 0.2, 1.1),
    DivisionProfile(39, "电子", 5.0, "equipment", 0.4, 1.2),
    DivisionProfile(40, "仪表", 2.5, "equipment", 0.0, 1.0),
    DivisionProfile(41, "制品", 1.0, "light", -0.4, 0.85),
    DivisionProfile(42, "再生资源", 0.5, "general", 0.0, 0.95),
    DivisionProfile(43, "设备维修", 0.3, "general", -0.3, 0.85),
    # Services: weight = relative number of 规上 enterprises among services (project assumption).
    DivisionProfile(54, "运输", 6.0, "transport", section="G"),
    DivisionProfile(55, "航运", 2.0, "transport", section="G"),
    DivisionProfile(58, "物流", 5.0, "transport", section="G"),
    DivisionProfile(59, "仓储", 4.0, "transport", section="G"),
    DivisionProfile(60, "快递", 1.5, "transport", section="G"),
    DivisionProfile(63, "通信", 1.0, "tech", section="I"),
    DivisionProfile(64, "网络科技", 4.0, "tech", section="I"),
    DivisionProfile(65, "软件", 9.0, "tech", section="I"),
    DivisionProfile(71, "租赁", 1.5, "business", section="L", threshold=1000.0),
    DivisionProfile(72, "商务服务", 12.0, "business", section="L", threshold=1000.0),
    DivisionProfile(73, "研究院", 2.0, "tech", section="M", threshold=1000.0),
    DivisionProfile(74, "技术服务", 7.0, "tech", section="M", threshold=1000.0),
    DivisionProfile(75, "科技推广", 4.0, "tech", section="M", threshold=1000.0),
    DivisionProfile(76, "水利", 0.5, "public", section="N"),
    DivisionProfile(77, "环境治理", 2.0, "public", section="N"),
    DivisionProfile(78, "市政设施", 2.0, "public", section="N"),
    DivisionProfile(80, "家政服务", 1.5, "personal", section="O", threshold=500.0),
    DivisionProfile(81, "维修服务", 1.5, "personal", section="O", threshold=500.0),
    DivisionProfile(83, "教育科技", 2.0, "public", section="P", threshold=1000.0),
    DivisionProfile(84, "医疗", 2.5, "public", section="Q"),
    DivisionProfile(85, "养老服务", 0.5, "personal", section="Q", threshold=500.0),
    DivisionProfile(86, "传媒", 0.8, "personal", section="R", threshold=500.0),
    DivisionProfile(87, "影视", 0.8, "personal", section="R", threshold=500.0),
    DivisionProfile(88, "文化", 1.0, "personal", section="R", threshold=500.0),
    DivisionProfile(89, "体育", 0.5, "personal", section="R", threshold=500.0),
    DivisionProfile(90, "娱乐", 0.8, "personal", section="R", threshold=500.0),
)
INDUSTRIAL = tuple(d for d in DIVISIONS if d.section in INDUSTRY_SECTIONS)
SERVICES = tuple(d for d in DIVISIONS if d.section not in INDUSTRY_SECTIONS)

_BY_CODE = {d.code: d for d in DIVISIONS}


def profile(code: int) -> DivisionProfile:
    """Profile of division `code` (industrial or services)."""
    return _BY_CODE[code]


def division_table(field: str, divisions: np.ndarray) -> np.ndarray:
    """Per-enterprise array of a division or group attribute, looked up by division code.

    `field` names a :class:`DivisionProfile` or :class:`GroupProfile` attribute; the lookup is a
    table index, not a Python loop over enterprises.
    """
    table = np.zeros(100)
    for d in DIVISIONS:
        value = getattr(d, field) if hasattr(d, field) else getattr(GROUPS[d.group], field)
        table[d.code] = value
    return table[divisions]
