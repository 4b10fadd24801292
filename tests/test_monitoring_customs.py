"""The customs source (海关 企业月度出口数据): its files come from their own random stream, so
every other file of a seed stays byte-identical; they are ingested like any other source and
agree with the 快报's 出口交货值 over the year."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from jingxin.core.warehouse import open_warehouse
from jingxin.ingest.directory import ingest_directory
from jingxin.synth import generator
from jingxin.synth.generator import generate_province


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.name != "manifest.json" and not p.name.startswith("customs_")
    }


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("customs")
    with_customs = base / "with"
    generate_province(with_customs, 500, "2020-2021", 5, defects=0.02)
    without = base / "without"
    original = generator.plan_jobs

    def no_customs(years, *options):
        return [j for j in original(years, *options) if j[0] != "customs"]

    mp = pytest.MonkeyPatch()
    mp.setattr(generator, "plan_jobs", no_customs)
    try:
        generate_province(without, 500, "2020-2021", 5, defects=0.02)
    finally:
        mp.undo()
    return with_customs, without


def test_other_files_are_byte_identical_with_the_customs_files_added(folders) -> None:
    with_customs, without = folders
    assert sorted(p.name for p in with_customs.glob("customs_*")) == [
        "customs_2020.xlsx",
        "customs_2021.xlsx",
    ]
    assert _digests(with_customs) == _digests(without)


def test_customs_files_are_ingested_and_agree_with_the_monthly_exports(folders, tmp_path) -> None:
    with_customs, _ = folders
    wh = open_warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    try:
        outcomes = {o.planned.path.name: o for o in ingest_directory(wh, with_customs)}
        result = outcomes["customs_2021.xlsx"].result
        assert result is not None and result.accepted > 0
        # 2% deliberate defects are refused row by row, with a reason
        assert 0 < result.rejected < result.row_count * 0.05
        c = wh.current("customs_exports")
        assert set(wh.execute(c.trade_mode.value_counts())["trade_mode"]) <= {
            "一般贸易",
            "加工贸易",
            "其他贸易",
        }
        m = wh.current("monthly")
        year = lambda t: t.month.year() == 2021  # noqa: E731
        customs_total = float(wh.execute(c.filter(year(c)).export_amount.sum()))
        # the 快报 covers 规上 only; customs covers every exporting industrial enterprise
        above = wh.execute(m.filter(year(m)).select("credit_code").distinct())["credit_code"].tolist()
        customs_above = float(wh.execute(c.filter(year(c) & c.credit_code.isin(above)).export_amount.sum()))
        monthly_export = float(wh.execute(m.filter(year(m)).export_value.sum()))
        assert customs_above == pytest.approx(monthly_export, rel=0.1)
        assert customs_total > customs_above
    finally:
        wh.close()
