"""The nowcast's inputs (现时预测数据): monthly indicators by region, as known on a date.

Monthly sums by county are Ibis expressions over the live facts (DuckDB, PostgreSQL, PySpark);
cities and the province are sums of their counties. Each indicator becomes 同比 growth in %,
with January and February combined under February as the statistics bureau publishes them
(the Spring Festival moves between the two months). The official figures come as published by
the date (:func:`jingxin.core.vintage.as_released`), so a backtest sees only what was out.

Indicators (all optional but the official figure; a region's model uses those with data):

| column | source | what |
|---|---|---|
| ``power`` | 电力 `power` (企业月度用电量) | industrial (sections B–D) electricity |
| ``power_daily`` | 电力 `power-daily`, month to date | daily meter reads, 1—2月 combined (`daily.py`) |
| ``invoices`` | 税务 `invoices` (增值税发票流向) | invoiced sales of industrial sellers |
| ``exports`` | 海关 `customs` (`customs_exports`), when loaded | exports of industrial enterprises |
| ``va`` | 统计 `official` (统计局发布) | 规上工业增加值 当月同比, the target |

Daily power is the early series: on any date its value for the month in progress covers the
days known by then (see :mod:`jingxin.nowcast.daily`), so a nowcast made on the 20th already
reads most of the month; it needs last year's same days too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import ibis
import numpy as np
import pandas as pd

from jingxin import reference
from jingxin.core.vintage import as_released
from jingxin.core.warehouse import Warehouse
from jingxin.nowcast.calendar import available_through
from jingxin.nowcast.daily import NAME as DAILY
from jingxin.nowcast.daily import DailyPower, county_totals, region_totals

PROVINCE = "330000"
MIN_MONTHS = 8  # months of growth an indicator needs before it enters a region's model
INDUSTRY_DIVISIONS = [f"{d:02d}" for d in range(6, 47)]  # GB/T 4754 sections B, C, D
LABELS = {
    "power": "工业用电量",
    "power_daily": "工业日用电量（月初至今）",
    "invoices": "工业企业开票金额",
    "exports": "出口额（海关）",
    "va": "规上工业增加值（统计局发布）",
}
# The customs source (海关, table `customs_exports`, core/contracts.yaml) is optional; its value
# column is `export_amount` (万元). Older names are still understood.
_CUSTOMS_TABLES = ("customs_exports", "customs")
_CUSTOMS_VALUE = ("export_value", "export_amount", "amount", "value")


def regions() -> list[tuple[str, str, str]]:
    """(code, name, county-code prefix) of the province, its cities and its counties."""
    out = [(PROVINCE, "浙江省", "33")]
    out += [(c.code, c.name, c.code[:4]) for c in reference.cities()]
    out += [(c.code, c.name, c.code) for c in reference.counties()]
    return out


def region_name(code: str) -> str:
    return next((name for c, name, _ in regions() if c == code), code)


def _industrial(wh: Warehouse) -> ibis.Table:
    r = wh.current("registry")
    r = r.filter(r.industry_code.substr(0, 2).isin(INDUSTRY_DIVISIONS))
    return r.select(code="credit_code", county_code="county_code").distinct()


def _county_sums(facts: ibis.Table, code: str, value: str, ind: ibis.Table) -> ibis.Table:
    """Sums of `value` by county and `month` over the industrial enterprises."""
    facts = facts.select(_code=facts[code], month=facts.month, _value=facts[value])
    joined = facts.inner_join(ind, facts._code == ind.code)
    return joined.group_by("county_code", "month").aggregate(value=joined._value.sum())


def county_levels(wh: Warehouse) -> dict[str, pd.DataFrame]:
    """Monthly sums by county of each input indicator: {name: frame county × month}."""
    ind = _industrial(wh)
    out: dict[str, pd.DataFrame] = {}
    queries: dict[str, ibis.Table] = {}
    if wh.has_table("power_monthly"):
        p = wh.current("power_monthly")
        queries["power"] = _county_sums(p, "credit_code", "kwh", ind)
    if wh.has_table("invoices"):
        inv = wh.current("invoices")
        queries["invoices"] = _county_sums(inv, "seller_code", "amount", ind)
    customs = next((t for t in _CUSTOMS_TABLES if wh.has_table(t)), None)
    if customs is not None:
        c = wh.current(customs)
        value = next((v for v in _CUSTOMS_VALUE if v in c.columns), None)
        if value is not None and {"credit_code", "month"} <= set(c.columns):
            queries["exports"] = _county_sums(c, "credit_code", value, ind)
    for name, expr in queries.items():
        df = wh.execute(expr)
        if df.empty:
            continue
        df["month"] = pd.PeriodIndex(pd.to_datetime(df["month"]), freq="M")
        out[name] = df.pivot_table(index="month", columns="county_code", values="value", aggfunc="sum")
    return out


def region_levels(levels: pd.DataFrame) -> pd.DataFrame:
    """Sums over each region's counties: months × region codes (NaN where no county has data)."""
    cols = {}
    for code, _name, prefix in regions():
        members = [c for c in levels.columns if str(c).startswith(prefix)]
        if members:
            cols[code] = levels[members].sum(axis=1, min_count=1)
    return pd.DataFrame(cols)


