"""Enterprise risk grading on a small generated province: characteristics with lineage, rules,
the scorecard and its reason codes, contagion, PSI drift, the truth comparison and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from jingxin.core.warehouse import open_warehouse
from jingxin.risk.config import GENERAL, KEY, NORMAL, RiskConfigError, load_config, parse_config
from jingxin.risk.contagion import apply_contagion, build_network
from jingxin.risk.monitoring import Monitor, psi
from jingxin.risk.rules import add_labels
from jingxin.risk.service import RiskError, prepared, score_month, training_rows

pytest_plugins = ["jingxin.risk.testing"]
MONTH = "2021-06"


@pytest.fixture(scope="module")
def province(risk_province: dict[str, Any]) -> dict[str, Any]:
    wh = open_warehouse(risk_province["url"])
    yield {**risk_province, "wh": wh}
    wh.close()


@pytest.fixture(scope="module")
def result(province: dict[str, Any]) -> Any:
    return score_month(province["wh"], MONTH)


def test_characteristics_trace_back_to_batches(province: dict[str, Any], result: Any) -> None:
    wh = province["wh"]
    batches = wh.execute(wh.table("batches").select("batch_id", "source", "period"))
    by_id = dict(zip(batches.batch_id, batches.source, strict=True))
    periods = dict(zip(batches.batch_id, batches.period, strict=True))
    for source, ids in result.lineage.items():
        assert ids, source
        assert {by_id[i] for i in ids} == {source}
        assert {periods[i] for i in ids} == {"2021-01..2021-12"}  # the month's own year's files
    t = result.table
    assert t["credit_code"].is_unique
    assert set(t["grade"]) <= {KEY, GENERAL, NORMAL}


def test_reason_codes_add_up_with_the_points(result: Any) -> None:
    model, t = result.model, result.table
    points = model.bin_points(t)
    assert np.allclose(points.sum(axis=1).to_numpy(), t["score"].to_numpy(), atol=0.02)
    best_total = sum(model.best.values())
    lost = t[[f"lost_{f}" for f in model.features]].sum(axis=1)
    assert np.allclose(best_total - t["score"].to_numpy(), lost.to_numpy(), atol=0.1)
    for _, r in t[t["grade"] == KEY].head(20).iterrows():
        codes = r["reason_codes"]
        assert 0 < len(codes) <= load_config().scorecard.reason_codes
        losses = sorted((r[f"lost_{f}"] for f in model.features), reverse=True)
        assert [round(p, 2) for _, p in codes] == [round(x, 2) for x in losses[: len(codes)]]
    # the score is the optbinning scorecard's own score
    own = model.card.score(t[list(model.card.binning_process_.variable_names)].astype(float))
    assert np.allclose(own, t["score"].to_numpy(), atol=0.02)
    # higher score, lower probability of distress
    order = t.sort_values("score")
    assert order["pd"].is_monotonic_decreasing


def test_materialised_enterprises_are_key_concern(result: Any) -> None:
    t = result.table
    assert (t.loc[t["materialised"], "grade"] == KEY).all()
    assert (t["category"] == "已经出险").sum() == t["materialised"].sum() > 0


def test_scorecard_beats_baselines_out_of_time(province: dict[str, Any]) -> None:
    from jingxin.risk.evaluate import evaluate

    report = evaluate(province["wh"], province["manifest"], load_config(), "2020-06")
    truth = report["comparison"]["truth"]
    assert truth["events"] > 10
    assert truth["scorecard"]["auc"] > 0.7
    assert truth["scorecard"]["auc"] > truth["rules_only"]["auc"]
    rates = report["by_grade"]
    assert rates[KEY]["realised_rate"] > rates[GENERAL]["realised_rate"] > rates[NORMAL]["realised_rate"]
    lead = report["lead"]
    if lead["cases"]:
        with_c = lead["concern_contagion"]["caught_before_onset"]
        assert with_c >= lead["concern_alone"]["caught_before_onset"]


def test_psi_flags_an_injected_drift(province: dict[str, Any]) -> None:
    cfg = load_config()
    df = prepared(province["wh"], cfg)
    known = add_labels(df[df["month"] <= pd.Timestamp("2020-12-01")], 6)
    train = training_rows(known)
    from jingxin.risk.service import fit_as_of

    model = fit_as_of(df, pd.Timestamp("2020-12-01"), cfg)
    monitor = Monitor(model, train, cfg)
    same = monitor.month(train.sample(frac=0.3, random_state=1))
    assert same["level"] == "stable", same
    drifted = train.sample(frac=0.3, random_state=2).copy()
    drifted["power_change_6m"] = drifted["power_change_6m"] - 0.4  # power falls everywhere
    out = monitor.month(drifted)
    assert out["level"] == "alert"
    assert "power_change_6m" in out["drifting"]
    assert psi([50, 50], [50, 50]) == pytest.approx(0.0)


def test_contagion_rules_raise_guarantors_and_circles() -> None:
    edges = pd.DataFrame(
        {
            "guarantor_code": ["A", "B", "C", "D", "E"],
            "borrower_code": ["B", "C", "A", "E", "F"],
            "amount": [10.0] * 5,
        }
    )
    net = build_network(edges)
    assert net.circles == [["A", "B", "C"]]
    assert len(net.chains) == 2
    grades = pd.DataFrame(
        {
            "credit_code": list("ABCDEF"),
            "grade": [NORMAL, NORMAL, KEY, NORMAL, NORMAL, KEY],
            "materialised": [False, False, True, False, False, False],
        }
    )
    out = apply_contagion(grades, net, load_config().contagion).set_index("credit_code")
    assert out.at["B", "grade"] == KEY  # guarantees C, which is 已经出险
    assert out.at["A", "grade"] == GENERAL  # same circle as C
    assert out.at["E", "grade"] == GENERAL  # guarantees F, a 重点关注 enterprise
    assert out.at["D", "grade"] == NORMAL
    assert out.at["B", "grade_before_contagion"] == NORMAL


def test_bad_configuration_is_refused_with_the_field(tmp_path: Path) -> None:
    text = (
        Path(load_config().source)
        .read_text(encoding="utf-8")
        .replace("feature: seizures_6m", "feature: seizure_count")
    )
    bad = tmp_path / "risk.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(RiskConfigError, match="hidden.0.all.0"):
        parse_config(bad)


def test_unknown_month_is_refused(province: dict[str, Any]) -> None:
    with pytest.raises(RiskError, match="2019-01 至 2021-12"):
        score_month(province["wh"], "2023-01")


def test_cli_score_json_and_county(province: dict[str, Any], result: Any) -> None:
    from jingxin.cli import app

    province["wh"].close()  # the CLI opens the DuckDB file itself
    try:
        runner = CliRunner()
        county = str(result.table.loc[result.table["grade"] == KEY, "county_code"].iloc[0])
        res = runner.invoke(
            app,
            ["risk", "score", "--month", MONTH, "--json", "--county", county, "--warehouse", province["url"]],
        )
        assert res.exit_code == 0, res.output
        data = json.loads(res.output)
        assert data["month"] == MONTH and data["counts"][KEY] > 0
        assert {e["county_code"] for e in data["enterprises"]} == {county}
        assert all(e["reasons"] for e in data["enterprises"] if e["grade"] == KEY)
        out = province["home"] / "lists.xlsx"
        res = runner.invoke(
            app, ["risk", "export", "--month", MONTH, "--out", str(out), "--warehouse", province["url"]]
        )
        assert res.exit_code == 0, res.output
        from openpyxl import load_workbook

        assert load_workbook(out, read_only=True).sheetnames == ["风险企业清单", "一般关注分类", "共性问题"]
    finally:
        province["wh"] = open_warehouse(province["url"])


def test_monthly_job_grades_and_opens_each_case_once(province: dict[str, Any], tmp_path: Path) -> None:
    from contextlib import contextmanager
    from types import SimpleNamespace

    from sqlalchemy import func, select

    from jingxin.core.db import Database, upgrade
    from jingxin.core.jobs.registry import get_kind, load_kinds
    from jingxin.core.workflow.models import WorkItem
    from jingxin.risk.jobs import MonthlyParams, run_monthly

    url = f"sqlite:///{tmp_path / 'platform.sqlite'}"
    upgrade(url)
    db = Database(url)

    @contextmanager
    def reader():
        yield province["wh"]

    ctx = SimpleNamespace(
        params=MonthlyParams(month=MONTH),
        warehouse_reader=reader,
        database=db,
        progress=lambda *a: None,
        log=lambda *a: None,
    )
    first = run_monthly(ctx)
    again = run_monthly(ctx)
    with db.session() as s:
        cases = s.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.workflow == "risk_case"))
    key = first["grades"].get(KEY, 0)
    assert first["month"] == MONTH and key > 0
    placed = key - first["cases_without_county"]
    assert first["cases_opened"] == placed == cases > 0  # one case per 重点关注 enterprise with a county
    assert again["cases_opened"] == 0 and again["cases_already_open"] == placed
    assert first["model_drift"] in ("stable", "warning", "alert")
    load_kinds()
    assert get_kind("risk.monthly").title == "风险分级月度例行"
    db.dispose()


def test_drift_warns_the_province_once_per_month(result: Any, tmp_path: Path) -> None:
    """A drifting month tells the province's analysts and the admins, once; a stable month
    tells nobody; other roles are never told."""
    from dataclasses import replace

    from sqlalchemy import select

    from jingxin.accounts.demo import create_demo_users
    from jingxin.accounts.models import User
    from jingxin.core.db import Database, upgrade
    from jingxin.core.notify.models import Notification
    from jingxin.risk.jobs import warn_of_drift

    url = f"sqlite:///{tmp_path / 'platform.sqlite'}"
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        create_demo_users(s, "Demo-pass-2024")
        alert = {"psi_score": 0.31, "level": "alert", "drifting": ["power_change_6m"]}
        assert warn_of_drift(s, replace(result, drift={**alert, "level": "stable"})) == 0
        assert warn_of_drift(s, replace(result, drift=alert)) == 2  # sheng and admin
        assert warn_of_drift(s, replace(result, drift=alert)) == 0  # the same month again
        s.commit()
        told = s.scalars(select(Notification)).all()
        names = {user_id: name for user_id, name in s.execute(select(User.id, User.username))}
        assert {names[n.user_id] for n in told} == {"sheng", "admin"}
        assert all("power_change_6m" in n.body and n.link == f"/risk?month={MONTH}" for n in told)
    db.dispose()


@pytest.mark.postgres
def test_characteristics_are_the_same_on_postgresql(
    province: dict[str, Any], postgres_schema_url: str
) -> None:
    """The characteristics are one Ibis expression: the files of the same province, ingested into
    PostgreSQL, give the same table as on DuckDB (lineage columns aside: batch ids differ)."""
    from jingxin.ingest.directory import ingest_directory
    from jingxin.risk.features import LINEAGE_COLUMNS, load_features

    pg = open_warehouse(postgres_schema_url)
    try:
        ingest_directory(pg, province["home"] / "province", loaded_by="risk-test")
        on_pg = load_features(pg)
    finally:
        pg.close()
    on_duckdb = load_features(province["wh"])
    keys = ["credit_code", "month"]
    columns = [c for c in on_duckdb.columns if c not in LINEAGE_COLUMNS]
    left = on_duckdb[columns].sort_values(keys).reset_index(drop=True)
    right = on_pg[columns].sort_values(keys).reset_index(drop=True)
    assert len(left) > 1000
    pd.testing.assert_frame_equal(left, right, check_dtype=False, check_exact=False, rtol=1e-9)
