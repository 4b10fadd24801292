"""Stored runs, lineage and recomputation, the service functions, explanations, exports, CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import typer
from openpyxl import load_workbook
from typer.testing import CliRunner

from jingxin.core.scope import Scope
from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation import explain as ex
from jingxin.evaluation import service
from jingxin.evaluation.cli import register
from jingxin.evaluation.config import load_system
from jingxin.evaluation.export import export_evaluation
from jingxin.evaluation.runs import EVAL_SCHEMAS, evaluate, load_inputs, load_run, recompute, run_evaluation
from jingxin.evaluation.sample import facts_from_columns, load_facts, load_parks, province
from jingxin.evaluation.stored import SCORE_COLUMNS, stored_scores

COUNTIES = ["331003", "331004", "330102"]
SYSTEM = "zhejiang_industry_above"


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A DuckDB warehouse with two years of facts, optional inputs and runs for both years."""
    path = tmp_path_factory.mktemp("eval") / "wh.duckdb"
    wh = open_warehouse(f"duckdb:///{path}")
    facts = province(2500, years=(2020, 2021), seed=11, counties=COUNTIES)
    load_facts(wh, facts)
    codes = facts["registry"]["credit_code"].to_numpy(zero_copy_only=False)
    load_inputs(
        wh,
        "sublets",
        pa.table(
            {"credit_code": codes[:40], "year": np.full(40, 2021, np.int32), "tenants": np.arange(40) % 3}
        ),
    )
    load_inputs(
        wh,
        "vetoes",
        pa.table(
            {
                "credit_code": codes[40:43],
                "year": np.full(3, 2021, np.int32),
                "class": ["D"] * 3,
                "reason": ["发生较大安全生产事故"] * 3,
            }
        ),
    )
    first = run_evaluation(wh, SYSTEM, 2020)
    second = run_evaluation(wh, SYSTEM, 2021)
    yield wh, first, second, facts
    wh.close()


def _results(wh, run_id):
    t = wh.table("eval_results")
    return wh.execute(t.filter(t.run_id == run_id)).set_index("credit_code").sort_index()


def test_run_is_stored_with_lineage(stored) -> None:
    wh, first, second, _ = stored
    run = load_run(wh, second.run_id)
    assert run["system"] == SYSTEM and run["year"] == 2021 and run["scope"] == "330000"
    assert run["config_hash"] == load_system(SYSTEM).config_hash
    assert load_system(SYSTEM).to_yaml() == run["config_yaml"]
    used = json.loads(run["batches_used"])
    assert set(used) == {"registry", "land", "tax", "statistics", "energy", "discharge", "power_monthly"}
    assert all(used[k] for k in used)
    assert json.loads(run["history"]) == [{"year": 2020, "source": "runs", "run_ids": [first.run_id]}]
    res = _results(wh, second.run_id)
    assert len(res) == run["enterprise_count"] == second.enterprise_count
    assert set(res.columns) == set(EVAL_SCHEMAS["eval_results"].names) - {"credit_code"}
    scores = wh.table("eval_scores")
    n_scores = wh.execute(scores.filter(scores.run_id == second.run_id).count())
    assert n_scores == len(res) * len(load_system(SYSTEM).indicators)
    # every class counted, merged units share one result
    assert sum(second.class_counts.values()) == second.enterprise_count
    merged = res[res.member_count > 1]
    assert len(merged) > 0
    for _, group in merged.groupby("unit_id"):
        assert group.total_score.nunique() == 1 and group["class"].nunique() <= 2  # a veto may differ


def test_scores_are_stored_once_per_group_and_read_back_whole(stored) -> None:
    """Per-indicator rows keep what varies per enterprise; references and weights are stored
    once per run, indicator and county × industry, and read back beside every row."""
    wh, _, second, _ = stored
    system = load_system(SYSTEM)
    assert not {"reference", "low_reference"} & set(wh.table("eval_scores").columns)
    refs = wh.table("eval_references")
    n_refs = wh.execute(refs.filter(refs.run_id == second.run_id).count())
    assert 0 < n_refs < second.enterprise_count
    got = wh.execute(stored_scores(wh, second.run_id)).set_index(["credit_code", "indicator"]).sort_index()
    assert set(got.reset_index().columns) == set(SCORE_COLUMNS)
    ev = recompute(wh, second.run_id)
    try:
        wide = wh.execute(ev.results).set_index("credit_code")
    finally:
        ev.release()
    for ind in system.indicators:
        mine = got.xs(ind.id, level="indicator").reindex(wide.index)
        for col, prefix in (("value", "v_"), ("reference", "ref_"), ("weight", "w_"), ("score", "s_")):
            expected = wide[f"{prefix}{ind.id}"].astype(float)
            same = (mine[col].astype(float) - expected).abs().fillna(0) < 1e-9
            assert (same & (mine[col].isna() == expected.isna())).all(), (ind.id, col)
    one = wh.execute(stored_scores(wh, second.run_id, got.index[0][0]))
    assert len(one) == len(system.indicators) and one.reference.notna().any()


