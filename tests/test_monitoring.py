"""Monitoring on a generated province: indicators add up, warnings catch the injected events
(DOMAIN.md §13) in the right counties and industries, a refresh opens cases and notifies the
county, the CLI answers, the daily indices read the festival."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from jingxin.monitoring import store
from jingxin.monitoring.evaluation import all_warnings
from jingxin.monitoring.indicators import compute
from jingxin.monitoring.testing import build
from jingxin.monitoring.truth import event_months, score_event

pytest_plugins = ["jingxin.web.pytest_fixtures"]

MIN_AFFECTED = 5  # events that hit fewer enterprises at the test's scale are reported, not asserted


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    wh, manifest = build(tmp_path_factory.mktemp("monitoring"))
    yield wh, manifest
    wh.close()


def test_indicators_add_up_and_match_the_facts(province) -> None:
    wh, _ = province
    table = compute(wh, 2021, 6, history=2)
    june = table[table.month == dt.date(2021, 6, 1)]
    prov = june[(june.level == "province")].set_index("measure")
    cities = june[june.level == "city"].groupby("measure").value.sum()
    counties = june[june.level == "county"].groupby("measure").value.sum()
    for measure in ("output_value", "revenue", "kwh"):
        assert cities[measure] == pytest.approx(prov.loc[measure, "value"], rel=1e-9)
        assert counties[measure] == pytest.approx(prov.loc[measure, "value"], rel=1e-9)
    m = wh.current("monthly")
    direct = wh.execute(m.filter(m.month == dt.date(2021, 6, 1)).revenue.sum())
    assert prov.loc["revenue", "value"] == pytest.approx(float(direct))
    # growing + shrinking never exceed those compared; shares are percentages of them
    row = prov.loc["output_value"]
    assert 0 < row.growing + row.shrinking <= row.compared
    assert row.growing_share == pytest.approx(row.growing / row.compared * 100)
    assert set(june.level) >= {"province", "city", "county", "industry", "chain", "cluster"}


def test_every_injected_event_is_warned_in_its_counties_and_industries(province) -> None:
    wh, manifest = province
    events = manifest["events"]
    months = sorted({ym for e in events for ym in event_months(e) if ym[0] >= 2020 and ym[1] >= 2})
    found = all_warnings(wh, months)
    reg = wh.current("registry")
    counties = sorted(wh.execute(reg.select("county_code").distinct())["county_code"])
    for event in events:
        result = score_event(event, found, counties)
        if result["absent"] or (
            event["affected_credit_codes"] and len(event["affected_credit_codes"]) < MIN_AFFECTED
        ):
            continue  # one or two small plants at this scale: within their own noise (docs/monitoring.md)
        assert result["caught"], event["id"]
        assert result["counties_warned"] >= 1, event["id"]
        assert result["lead_days"] is not None and result["lead_days"] <= 60, result
        if event.get("affected_credit_codes") and not any(s.isalpha() for s in event["sectors"]):
            # a narrow trade: the plants themselves are named
            assert result["affected_enterprises_warned"] >= 1, result
    # a warning's reason says what, how much and against what, in Chinese
    ent = next(w for w in found if w.kind == "enterprise")
    assert "同比" in ent.reason and "稳健Z值" in ent.reason


def test_refresh_stores_the_month_opens_cases_and_notifies_the_county(province, db_session) -> None:
    from sqlalchemy import select

    from jingxin.core.notify.models import Notification
    from jingxin.core.workflow.models import WorkItem
    from jingxin.core.workflow.testing import make_people
    from jingxin.monitoring.service import refresh_month

    wh, _ = province
    make_people(db_session)
    rep = refresh_month(wh, 2021, 10, db_session)
    assert rep.cases_opened > 0 and rep.indicators > 0
    stored = store.warnings(wh, dt.date(2021, 10, 1))
    opened = stored[stored.case_id.notna()]
    assert len(opened) == rep.cases_opened
    assert set(opened.colour) <= {"orange", "red"}
    items = db_session.scalars(select(WorkItem).where(WorkItem.workflow == "monitor_warning")).all()
    assert len(items) == rep.cases_opened
    # the case sits with the warning's division; analysts there are told
    item = items[0]
    assert (
        item.division_code == opened[opened.case_id == item.id].iloc[0].county_code
        or item.division_code == "330000"
    )
    notes = db_session.scalars(select(Notification)).all()
    assert notes, "the responsible divisions' analysts are notified"
    # a second refresh of the month opens nothing new
    again = refresh_month(wh, 2021, 10, db_session)
    assert again.cases_opened == 0 and again.cases_existing == rep.cases_opened
    assert store.months(wh) == [dt.date(2021, 10, 1)]


def test_cli_refresh_and_warnings(province, tmp_path, monkeypatch) -> None:
    from jingxin.cli import app

    wh, _ = province
    url = wh.url
    wh.close()  # the CLI opens the file itself
    monkeypatch.setenv("JINGXIN_HOME", str(tmp_path))
    runner = CliRunner()
    res = runner.invoke(
        app, ["monitor", "refresh", "--month", "2021-09", "--warehouse", url, "--no-cases", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["month"] == "2021-09"
    res = runner.invoke(app, ["monitor", "warnings", "--month", "2021-09", "--warehouse", url, "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert rows and all(
        r["month"] == dt.date(2021, 9, 1) or str(r["month"]).startswith("2021-09") for r in rows
    )
    bad = runner.invoke(app, ["monitor", "refresh", "--month", "2021-13", "--warehouse", url])
    assert bad.exit_code != 0 and "YYYY-MM" in bad.output
    missing = runner.invoke(app, ["monitor", "warnings", "--month", "2020-07", "--warehouse", url])
    assert missing.exit_code == 2 and "monitor refresh" in missing.output
    from jingxin.core.warehouse import open_warehouse

    province[0].__dict__.update(open_warehouse(url).__dict__)  # reopen for later tests


def test_daily_indices_read_the_festival(province) -> None:
    from jingxin.monitoring.power import daily_for, power_index, restart_rates, spring_festival

    wh, _ = province
    sf = spring_festival(2021)
    daily = daily_for(wh, dt.date(2020, 1, 1), sf + dt.timedelta(days=27))
    rates = restart_rates(daily, [sf + dt.timedelta(days=k) for k in (2, 27)]).set_index("day")
    assert rates.loc[sf + dt.timedelta(days=2)].work_rate < 20  # the festival week
    assert rates.loc[sf + dt.timedelta(days=27)].work_rate > 80  # back after the recovery
    assert rates.loc[sf + dt.timedelta(days=27)].production_rate > 80
    totals = daily.groupby("day").kwh.sum()
    idx = power_index(totals, [sf + dt.timedelta(days=3)])
    # 2021's festival against 2020's aligned one: not a collapse (the 2020 shutdown makes it a rise)
    assert idx["index"].iloc[0] > 60


def test_monthly_briefing_has_its_headings_tables_and_charts(province, tmp_path) -> None:
    from docx import Document

    from jingxin.monitoring.briefing import BriefingError, write_briefing

    wh, _ = province
    out = write_briefing(wh, 2021, 10, "330700", tmp_path / "brief.docx")
    doc = Document(str(out))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert headings[0] == "金华市工业经济运行监测月报（2021年10月）"
    assert headings[1:] == [
        "一、主要指标",
        "二、走势",
        "三、分县（市、区）情况",
        "四、预警",
    ]  # no nowcast installed
    headline, counties = doc.tables[0], doc.tables[1]
    assert headline.rows[0].cells[0].text == "指标" and len(headline.rows) > 5
    names = {r.cells[0].text for r in counties.rows[1:]}
    assert "婺城区" in names and "西湖区" not in names  # the region's own counties only
    assert len(doc.inline_shapes) == 1  # the trend chart
    blob = doc.inline_shapes[0]._inline.graphic.graphicData.pic.blipFill.blip.embed
    assert doc.part.related_parts[blob].content_type == "image/png"
    with pytest.raises(BriefingError, match="区划代码"):
        write_briefing(wh, 2021, 10, "999999", tmp_path / "bad.docx")
