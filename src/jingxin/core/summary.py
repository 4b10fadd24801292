"""Headline figures straight from the warehouse facts (仓库概览).

These are the province's own sum-over-sum figures (合计口径, never a mean of ratios), computed
as one Ibis query each so they run the same on DuckDB, PostgreSQL and Spark.
"""

from __future__ import annotations

import ibis

from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.warehouse import Warehouse


def per_mu_by_county(wh: Warehouse, year: int, scope: Scope = EVERYTHING) -> ibis.Table:
    """规上 亩均税收 and 亩均增加值 per county for `year`."""
    reg = scope.restrict(wh.current("registry")).select("credit_code", "county_code")
    stats = wh.current("statistics")
    above = stats.filter((stats.year == year) & stats.above_scale).select("credit_code", "value_added")
    tax = wh.current("tax")
    tax = tax.filter(tax.year == year).group_by("credit_code").aggregate(tax_paid=tax.tax_paid.sum())
    land = wh.current("land")
    with_land = land.select("credit_code").distinct()
    ents = reg.join(above, "credit_code").semi_join(with_land, "credit_code")
    ents = ents.left_join(tax, "credit_code").select(
        "credit_code", "county_code", "value_added", tax_paid=ibis.coalesce(ibis._.tax_paid, 0.0)
    )
    money = ents.group_by("county_code").aggregate(
        enterprises=ents.credit_code.count(),
        tax_paid=ents.tax_paid.sum(),
        value_added=ents.value_added.sum(),
    )
    # Each land row holds the area an enterprise uses (its share of a shared parcel, 分摊面积),
    # so the county's land is the plain sum of its enterprises' rows.
    used = land.semi_join(ents, "credit_code").join(reg, "credit_code")
    area = used.group_by("county_code").aggregate(area_mu=used.area_mu.sum())
    out = money.join(area, "county_code")
    return out.mutate(
        tax_per_mu=out.tax_paid / out.area_mu,
        value_added_per_mu=out.value_added / out.area_mu,
    ).order_by("county_code")


def province_per_mu(wh: Warehouse, year: int, scope: Scope = EVERYTHING) -> dict[str, float]:
    """The province (or scope) totals behind 亩均税收 and 亩均增加值."""
    by_county = per_mu_by_county(wh, year, scope)
    totals = by_county.aggregate(
        enterprises=by_county.enterprises.sum(),
        tax_paid=by_county.tax_paid.sum(),
        value_added=by_county.value_added.sum(),
        area_mu=by_county.area_mu.sum(),
    )
    row = wh.execute(totals).iloc[0]
    area = float(row["area_mu"] or 0.0)
    return {
        "enterprises": int(row["enterprises"] or 0),
        "tax_paid": float(row["tax_paid"] or 0.0),
        "value_added": float(row["value_added"] or 0.0),
        "area_mu": area,
        "tax_per_mu": float(row["tax_paid"]) / area if area else float("nan"),
        "value_added_per_mu": float(row["value_added"]) / area if area else float("nan"),
    }


def monthly_power(wh: Warehouse, scope: Scope = EVERYTHING) -> ibis.Table:
    """Total monthly electricity (工业用电量) and the number of reporting enterprises."""
    reg = wh.current("registry")
    power = scope.restrict(wh.current("power_monthly"), county_column=None, registry=reg)
    return (
        power.group_by("month")
        .aggregate(kwh=power.kwh.sum(), enterprises=power.credit_code.nunique())
        .order_by("month")
    )


def enterprises_by_division(wh: Warehouse, scope: Scope = EVERYTHING) -> ibis.Table:
    """Registered enterprises per county and industry division (行业大类)."""
    reg = scope.restrict(wh.current("registry"))
    reg = reg.mutate(division=reg.industry_code.substr(0, 2))
    return (
        reg.group_by(["county_code", "division"])
        .aggregate(enterprises=reg.credit_code.count())
        .order_by(["county_code", "division"])
    )