def test_an_older_warehouse_keeps_its_scores_after_the_upgrade(tmp_path) -> None:
    """A warehouse written by an older version (reference and low reference on every score
    row) is moved to the grouped layout the first time the evaluation opens it."""
    from jingxin.evaluation.runs import ensure_eval_schema

    wh = open_warehouse(f"duckdb:///{tmp_path / 'old.duckdb'}")
    try:
        load_facts(wh, province(600, years=(2021,), seed=3, counties=COUNTIES[:2]))
        run = run_evaluation(wh, SYSTEM, 2021)
        before = wh.execute(stored_scores(wh, run.run_id)).sort_values(["credit_code", "indicator"])
        # the older layout: every column on every row, no eval_references
        wh.sql("CREATE TABLE old_scores AS " + wh.con.compile(stored_scores(wh, run.run_id)))
        wh.sql("DROP TABLE eval_scores")
        wh.sql("DROP TABLE eval_references")
        wh.sql("ALTER TABLE old_scores RENAME TO eval_scores")
        legacy = wh.execute(stored_scores(wh, run.run_id)).sort_values(["credit_code", "indicator"])
        ensure_eval_schema(wh)
        assert not {"reference", "low_reference"} & set(wh.table("eval_scores").columns)
        after = wh.execute(stored_scores(wh, run.run_id)).sort_values(["credit_code", "indicator"])
        for got in (legacy, after):
            got = got[before.columns].reset_index(drop=True)
            pd.testing.assert_frame_equal(before.reset_index(drop=True), got, check_dtype=False)
    finally:
        wh.close()


def test_rerun_gives_identical_results(stored) -> None:
    wh, _, second, _ = stored
    again = run_evaluation(wh, SYSTEM, 2021)
    a, b = _results(wh, second.run_id), _results(wh, again.run_id)
    cols = [c for c in a.columns if c != "run_id"]
    assert a[cols].equals(b[cols])


def test_previous_year_and_vetoes_and_deductions(stored) -> None:
    wh, first, second, facts = stored
    now, before = _results(wh, second.run_id), _results(wh, first.run_id)
    both = now.index.intersection(before.index)
    assert len(both) > 100
    np.testing.assert_allclose(now.loc[both, "prev_score"], before.loc[both, "total_score"])
    assert (now.loc[both, "prev_class"] == before.loc[both, "class"]).all()
    order = "ABCD"
    change = before.loc[both, "class"].map(order.index) - now.loc[both, "class"].map(order.index)
    assert (now.loc[both, "class_change"] == change).all()
    d_twice = now[(now["class"] == "D") & (now.prev_class == "D")]
    assert (d_twice.consecutive_d_years == 2).all()
    vetoed = now[now.veto_reason.notna()]
    assert (vetoed["class"] == "D").all() and (vetoed.veto_reason == "发生较大安全生产事故").all()
    sublet = now[now.sublet_tenants > 0]
    assert len(sublet) > 0
    assert (sublet.deduction == 5 * sublet.sublet_tenants).all()
    assert np.allclose(sublet.total_score, sublet.score - sublet.deduction)


