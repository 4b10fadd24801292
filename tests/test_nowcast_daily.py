"""Daily power in the nowcast (日用电量，月初至今): the month-to-date series on hand-made days
(calendar days, 1—2月 combined),
its vintages, its news and what it adds to the backtest on a small generated province with
three years of daily reads."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from jingxin.core.warehouse import open_warehouse
from jingxin.ingest.service import ingest_file
from jingxin.monitoring.power import spring_festival
from jingxin.nowcast.backtest import run_backtest
from jingxin.nowcast.daily import MIN_DAYS, DailyPower, last_year, region_totals, span
from jingxin.nowcast.data import load_inputs
from jingxin.nowcast.runs import nowcast_region
from jingxin.synth.generator import generate_province


def _days(a: str, b: str) -> list[dt.date]:
    return list(pd.date_range(a, b, freq="D").date)


def _festival_years(scale: float = 1.0) -> pd.DataFrame:
    """Daily totals of one region from November 2019 to 2022: 100 a day, 10 in the week from
    each year's 春节 (2020-01-25, 2021-02-12, 2022-02-01), times `scale` from 2021 on."""
    days = _days("2019-11-01", "2022-12-31")
    values = []
    for d in days:
        sf = spring_festival(d.year)
        v = 10.0 if 0 <= (d - sf).days < 7 else 100.0
        values.append(v * (scale if d.year >= 2021 else 1.0))
    return pd.DataFrame({"330000": values}, index=days)


def test_january_and_february_combined_read_zero_for_an_unchanged_year() -> None:
    daily = DailyPower(_festival_years())
    feb = pd.Period("2022-02", "M")  # 春节 2022-02-01, 2021-02-12: both inside 1—2月
    assert daily.growth(feb)["330000"] == pytest.approx(0.0)
    assert np.isnan(daily.growth(pd.Period("2022-01", "M"))["330000"])  # no January of its own
    # February 2021 (28 days) against a leap February: compared as the monthly figures are
    feb21 = daily.growth(pd.Period("2021-02", "M"))["330000"]
    assert feb21 == pytest.approx(((52 * 100 + 7 * 10) / (53 * 100 + 7 * 10) - 1) * 100)
    grown = DailyPower(_festival_years(1.1))
    assert grown.growth(pd.Period("2021-06", "M"), dt.date(2021, 6, 9))["330000"] == pytest.approx(10.0)
    assert grown.growth(pd.Period("2022-06", "M"))["330000"] == pytest.approx(0.0)


def test_month_to_date_needs_a_week_and_every_day() -> None:
    frame = _festival_years()
    daily = DailyPower(frame)
    june = pd.Period("2021-06", "M")
    assert np.isnan(daily.growth(june, dt.date(2021, 6, MIN_DAYS - 1))["330000"])
    assert not np.isnan(daily.growth(june, dt.date(2021, 6, MIN_DAYS))["330000"])
    assert span(pd.Period("2021-02", "M"), dt.date(2021, 2, 3))[0] == dt.date(2021, 1, 1)
    assert last_year(dt.date(2020, 2, 29)) == dt.date(2019, 2, 28)
    gap = DailyPower(frame.drop(index=[dt.date(2020, 6, 3)]))  # a day of last year's span missing
    assert np.isnan(gap.growth(june, dt.date(2021, 6, 10))["330000"])
    whole = daily.monthly()
    assert pd.Period("2020-06", "M") not in whole.index  # no June 2019 to compare with
    assert whole.loc[pd.Period("2021-06", "M"), "330000"] == pytest.approx(0.0)