def yoy(levels: pd.DataFrame) -> pd.DataFrame:
    """同比 growth in % of monthly levels (month index), Jan–Feb combined under February."""
    lv = levels.copy()
    full = pd.period_range(lv.index.min() - 12, lv.index.max(), freq="M")
    lv = lv.reindex(full)
    feb = pd.Series(lv.index.month == 2, index=lv.index)
    jan_next = lv.shift(1)  # January beside February
    combined = lv.where(~feb, lv + jan_next, axis=0)
    growth = (combined / combined.shift(12) - 1.0) * 100.0
    growth[growth.index.month == 1] = np.nan
    return growth.replace([np.inf, -np.inf], np.nan).loc[levels.index.min() :]


@dataclass
class Inputs:
    """Everything a nowcast reads, before any vintage cut: growth by indicator and the
    official figures with their release dates."""

    growth: dict[str, pd.DataFrame]  # indicator → months × regions, %
    levels: dict[str, pd.DataFrame]  # indicator → months × regions, level (weights of quarters)
    official: pd.DataFrame  # region_code, month (Period), growth_month, growth_ytd, released_on, batch_id
    daily: DailyPower | None = None  # daily power by region (the month-to-date series)
    exclude: tuple[str, ...] = ()  # indicators left out (to measure what one adds)

    def without(self, *names: str) -> Inputs:
        """The same inputs with indicators `names` left out of every panel."""
        return replace(self, exclude=tuple(sorted({*self.exclude, *names})))

    def panel(self, region: str, when: dt.date, through: pd.Period) -> pd.DataFrame:
        """The data of `region` as known on `when`: months × indicators (+ ``va``) up to
        `through`, each input cut at its release calendar, the official figures as published.
        Daily power adds the month in progress up to the day before `when` (month to date)."""
        starts = [g.index.min() for g in self.growth.values() if region in g.columns]
        if not self.official.empty:
            starts.append(self.official["month"].min())
        if not starts:
            from jingxin.nowcast.models import NowcastError

            raise NowcastError(f"区划 {region} 没有可用的月度数据（用电量、开票或统计局发布数）")
        start = min(starts)
        index = pd.period_range(start, through, freq="M")
        out = pd.DataFrame(index=index)
        for name, g in self.growth.items():
            if region not in g.columns or name in self.exclude:
                continue
            series = g[region].reindex(index)
            last = available_through(name, when)
            series[series.index > last] = np.nan
            if name == DAILY and self.daily is not None:
                now = pd.Period(when, freq="M")  # the month in progress, to the last day read
                if now in series.index and now > last:
                    series[now] = self.daily.growth(now, when - dt.timedelta(days=1)).get(region, np.nan)
            if series.notna().sum() >= MIN_MONTHS:
                out[name] = series
        out["va"] = official_as_of(self.official, region, when).reindex(index)
        return out


def official_as_of(official: pd.DataFrame, region: str, when: dt.date) -> pd.Series:
    """当月同比 of `region` as published by `when` (latest release per month)."""
    o = official[(official["region_code"] == region) & (official["released_on"] <= pd.Timestamp(when))]
    o = o.sort_values(["released_on", "batch_id"]).drop_duplicates("month", keep="last")
    return o.set_index("month")["growth_month"].astype(float).sort_index()


def load_inputs(wh: Warehouse) -> Inputs:
    """Read the warehouse once: county sums of every input and all official vintages."""
    growth, levels = {}, {}
    for name, lv in county_levels(wh).items():
        reg = region_levels(lv)
        levels[name] = reg
        growth[name] = yoy(reg)
    daily = None
    if wh.has_table("power_daily"):
        daily = region_totals(wh.execute(county_totals(wh, _industrial(wh))), regions())
        if not daily.empty:
            monthly = daily.monthly()
            if not monthly.empty:
                growth[DAILY] = monthly
    if wh.has_table("official_growth"):
        t = wh.current("official_growth").select("batch_id").limit(1)  # is anything loaded?
        if wh.execute(t).empty:
            official = _empty_official()
        else:
            # Every vintage: as released by a date far ahead keeps one row per release, so
            # `official_as_of` can cut at any date later.
            facts = as_released(
                wh, "official_growth", dt.date(2999, 12, 31), key=["region_code", "month", "released_on"]
            )
            official = wh.execute(
                facts.select("region_code", "month", "growth_month", "growth_ytd", "released_on", "batch_id")
            )
            official["month"] = pd.PeriodIndex(pd.to_datetime(official["month"]), freq="M")
            official["released_on"] = pd.to_datetime(official["released_on"])
    else:
        official = _empty_official()
    return Inputs(growth=growth, levels=levels, official=official, daily=daily)


def _empty_official() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region_code": pd.Series(dtype=str),
            "month": pd.Series(dtype="period[M]"),
            "growth_month": pd.Series(dtype=float),
            "growth_ytd": pd.Series(dtype=float),
            "released_on": pd.Series(dtype="datetime64[ns]"),
            "batch_id": pd.Series(dtype="int64"),
        }
    )
