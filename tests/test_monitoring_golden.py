"""Golden tests of monitoring arithmetic on hand-made data: 当月同比 and 累计同比 with January
and February combined, 复工率/复产率 around a holiday, and the index at 100 for an unchanged year."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from jingxin.monitoring.growth import growth
from jingxin.monitoring.indicators import indicator_table
from jingxin.monitoring.power import aligned_last_year, power_index, restart_rates, spring_festival

# 2020 and 2021 monthly output of one county, 万元
LAST = {1: 100.0, 2: 50.0, 3: 120.0, 4: 110.0}
THIS = {1: 60.0, 2: 120.0, 3: 132.0, 4: 99.0}
VALUES = {**{(2020, m): v for m, v in LAST.items()}, **{(2021, m): v for m, v in THIS.items()}}


def test_january_has_no_month_growth_of_its_own() -> None:
    g = growth(VALUES, 2021, 1)
    assert g["yoy_month"] is None  # published together with February
    assert g["yoy_ytd"] == pytest.approx((60 / 100 - 1) * 100)


def test_february_combines_january_and_february() -> None:
    g = growth(VALUES, 2021, 2)
    # (60 + 120) / (100 + 50) − 1 = +20%, not February alone (+140%)
    assert g["value_month"] == 180 and g["value_month_ly"] == 150
    assert g["yoy_month"] == pytest.approx(20.0)
    assert g["yoy_ytd"] == pytest.approx(20.0)


def test_later_months_month_and_cumulative() -> None:
    march, april = growth(VALUES, 2021, 3), growth(VALUES, 2021, 4)
    assert march["yoy_month"] == pytest.approx(10.0)
    assert march["yoy_ytd"] == pytest.approx((312 / 270 - 1) * 100)
    assert april["yoy_month"] == pytest.approx(-10.0)
    assert april["value_ytd"] == 411 and april["value_ytd_ly"] == 380
    assert april["yoy_ytd"] == pytest.approx((411 / 380 - 1) * 100)


def test_missing_or_non_positive_base_gives_no_growth() -> None:
    assert growth({(2021, 3): 5.0}, 2021, 3)["yoy_month"] is None
    assert growth({(2021, 3): 5.0, (2020, 3): -2.0}, 2021, 3)["yoy_month"] is None


def test_indicator_table_uses_the_same_rules_and_cost_per_100() -> None:
    rows = []
    for (y, m), v in VALUES.items():
        rows.append(
            {
                "level": "county",
                "code": "330106",
                "measure": "revenue",
                "month": dt.date(y, m, 1),
                "value": v,
                "enterprises": 3,
            }
        )
        rows.append(
            {
                "level": "county",
                "code": "330106",
                "measure": "profit",
                "month": dt.date(y, m, 1),
                "value": v / 10,
                "enterprises": 3,
            }
        )
    t = indicator_table(pd.DataFrame(rows), None, [(2021, 2), (2021, 3)])
    feb = t[(t.measure == "revenue") & (t.month == dt.date(2021, 2, 1))].iloc[0]
    assert feb.yoy_month == pytest.approx(20.0)
    cost = t[(t.measure == "cost_per_100") & (t.month == dt.date(2021, 3, 1))].iloc[0]
    assert cost.value == pytest.approx(90.0) and cost.yoy_month == pytest.approx(0.0)


# ---- daily electricity ------------------------------------------------------------------------


def _series(days, kwh_by_enterprise) -> pd.DataFrame:
    rows = []
    for code, f in kwh_by_enterprise.items():
        for d in days:
            rows.append({"credit_code": code, "day": d, "kwh": f(d)})
    return pd.DataFrame(rows)


def test_restart_rates_around_a_holiday() -> None:
    sf = spring_festival(2021)  # 2021-02-12
    days = [sf + dt.timedelta(days=k) for k in range(-50, 30)]

    def steady(level, back_after):
        def f(d):
            off = (d - sf).days
            if -1 <= off < back_after:
                return level * 0.1  # holiday: base load
            return level

        return f

    # A back on day 7, B back on day 14, C (normal 300) back on day 7 at half its normal use
    def c(d):
        off = (d - sf).days
        if -1 <= off < 7:
            return 30.0
        return 300.0 if off <= -11 else 150.0

    daily = _series(days, {"A": steady(100.0, 7), "B": steady(200.0, 14), "C": c})
    out = restart_rates(daily, [sf + dt.timedelta(days=k) for k in (0, 8, 15)]).set_index("day")
    day0, day8, day15 = (out.loc[sf + dt.timedelta(days=k)] for k in (0, 8, 15))
    assert day0.work_rate == pytest.approx(0.0) and day0.production_rate == pytest.approx(10.0)
    # day 8: A and C (exactly 50%) back, B not: 2 of 3; use (100 + 20 + 150) / (100 + 200 + 300)
    assert day8.work_rate == pytest.approx(200 / 3)
    assert day8.production_rate == pytest.approx(270 / 600 * 100)
    assert day15.work_rate == pytest.approx(100.0)
    assert day15.production_rate == pytest.approx(450 / 600 * 100)


def test_index_is_100_for_an_unchanged_year_with_the_festival_aligned() -> None:
    # Last year's profile, keyed by distance from 春节, repeated this year: same lunar shape,
    # although 春节 moved from 25 January (2020) to 12 February (2021).
    def shape(offset: int) -> float:
        if -1 <= offset <= 6:
            return 20.0
        return 100.0 + (offset % 7) * 3  # a weekly pattern

    totals = {}
    for year in (2020, 2021):
        sf = spring_festival(year)
        for k in range(-60, 90):
            totals[sf + dt.timedelta(days=k)] = shape(k)
    days = [spring_festival(2021) + dt.timedelta(days=k) for k in range(-20, 50)]
    idx = power_index(pd.Series(totals), days)
    assert idx["index"].notna().all()
    assert idx["index"].to_numpy() == pytest.approx(100.0)
    # without lunar alignment the festival week would read as a collapse
    assert aligned_last_year(spring_festival(2021)) == spring_festival(2020)
    naive = totals[spring_festival(2021)] / totals[spring_festival(2021) - dt.timedelta(days=364)]
    assert naive < 0.5
