"""Nowcast (现时预测): official figures from the generator, vintages, models, news, backtest,
CLI and pages on a small generated province (800 enterprises, 2018–2021)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.vintage import as_loaded, as_released
from jingxin.core.warehouse import open_warehouse
from jingxin.ingest.directory import ingest_directory
from jingxin.ingest.service import ingest_file
from jingxin.nowcast.backtest import run_backtest
from jingxin.nowcast.data import load_inputs, yoy
from jingxin.nowcast.runs import nowcast_region, run_nowcast
from jingxin.nowcast.service import allowed_regions, run_view
from jingxin.synth import generator
from jingxin.synth.generator import generate_province
from jingxin.web.testing import login

pytest_plugins = ["jingxin.web.pytest_fixtures"]


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("nowcast-province")
    manifest = generate_province(out, 800, "2018-2021", seed=11, defects=0.0)
    wh = open_warehouse("duckdb://")
    outcomes = ingest_directory(wh, out)
    assert not [o.error for o in outcomes if o.error]
    yield out, manifest, wh
    wh.close()


@pytest.fixture(scope="module")
def inputs(province):
    return load_inputs(province[2])


def test_official_figures_follow_the_bureau_calendar(province) -> None:
    out, manifest, _ = province
    names = sorted(f.file for f in manifest.files if f.source == "official")
    assert names == [f"official_{y}{s}.csv" for y in (2019, 2020, 2021) for s in ("", "_revised")]
    first = pd.read_csv(out / "official_2021.csv", dtype={"行政区划代码": str})
    codes = set(first["行政区划代码"])
    assert {"330000", "330100", "330200"} <= codes  # province, cities, counties with 规上 industry
    assert len(codes) > 60 and all(len(c) == 6 and c.startswith("33") for c in codes)
    months = set(first["年月"])
    assert "2021-01" not in months and "2021-02" in months  # Jan–Feb combined under February
    released = pd.to_datetime(first["发布日期"])
    month_end = pd.PeriodIndex(first["年月"], freq="M").to_timestamp(how="end")
    assert (released > month_end).all() and ((released - month_end).dt.days < 50).all()
    revisions = [r for y in manifest.official for r in y["revisions"]]
    assert revisions and all(r["revised_on"] > r["released_on"] for r in revisions)


def test_existing_files_stay_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The official files draw from their own stream: without them every other file is the same."""
    with_official = generate_province(tmp_path / "a", 300, "2020-2021", seed=5, defects=0.02)
    plan = generator.plan_jobs
    monkeypatch.setattr(
        generator, "plan_jobs", lambda *a, **k: [j for j in plan(*a, **k) if not j[0].startswith("official")]
    )
    without = generate_province(tmp_path / "b", 300, "2020-2021", seed=5, defects=0.02)
    files = [f.file for f in without.files]
    assert len(with_official.files) == len(files) + 2
    for name in files:
        a = hashlib.sha256((tmp_path / "a" / name).read_bytes()).hexdigest()
        b = hashlib.sha256((tmp_path / "b" / name).read_bytes()).hexdigest()
        assert a == b, name


def test_as_released_gives_first_release_before_the_revision(province) -> None:
    _, manifest, wh = province
    rev = manifest.official[-1]["revisions"][0]
    key = ["region_code", "month"]
    day_before = dt.date.fromisoformat(rev["revised_on"]) - dt.timedelta(days=1)

    def value(when: dt.date) -> float:
        t = as_released(wh, "official_growth", when, key)
        t = t.filter(
            (t.region_code == rev["region_code"]) & (t.month == dt.date.fromisoformat(rev["month"] + "-01"))
        )
        return float(wh.execute(t.growth_month).iloc[0])

    assert value(day_before) == pytest.approx(rev["first"][0])
    assert value(dt.date.fromisoformat(rev["revised_on"])) == pytest.approx(rev["revised"][0])
    before_release = dt.date.fromisoformat(rev["released_on"]) - dt.timedelta(days=1)
    t = as_released(wh, "official_growth", before_release, key)
    t = t.filter(
        (t.region_code == rev["region_code"]) & (t.month == dt.date.fromisoformat(rev["month"] + "-01"))
    )
    assert wh.execute(t).empty  # not out yet


