"""Cost-burden indicators and policy relief as Ibis expressions (DuckDB, PostgreSQL, PySpark).

Inputs are the warehouse's current fact tables (`registry`, `statistics`, `tax`, `monthly`,
`power_monthly`, `land`, `social_insurance`) and the 亩均 results (`eval_results` of the chosen
run). Indicators, by county and industry division (行业大类, 2 digits):

- 每百元营业收入成本费用 (cost per 100 yuan of revenue) = (revenue − profit) / revenue × 100, from
  the monthly 快报 (revenue and profit; the costs themselves are not reported, so costs and
  expenses are taken together as revenue minus profit);
- tax burden (税负) = tax paid / revenue × 100 (annual tax and statistics);
- electricity cost (用电成本, 万元) = kWh × price + kWh × the D-class surcharge the enterprise
  pays (`power_surcharge_yuan_per_kwh` of the 亩均 run, `jingxin.evaluation.policy`), and per
  100 yuan of revenue;
- social insurance per employee (人均社保缴费, 元/人·年) = the employer contributions of the
  year ÷ the insured staff averaged over the year (insured person-months ÷ 12), both from 人社's
  monthly 社保缴费 file (`social_insurance`); an enterprise that paid for part of the year counts
  for that part only. Null where no contribution of the year was received;
- financing cost (融资成本): no source of the platform carries interest paid (人行's `credit`
  file holds loan balances and classes, not interest, and DOMAIN.md gives no basis for one), so
  it is not computed; it will be shown once a source exists, never estimated.

Nothing loops over rows: each function returns one set-based expression.
"""

from __future__ import annotations

import ibis

from jingxin.burden.config import BurdenConfig


def _groups(registry: ibis.Table) -> ibis.Table:
    return registry.select("credit_code", "county_code", industry=registry.industry_code.substr(0, 2))


def social_by_enterprise(social: ibis.Table, year: int) -> ibis.Table:
    """Per enterprise: insured person-months and employer contributions (元) of `year`."""
    so = social.filter(social.month.year() == year)
    return so.group_by("credit_code").aggregate(
        insured_months=so.insured_count.sum().cast("float64"), social_yuan=so.contributions.sum()
    )


def annual(
    registry: ibis.Table,
    statistics: ibis.Table,
    tax: ibis.Table,
    monthly: ibis.Table,
    power: ibis.Table,
    results: ibis.Table | None,
    year: int,
    cfg: BurdenConfig,
    social: ibis.Table | None = None,
) -> ibis.Table:
    """Yearly indicators by county and industry for `year` (`social`: the 社保缴费 facts, None
    when the warehouse has none, which leaves the social insurance columns null)."""
    reg = _groups(registry)
    st = statistics.filter(statistics.year == year).select("credit_code", "revenue", "employees")
    tx = tax.filter(tax.year == year).select("credit_code", "tax_paid")
    mo = monthly.filter(monthly.month.year() == year)
    mo = mo.group_by("credit_code").aggregate(m_revenue=mo.revenue.sum(), m_profit=mo.profit.sum())
    pw = power.filter(power.month.year() == year)
    pw = pw.group_by("credit_code").aggregate(kwh=pw.kwh.sum())
    t = (
        reg.join(st, "credit_code")
        .left_join(tx, "credit_code")
        .left_join(mo, "credit_code")
        .left_join(pw, "credit_code")
    )
    if social is not None:
        t = t.left_join(social_by_enterprise(social, year), "credit_code")
        insured_months, social_yuan = t.insured_months, t.social_yuan
    else:
        insured_months = social_yuan = ibis.null("float64")
    t = t.select(
        *reg.columns,
        "revenue",
        "employees",
        "tax_paid",
        "m_revenue",
        "m_profit",
        "kwh",
        insured_months=insured_months,
        social_yuan=social_yuan,
    )
    if results is not None:
        sur = results.select("credit_code", surcharge=results.power_surcharge_yuan_per_kwh)
        t = t.left_join(sur, "credit_code").drop("credit_code_right")
        surcharge = t.surcharge.fill_null(0.0)
    else:
        surcharge = ibis.literal(0.0)
    kwh = t.kwh.fill_null(0.0)
    t = t.mutate(
        power_cost=kwh * cfg.electricity_price_yuan_per_kwh / 10000.0,
        surcharge_cost=kwh * surcharge / 10000.0,
    )
    g = t.group_by(["county_code", "industry"]).aggregate(
        enterprises=t.credit_code.count(),
        revenue=t.revenue.sum(),
        tax_paid=t.tax_paid.fill_null(0.0).sum(),
        m_revenue=t.m_revenue.sum(),
        m_cost=(t.m_revenue - t.m_profit).sum(),
        employees=t.employees.sum(),
        kwh=kwh.sum(),
        power_cost=t.power_cost.sum(),
        surcharge_cost=t.surcharge_cost.sum(),
        insured=t.insured_months.sum() / 12.0,
        social_contributions=t.social_yuan.sum() / 10000.0,
    )
    return g.mutate(
        cost_per_100=ibis.ifelse(g.m_revenue > 0, g.m_cost / g.m_revenue * 100, ibis.null("float64")),
        tax_burden_pct=ibis.ifelse(g.revenue > 0, g.tax_paid / g.revenue * 100, ibis.null("float64")),
        electricity_cost=g.power_cost + g.surcharge_cost,
        electricity_per_100=ibis.ifelse(
            g.revenue > 0, (g.power_cost + g.surcharge_cost) / g.revenue * 100, ibis.null("float64")
        ),
        social_per_employee=ibis.ifelse(
            g.insured > 0, g.social_contributions * 10000.0 / g.insured, ibis.null("float64")
        ),
    ).order_by(["county_code", "industry"])


