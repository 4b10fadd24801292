"""How each department sends its files (各部门报送习惯), per DOMAIN.md §2.

市场监管 exports Excel with a title row above the header and a 合计 row below the data;
自然资源 sends GBK CSV from a Windows tool; 税务 sends UTF-8 CSV with a BOM and thousands
separators; 统计 sends Excel with a two-row header grouping related columns; 能源 and 生态环境
send GB18030 CSV in which some numbers were typed with full-width digits and some codes carry a
full-width space; 电力 sends plain UTF-8 CSV; 经信 exports its park list from its parks platform
as Excel with a title row, and the membership list as UTF-8 CSV with a BOM. Any file may, now
and then, state a different but convertible unit in its header (实缴税收(元), 用电量(万千瓦时)):
that is legal, not a defect.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Habit:
    """Format habits of one source's files."""

    stem: str  # file name without period and extension, e.g. "tax" → tax_2021.csv
    format: str  # "xlsx" or "csv"
    encoding: str = "utf-8-sig"  # CSV encoding (utf-8-sig = UTF-8 with BOM)
    crlf: bool = False  # Windows line ends
    thousands: bool = False  # 千分位 in amounts
    fullwidth_digits: float = 0.0  # share of clean rows whose numbers use full-width digits
    fullwidth_spaces: float = 0.0  # share of clean rows whose credit code carries a full-width space
    title: str | None = None  # xlsx title row, formatted with {year} and {as_of}
    footer: str | None = None  # xlsx row after the data, formatted with {rows}
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()  # two-row header: label over column names
    variant_share: float = 0.0  # chance that a file uses an alternative unit in its header
    variants: dict[str, tuple[str, ...]] = field(default_factory=dict)  # contract unit → alternatives
    per_year: bool = True  # one file per year (else one file for the whole run)


HABITS: dict[str, Habit] = {
    "registry": Habit(
        stem="registry",
        format="xlsx",
        per_year=False,
        title="浙江省市场主体登记信息（截至{as_of}）",
        footer="合计：{rows}户",
    ),
    "land": Habit(
        stem="land",
        format="csv",
        encoding="gbk",
        crlf=True,
        per_year=False,
        variant_share=0.2,
        variants={"亩": ("平方米", "公顷")},
    ),
    "tax": Habit(
        stem="tax",
        format="csv",
        encoding="utf-8-sig",
        thousands=True,
        variant_share=0.25,
        variants={"万元": ("元",)},
    ),
    "statistics": Habit(
        stem="statistics",
        format="xlsx",
        title="浙江省工业企业年度主要经济指标（{year}年）",
        footer="注：是否规上指年主营业务收入2000万元及以上的规模以上工业企业。",
        groups=(
            ("主要经济指标", ("value_added", "revenue", "rd_expense")),
            ("从业人员", ("employees", "college_staff")),
        ),
        variant_share=0.15,
        variants={"万元": ("元",)},
    ),
    "energy": Habit(
        stem="energy",
        format="csv",
        encoding="gb18030",
        crlf=True,
        fullwidth_digits=0.04,
        fullwidth_spaces=0.03,
    ),
    "discharge": Habit(
        stem="discharge",
        format="csv",
        encoding="gb18030",
        crlf=True,
        fullwidth_digits=0.04,
        fullwidth_spaces=0.03,
        variant_share=0.15,
        variants={"吨": ("千克",)},
    ),
    "power": Habit(
        stem="power",
        format="csv",
        encoding="utf-8",
        variant_share=0.25,
        variants={"千瓦时": ("万千瓦时", "kWh", "度")},
    ),
    "power-daily": Habit(
        stem="power_daily",
        format="csv",
        encoding="utf-8",
        per_year=False,
        variant_share=0.2,
        variants={"千瓦时": ("万千瓦时", "kWh")},
    ),
    "monthly": Habit(
        stem="monthly",
        format="xlsx",
        title="规模以上工业企业月度快报（{year}年）",
        variant_share=0.15,
        variants={"万元": ("元",)},
    ),
    "invoices": Habit(
        stem="invoices",
        format="csv",
        encoding="utf-8-sig",
        thousands=True,
        variant_share=0.25,
        variants={"万元": ("元",)},
    ),
    "parks": Habit(
        stem="parks",
        format="xlsx",
        title="浙江省开发区（园区）名录（{year}年）",
        variant_share=0.2,
        variants={"亩": ("平方米", "公顷")},
    ),
    "park-members": Habit(stem="park_members", format="csv", encoding="utf-8-sig"),
    # 经信 exports the 技改/首台套/专精特新 list from its enterprise-service system as Excel
    # with a title row, like its park list.
    "support": Habit(stem="support", format="xlsx", title="企业技改投资与认定情况（{year}年）"),
    # Enterprise risk sources (risk scenario): 人社 exports GBK CSV from its social insurance
    # system; 税务 as its other files (BOM, 千分位); the utilities send plain UTF-8 CSV; 人行's
    # credit system gives GB18030 with some full-width digits; 法院 and 金融监管 send Excel with
    # a title row (法院 with a 合计 line below).
    "insured": Habit(stem="insured", format="csv", encoding="gbk", crlf=True),
    # 人社's contribution file (cost burden) comes from the same social insurance system: GBK
    # CSV with Windows line ends; amounts in 元, as that system keeps them.
    "social-insurance": Habit(stem="social_insurance", format="csv", encoding="gbk", crlf=True),
    "tax-monthly": Habit(
        stem="tax_monthly", format="csv", thousands=True, variant_share=0.25, variants={"万元": ("元",)}
    ),
    "utility": Habit(
        stem="utility", format="csv", encoding="utf-8", variant_share=0.2, variants={"万元": ("元",)}
    ),
    "credit": Habit(stem="credit", format="csv", encoding="gb18030", crlf=True, fullwidth_digits=0.03),
    "court": Habit(
        stem="court",
        format="xlsx",
        title="涉企诉讼、执行与保全案件（{year}年）",
        footer="合计：{rows}件",
        variant_share=0.15,
        variants={"万元": ("元",)},
    ),
    "guarantees": Habit(stem="guarantees", format="xlsx", title="企业间担保关系（{year}年，截至年末）"),
    # 海关 exports its statistics as Excel with a title row naming the customs district and a
    # source note below the data; amounts are sometimes in 元 (运行监测, customs exports).
    "customs": Habit(
        stem="customs",
        format="xlsx",
        title="杭州海关关区企业出口统计（{year}年）",
        footer="数据来源：海关统计，金额为人民币计价。",
        variant_share=0.2,
        variants={"万元": ("元",)},
    ),
    # 统计局: the monthly release tables of 规上工业增加值 growth, exported as CSV with a BOM.
    "official": Habit(stem="official", format="csv", encoding="utf-8-sig"),
    # 经信: the key medical suppliers' daily reports (医疗应急物资), exported from its enterprise
    # monitoring system as Excel with a title row naming the last day and a note below.
    "medical-supply": Habit(
        stem="medical_supply",
        format="xlsx",
        per_year=False,
        title="重点医疗物资生产企业产能日报（截至{as_of}）",
        footer="注：未报送的企业当日无数据行；数量单位见物资目录。共{rows}行。",
    ),
}

# When an Excel source exceeds this many rows it is written as UTF-8-BOM CSV instead
# (xlsxwriter manages ~120k cells/s; the switch is recorded in the manifest).
XLSX_MAX_ROWS = 200_000
