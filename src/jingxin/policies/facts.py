"""The facts a policy may ask about (政策要素), one row per enterprise and data year.

Each fact names the warehouse source it is read from, so that every decision can say which
fact and which batch (批次) it read. Facts of a source an enterprise has no row in are NULL:
a condition over a missing fact is false and the trace says 无数据, never a guess.

The table is one set-based Ibis expression (portable: DuckDB, PostgreSQL, PySpark).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis

from jingxin.core.warehouse import Warehouse


@dataclass(frozen=True)
class Fact:
    """A fact a condition or formula may name: where it comes from, its label and unit."""

    source: str  # warehouse table (or "evaluation" for 亩均 results)
    title: str
    unit: str = ""
    kind: str = "number"  # number, text, bool


FACTS: dict[str, Fact] = {
    "county_code": Fact("registry", "所在区县代码", kind="text"),
    "city_code": Fact("registry", "所在设区市代码", kind="text"),
    "industry_code": Fact("registry", "行业代码", kind="text"),
    "manufacturing": Fact("registry", "是否制造业（C门类）", kind="bool"),
    "area_mu": Fact("land", "用地面积", "亩"),
    "above_scale": Fact("statistics", "是否规上", kind="bool"),
    "upgraded": Fact("statistics", "本年小升规（上年规下、本年规上）", kind="bool"),
    "revenue": Fact("statistics", "营业收入", "万元"),
    "rd_expense": Fact("statistics", "研发经费", "万元"),
    "employees": Fact("statistics", "年平均职工人数", "人"),
    "tax_paid": Fact("tax", "实缴税收", "万元"),
    "kwh": Fact("power_monthly", "年用电量", "千瓦时"),
    "mu_class": Fact("evaluation", "亩均评价类别", kind="text"),
    "consecutive_d_years": Fact("evaluation", "连续D类年数", "年"),
    "rank_in_industry": Fact("evaluation", "行业内排名", "名"),
    "tech_investment": Fact("support", "技改投资额", "万元"),
    "first_set_premium": Fact("support", "首台（套）保险保费", "万元"),
    "specialized_level": Fact("support", "专精特新认定", kind="text"),
}
"""Every fact of the language; `mu_class` etc. come from the stored 亩均 evaluation run."""

SOURCES = ("registry", "land", "statistics", "tax", "power_monthly", "evaluation", "support")
SOURCE_TITLES = {
    "registry": "市场主体登记信息",
    "land": "工业用地信息",
    "statistics": "企业年度统计",
    "tax": "企业年度税收",
    "power_monthly": "企业月度用电量",
    "evaluation": "亩均效益综合评价结果",
    "support": "企业技改投资与认定",
}


def batch_column(source: str) -> str:
    """The column of the facts table holding the batch (or evaluation run) a source's facts came from."""
    return f"{source}__batch"


def _empty_support() -> ibis.Table:
    return ibis.memtable(
        {
            "credit_code": [],
            "tech_investment": [],
            "first_set_premium": [],
            "specialized_level": [],
            "support__batch": [],
        },
        schema={
            "credit_code": "string",
            "tech_investment": "float64",
            "first_set_premium": "float64",
            "specialized_level": "string",
            "support__batch": "string",
        },
    )


