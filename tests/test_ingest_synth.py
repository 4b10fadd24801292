"""Round trip with the generator: every defect the manifest lists is rejected, nothing else.

A small province is generated with 2% defective rows (bad check characters, unknown counties,
units in cells, impossible dates, duplicates, truncated last lines…), every file is ingested in
dependency order, and each batch is compared with manifest.json row by row.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from jingxin.core.warehouse import open_warehouse
from jingxin.ingest.batches import rejected_rows
from jingxin.ingest.directory import ingest_directory, plan_directory

synth = pytest.importorskip("jingxin.synth")
from jingxin.synth.manifest import Manifest  # noqa: E402


@pytest.fixture(scope="module")
def province(tmp_path_factory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("province")
    manifest = synth.generate_province(
        out, enterprises=250, years="2020-2021", seed=11, defects=0.02, daily_days=30
    )
    return out, manifest


def test_every_file_matches_the_manifest(warehouse_url, province):
    folder, manifest = province
    assert {p.path.name for p in plan_directory(folder)} == {f.file for f in manifest.files}
    wh = open_warehouse(warehouse_url)
    try:
        outcomes = ingest_directory(wh, folder, loaded_by="test")
        assert [o.error for o in outcomes if o.error] == []
        order = [o.planned.source for o in outcomes]
        assert order[:2] == ["registry", "land"]
        total_defects = 0
        for outcome in outcomes:
            entry = manifest.file(outcome.planned.path.name)
            result = outcome.result
            assert result is not None
            assert result.accepted + result.rejected == result.row_count == entry.rows, entry.file
            rejected = {r["row_number"] for r in rejected_rows(wh, result.batch_id)}
            assert rejected == entry.defect_rows(), entry.file
            stored = wh.sql(
                f"SELECT COUNT(*), MIN(source_row) FROM {_table(result.source)} WHERE batch_id = ?",
                [result.batch_id],
            )[0]
            assert stored[0] == entry.rows - len(entry.defect_rows()), entry.file  # every clean row
            assert stored[1] >= entry.first_data_row, entry.file
            total_defects += len(entry.defects)
        assert total_defects > 0

        batches_before = wh.sql("SELECT COUNT(*) FROM batches")[0][0]
        facts_before = {
            o.result.source: wh.sql(f"SELECT COUNT(*) FROM {_table(o.result.source)}")[0][0]
            for o in outcomes
            if o.result
        }
        again = ingest_directory(wh, folder, loaded_by="test")
        assert all(o.result is not None and o.result.duplicate for o in again)
        assert wh.sql("SELECT COUNT(*) FROM batches")[0][0] == batches_before
        for source, count in facts_before.items():
            assert wh.sql(f"SELECT COUNT(*) FROM {_table(source)}")[0][0] == count
    finally:
        wh.close()


def _table(source_id: str) -> str:
    from jingxin.core.contracts import source

    return source(source_id).table


@pytest.mark.duckdb
def test_cli_ingest_dir(province, tmp_path, monkeypatch):
    import json

    import typer

    from jingxin.core.settings import get_settings
    from jingxin.ingest.cli import register

    folder, manifest = province
    monkeypatch.setenv("JINGXIN_WAREHOUSE", f"duckdb:///{tmp_path / 'wh.duckdb'}")
    get_settings.cache_clear()
    app = typer.Typer()
    register(app)
    try:
        result = CliRunner().invoke(app, ["ingest-dir", str(folder), "--json"])
        assert result.exit_code == 0, result.output
        rows = json.loads(result.output)
        assert len(rows) == len(manifest.files)
        assert sum(r["result"]["rejected"] for r in rows) == sum(len(f.defects) for f in manifest.files)
        human = CliRunner().invoke(app, ["ingest-dir", str(folder)])
        assert human.exit_code == 0 and "重复提交" in human.output
    finally:
        get_settings.cache_clear()


def test_parks_and_members_are_ingested_with_lineage(warehouse_url, province):
    """The 经信 park list and membership list load like any department's files: typed columns
    as agreed with the evaluation (parks: park_id, park_name, kind, division_code, star, area_mu,
    year; park_members: credit_code, park_id, year), each row traceable to its batch and line."""
    folder, manifest = province
    wh = open_warehouse(warehouse_url)
    try:
        outcomes = ingest_directory(wh, folder, loaded_by="test")
        assert [o.error for o in outcomes if o.error] == []
        for src, table in (("parks", "parks"), ("park-members", "park_members")):
            entries = manifest.by_source(src)
            assert {e.period for e in entries} == {"2020", "2021"}
            clean = sum(e.rows - len(e.defect_rows()) for e in entries)
            rows = wh.sql(
                f"SELECT COUNT(*), COUNT(batch_id), COUNT(source_row), COUNT(DISTINCT batch_id) FROM {table}"
            )[0]
            assert rows == (clean, clean, clean, len(entries)), src
        schema = wh.table("parks").schema()
        assert {n: str(t) for n, t in schema.items()}.items() >= {
            "park_id": "string",
            "park_name": "string",
            "kind": "string",
            "division_code": "string",
            "star": "int64",
            "area_mu": "float64",
            "year": "int32",
        }.items()
        members = wh.table("park_members").schema()
        assert {n: str(t) for n, t in members.items()}.items() >= {
            "credit_code": "string",
            "park_id": "string",
            "year": "int32",
        }.items()
        kinds = {r[0] for r in wh.sql("SELECT DISTINCT kind FROM parks")}
        assert kinds == {"经开区", "高新区", "特色小镇", "小微企业园"}
        sources = {r[0] for r in wh.sql("SELECT DISTINCT source FROM batches")}
        assert {"parks", "park-members"} <= sources
    finally:
        wh.close()
