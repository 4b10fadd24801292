"""The content of each department's file (各部门报送内容), as frames ready for defects and writing.

Each builder selects who appears (all registered enterprises for 市场监管, landholders for
自然资源, enterprises operating that year for 税务 and 统计, the energy department's key users,
discharge-permit holders for 生态环境, 规上 only for the monthly 快报 and daily power) and
takes the numbers from the one set of accounts, so that the files agree with one another.
Services enterprises appear in the registry, land, tax, statistics (工业增加值 blank) and
monthly power files; the 快报 and daily power cover 规上 industry only. The 经信 department's
park list and membership list (parks, park-members) come from :mod:`.parks`. The real events
of :mod:`.events` shape the monthly 快报, the monthly power and the daily power of the
enterprises they hit.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from jingxin.synth import events as ev
from jingxin.synth.accounts import Accounts
from jingxin.synth.frame import Frame, arrow_text, make_frame
from jingxin.synth.parks import Parks
from jingxin.synth.population import Population
from jingxin.synth.series import daily_profile, recovery_end, split_by_month, year_days
from jingxin.synth.streams import Streams

ANNUAL_SOURCES = ("tax", "statistics", "energy", "discharge", "parks", "park-members")
MONTHS = np.arange(1, 13)


def _months(year: int) -> np.ndarray:
    return np.array([f"{year}-{m:02d}" for m in MONTHS])


def registry_frame(pop: Population) -> Frame:
    """市场主体登记信息: every registered enterprise, sorted by county then founding date."""
    order = np.lexsort((pop.founded, pop.county_code))
    return make_frame(
        "registry",
        None,
        {
            "credit_code": pop.credit_code[order],
            "name": pop.name[order],
            "county_code": pop.county_code[order],
            "industry_code": pop.industry_code[order],
            "founded_on": pop.founded[order].astype("U10"),
            "status": pop.status[order],
        },
    )


def land_frame(pop: Population) -> Frame:
    """工业用地信息: one row per (enterprise, parcel), sorted by 宗地编号 so that co-users of a
    shared parcel (共用宗地) sit together."""
    p = pop.parcels
    order = np.argsort(p.parcel_id, kind="stable")
    return make_frame(
        "land",
        None,
        {
            "credit_code": pop.credit_code[p.enterprise[order]],
            "parcel_id": p.parcel_id[order],
            "area_mu": p.area_mu[order],
            "land_use": p.land_use[order],
            "acquisition": p.acquisition[order],
        },
    )


def annual_frame(source: str, year: int, pop: Population, acc: Accounts) -> Frame:
    """One year's 税收, 统计, 能耗 or 排放 file."""
    k = acc.index(year)
    who = acc.active[k]
    if source == "energy":
        who = who & acc.reports_energy
    elif source == "discharge":
        who = who & acc.reports_discharge
    idx = np.flatnonzero(who)
    base = {"credit_code": pop.credit_code[idx], "year": np.full(idx.shape[0], str(year))}
    if source == "tax":
        return make_frame("tax", str(year), {**base, "tax_paid": acc.tax[k][idx]})
    if source == "energy":
        return make_frame("energy", str(year), {**base, "energy_tce": acc.energy[k][idx]})
    if source == "discharge":
        return make_frame(
            "discharge",
            str(year),
            {**base, "discharge_t": acc.discharge[k][idx]},
            decimals={"discharge_t": 3},
        )
    if source == "statistics":
        return make_frame(
            "statistics",
            str(year),
            {
                **base,
                "above_scale": np.where(pop.above_scale[idx], "是", "否"),
                "value_added": np.where(pop.services[idx], np.nan, acc.value_added[k][idx]),
                "revenue": acc.revenue[k][idx],
                "rd_expense": acc.rd[k][idx],
                "employees": acc.employees[k][idx],
                "college_staff": acc.college[k][idx],
            },
        )
    raise ValueError(f"not an annual source: {source}")


def parks_frame(year: int, parks: Parks, scale: float) -> Frame:
    """开发区（园区）名录: every park that exists in `year`, with its star rating that year."""
    idx = np.flatnonzero(parks.exists(year))
    idx = idx[np.lexsort((parks.park_id[idx], parks.county[idx]))]
    return make_frame(
        "parks",
        str(year),
        {
            "park_id": parks.park_id[idx],
            "park_name": parks.name[idx],
            "kind": parks.kind[idx],
            "division_code": parks.county[idx],
            "star": parks.stars(year, scale)[idx].astype(float),
            "area_mu": parks.area_mu[idx],
            "year": np.full(idx.shape[0], str(year)),
        },
    )


def park_members_frame(year: int, pop: Population, acc: Accounts, parks: Parks) -> Frame:
    """园区入驻企业名单: members of the parks that exist in `year`, operating that year."""
    e, p = parks.member_enterprise, parks.member_park
    keep = parks.exists(year)[p] & acc.active[acc.index(year)][e]
    e, p = e[keep], p[keep]
    order = np.lexsort((pop.credit_code[e], parks.park_id[p]))
    return make_frame(
        "park-members",
        str(year),
        {
            "credit_code": pop.credit_code[e[order]],
            "park_id": parks.park_id[p[order]],
            "year": np.full(order.shape[0], str(year)),
        },
    )