def fact_table(wh: Warehouse, year: int, evaluation_systems: tuple[str, ...] | None = None) -> ibis.Table:
    """One row per registered enterprise with every fact of data year `year` and the batch
    each source's facts came from (as text: a batch id, or ``run:<id>`` for evaluation results).

    `evaluation_systems`: the 亩均 systems whose newest stored run of `year` gives the class
    (规上 first, then 规下); default the provincial industrial pair.
    """
    systems = evaluation_systems or ("zhejiang_industry_above", "zhejiang_industry_below")
    reg = wh.current("registry")
    # One row per enterprise (a corrected file may repeat one): plain aggregates, portable to
    # PostgreSQL and Spark (no DISTINCT ON / FIRST).
    reg = reg.group_by("credit_code").aggregate(
        name=reg.name.max(),
        county_code=reg.county_code.max(),
        industry_code=reg.industry_code.max(),
        registry__batch=reg.batch_id.max().cast("string"),
    )
    base = reg.mutate(
        city_code=reg.county_code.substr(0, 4).concat("00"),
        manufacturing=(reg.industry_code.substr(0, 2) >= "13") & (reg.industry_code.substr(0, 2) <= "43"),
    )

    land = wh.current("land")
    land = land.group_by("credit_code").aggregate(
        area_mu=land.area_mu.sum().cast("float64"), land__batch=land.batch_id.max().cast("string")
    )
    stats = wh.current("statistics")
    cur = stats.filter(stats.year == year)
    now = cur.group_by("credit_code").aggregate(
        above_scale=cur.above_scale.any(),
        revenue=cur.revenue.max().cast("float64"),
        rd_expense=cur.rd_expense.max().cast("float64"),
        employees=cur.employees.max().cast("float64"),
        statistics__batch=cur.batch_id.max().cast("string"),
    )
    old = stats.filter(stats.year == year - 1)
    before = old.group_by(p_code=old.credit_code).aggregate(prev_above=old.above_scale.any())
    tax = wh.current("tax")
    tax = (
        tax.filter(tax.year == year)
        .group_by("credit_code")
        .aggregate(tax_paid=tax.tax_paid.sum().cast("float64"), tax__batch=tax.batch_id.max().cast("string"))
    )
    power = wh.current("power_monthly")
    power = power.filter(power.month.cast("string").substr(0, 4) == str(year))
    power = power.group_by("credit_code").aggregate(
        kwh=power.kwh.sum().cast("float64"), power_monthly__batch=power.batch_id.max().cast("string")
    )
    t = base
    for part in (land, now, tax, power, _evaluation(wh, year, systems), _support(wh, year)):
        if part is None:
            continue
        t = t.left_join(part, "credit_code").drop("credit_code_right")
    t = t.left_join(before, t.credit_code == before.p_code).drop("p_code")
    t = t.mutate(upgraded=(t.above_scale == True) & (t.prev_above == False)).drop("prev_above")  # noqa: E712
    for name in ("mu_class", "consecutive_d_years", "rank_in_industry"):
        if name not in t.columns:
            t = t.mutate(**{name: ibis.null("string" if name == "mu_class" else "float64")})
    if "evaluation__batch" not in t.columns:
        t = t.mutate(evaluation__batch=ibis.null("string"))
    return t


def _evaluation(wh: Warehouse, year: int, systems: tuple[str, ...]) -> ibis.Table | None:
    """class, consecutive D years and rank in industry from the newest stored run per system."""
    if not (wh.has_table("eval_runs") and wh.has_table("eval_results")):
        return None
    runs = wh.table("eval_runs")
    found = wh.to_pyarrow(
        runs.filter(runs.system.isin(list(systems)) & (runs.year == year))
        .select("run_id", "system", "created_at")
        .order_by([ibis.desc("created_at"), ibis.desc("run_id")])
    ).to_pylist()
    newest: dict[str, str] = {}
    for r in found:
        newest.setdefault(r["system"], str(r["run_id"]))
    parts = []
    for order, system in enumerate(systems):
        if system not in newest:
            continue
        res = wh.table("eval_results")
        res = res.filter(res.run_id == newest[system])
        parts.append(
            res.select(
                "credit_code",
                mu_class=res["class"],
                consecutive_d_years=res.consecutive_d_years.cast("float64"),
                rank_in_industry=res.rank_in_industry.cast("float64"),
                evaluation__batch=ibis.literal("run:" + newest[system]),
                __order=ibis.literal(order),
            )
        )
    if not parts:
        return None
    union = ibis.union(*parts) if len(parts) > 1 else parts[0]
    union = union.mutate(__rn=ibis.row_number().over(group_by="credit_code", order_by="__order"))
    return union.filter(union.__rn == 0).drop("__rn", "__order")


def _support(wh: Warehouse, year: int) -> ibis.Table:
    """技改投资, 首台（套）保费 and 专精特新 level of `year` from the 经信 source `support`."""
    if not wh.has_table("support"):
        return _empty_support()
    s = wh.current("support")
    s = s.filter(s.year == year)
    return s.group_by("credit_code").aggregate(
        tech_investment=s.tech_investment.sum().cast("float64"),
        first_set_premium=s.first_set_premium.sum().cast("float64"),
        specialized_level=s.specialized_level.max(),
        support__batch=s.batch_id.max().cast("string"),
    )
