"""Batches on both warehouse backends: all-or-nothing writes, idempotence, corrections
(supersession) and `current()`, plus the CLI."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jingxin.core import credit_code
from jingxin.core.warehouse import Warehouse, open_warehouse
from jingxin.ingest import IngestError, ingest_file
from jingxin.ingest.batches import get_batch, list_batches, rejected_rows

RNG = random.Random(3)
CODES = [credit_code.generate("330109", RNG) for _ in range(10)]
TAX_HEADER = "统一社会信用代码,年度,实缴税收"


def tax_file(path: Path, rows: list[tuple[str, object, object]], title: bool = True) -> Path:
    lines = (["2021年企业税收,,"] if title else []) + [TAX_HEADER] + [f"{c},{y},{v}" for c, y, v in rows]
    path.write_text("\n".join(lines) + "\n", encoding="gb18030")
    return path


def count(wh: Warehouse, table: str) -> int:
    return int(wh.sql(f"SELECT COUNT(*) FROM {table}")[0][0])


def counts(wh: Warehouse) -> tuple[int, int, int]:
    return count(wh, "batches"), count(wh, "tax"), count(wh, "rejected_rows")


def test_ingest_writes_batch_facts_and_rejected_rows(warehouse, tmp_path):
    path = tax_file(
        tmp_path / "tax_2021.csv", [(CODES[0], 2021, 10), (CODES[1], 2021, "x"), (CODES[2], 2021, 30)]
    )
    result = ingest_file(warehouse, "tax", path, loaded_by="税务联络员")
    assert (result.batch_id, result.period, result.row_count, result.accepted, result.rejected) == (
        1,
        "2021",
        3,
        2,
        1,
    )
    batch = get_batch(warehouse, 1)
    assert batch["file_name"] == "tax_2021.csv" and batch["loaded_by"] == "税务联络员"
    assert batch["content_hash"] == result.content_hash and len(result.content_hash) == 64
    facts = sorted(warehouse.sql("SELECT batch_id, source_row, credit_code, year, tax_paid FROM tax"))
    assert facts == [(1, 3, CODES[0], 2021, 10.0), (1, 5, CODES[2], 2021, 30.0)]
    [problem] = rejected_rows(warehouse, 1)
    assert (problem["row_number"], problem["column_name"], problem["value"]) == (4, "实缴税收", "x")
    assert json.loads(problem["raw"]) == {"统一社会信用代码": CODES[1], "年度": "2021", "实缴税收": "x"}


def test_same_file_twice_changes_nothing(warehouse, tmp_path):
    path = tax_file(tmp_path / "tax.csv", [(CODES[0], 2021, 10), (CODES[1], 2021, "x")])
    first = ingest_file(warehouse, "tax", path)
    before = counts(warehouse)
    again = ingest_file(warehouse, "tax", path)
    renamed = path.with_name("tax_copy.csv")
    renamed.write_bytes(path.read_bytes())
    third = ingest_file(warehouse, "tax", renamed)
    assert again.duplicate and third.duplicate and not first.duplicate
    assert again.batch_id == third.batch_id == first.batch_id
    assert counts(warehouse) == before == (1, 1, 1)


def test_correction_supersedes_and_current_shows_only_new_rows(warehouse, tmp_path):
    old = ingest_file(
        warehouse, "tax", tax_file(tmp_path / "v1.csv", [(CODES[0], 2021, 10), (CODES[1], 2021, 20)])
    )
    other_year = ingest_file(warehouse, "tax", tax_file(tmp_path / "y2020.csv", [(CODES[0], 2020, 9)]))
    new = ingest_file(
        warehouse, "tax", tax_file(tmp_path / "v2.csv", [(CODES[0], 2021, 11), (CODES[2], 2021, 5)])
    )
    assert new.supersedes == old.batch_id and other_year.supersedes is None
    assert get_batch(warehouse, old.batch_id)["superseded_by"] == new.batch_id
    assert get_batch(warehouse, new.batch_id)["supersedes"] == old.batch_id
    assert get_batch(warehouse, other_year.batch_id)["superseded_by"] is None
    current = warehouse.execute(warehouse.current("tax").order_by(["year", "credit_code"]))
    assert sorted(zip(current.credit_code, current.year, current.tax_paid, strict=True)) == sorted(
        [(CODES[0], 2020, 9.0), (CODES[0], 2021, 11.0), (CODES[2], 2021, 5.0)]
    )
    assert count(warehouse, "tax") == 5  # nothing deleted
    third = ingest_file(warehouse, "tax", tax_file(tmp_path / "v3.csv", [(CODES[3], 2021, 1)]))
    assert third.supersedes == new.batch_id
    assert [b["superseded_by"] for b in list_batches(warehouse, "tax")] == [
        None,
        third.batch_id,
        None,
        new.batch_id,
    ]


def test_batch_with_every_row_rejected_supersedes_nothing(warehouse, tmp_path):
    good = ingest_file(warehouse, "tax", tax_file(tmp_path / "good.csv", [(CODES[0], 2021, 10)]))
    bad = ingest_file(warehouse, "tax", tax_file(tmp_path / "bad.csv", [(CODES[0], 2021, "十万")]))
    assert bad.accepted == 0 and bad.supersedes is None
    assert get_batch(warehouse, good.batch_id)["superseded_by"] is None
    assert warehouse.execute(warehouse.current("tax").count()) == 1


def test_refused_file_writes_nothing(warehouse, tmp_path):
    path = tmp_path / "tax.csv"
    path.write_text("统一社会信用代码,年度\n" + f"{CODES[0]},2021\n", encoding="utf-8")
    with pytest.raises(IngestError, match="缺少必填列「实缴税收」"):
        ingest_file(warehouse, "tax", path)
    with pytest.raises(IngestError, match="未知数据源"):
        ingest_file(warehouse, "taxes", path)
    empty = tmp_path / "empty.csv"
    empty.write_text(TAX_HEADER + "\n合计,,0\n", encoding="utf-8")
    with pytest.raises(IngestError, match="没有数据行"):
        ingest_file(warehouse, "tax", empty)
    assert counts(warehouse) == (0, 0, 0)


def test_failure_in_the_middle_of_writing_leaves_the_warehouse_unchanged(warehouse, tmp_path, monkeypatch):
    ingest_file(warehouse, "tax", tax_file(tmp_path / "v1.csv", [(CODES[0], 2021, 10)]))
    before = counts(warehouse)
    real_insert = Warehouse.insert_arrow

    def failing_insert(self, name, *args, **kwargs):
        if name == "rejected_rows":  # facts and the batch row are already written by now
            raise RuntimeError("disk full")
        return real_insert(self, name, *args, **kwargs)

    monkeypatch.setattr(Warehouse, "insert_arrow", failing_insert)
    path = tax_file(tmp_path / "v2.csv", [(CODES[0], 2021, 11), (CODES[1], 2021, "bad")])
    with pytest.raises(RuntimeError, match="disk full"):
        ingest_file(warehouse, "tax", path)
    assert counts(warehouse) == before
    assert get_batch(warehouse, 1)["superseded_by"] is None
    monkeypatch.undo()
    retried = ingest_file(warehouse, "tax", path)
    assert (retried.batch_id, retried.supersedes, retried.accepted, retried.rejected) == (2, 1, 1, 1)


def test_periods(warehouse, tmp_path):
    power = tmp_path / "power.csv"
    power.write_text(
        "统一社会信用代码,年月,用电量\n"
        + "\n".join(f"{CODES[0]},2021-{m:02d},100" for m in range(1, 13))
        + "\n",
        encoding="utf-8",
    )
    assert ingest_file(warehouse, "power", power).period == "2021-01..2021-12"
    daily = tmp_path / "daily.csv"
    daily.write_text(f"统一社会信用代码,日期,用电量\n{CODES[0]},2021-03-01,5\n", encoding="utf-8")
    assert ingest_file(warehouse, "power-daily", daily).period == "2021-03-01"
    registry = tmp_path / "registry.csv"
    registry.write_text(
        f"统一社会信用代码,企业名称,区县代码,行业代码,成立日期,经营状态\n{CODES[0]},甲,330109,1711,2010-01-01,存续\n",
        encoding="utf-8",
    )
    first = ingest_file(warehouse, "registry", registry)
    assert first.period == "current"
    registry.write_text(registry.read_text(encoding="utf-8").replace("甲", "乙"), encoding="utf-8")
    assert ingest_file(warehouse, "registry", registry).supersedes == first.batch_id
    registry.write_text(registry.read_text(encoding="utf-8").replace("乙", "丙"), encoding="utf-8")
    assert ingest_file(warehouse, "registry", registry, period="2021-12").period == "2021-12"


# ---- CLI -----------------------------------------------------------------------------------


@pytest.fixture
def cli(warehouse_url, monkeypatch):
    import typer

    from jingxin.core.settings import get_settings
    from jingxin.ingest.cli import register

    monkeypatch.setenv("JINGXIN_WAREHOUSE", warehouse_url)
    get_settings.cache_clear()
    app = typer.Typer(pretty_exceptions_enable=False)
    register(app)
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, [str(a) for a in args])
    get_settings.cache_clear()


def test_cli_ingest_batches_and_batch(cli, tmp_path):
    path = tax_file(tmp_path / "tax.csv", [(CODES[0], 2021, 10), (CODES[1], 2021, "x")])
    result = cli("ingest", "tax", path, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["batch_id"], data["accepted"], data["rejected"], data["duplicate"]) == (1, 1, 1, False)
    listing = json.loads(cli("batches", "--json").output)
    assert [(b["batch_id"], b["source"], b["period"], b["rejected"]) for b in listing] == [
        (1, "tax", "2021", 1)
    ]
    out_csv = tmp_path / "rejected.csv"
    detail = cli("batch", "1", "--json", "--rejected-csv", out_csv)
    assert detail.exit_code == 0
    assert json.loads(detail.output)["rejected_rows"][0]["row_number"] == 4
    assert out_csv.read_text(encoding="utf-8-sig").splitlines()[0] == "行号,列,值,原因,原始行"
    human = cli("ingest", "tax", path)
    assert human.exit_code == 0 and "未重复入库" in human.output
    assert cli("batch", "99").exit_code == 1


def test_cli_exports_rejected_rows_page_by_page_without_formulas(cli, tmp_path, monkeypatch):
    from jingxin.ingest import batches

    monkeypatch.setattr(batches, "PAGE_ROWS", 2)
    rows = [(CODES[i], 2021, "=1+2" if i % 2 else "@SUM(1)") for i in range(7)]
    assert cli("ingest", "tax", tax_file(tmp_path / "tax.csv", rows)).exit_code == 0
    out_csv = tmp_path / "out" / "rejected.csv"
    human = cli("batch", "1", "--rejected-csv", out_csv)
    assert human.exit_code == 0 and "已导出 7 个问题" in human.output
    lines = out_csv.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 8 and [line.split(",")[0] for line in lines[1:]] == [str(n) for n in range(3, 10)]
    assert all(",'=1+2," in line or ",'@SUM(1)," in line for line in lines[1:])


def test_cli_refused_file_exits_non_zero_with_chinese_message(cli, tmp_path):
    path = tmp_path / "tax.csv"
    path.write_text("统一社会信用代码,年度,实缴税收(美元)\n" + f"{CODES[0]},2021,1\n", encoding="utf-8")
    result = cli("ingest", "tax", path)
    assert result.exit_code == 2
    assert "整份退回" in result.output and "美元" in result.output
    assert json.loads(cli("batches", "--json").output) == []


@pytest.mark.duckdb
def test_cli_busy_duckdb_file_gives_a_message_not_a_traceback(tmp_path, monkeypatch):
    import typer

    from jingxin.core.settings import get_settings
    from jingxin.ingest.cli import register

    db = tmp_path / "busy.duckdb"
    open_warehouse(f"duckdb:///{db}").close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('ready', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        monkeypatch.setenv("JINGXIN_WAREHOUSE", f"duckdb:///{db}")
        get_settings.cache_clear()
        app = typer.Typer()
        register(app)
        result = CliRunner().invoke(app, ["batches"])
        assert result.exit_code == 3
        assert "正被" in result.output and "Traceback" not in result.output
    finally:
        holder.kill()
        holder.wait()
        get_settings.cache_clear()


@pytest.mark.postgres
def test_concurrent_ingests_on_postgres_get_distinct_batches(postgres_schema_url, tmp_path):
    import threading

    open_warehouse(postgres_schema_url).close()
    files = [tax_file(tmp_path / f"t{i}.csv", [(CODES[i], 2021, i + 1)]) for i in range(4)]
    results, errors = [], []
    barrier = threading.Barrier(len(files))

    def run(path: Path) -> None:
        wh = open_warehouse(postgres_schema_url)
        try:
            barrier.wait()
            results.append(ingest_file(wh, "tax", path))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            wh.close()

    threads = [threading.Thread(target=run, args=(p,)) for p in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(r.batch_id for r in results) == [1, 2, 3, 4]
    wh = open_warehouse(postgres_schema_url)
    try:
        live = wh.sql("SELECT batch_id FROM batches WHERE superseded_by IS NULL")
        assert len(live) == 1  # each later batch superseded the one before: one chain
        assert sorted(r.supersedes or 0 for r in results) == [0, 1, 2, 3]
    finally:
        wh.close()