def test_recompute_uses_the_recorded_batches_after_a_correction(tmp_path) -> None:
    cols = {
        "credit_code": ["91331003000000001X", "91331003000000002X", "91331003000000003X"],
        "county_code": ["331003"] * 3,
        "industry_code": ["3821"] * 3,
        "year": [2021] * 3,
        "area_mu": [10.0, 10.0, 10.0],
        "tax_paid": [100.0, 200.0, 300.0],
        "value_added": [1000.0] * 3,
        "revenue": [4000.0] * 3,
        "rd_expense": [100.0] * 3,
        "employees": [60] * 3,
        "energy_tce": [400.0] * 3,
        "discharge_t": [0.2] * 3,
    }
    wh = open_warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    ids = load_facts(wh, facts_from_columns(cols))
    old = run_evaluation(wh, SYSTEM, 2021)
    # a corrected tax file supersedes the first one
    corrected = facts_from_columns({**cols, "tax_paid": [900.0, 200.0, 300.0]})
    new_ids = load_facts(wh, {"tax": corrected["tax"]}, first_batch=100)
    wh.sql("UPDATE batches SET superseded_by = ? WHERE batch_id = ?", [new_ids["tax"], ids["tax"]])
    new = run_evaluation(wh, SYSTEM, 2021)
    assert json.loads(load_run(wh, new.run_id)["batches_used"])["tax"] == [100]
    assert _results(wh, new.run_id).total_score.max() > _results(wh, old.run_id).total_score.max()
    ev = recompute(wh, old.run_id)
    try:
        again = wh.execute(ev.results).set_index("credit_code").sort_index()
    finally:
        ev.release()
    stored_old = _results(wh, old.run_id)
    np.testing.assert_allclose(again.total_score, stored_old.total_score)
    assert list(again["class"]) == list(stored_old["class"])
    wh.close()


# ---- service ---------------------------------------------------------------------------------
def test_scope_restricts_every_service_function(stored) -> None:
    wh, _, second, _ = stored
    county = Scope(division="331003")
    page = service.list_results(wh, second.run_id, county, page_size=500)
    assert page["total"] == sum(1 for _ in range(page["total"]))
    assert {r["county_code"] for r in page["rows"]} == {"331003"}
    everything = service.list_results(wh, second.run_id, page_size=1)
    assert everything["total"] == second.enterprise_count > page["total"]
    counts = service.class_counts(wh, second.run_id, county)
    assert [c["county_code"] for c in counts] == ["331003"]
    ranking = service.county_ranking(wh, second.run_id, county)
    assert [r["county_code"] for r in ranking] == ["331003"]
    code = page["rows"][0]["credit_code"]
    me = Scope(credit_code=code)
    mine = service.list_results(wh, second.run_id, me)
    assert [r["credit_code"] for r in mine["rows"]] == [code]
    other = (
        next(r for r in everything["rows"] if r["county_code"] != "331003") if everything["rows"] else None
    )
    if other:
        assert service.enterprise_profile(wh, other["credit_code"], county) is None
    assert service.enterprise_profile(wh, code, me) is not None
    assert service.runs(wh, Scope(division="330500")) == []
    assert {r["run_id"] for r in service.runs(wh, me)} >= {second.run_id}


def test_list_results_filters_sort_and_pages(stored) -> None:
    wh, _, second, _ = stored
    d = service.list_results(wh, second.run_id, filters={"cls": "D"}, sort="total_score", page_size=5)
    assert d["total"] == second.class_counts["D"]
    scores = [r["total_score"] for r in d["rows"]]
    assert scores == sorted(scores) and all(r["class"] == "D" for r in d["rows"])
    p1 = service.list_results(wh, second.run_id, sort="-total_score", page=1, page_size=10)
    p2 = service.list_results(wh, second.run_id, sort="-total_score", page=2, page_size=10)
    assert p1["rows"][-1]["total_score"] >= p2["rows"][0]["total_score"]
    assert not {r["credit_code"] for r in p1["rows"]} & {r["credit_code"] for r in p2["rows"]}
    vetoed = service.list_results(wh, second.run_id, filters=service.ResultFilters(vetoed=True))
    expected = int(_results(wh, second.run_id).veto_reason.notna().sum())
    assert vetoed["total"] == expected >= 1
    with pytest.raises(ValueError, match="排序"):
        service.list_results(wh, second.run_id, sort="tax_paid; drop table x")