def _with_events(split: np.ndarray, acc: Accounts, idx: np.ndarray, year: int, kind: str) -> np.ndarray:
    """Reshape the months of the enterprises hit by events: the affected months fall by the
    event's depth and the months still add up to the annual figure (already reduced)."""
    hit = ev.month_factors(acc.events, idx, year, kind)
    if hit is None:
        return split
    rows, factors = hit
    part = split[rows] * factors
    totals = split[rows].sum(axis=1, keepdims=True)
    split[rows] = (
        part * totals / np.where(part.sum(axis=1, keepdims=True) > 0, part.sum(axis=1, keepdims=True), 1)
    )
    return split


def per_month(idx: np.ndarray, year: int, pop: Population) -> dict[str, pa.Array]:
    """Credit code and 年月 columns for enterprises `idx` × 12 months (enterprise-major)."""
    codes = arrow_text(pop.credit_code[idx]).take(pa.array(np.repeat(np.arange(idx.shape[0]), 12)))
    months = arrow_text(_months(year)).take(pa.array(np.tile(np.arange(12), idx.shape[0])))
    return {"credit_code": codes, "month": months}


def power_frame(year: int, pop: Population, acc: Accounts, streams: Streams) -> Frame:
    """企业月度用电量: every operating enterprise, 12 months following the power seasonality."""
    k = acc.index(year)
    idx = np.flatnonzero(acc.active[k])
    kwh = split_by_month(acc.kwh[k][idx], year, streams("power", year), kind="power")
    kwh = np.round(_with_events(kwh, acc, idx, year, "power"))
    return make_frame("power", str(year), {**per_month(idx, year, pop), "kwh": kwh.ravel()}, {"kwh": 0})


def monthly_frame(year: int, pop: Population, acc: Accounts, streams: Streams) -> Frame:
    """规上工业企业月度快报: 规上 only; monthly revenue adds up to the annual 营业收入."""
    rng = streams("monthly", year)
    k = acc.index(year)
    idx = np.flatnonzero(acc.active[k] & pop.industrial_above)
    revenue = _with_events(
        split_by_month(acc.revenue[k][idx], year, rng, kind="output"), acc, idx, year, "output"
    )
    output = revenue * acc.output_ratio[idx, None] * rng.lognormal(0, 0.02, revenue.shape)
    export_share = acc.export_share[idx, None]
    export = np.where(export_share > 0, revenue * export_share * rng.lognormal(0, 0.1, revenue.shape), np.nan)
    profit = revenue * (acc.margin[idx, None] + rng.normal(0, 0.02, revenue.shape))
    return make_frame(
        "monthly",
        str(year),
        {
            **per_month(idx, year, pop),
            "output_value": np.round(output, 2).ravel(),
            "revenue": np.round(revenue, 2).ravel(),
            "export_value": np.round(export, 2).ravel(),
            "profit": np.round(profit, 2).ravel(),
        },
    )


def daily_window(last_year: int, days: int) -> np.ndarray:
    """The `days` days ending with the last day of the Spring Festival recovery of `last_year`."""
    end = np.datetime64(recovery_end(last_year), "D")
    return np.arange(end - np.timedelta64(days - 1, "D"), end + np.timedelta64(1, "D"), dtype="datetime64[D]")


def _annual_kwh(acc: Accounts, year: int) -> np.ndarray:
    """Annual kWh for `year`, extrapolated at 7% a year from the nearest generated year."""
    nearest = min(acc.years, key=lambda y: abs(y - year))
    return acc.kwh[acc.index(nearest)] * 1.07 ** (year - nearest)


def daily_frame(pop: Population, acc: Accounts, days: int, streams: Streams) -> Frame:
    """企业日用电量 for 规上 enterprises over the window around the last Spring Festival: weekends
    lower, festival week at base load, recovery over about three weeks, some enterprises late."""
    rng = streams("power-daily")
    last = pop.years[-1]
    window = daily_window(last, days)
    k = acc.index(last)
    idx = np.flatnonzero(acc.active[k] & pop.industrial_above)
    day_year = window.astype("datetime64[Y]").astype(np.int64) + 1970
    base = np.zeros((idx.shape[0], window.shape[0]))
    for year in np.unique(day_year):  # at most two calendar years
        cols = day_year == year
        annual = np.nan_to_num(_annual_kwh(acc, int(year))[idx])
        calendar = year_days(int(year))
        base[:, cols] = (annual / daily_profile(calendar).sum())[:, None]
        hit = ev.day_factors(acc.events, idx, calendar, "power")
        if hit is not None:  # the annual figure already lost the event's share: undo it for the base
            rows, factors = hit
            base[rows[:, None], np.flatnonzero(cols)[None, :]] = (
                annual[rows] / (daily_profile(calendar)[None, :] * factors).sum(axis=1)
            )[:, None]
    late = rng.random(idx.shape[0]) < 0.12  # back a week late (复工滞后)
    profile = np.where(late[:, None], daily_profile(window - np.timedelta64(7, "D")), daily_profile(window))
    kwh = base * profile * rng.lognormal(0, 0.08, base.shape)
    hit = ev.day_factors(acc.events, idx, window, "power")
    if hit is not None:
        kwh[hit[0]] *= hit[1]
    kwh = np.round(kwh)
    n_days = window.shape[0]
    codes = arrow_text(pop.credit_code[idx]).take(pa.array(np.repeat(np.arange(idx.shape[0]), n_days)))
    dates = arrow_text(window.astype("U10")).take(pa.array(np.tile(np.arange(n_days), idx.shape[0])))
    period = f"{window[0]}/{window[-1]}"
    return make_frame(
        "power-daily", period, {"credit_code": codes, "day": dates, "kwh": kwh.ravel()}, {"kwh": 0}
    )