def test_as_loaded_keeps_the_superseded_vintage(province, tmp_path: Path) -> None:
    out, _, _ = province
    wh = open_warehouse("duckdb://")
    first = ingest_file(wh, "official", out / "official_2021.csv")
    second = ingest_file(wh, "official", out / "official_2021_revised.csv")
    assert second.supersedes == first.batch_id
    # The two loads on two past days (the registry records when each came).
    wh.sql(
        "UPDATE batches SET loaded_at = ? WHERE batch_id = ?", [dt.datetime(2022, 1, 20, 9), first.batch_id]
    )
    wh.sql(
        "UPDATE batches SET loaded_at = ? WHERE batch_id = ?", [dt.datetime(2022, 3, 20, 9), second.batch_id]
    )
    batches_on = lambda d: set(wh.execute(as_loaded(wh, "official_growth", d).batch_id.name("b")).unique())  # noqa: E731
    assert batches_on(dt.date(2022, 1, 19)) == set()
    assert batches_on(dt.date(2022, 2, 1)) == {first.batch_id}
    assert batches_on(dt.date(2022, 3, 20)) == {second.batch_id}
    now = wh.execute(as_loaded(wh, "official_growth", dt.datetime(2100, 1, 1)))
    assert len(now) == len(wh.execute(wh.current("official_growth")))
    assert len(wh.execute(wh.table("official_growth"))) == first.accepted + second.accepted  # nothing lost
    wh.close()


def test_yoy_combines_january_and_february() -> None:
    idx = pd.period_range("2020-01", "2021-03", freq="M")
    levels = pd.DataFrame({"r": [10, 20, 30] + [30] * 9 + [5, 31, 33]}, index=idx, dtype=float)
    g = yoy(levels)
    assert pd.isna(g.loc[pd.Period("2021-01", "M"), "r"])
    assert g.loc[pd.Period("2021-02", "M"), "r"] == pytest.approx((5 + 31) / (10 + 20) * 100 - 100)
    assert g.loc[pd.Period("2021-03", "M"), "r"] == pytest.approx(10.0)


def test_news_adds_up_to_the_change(inputs) -> None:
    target = pd.Period("2021-06", "M")
    r = nowcast_region(inputs, "330000", target, dt.date(2021, 7, 12), dt.date(2021, 6, 20), maxiter=50)
    assert r.error is None
    dfm = next(e for e in r.month if e.model == "dfm")
    assert dfm.lower < dfm.point < dfm.upper
    assert {n["variable"] for n in r.news} >= {"power"}  # June's electricity came out in between
    total = sum(n["impact"] for n in r.news)
    assert total == pytest.approx(r.news[0]["current"] - r.news[0]["previous"], abs=1e-6)
    assert r.news[0]["current"] == pytest.approx(dfm.point, abs=1e-6)
    assert {e.period if hasattr(e, "period") else None for e in r.quarter} and len(r.quarter) == 3


def test_backtest_beats_the_naive_value(inputs) -> None:
    """Pseudo-real time, province: once the month's electricity is out the model is closer
    to the published figure than last month's figure."""
    bt = run_backtest(inputs, "330000", maxiter=50)
    assert bt.count() >= 20
    rmse = bt.rmse()
    for h in (0, 1):
        assert rmse[h]["dfm"] < rmse[h]["naive"], rmse
    # Only vintages out on each date: no estimate used the target's own figure.
    rows = pd.DataFrame(bt.rows)
    dfm = rows[rows["model"] == "dfm"]
    assert (dfm["estimate"] != dfm["actual"]).all()


def test_runs_are_stored_with_news_against_the_previous_run_and_scoped(province, inputs) -> None:
    wh = province[2]
    codes = ["330000", "330100", "330200"]
    first = run_nowcast(wh, "2021-09", codes, as_of=dt.date(2021, 9, 25), inputs=inputs, maxiter=50)
    second = run_nowcast(wh, "2021-09", codes, as_of=dt.date(2021, 10, 12), inputs=inputs, maxiter=50)
    one = run_view(wh, EVERYTHING, first, "330100")
    two = run_view(wh, EVERYTHING, second, "330100")
    dfm_one = next(e for e in one["estimates"] if e["kind"] == "month" and e["model"] == "dfm")
    dfm_two = next(e for e in two["estimates"] if e["kind"] == "month" and e["model"] == "dfm")
    assert two["news_compared_as_of"] == "2021-09-25"
    assert "reestimation" in {n["variable"] for n in two["news"]}
    assert sum(n["impact"] for n in two["news"]) == pytest.approx(
        dfm_two["point"] - dfm_one["point"], abs=5e-3
    )
    assert {e["kind"] for e in two["estimates"]} == {"month", "quarter"}
    assert allowed_regions(Scope(division="330106")) == ["330106"]
    city = Scope(division="330100")
    assert run_view(wh, city, second)["region_code"] == "330100"
    with pytest.raises(PermissionError):
        run_view(wh, city, second, "330200")
    with pytest.raises(PermissionError):
        run_view(wh, city, second, "330000")
    with pytest.raises(PermissionError):
        allowed_regions(Scope(credit_code="91330106MA27XXXX0X"))