def test_region_totals_sum_their_counties() -> None:
    rows = pd.DataFrame(
        {
            "county_code": ["330102", "330105", "330203"],
            "day": [dt.date(2021, 6, 1)] * 3,
            "kwh": [1.0, 2.0, 4.0],
        }
    )
    regions = [("330000", "浙江省", "33"), ("330100", "杭州市", "3301"), ("330200", "宁波市", "3302")]
    t = region_totals(rows, regions).totals
    assert t.loc[dt.date(2021, 6, 1)].to_dict() == {"330000": 7.0, "330100": 3.0, "330200": 4.0}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory):
    """800 enterprises, 2018–2021, 1,200 days of daily reads (about 2017-11 to 2021-03), only
    the files the nowcast reads."""
    out = tmp_path_factory.mktemp("nowcast-daily")
    generate_province(out, 800, "2018-2021", seed=11, defects=0.0, daily_days=1200)
    wh = open_warehouse("duckdb://")
    files = [("registry", next(out.glob("registry.*"))), ("power-daily", out / "power_daily.csv")]
    files += [(s, out / f"{s}_{y}.csv") for s in ("power", "official") for y in (2019, 2020, 2021)]
    files += [("power", out / "power_2018.csv")]
    for source, path in files:
        ingest_file(wh, source, path)
    for path in sorted(out.glob("official_*_revised.csv")):
        ingest_file(wh, "official", path)
    data = load_inputs(wh)
    wh.close()
    return data


def test_the_panel_reads_only_the_days_out_on_its_date(inputs) -> None:
    target = pd.Period("2020-11", "M")
    on_20th = inputs.panel("330000", dt.date(2020, 11, 20), target)
    value = on_20th.at[target, "power_daily"]
    assert value == pytest.approx(inputs.daily.growth(target, dt.date(2020, 11, 19))["330000"])
    assert pd.isna(on_20th.at[target, "power"])  # the month's billing is not out
    assert pd.isna(inputs.panel("330000", dt.date(2020, 11, 5), target).at[target, "power_daily"])  # < a week
    after = inputs.panel("330000", dt.date(2020, 12, 4), target)
    assert after.at[target, "power_daily"] == pytest.approx(inputs.growth["power_daily"].at[target, "330000"])
    assert "power_daily" not in inputs.without("power_daily").panel("330000", dt.date(2020, 11, 20), target)


def test_news_of_the_days_read_adds_up(inputs) -> None:
    target = pd.Period("2020-11", "M")
    r = nowcast_region(inputs, "330000", target, dt.date(2020, 11, 25), dt.date(2020, 11, 12), maxiter=50)
    assert r.error is None
    by = {n["variable"]: n for n in r.news}
    assert "power_daily" in by and by["power_daily"]["impact"] != 0  # 11 → 24 days of November
    assert "revisions" not in by or abs(by["revisions"]["impact"]) < 1e-6  # nothing was corrected
    assert by["power_daily"]["observed"] == pytest.approx(
        inputs.daily.growth(target, dt.date(2020, 11, 24))["330000"]
    )
    total = sum(n["impact"] for n in r.news)
    assert total == pytest.approx(r.news[0]["current"] - r.news[0]["previous"], abs=1e-6)
    dfm = next(e for e in r.month if e.model == "dfm")
    assert r.news[0]["current"] == pytest.approx(dfm.point, abs=1e-6)


def test_backtest_with_daily_power_beats_the_naive_value_early(inputs) -> None:
    """On the 20th of the month, with the month's first 19 days read: the bridge on daily power
    beats both last month's figure and the bridge without it (an AR on value added)."""
    covered = [t for t in inputs.growth["power_daily"].index if t >= pd.Period("2020-02", "M")]
    with_daily = run_backtest(inputs, "330000", maxiter=50, targets=covered).rmse()
    without = run_backtest(inputs.without("power_daily"), "330000", maxiter=50, targets=covered).rmse()
    for h in with_daily:
        assert with_daily[h]["dfm"] < with_daily[h]["naive"], with_daily
    assert with_daily[-1]["bridge"] < without[-1]["bridge"], (with_daily, without)
    assert with_daily[-1]["dfm"] <= without[-1]["dfm"] + 0.05, (with_daily, without)


def test_backtest_cli_refuses_an_unknown_indicator_to_leave_out() -> None:
    from typer.testing import CliRunner

    from jingxin.cli import app

    result = CliRunner().invoke(app, ["nowcast-backtest", "--without", "va"])
    assert result.exit_code == 2
    assert "power_daily" in result.output and "va" in result.output
