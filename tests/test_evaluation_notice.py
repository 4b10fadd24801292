"""The result notice (评价结果告知书): one PDF per enterprise, a county's as a zip, the CLI."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import typer
from pypdf import PdfReader
from typer.testing import CliRunner

from jingxin.core.scope import Scope
from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation.cli import register
from jingxin.evaluation.notice import notice_pdf, render_county_notices
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province

COUNTIES = ["331003", "330106"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("notice") / "wh.duckdb"
    wh = open_warehouse(f"duckdb:///{path}")
    load_facts(wh, province(600, years=(2020, 2021), seed=4, counties=COUNTIES))
    run_evaluation(wh, "zhejiang_industry_above", 2020)
    summary = run_evaluation(wh, "zhejiang_industry_above", 2021)
    res = wh.execute(wh.table("eval_results").filter(lambda t: t.run_id == summary.run_id))
    yield wh, summary.run_id, res, path
    wh.close()


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).replace("\n", "")


def test_notice_states_class_scores_rank_policies_and_explanation(run) -> None:
    wh, run_id, res, _ = run
    row = res[(res["class"] == "A") & (res.county_code == "331003")].iloc[0]
    pdf = notice_pdf(wh, run_id, row.credit_code)
    assert pdf is not None and pdf.startswith(b"%PDF")
    text = _text(pdf)
    assert "2021年度亩均效益综合评价结果告知书" in text
    assert row["name"] in text and row.credit_code in text
    assert "A类（优先发展类）" in text
    assert f"{row.rank_in_county}/{row.county_count}" in text
    assert "亩均税收" in text and "单位排放增加值" in text
    assert "城镇土地使用税：减免100%" in text  # 浙政办发〔2019〕62号: A 100 %
    assert "贵企业亩均税收为" in text  # the explanation in sentences
    assert "台州市黄岩区经济和信息化局" in text
    assert run_id in text
    # the same notice gives the same bytes
    assert notice_pdf(wh, run_id, row.credit_code) == pdf


def test_notice_of_d_states_the_surcharge_and_masks_tax_without_clearance(run) -> None:
    wh, run_id, res, _ = run
    row = res[res["class"] == "D"].iloc[0]
    text = _text(notice_pdf(wh, run_id, row.credit_code))
    assert "D类（倒逼整治类）" in text and "差别化电价：每千瓦时加价0.3元" in text
    assert "用能指标：调减20%" in text
    masked = _text(notice_pdf(wh, run_id, row.credit_code, masked=True))
    assert "****" in masked and "贵企业亩均税收为" not in masked


def test_notice_outside_the_scope_is_none(run) -> None:
    wh, run_id, res, _ = run
    code = res[res.county_code == "331003"].credit_code.iloc[0]
    assert notice_pdf(wh, run_id, code, Scope(division="330106")) is None
    assert notice_pdf(wh, run_id, code, Scope(credit_code=code)) is not None
    assert notice_pdf(wh, run_id, "91330106MA2XXXXXXX") is None


def test_county_notices_in_one_zip_with_progress(run, tmp_path) -> None:
    wh, run_id, res, _ = run
    seen: list[tuple[int, int]] = []
    out = tmp_path / "331003.zip"
    n = render_county_notices(wh, run_id, "331003", out, progress=lambda d, t: seen.append((d, t)))
    county = res[res.county_code == "331003"]
    assert n == len(county) > 0
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert len(names) == n and all(name.endswith(".pdf") for name in names)
        first = zf.read(names[0])
    assert first.startswith(b"%PDF") and names[0].split("_")[0] in set(county.credit_code)
    assert seen[0] == (0, n) and seen[-1] == (n, n)
    assert not list(tmp_path.glob("*.part"))


def test_cli_writes_a_notice_and_a_county_zip(run, tmp_path) -> None:
    wh, run_id, res, path = run
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    code = res.credit_code.iloc[0]
    # the fixture's connection holds the DuckDB file: the CLI reads a copy
    import shutil

    wh.sql("CHECKPOINT")
    copy = tmp_path / "copy.duckdb"
    shutil.copy(path, copy)
    url = f"duckdb:///{copy}"
    out = tmp_path / "one.pdf"
    got = runner.invoke(app, ["evaluation", "notice", run_id, code, str(out), "--warehouse", url, "--json"])
    assert got.exit_code == 0, got.output
    assert json.loads(got.output)["bytes"] == out.stat().st_size and out.read_bytes().startswith(b"%PDF")
    zipped = tmp_path / "c.zip"
    got = runner.invoke(
        app,
        ["evaluation", "notices", run_id, str(zipped), "--county", "330106", "--warehouse", url, "--json"],
    )
    assert got.exit_code == 0, got.output
    assert json.loads(got.output)["notices"] == (res.county_code == "330106").sum()
    got = runner.invoke(app, ["evaluation", "notice", "nope", code, str(out), "--warehouse", url])
    assert got.exit_code == 1 and "没有评价批次" in got.output