def test_cli_json(province, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from jingxin.cli import app

    out, _, _ = province
    url = f"duckdb:///{tmp_path}/wh.duckdb"
    wh = open_warehouse(url)
    files = [("registry", next(out.glob("registry.*")))]
    files += [(s, out / f"{s}_{y}.csv") for s in ("power", "official") for y in (2019, 2020, 2021)]
    for source, path in files:
        ingest_file(wh, source, path)
    wh.close()
    monkeypatch.setenv("JINGXIN_HOME", str(tmp_path))
    monkeypatch.setattr("jingxin.core.jobs.client.running_server", lambda: None)
    result = CliRunner().invoke(
        app, ["nowcast", "--month", "2021-07", "--region", "330000", "--warehouse", url, "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    view = data["regions"][0]
    assert view["region_code"] == "330000" and view["target_month"] == "2021-07"
    assert view["as_of"] < "2021-08-19"  # the day before the figure came out
    assert {e["model"] for e in view["estimates"]} == {"dfm", "bridge", "naive"}
    bad = CliRunner().invoke(app, ["nowcast", "--month", "2021-7x", "--warehouse", url])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output


@pytest.mark.parametrize("platform_url", ["sqlite"], indirect=True)
def test_page_api_and_excel_inside_the_scope(web_settings, web_app, demo_users, web_client, inputs) -> None:
    wh = open_warehouse(web_settings.warehouse_url)
    run_id = run_nowcast(
        wh, "2021-06", ["330000", "330100", "330200"], as_of=dt.date(2021, 7, 12), inputs=inputs, maxiter=50
    )
    wh.close()
    login(web_client, "hangzhou")
    page = web_client.get("/nowcast")
    assert (
        page.status_code == 200
        and "杭州市" in page.text
        and "新闻分解" in page.text
        and "nowcast-chart" in page.text
    )
    api = web_client.get(f"/api/v1/nowcast/runs/{run_id}?region=330100").json()
    assert api["region_code"] == "330100" and len(api["estimates"]) == 6
    assert web_client.get(f"/api/v1/nowcast/runs/{run_id}?region=330200").status_code == 404
    assert web_client.get(f"/api/v1/nowcast/runs/{run_id}?region=330000").status_code == 404
    xlsx = web_client.get(f"/nowcast/export.xlsx?run={run_id}&region=330100")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    login(web_client, "qiye")
    assert web_client.get("/api/v1/nowcast/latest").status_code in (403, 404)


def test_job_kind_is_registered_and_refuses_regions_outside_the_scope() -> None:
    from jingxin.core.jobs import JobRefused
    from jingxin.core.jobs.registry import get_kind, load_kinds
    from jingxin.nowcast.jobs import NowcastParams, _check

    load_kinds()
    assert get_kind("nowcast.run").title == "现时预测"
    _check(NowcastParams(month="2021-06", region="330106"), Scope(division="330100"))
    with pytest.raises(JobRefused, match="无权"):
        _check(NowcastParams(month="2021-06", region="330000"), Scope(division="330100"))
    with pytest.raises(JobRefused):
        _check(NowcastParams(month="2021-06"), Scope(credit_code="91330106MA27XXXX0X"))


def test_briefing_section_shows_the_stored_nowcast(province, inputs) -> None:
    import jingxin.nowcast as nowcast

    wh = province[2]
    assert nowcast.briefing_section(wh, 2021, 6, "330100") is None  # no run of that month yet
    run_nowcast(wh, "2021-06", ["330100"], as_of=dt.date(2021, 7, 12), inputs=inputs, maxiter=50)
    section = nowcast.briefing_section(wh, 2021, 6, "330100")
    assert section is not None and "2021年6月" in section["paragraphs"][0]
    models = {row[0] for row in section["table"]["rows"]}
    assert {"动态因子模型", "朴素（上期值）"} <= models
