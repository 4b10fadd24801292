"""The monthly measures of monitoring (运行监测指标, DOMAIN.md §6) and where each comes from.

Each measure is one column of one warehouse fact table, summed over enterprises:

| measure | 指标 | source (table.column) | unit |
|---|---|---|---|
| output_value | 工业总产值 | 统计 快报 monthly.output_value | 万元 |
| revenue | 营业收入 | monthly.revenue | 万元 |
| profit | 利润总额 | monthly.profit | 万元 |
| export_value | 出口交货值 | monthly.export_value | 万元 |
| customs_export | 海关出口额 | 海关 customs_exports.export_amount | 万元 |
| kwh | 工业用电量 | 电力 power_monthly.kwh | 千瓦时 |
| invoice_sales | 增值税开票销售额 | 税务 invoices.amount (seller) | 万元 |

Monthly 税收 is not sent by the tax department (its file is annual), so the monthly tax signal
is the VAT invoices the enterprise issued (开票销售额). It is tax-derived: `TAX_DERIVED` lists the
measures whose inputs are the tax department's, and `core.visibility` withholds them from roles
without clearance. 每百元营业收入成本费用 is derived as (营业收入 − 利润总额) ÷ 营业收入 × 100: the
快报 carries no 营业成本 column, so this is cost *and expenses* per 100 yuan (an approximation,
stated wherever it is shown).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    table: str
    column: str
    unit: str
    code_column: str = "credit_code"
    inputs: tuple[str, ...] = ()  # sensitive input fields (core.audit.SENSITIVE_FIELDS) it reads


MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure("output_value", "工业总产值", "monthly", "output_value", "万元"),
        Measure("revenue", "营业收入", "monthly", "revenue", "万元"),
        Measure("profit", "利润总额", "monthly", "profit", "万元"),
        Measure("export_value", "出口交货值", "monthly", "export_value", "万元"),
        Measure("customs_export", "海关出口额", "customs_exports", "export_amount", "万元"),
        Measure("kwh", "工业用电量", "power_monthly", "kwh", "千瓦时"),
        Measure("invoice_sales", "增值税开票销售额", "invoices", "amount", "万元", "seller_code", ("tax",)),
    )
}

COST_PER_100 = "cost_per_100"
COST_LABEL = "每百元营业收入成本费用"

TAX_DERIVED = frozenset(k for k, m in MEASURES.items() if m.inputs)

LEVELS: dict[str, str] = {
    "province": "全省",
    "city": "设区市",
    "county": "县（市、区）",
    "industry": "行业大类",
    "chain": "标志性产业链",
    "cluster": "“415”产业集群",
}


def label(measure: str) -> str:
    if measure == COST_PER_100:
        return COST_LABEL
    return MEASURES[measure].label


def withheld(measure: str, visibility) -> bool:
    """Whether `visibility` (core.visibility) withholds this measure: by its inputs, the one rule."""
    if measure == COST_PER_100:
        return False
    return visibility.withholds_indicator(MEASURES[measure].inputs)