def monthly_cost(registry: ibis.Table, monthly: ibis.Table, year: int) -> ibis.Table:
    """每百元营业收入成本费用 by county and month of `year`."""
    reg = _groups(registry)
    mo = monthly.filter(monthly.month.year() == year)
    t = mo.join(reg, "credit_code")
    g = t.group_by(["county_code", "month"]).aggregate(
        revenue=t.revenue.sum(), cost=(t.revenue - t.profit).sum()
    )
    return g.mutate(
        cost_per_100=ibis.ifelse(g.revenue > 0, g.cost / g.revenue * 100, ibis.null("float64"))
    ).order_by(["county_code", "month"])


def relief(
    registry: ibis.Table,
    land: ibis.Table,
    power: ibis.Table,
    results: ibis.Table,
    year: int,
    cfg: BurdenConfig,
) -> ibis.Table:
    """Per enterprise, what each 亩均 policy gave (万元; a surcharge counts negative)."""
    area = land.group_by("credit_code").aggregate(area_mu=land.area_mu.sum())
    pw = power.filter(power.month.year() == year)
    pw = pw.group_by("credit_code").aggregate(kwh=pw.kwh.sum())
    r = results.select("credit_code", "land_tax_relief_pct", "power_surcharge_yuan_per_kwh")
    t = r.join(_groups(registry), "credit_code").left_join(area, "credit_code").left_join(pw, "credit_code")
    t = t.select(
        "credit_code",
        "county_code",
        "industry",
        "land_tax_relief_pct",
        "power_surcharge_yuan_per_kwh",
        "area_mu",
        "kwh",
    )
    land_tax = t.area_mu.fill_null(0.0) * cfg.m2_per_mu * cfg.land_tax_yuan_per_m2 / 10000.0
    return t.mutate(
        land_tax_relief=land_tax * t.land_tax_relief_pct.fill_null(0.0) / 100.0,
        power_surcharge=-(t.kwh.fill_null(0.0) * t.power_surcharge_yuan_per_kwh.fill_null(0.0) / 10000.0),
    )


def paid_relief(registry: ibis.Table, paid: ibis.Table, policies: tuple[str, ...]) -> ibis.Table:
    """Per enterprise of `registry`, what each catalogue policy in `policies` paid it (万元),
    from the paid payout lines `paid` (credit_code, policy_id, amount_fen); 0 for none."""
    wide = paid.group_by("credit_code").aggregate(
        **{p: (paid.amount_fen.sum(where=paid.policy_id == p) / 1_000_000.0) for p in policies}
    )
    t = registry.select("credit_code").distinct().left_join(wide, "credit_code").drop("credit_code_right")
    return t.mutate(**{p: t[p].fill_null(0.0) for p in policies})


def policy_summary(
    per_enterprise: ibis.Table,
    statistics: ibis.Table,
    year: int,
    policies: tuple[str, ...] = ("land_tax_relief", "power_surcharge"),
) -> ibis.Table:
    """Per policy (a column of `per_enterprise`, 万元 each enterprise received): enterprises
    considered, beneficiaries, cost (万元), and the effect: the beneficiaries' revenue growth
    over the year minus the others' (percentage points)."""
    now = statistics.filter(statistics.year == year).select("credit_code", rev=statistics.revenue)
    before = statistics.filter(statistics.year == year - 1).select("credit_code", rev0=statistics.revenue)
    growth = now.join(before, "credit_code")
    growth = growth.filter(growth.rev0 > 0).select("credit_code", g=(growth.rev / growth.rev0 - 1) * 100)
    t = per_enterprise.left_join(growth, "credit_code").drop("credit_code_right")
    parts = []
    for policy in policies:
        hit = t[policy] != 0
        parts.append(
            t.aggregate(
                policy=ibis.literal(policy),
                population=t.credit_code.count(),
                beneficiaries=hit.sum().cast("int64"),
                cost=t[policy].sum(),
                g_hit=t.g.mean(where=hit),
                g_rest=t.g.mean(where=~hit),
            )
        )
    u = ibis.union(*parts)
    return u.mutate(effect_pp=u.g_hit - u.g_rest)