def test_aggregates_are_sum_over_sum(stored) -> None:
    wh, _, second, _ = stored
    res = _results(wh, second.run_id)
    lead = res[res.is_lead]
    by_county = {c["county_code"]: c for c in service.class_counts(wh, second.run_id)}
    for code, g in lead.groupby("county_code"):
        row = by_county[code]
        assert row["tax_per_mu"] == pytest.approx(g.tax_paid.sum() / g.land_mu.sum())
        assert row["value_added_per_mu"] == pytest.approx(g.value_added.sum() / g.land_mu.sum())
        assert row["enterprises"] == (res.county_code == code).sum()
        assert sum(row[f"class_{c}"] for c in "ABCD") == row["enterprises"]
    total = service.class_counts(wh, second.run_id, by="province")[0]
    assert total["enterprises"] == second.enterprise_count
    assert total["tax_per_mu"] == pytest.approx(lead.tax_paid.sum() / lead.land_mu.sum())
    ranking = service.county_ranking(wh, second.run_id)
    assert len(ranking) == 90
    ranked = [r for r in ranking if r["rank"] is not None]
    assert [r["rank"] for r in ranked] == [1, 2, 3]
    assert ranked[0]["tax_per_mu"] >= ranked[1]["tax_per_mu"] >= ranked[2]["tax_per_mu"]
    assert ranking[0]["county_name"]


def test_leaders_and_latest_run_and_profile(stored) -> None:
    wh, first, second, _ = stored
    assert service.latest_run(wh, 2021, SYSTEM)["run_id"] in {
        r["run_id"] for r in service.runs(wh, year=2021)
    }
    top = service.leaders(wh, second.run_id, top_n=3)
    assert len(top) == 10 and "集成电路" in top
    for rows in top.values():
        assert len(rows) <= 3
        assert [r["leader_rank"] for r in rows] == list(range(1, len(rows) + 1))
        assert [r["total_score"] for r in rows] == sorted((r["total_score"] for r in rows), reverse=True)
    custom = service.leaders(wh, second.run_id, key={"智能电气": ["382", "383"]}, top_n=5)
    assert all(r["industry_code"][:3] in ("382", "383") for r in custom["智能电气"])
    res = _results(wh, second.run_id)
    code = res.index[0]
    profile = service.enterprise_profile(wh, code)
    assert profile["credit_code"] == code
    years = [h["year"] for h in profile["history"]]
    assert years == sorted(years) and years[-1] == 2021
    assert profile["latest"]["total_score"] == pytest.approx(res.loc[code, "total_score"])
    assert [s["indicator"] for s in profile["scores"]] == [i.id for i in load_system(SYSTEM).indicators]


# ---- explanations ----------------------------------------------------------------------------------
def test_explanation_in_plain_chinese(stored) -> None:
    wh, _, second, _ = stored
    res = _results(wh, second.run_id)
    # a 黄岩 enterprise: measured against 黄岩's published references
    code = res[(res["class"] == "C") & res.veto_reason.isna() & (res.county_code == "331003")].index[0]
    exp = ex.explain(wh, second.run_id, code)
    assert exp is not None
    assert exp.summary.startswith("贵企业2021年度规上工业企业亩均效益综合评价得分")
    tax = exp.indicators[0]
    assert tax.name == "亩均税收"
    assert "贵企业亩均税收为" in tax.text and "参照值26.01万元/亩" in tax.text and "此项得分" in tax.text
    assert ("少得" in tax.text) == (tax.score < tax.weight - 0.05)
    assert exp.target_class == "B"
    assert exp.options and "距B类（提升发展类）还差" in exp.advice
    rel = [o.relative_change for o in exp.options]
    assert rel == sorted(rel)
    assert ex.explain(wh, second.run_id, code, Scope(division="330500")) is None


def test_cheapest_lift_really_lifts_the_class(tmp_path) -> None:
    """Apply the cheapest single-indicator change to the facts and evaluate again (2021 has
    fixed references, so nobody else moves): the enterprise reaches the target class."""
    facts = province(600, years=(2021,), seed=5, counties=["331003"])
    wh = open_warehouse(f"duckdb:///{tmp_path / 'a.duckdb'}")
    load_facts(wh, facts)
    run = run_evaluation(wh, SYSTEM, 2021)
    lifts = wh.execute(ex.cheapest_lifts(wh, run.run_id))
    lifts = lifts[lifts.indicator == "tax_per_mu"]
    assert len(lifts) > 0
    row = lifts.iloc[0]
    res = _results(wh, run.run_id)
    code, unit = row.credit_code, res.loc[row.credit_code, "unit_id"]
    members = res[res.unit_id == unit].index
    tax = facts["tax"].to_pandas()
    land = res.loc[code, "land_mu"]
    extra = (row.needed_value - row.value) * land * 1.0001
    first = tax.index[tax.credit_code == members[0]][0]
    tax.loc[first, "tax_paid"] += extra
    wh2 = open_warehouse(f"duckdb:///{tmp_path / 'b.duckdb'}")
    load_facts(wh2, {**facts, "tax": pa.Table.from_pandas(tax, preserve_index=False)})
    ev = evaluate(wh2, load_system(SYSTEM), 2021, history="none")
    try:
        after = wh2.execute(ev.results).set_index("credit_code")
    finally:
        ev.release()
    assert after.loc[code, "class"] == row.target_class


