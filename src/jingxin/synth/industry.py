"""Industry profiles (行业画像) of Zhejiang's manufacturing divisions 13–43, for generation.

Zhejiang's industry is dominated by textiles (纺织), general and special equipment (通用/专用设备),
electrical machinery (电气机械), chemicals (化学原料), metal products (金属制品), plastics, autos
and electronics; refining and tobacco are few but very large or very taxed. The generator needs,
per division (大类): how many enterprises it has, how likely they are to be 规上, and the ratios
that shape their accounts (value added and tax per revenue, energy and discharge per value
added, R&D intensity, labour intensity). Absolute levels are fixed later by calibration
(:mod:`.calibration`); these profiles only set the mix, so rough but plausible numbers suffice.
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


GROUPS: dict[str, GroupProfile] = {
    # 化工, 化纤, 石化, 建材, 冶炼, 造纸, 印染: energy and discharge heavy, land hungry.
    "heavy": GroupProfile(0.19, 0.040, 0.90, 0.00040, 0.018, 32.0, 0.22, 0.45, 0.15, 0.95, 1.5),
    # 纺织服装, 皮革, 家具, 文教用品: labour intensive, thin margins, many exporters.
    "light": GroupProfile(0.18, 0.032, 0.28, 0.00018, 0.015, 18.0, 0.15, 0.70, 0.30, 0.55, 0.8),
    # 设备, 汽车, 电气, 电子, 仪表, 医药: higher value added, R&D and skills.
    "equipment": GroupProfile(0.23, 0.045, 0.16, 0.00008, 0.040, 34.0, 0.35, 0.80, 0.25, 0.45, 1.0),
    # 塑料, 金属制品, 食品 and the rest.
    "general": GroupProfile(0.20, 0.040, 0.35, 0.00020, 0.022, 26.0, 0.22, 0.65, 0.18, 0.65, 1.0),
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


DIVISIONS: tuple[DivisionProfile, ...] = (
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
)

_BY_CODE = {d.code: d for d in DIVISIONS}


def profile(code: int) -> DivisionProfile:
    """Profile of manufacturing division `code` (13–43)."""
    return _BY_CODE[code]


def division_table(field: str, divisions: np.ndarray) -> np.ndarray:
    """Per-enterprise array of a division or group attribute, looked up by division code.

    `field` names a :class:`DivisionProfile` or :class:`GroupProfile` attribute; the lookup is a
    table index, not a Python loop over enterprises.
    """
    table = np.zeros(44)
    for d in DIVISIONS:
        value = getattr(d, field) if hasattr(d, field) else getattr(GROUPS[d.group], field)
        table[d.code] = value
    return table[divisions]
