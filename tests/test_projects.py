"""Projects on a generated province with known truth: targets against actuals by county match
the generated investment and stages; the monthly Excel table is checked cell by cell against the
warehouse; the DiD recovers the generated 技改 effect; the stage and problem workflows replay the
reports, route problems to departments and warn across a holiday."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest

from jingxin.core.calendar import default_calendar
from jingxin.core.warehouse import open_warehouse
from jingxin.core.workflow.testing import bj
from jingxin.projects import facts
from jingxin.projects.did import estimate
from jingxin.projects.export import COLOURED, COLUMNS, FILLS, FIRST_DATA_ROW, write_monthly_table
from jingxin.projects.progress import PACE, county_progress

pytest_plugins = ["jingxin.web.pytest_fixtures", "jingxin.projects.testing"]
MONTH = "2021-06"


@pytest.fixture
def platform_url(tmp_path: Path, _sqlite_template: Path, fast_password_hashing: None) -> str:
    """SQLite only: the workflow engine is tested on both backends by its own tests."""
    target = tmp_path / "platform.sqlite"
    shutil.copyfile(_sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(scope="module")
def wh(projects_province: dict[str, Any]):
    w = open_warehouse(projects_province["url"])
    yield w
    w.close()


@pytest.fixture(scope="module")
def progress(wh):
    return county_progress(wh, MONTH)


def test_other_files_unchanged_by_the_projects_flag(tmp_path: Path) -> None:
    from jingxin.synth.generator import generate_province

    a = generate_province(tmp_path / "a", 150, "2020-2021", 5, 0.01, annual_only=True)
    b = generate_province(tmp_path / "b", 150, "2020-2021", 5, 0.01, annual_only=True, projects=True)
    for entry in a.files:
        assert (tmp_path / "a" / entry.file).read_bytes() == (tmp_path / "b" / entry.file).read_bytes(), (
            entry.file
        )
    assert {f.source for f in b.files} - {f.source for f in a.files} == {
        "projects",
        "project-progress",
        "cultivation-profile",
        "first-set",
    }
    assert b.projects["count"] > 0 and not a.projects


def test_actuals_by_county_match_the_generated_projects(progress, projects_province) -> None:
    truth = projects_province["manifest"]["projects"]
    months = [f"2021-{m:02d}" for m in range(1, 7)]
    by_county: dict[str, float] = {}
    started: dict[str, int] = {}
    for p in truth["projects"]:
        c = p["county_code"]
        by_county[c] = by_county.get(c, 0.0) + sum(
            v for m, v in p["investment_by_month"].items() if m in months
        )
        s = p["actual"][1]
        if p["category"] == "技改项目" and s and "2021-01-01" <= s <= "2021-06-30":
            started[c] = started.get(c, 0) + 1
    rows = {r["county_code"]: r for r in progress.rows}
    total = sum(by_county.values())
    measured = sum(r["investment"] for r in rows.values())
    assert abs(measured - total) / total < 0.02  # defective rows are rejected, nothing else differs
    exact = sum(abs(rows.get(c, {}).get("investment", 0.0) - v) < 0.05 for c, v in by_county.items())
    assert exact / len(by_county) >= 0.9
    hits = sum(rows.get(c, {}).get("tech_projects", 0) == n for c, n in started.items())
    assert hits / len(started) >= 0.9
    assert progress.province["tech_projects_target"] > 0 and progress.lineage["progress_batches"]
    for r in progress.rows:
        assert r["tech_projects_colour"] in ("green", "orange", "red", "grey")
        assert r["investment_forecast"] >= r["investment"]
    ranks = sorted(r["rank"] for r in progress.rows if "rank" in r)
    assert ranks == list(range(1, len(ranks) + 1))


def test_monthly_table_matches_the_warehouse_cell_by_cell(wh, progress, projects_province, tmp_path) -> None:
    path = write_monthly_table(progress, tmp_path / "月报表.xlsx")
    sheet = openpyxl.load_workbook(path).active
    headers = [c.value for c in sheet[FIRST_DATA_ROW]]
    assert headers == [h for h, _k in COLUMNS]
    copy = tmp_path / "wh.duckdb"
    shutil.copyfile(projects_province["path"], copy)
    con = duckdb.connect(str(copy), read_only=True)
    live = "batch_id IN (SELECT batch_id FROM batches WHERE superseded_by IS NULL)"
    invest = dict(
        con.execute(
            f"SELECT county_code, SUM(actual_investment) FROM project_progress WHERE {live} "
            "AND month >= DATE '2021-01-01' AND month <= DATE '2021-06-01' GROUP BY 1"
        ).fetchall()
    )
    before = dict(
        con.execute(
            f"SELECT county_code, SUM(actual_investment) FROM project_progress WHERE {live} "
            "AND month >= DATE '2020-01-01' AND month <= DATE '2020-06-01' GROUP BY 1"
        ).fetchall()
    )
    register = (
        f"(SELECT * FROM projects p WHERE {live} AND year = (SELECT MAX(year) FROM projects q "
        f"WHERE q.project_id = p.project_id AND q.{live}))"
    )
    started = dict(
        con.execute(
            f"SELECT r.county_code, COUNT(*) FROM {register} r JOIN (SELECT project_id, MIN(stage_on) d FROM "
            f"project_progress WHERE {live} AND stage = '开工' GROUP BY 1) s USING (project_id) "
            "WHERE r.category = '技改项目' AND s.d BETWEEN DATE '2021-01-01' AND DATE '2021-06-30' GROUP BY 1"
        ).fetchall()
    )
    signed = dict(
        con.execute(
            f"SELECT county_code, COUNT(*) FROM {register} r WHERE category = '招引项目' "
            "AND planned_signed_on BETWEEN DATE '2021-01-01' AND DATE '2021-06-30' GROUP BY 1"
        ).fetchall()
    )
    con.close()
    col = {k: i for i, (_h, k) in enumerate(COLUMNS)}
    data = list(sheet.iter_rows(min_row=FIRST_DATA_ROW + 1, values_only=True))
    total_at = [r[0] for r in data].index("合计")
    rows = data[:total_at]
    assert len(rows) == len(progress.rows)
    by_code = {r["county_code"]: r for r in progress.rows}
    fills = {v.lstrip("#").upper(): k for k, v in FILLS.items()}
    for k, row in enumerate(rows):
        code = row[col["county_code"]]
        # Progress colours: each coloured cell is filled as the page colours it, 进度 in words.
        line = FIRST_DATA_ROW + 1 + k
        for key, colour_key in COLOURED.items():
            fill = sheet.cell(row=line, column=col[key] + 1).fill.fgColor.rgb[-6:].upper()
            assert fills[fill] == by_code[code][colour_key], (code, key)
        assert row[col["status"]] == PACE[by_code[code]["colour"]]
        assert row[col["investment"]] == pytest.approx(float(invest.get(code, 0.0)), abs=0.005)
        assert row[col["investment_last_year"]] == pytest.approx(float(before.get(code, 0.0)), abs=0.005)
        assert (row[col["tech_projects"]] or 0) == started.get(code, 0)
        assert (row[col["attracted_projects"]] or 0) == signed.get(code, 0)
        b, a = before.get(code), invest.get(code)
        if b:
            assert row[col["investment_growth"]] == pytest.approx(
                (float(a or 0) / float(b) - 1) * 100, abs=0.006
            )
    assert [c for c in data[total_at + 2] if c] == ["进度颜色：", *PACE.values()]
    assert data[total_at][col["investment"]] == pytest.approx(
        sum(float(v) for v in invest.values()), abs=0.05
    )


def test_did_recovers_the_generated_effect(wh, projects_province) -> None:
    truth = projects_province["manifest"]["projects"]
    effects = truth["tech_effect"]
    result = estimate(wh)
    years = result.years
    post = [effects[k] for _c, (k, y) in truth["treated"].items() for yy in years if yy > y]
    pooled_truth = sum(post) / len(post)
    assert result.pooled.low <= pooled_truth <= result.pooled.high, (result.pooled, pooled_truth)
    covered = [e.low <= effects[e.label] <= e.high for e in result.by_type]
    assert len(covered) == 5 and sum(covered) >= 4, [(e.label, e.low, e.high) for e in result.by_type]


def test_stages_replayed_problems_routed_and_overdue_across_a_holiday(wh, db_session) -> None:
    from jingxin.core.workflow import service as wf
    from jingxin.core.workflow.models import WorkItem
    from jingxin.core.workflow.sweep import sweep
    from jingxin.core.workflow.testing import make_people
    from jingxin.projects import stages

    people = make_people(db_session)
    admin, city = people["admin"], people["hangzhou"]  # 杭州市: its projects, none elsewhere
    report = stages.sync(db_session, wh, city, until=date(2021, 12, 31))
    assert not report.errors, report.errors[:3]
    reg = facts.register(wh)
    inside = reg["county_code"].str.startswith("3301")
    assert report.opened == int(inside.sum()) and report.outside_scope == int((~inside).sum()) > 0
    reg = reg[inside].reset_index(drop=True)
    items = db_session.query(WorkItem).filter(WorkItem.workflow == "project_stage").all()
    state = {"签约": "signed", "开工": "started", "投产": "producing", "达产": "capacity"}
    by_project = {i.fields["project_id"]: i for i in items}
    wrong = [
        (
            r.project_id,
            r.stage,
            by_project[r.project_id].state,
            r.signed_on,
            r.started_on,
            r.production_on,
            r.capacity_on,
        )
        for r in reg.itertuples()
        if by_project[r.project_id].state != state[r.stage]
    ]
    assert not wrong, wrong[:3]
    again = stages.sync(db_session, wh, city, until=date(2021, 12, 31))
    assert again.opened == 0 and again.steps == 0 and again.problems == 0
    problems = db_session.query(WorkItem).filter(WorkItem.workflow == "project_problem").all()
    assert problems and report.problems == len(problems)
    departments = {p.fields["department"] for p in problems}
    assert departments <= {"自然资源", "生态环境", "市场监管", "电力", "金融监管"}
    # A department's liaison sees its own problems only; a county analyst elsewhere none of them.
    one = problems[0]
    liaison = next(
        u for u in people.values() if u.role == "liaison" and u.department == one.fields["department"]
    )
    mine, _n = wf.list_items(db_session, liaison.scope, workflow="project_problem", limit=10_000)
    assert mine and {m.fields["department"] for m in mine} == {one.fields["department"]}
    answered = wf.act(db_session, one.id, "answer", liaison, fields={"answer": "已协调，下周办结"})
    assert answered.state == "answered"

    # Across 国庆 2021 (1–7 October; 9 October a working Saturday): 5 working days from 29 September.
    project = reg.iloc[0].to_dict()
    case = stages.raise_problem(db_session, admin, project, "施工用电未接入", "电力", now=bj(2021, 9, 29, 10))
    clock = case.clocks[0]
    assert stages._utc_naive(clock.due_at) == stages._utc_naive(bj(2021, 10, 12, 17, 30))
    assert case.id not in {o["id"] for o in stages.overdue(db_session, admin, bj(2021, 10, 8, 12))}
    report = sweep(db_session, bj(2021, 10, 8, 12), send_email=False)
    db_session.refresh(case)
    assert case.clocks[0].overdue_at is None
    sweep(db_session, bj(2021, 10, 13, 9), send_email=False)
    db_session.refresh(case)
    assert case.clocks[0].overdue_at is not None
    assert case.id in {o["id"] for o in stages.overdue(db_session, admin, bj(2021, 10, 13, 9))}
    with pytest.raises(wf.FieldProblems):
        stages.raise_problem(db_session, admin, project, "x", "不存在的部门")
    # Each project's 开工 clock runs to its own deadline: the planned date + 10 working days.
    planned = reg.set_index("project_id")["planned_start_on"]
    for item in items:
        due = date.fromisoformat(item.fields["start_due_on"])
        assert due == default_calendar().add_working_days(planned[item.fields["project_id"]].date(), 10)
        clock = item.clock("start_clock")
        assert stages._utc_naive(clock.due_at) == stages._utc_naive(bj(due.year, due.month, due.day, 17, 30))
    lateness = stages.plan_delays(reg, date(2021, 12, 31))
    assert (lateness["working_days_late"] > 0).all() and len(lateness) > 0


def test_forecast_errors_are_scored_by_county() -> None:
    from jingxin.projects.truth import score_forecast

    money = score_forecast(
        {"a": 110.0, "b": 90.0, "c": 5.0}, {"a": 100.0, "b": 100.0, "c": 0.0}, relative=True
    )
    assert money["by_county"] == {"a": 0.1, "b": -0.1}  # c had no investment: no relative error
    assert money["total_error"] == pytest.approx(0.025) and money["median_abs_error"] == pytest.approx(0.1)
    assert money["bias"] == pytest.approx(0.0) and money["within"] == 1.0
    counts = score_forecast({"a": 3, "b": 7}, {"a": 5, "b": 7, "d": 2}, relative=False)
    assert counts["by_county"] == {"a": -2.0, "b": 0.0, "d": -2.0}
    assert counts["total_error"] == -4.0 and counts["within"] == pytest.approx(1 / 3, abs=1e-4)


def test_forecast_sees_only_what_was_known_at_the_month() -> None:
    import pandas as pd

    from jingxin.projects.progress import as_of

    reg = pd.DataFrame(
        {
            "project_id": ["A", "B"],
            "signed_on": pd.to_datetime(["2021-01-10", "2021-08-01"]),
            "started_on": pd.to_datetime(["2021-05-20", None]),
            "production_on": pd.to_datetime(["2021-11-02", None]),
            "capacity_on": pd.to_datetime([None, None]),
        }
    )
    known = as_of(reg, pd.Timestamp("2021-06-30"))
    assert list(known["project_id"]) == ["A"]  # B was signed later
    assert known.iloc[0]["started_on"] == pd.Timestamp("2021-05-20") and pd.isna(
        known.iloc[0]["production_on"]
    )


def test_year_end_forecast_measured_against_the_generated_year(wh, projects_province) -> None:
    from jingxin.projects.truth import forecast_accuracy, year_end_truth

    truth = projects_province["manifest"]["projects"]
    actual = year_end_truth(truth, 2021)
    expected = sum(
        v for p in truth["projects"] for m, v in p["investment_by_month"].items() if m[:4] == "2021"
    )
    assert sum(c["investment"] for c in actual.values()) == pytest.approx(expected)
    result = forecast_accuracy(wh, truth, 2021, (3, 11))
    early, late = (h["investment"] for h in result["horizons"])
    assert [h["horizon_months"] for h in result["horizons"]] == [9, 1]
    assert early["counties"] == late["counties"] > 20
    # One month before the year end the forecast is close; nine months before, less so.
    assert abs(late["total_error"]) < 0.05 and late["median_abs_error"] < 0.05
    assert early["median_abs_error"] > late["median_abs_error"]
    late_counts = result["horizons"][1]["tech_projects"]
    assert abs(late_counts["total_error"]) <= 0.1 * late_counts["total_actual"]


def test_milestone_deadline_across_a_holiday_flagged_and_notified(db_session) -> None:
    from jingxin.core.notify.models import Notification
    from jingxin.core.workflow import service as wf
    from jingxin.core.workflow.sweep import sweep
    from jingxin.core.workflow.testing import make_people
    from jingxin.projects import stages

    people = make_people(db_session)
    xihu = people["xihu"]
    # Planned 开工 Wednesday 29 September 2021; 10 working days of grace skip 国庆 (1–7 October)
    # and count Saturday 9 October (调休): due Tuesday 19 October, not Wednesday 13 October.
    due = stages.milestone_deadlines({"planned_start_on": date(2021, 9, 29), "planned_production_on": None})
    assert due == {"start_due_on": "2021-10-19"}
    with pytest.raises(wf.FieldProblems, match="2021-06-30"):
        wf.start_item(
            db_session,
            "project_stage",
            xihu,
            division_code="330106",
            fields={"title": "x", "project_id": "XM1", "category": "tech", "signed_on": "2021-9-1x"},
        )
    case = wf.start_item(
        db_session,
        "project_stage",
        xihu,
        division_code="330106",
        fields={
            "title": "智能化改造项目",
            "project_id": "XM1",
            "category": "tech",
            "signed_on": "2021-09-01",
            **due,
        },
        now=bj(2021, 9, 1, 10),
    )
    clock = case.clock("start_clock")
    assert stages._utc_naive(clock.due_at) == stages._utc_naive(bj(2021, 10, 19, 17, 30))
    sweep(db_session, bj(2021, 10, 19, 12), send_email=False)
    db_session.refresh(case)
    assert case.clock("start_clock").overdue_at is None
    assert case.id not in {o["id"] for o in stages.overdue(db_session, xihu, bj(2021, 10, 19, 12))}
    sweep(db_session, bj(2021, 10, 20, 9), send_email=False)
    db_session.refresh(case)
    assert case.clock("start_clock").overdue_at is not None
    assert case.id in {o["id"] for o in stages.overdue(db_session, xihu, bj(2021, 10, 20, 9))}
    notes = db_session.query(Notification).filter(Notification.user_id == xihu.id).all()
    assert any("项目节点已超期" in n.title and "智能化改造项目" in n.title for n in notes)
    done = wf.act(
        db_session,
        case.id,
        "record_start",
        xihu,
        fields={"started_on": "2021-10-25"},
        now=bj(2021, 10, 25, 10),
    )
    assert done.clock("start_clock").met is False


def test_progress_colours_follow_the_configured_thresholds(tmp_path: Path) -> None:
    from jingxin.projects.config import ConfigError, load_targets
    from jingxin.projects.progress import delay_colour, pace_colour, worst

    cfg = load_targets()
    assert [pace_colour(p, cfg) for p in (1.2, 1.0, 0.9, 0.8, 0.5, None)] == [
        "green",
        "green",
        "orange",
        "orange",
        "red",
        "grey",
    ]
    assert [delay_colour(d, cfg) for d in (0, 1, 29, 30)] == ["green", "orange", "orange", "red"]
    assert worst(["green", "grey", "orange"]) == "orange" and worst(["grey", "grey"]) == "grey"
    text = (Path(__file__).parents[1] / "src/jingxin/projects/config/targets.yaml").read_text(
        encoding="utf-8"
    )
    stricter = tmp_path / "targets.yaml"
    stricter.write_text(
        text.replace("orange: 0.8", "orange: 0.95").replace(
            "serious_working_days: 30", "serious_working_days: 5"
        ),
        encoding="utf-8",
    )
    own = load_targets(stricter)
    assert pace_colour(0.9, own) == "red" and delay_colour(5, own) == "red"
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(text.replace("orange: 0.8", "orange: 1.5"), encoding="utf-8")
    with pytest.raises(ConfigError, match="colours"):
        load_targets(wrong)


def test_a_clock_due_field_must_be_a_declared_date(tmp_path: Path) -> None:
    from jingxin.core.workflow.config import WorkflowConfigError, parse_workflow

    source = Path(__file__).parents[1] / "src/jingxin/projects/workflows/project_stage.yaml"
    text = source.read_text(encoding="utf-8")
    assert parse_workflow(source).clocks["start_clock"].due_field == "start_due_on"
    bad = tmp_path / "project_stage.yaml"
    bad.write_text(text.replace("due_field: start_due_on", "due_field: title"), encoding="utf-8")
    with pytest.raises(WorkflowConfigError, match="due_field 'title'"):
        parse_workflow(bad)