# ---- exports and CLI ----------------------------------------------------------------------------------
def test_csv_export_columns(stored, tmp_path) -> None:
    wh, _, second, _ = stored
    out = export_evaluation(wh, second.run_id, tmp_path / "r.csv", "csv")
    with out.open(encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        header = reader.fieldnames or []
    required = [
        "credit_code",
        "name",
        "county_code",
        "industry_code",
        "total_score",
        "class",
        "rank_in_county",
        "rank_in_industry",
    ]
    assert all(c in header for c in required)
    for ind in load_system(SYSTEM).indicators:
        assert f"{ind.id}_value" in header and f"{ind.id}_score" in header
    assert all(c == c.lower() and " " not in c for c in header)
    assert len(rows) == second.enterprise_count
    assert rows[0]["county_name"]


def test_excel_export_as_a_county_publishes_it(stored, tmp_path) -> None:
    wh, _, second, _ = stored
    county = Scope(division="331003")
    out = export_evaluation(wh, second.run_id, tmp_path / "r.xlsx", "xlsx", county)
    book = load_workbook(out)
    assert book.sheetnames == [
        "汇总",
        "全部企业",
        "A类（优先发展类）",
        "B类（提升发展类）",
        "C类（调控帮扶类）",
        "D类（倒逼整治类）",
    ]
    summary = book["汇总"]
    assert "亩均效益综合评价" in summary["A1"].value
    labels = [summary.cell(row=r, column=1).value for r in range(1, 30)]
    assert "评价批次" in labels and "分类" in labels
    sheet = book["全部企业"]
    headers = [c.value for c in sheet[2]]
    assert headers[:4] == ["序号", "统一社会信用代码", "企业名称", "区县代码"]
    assert "亩均税收（万元/亩）" in headers and "亩均税收得分" in headers and "综合得分" in headers
    assert sheet.freeze_panes == "D3"
    n = service.list_results(wh, second.run_id, county, page_size=1)["total"]
    assert sheet.max_row == n + 2
    d = book["D类（倒逼整治类）"]
    cls_col = headers.index("分类") + 1
    assert {d.cell(row=r, column=cls_col).value for r in range(3, d.max_row + 1)} <= {"D"}
    score_col = headers.index("综合得分") + 1
    assert sheet.cell(row=3, column=score_col).number_format == "0.00"


def test_cli_evaluate_export_explain(tmp_path) -> None:
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    wh = open_warehouse(url)
    load_facts(wh, province(400, years=(2021,), seed=2, counties=["331003"]))
    wh.close()
    res = runner.invoke(app, ["evaluate", "--year", "2021", "--system", SYSTEM, "--warehouse", url, "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["year"] == 2021 and summary["enterprise_count"] > 0
    run_id = summary["run_id"]
    out = tmp_path / "out.xlsx"
    res = runner.invoke(
        app, ["export", "evaluation", run_id, str(out), "--format", "xlsx", "--warehouse", url]
    )
    assert res.exit_code == 0, res.output
    assert out.exists()
    res = runner.invoke(app, ["evaluation", "runs", "--warehouse", url, "--json"])
    assert json.loads(res.output)[0]["run_id"] == run_id
    wh = open_warehouse(url)
    code = wh.execute(wh.table("eval_results").credit_code.min())
    wh.close()
    res = runner.invoke(app, ["evaluation", "explain", run_id, code, "--warehouse", url])
    assert res.exit_code == 0 and "贵企业" in res.output
    res = runner.invoke(app, ["evaluation", "systems", "--json"])
    assert SYSTEM in {s["id"] for s in json.loads(res.output)}
    res = runner.invoke(app, ["evaluate", "--year", "2021", "--system", "nope", "--warehouse", url])
    assert res.exit_code == 2 and "找不到评价体系" in res.output
    sublets = tmp_path / "sublets.csv"
    sublets.write_text(f"credit_code,year,tenants\n{code},2021,2\n", encoding="utf-8")
    res = runner.invoke(app, ["evaluation", "load-input", "sublets", str(sublets), "--warehouse", url])
    assert res.exit_code == 0 and "1" in res.output


def test_parks_are_evaluated_sum_over_sum(tmp_path) -> None:
    facts = province(1500, years=(2021,), seed=8, counties=COUNTIES)
    wh = open_warehouse(f"duckdb:///{tmp_path / 'p.duckdb'}")
    load_facts(wh, facts)
    assert run_evaluation(wh, "zhejiang_parks", 2021).unit_count == 0  # no park sources: nothing
    codes = facts["registry"]["credit_code"].to_numpy(zero_copy_only=False)
    park = np.arange(len(codes)) % 7
    load_parks(
        wh,
        {
            "park_id": [f"P{k}" for k in range(7)],
            "park_name": [f"园区{k}" for k in range(7)],
            "kind": ["经开区"] * 3 + ["小微企业园"] * 4,
            "division_code": [COUNTIES[k % len(COUNTIES)] for k in range(7)],
            "star": [0, 0, 0, 4, 3, 5, 2],
            "area_mu": [5000.0] * 7,
        },
        {"credit_code": codes, "park_id": [f"P{k}" for k in park]},
        2021,
    )
    run = run_evaluation(wh, "zhejiang_parks", 2021)
    assert run.unit_count == 7
    parks = wh.execute(wh.table("eval_park_results").filter(lambda t: t.run_id == run.run_id)).set_index(
        "park_id"
    )
    scores = wh.execute(stored_scores(wh, run.run_id))
    tax = scores[scores.indicator == "tax_per_mu"].set_index("credit_code")
    for pid, row in parks.iterrows():
        assert tax.loc[pid, "value"] == pytest.approx(row.tax_paid / row.land_mu)
    # the reference is the province's sum over sum across all parks
    assert tax.reference.iloc[0] == pytest.approx(parks.tax_paid.sum() / parks.land_mu.sum())
    assert sorted(parks.rank_in_province) == list(range(1, 8))
    # name, kind and county come from the park master data; the run records its batches
    assert parks.loc["P3", "park_name"] == "园区3" and parks.loc["P3", "kind"] == "小微企业园"
    assert parks.loc["P1", "county_code"] == COUNTIES[1]
    used = json.loads(load_run(wh, run.run_id)["batches_used"])
    assert used["parks"] and used["park_members"]
    leading = service.leading_parks(wh, 2021, top_n=3)
    assert [p["rank_in_province"] for p in leading] == [1, 2, 3]
    xlsx = export_evaluation(wh, run.run_id, tmp_path / "parks.xlsx", "xlsx")
    assert "全部园区" in load_workbook(xlsx).sheetnames
    assert isinstance(Path(xlsx), Path)


@pytest.mark.slow
def test_generated_and_ingested_province(tmp_path) -> None:
    """End to end with the province generator and ingestion: departmental files (with their
    defects quarantined) become batches, and a run records exactly the live batches it read."""
    from jingxin.ingest.directory import ingest_directory
    from jingxin.synth.generator import generate_province

    folder = tmp_path / "files"
    generate_province(folder, 400, (2020, 2021), 3, annual_only=True)
    wh = open_warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    ingest_directory(wh, folder, loaded_by="test")
    runs = [run_evaluation(wh, system, 2021) for system in (SYSTEM, "zhejiang_industry_below")]
    assert runs[0].enterprise_count > 20 and sum(runs[0].class_counts.values()) == runs[0].enterprise_count
    used = json.loads(load_run(wh, runs[0].run_id)["batches_used"])
    batches = wh.execute(wh.table("batches").filter(lambda b: b.superseded_by.isnull()))
    live = set(batches.batch_id)
    assert used["registry"] and used["tax"] and set().union(*map(set, used.values())) <= live
    exp = ex.explain(wh, runs[0].run_id, _results(wh, runs[0].run_id).index[0])
    assert exp is not None and exp.summary.startswith("贵企业2021年度")
    wh.close()
