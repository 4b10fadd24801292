"""Hostile files are refused whole, quickly, with a Chinese reason naming the limit, before any
cell is materialised; the warehouse is left as it was. The files are built in `hostile_files`
(zipfile and hand-written sheet XML), a few KB each on disk."""

from __future__ import annotations

import time
from pathlib import Path

import hostile_files as h
import pytest

from jingxin.core.contracts import source
from jingxin.core.settings import Settings
from jingxin.core.warehouse import Warehouse
from jingxin.ingest import IngestError, ingest_file
from jingxin.ingest.limits import IngestLimits
from jingxin.ingest.readers import read_table

TAX = source("tax")


def refuse(data: bytes, name: str = "f.xlsx", limits: IngestLimits | None = None) -> str:
    """The refusal's message; fails if the file is read."""
    with pytest.raises(IngestError) as caught:
        read_table(Path(name), TAX, data, limits or IngestLimits())
    return str(caught.value)


def counts(wh: Warehouse) -> tuple[int, int]:
    return (
        int(wh.sql("SELECT COUNT(*) FROM batches")[0][0]),
        int(wh.sql("SELECT COUNT(*) FROM rejected_rows")[0][0]),
    )


# ---- limits come from the settings ---------------------------------------------------------


def test_limits_default_to_the_settings_and_follow_the_environment(monkeypatch) -> None:
    assert IngestLimits.from_settings(Settings()) == IngestLimits()
    monkeypatch.setenv("JINGXIN_INGEST_MAX_ROWS", "5000")
    monkeypatch.setenv("JINGXIN_INGEST_MAX_REJECTED_SHARE", "0.2")
    limits = IngestLimits.from_settings(Settings())
    assert (limits.max_rows, limits.max_rejected_share) == (5000, 0.2)


# ---- workbooks: dimensions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # cells at A1 and XFD1048576: the reader would allocate the whole sheet (512 GiB)
        (h.corners("XFD1048576"), "实际使用的区域有 16,384 列"),
        # A1 + ZZ100000: 16 s and 4 GB before
        (h.corners("ZZ100000"), "实际使用的区域有 702 列"),
        # within the column limit, but 60,000 × 200 cells from four cells
        (h.wide_and_long(60_000, 200), "60,000 行 × 200 列"),
        # rows past Excel's own limit are written without references
        (h.unreferenced_rows(1000), "实际使用的区域有 1,049,003 行"),
        # 300 cells without references follow on from column A
        (h.unreferenced_cells(300), "实际使用的区域有 303 列"),
    ],
    ids=["A1-XFD1048576", "A1-ZZ100000", "cells", "rows-without-r", "cells-without-r"],
)
def test_a_huge_real_used_area_is_refused_before_reading(data: bytes, expected: str) -> None:
    assert len(data) < 4096
    started = time.perf_counter()
    message = refuse(data)
    assert expected in message, message
    assert "ingest_max_" in message and "请" in message
    assert time.perf_counter() - started < 3


@pytest.mark.parametrize(
    ("dimension", "expected"),
    [
        ("A1:XFD1048576", "16,384 列"),
        ("A1:C2000000", "2,000,000 行"),
        ("A1:IV1000000", "1,000,000 行 × 256 列"),
    ],
)
def test_a_huge_declared_dimension_is_refused_even_with_few_cells(dimension: str, expected: str) -> None:
    message = refuse(h.declared_only(dimension))
    assert "声明的区域" in message and expected in message, message


def test_limits_are_configuration() -> None:
    data = h.corners("C5000")  # 5,000 rows × 3 columns
    read_table(Path("f.xlsx"), TAX, data, IngestLimits())  # fine at the defaults
    assert "超过每个文件 1,000 行的上限" in refuse(data, limits=IngestLimits(max_rows=1000))
    assert "超过 10,000 个单元格的上限" in refuse(data, limits=IngestLimits(max_cells=10_000))


# ---- workbooks: zip bombs, lying archives, sheets, shared strings ------------------------


def test_a_zip_bomb_by_ratio_is_refused_before_parsing() -> None:
    data = h.ratio_bomb(40 << 20)  # 40 MB of sheet XML in ~40 KB
    assert len(data) < 100_000
    message = refuse(data)
    assert "压缩比" in message and "ingest_max_zip_ratio" in message and "压缩炸弹" in message


def test_a_zip_bomb_by_size_is_refused_by_its_declared_size() -> None:
    message = refuse(h.lying_large(600 << 20))
    assert "解压后为 600 MB，超过 512 MB 的上限（ingest_max_expanded_bytes）" in message


def test_a_genuinely_large_workbook_is_refused_by_the_configured_expanded_size() -> None:
    data = h.workbook([h.sheet_xml(h.header_row() + h.data_rows(20_000), "A1:C20001")])
    read_table(Path("f.xlsx"), TAX, data, IngestLimits())  # 1.5 MB of XML: fine by default
    message = refuse(data, limits=IngestLimits(max_expanded_bytes=1 << 20))
    assert "超过 1 MB 的上限（ingest_max_expanded_bytes）" in message


def test_an_entry_that_expands_beyond_its_declared_size_is_refused() -> None:
    # The headers say 1 KB; the deflate stream holds 30 MB. Python's zipfile would stop at
    # 1 KB, the spreadsheet reader would not.
    message = refuse(h.lying_small(30 << 20))
    assert "解压后超过其声明的 1 KB" in message


def test_a_stored_entry_whose_size_lies_is_refused() -> None:
    data = h.workbook([h.sheet_xml(h.header_row() + h.data_rows(3))], stored=True)
    forged = h.forge_size(data, "xl/worksheets/sheet1.xml", 100)
    assert "已损坏" in refuse(forged)


def test_too_many_sheets_are_refused() -> None:
    assert "65 个工作表，超过 64 个的上限（ingest_max_sheets）" in refuse(h.many_sheets(65))
    read_table(Path("f.xlsx"), TAX, h.many_sheets(3), IngestLimits())


def test_a_giant_shared_string_used_by_many_cells_is_refused() -> None:
    data = h.giant_shared_string(32_000, 10_000)  # 320 MB of text once filled in
    assert len(data) < 200_000
    message = refuse(data)
    assert "ingest_max_text_bytes" in message and "单元格文字合计约" in message
    # the same cells with a short shared string are read
    raw = read_table(Path("f.xlsx"), TAX, h.giant_shared_string(10, 10_000), IngestLimits())
    assert raw.num_rows == 10_000 and raw.column("tax_paid")[0].as_py() == "9" * 10


def test_a_shared_string_table_too_large_or_with_too_many_items_is_refused() -> None:
    message = refuse(h.many_shared_strings(5000), limits=IngestLimits(max_cells=1000))
    assert "共享字符串表有超过 1,000 项" in message
    table = h.many_shared_strings(200_000)  # some 4 MB of XML, none of it used
    read_table(Path("f.xlsx"), TAX, table, IngestLimits())
    message = refuse(table, limits=IngestLimits(max_text_bytes=1 << 20))
    assert "共享字符串表解压后为" in message and "超过 1 MB 的上限（ingest_max_text_bytes）" in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "另存为” .xlsx"),  # an .xls (OLE2)
        (b"PK\x03\x04not a zip at all" * 10, "不是有效的 .xlsx"),
    ],
    ids=["xls", "broken-zip"],
)
def test_formats_that_cannot_be_measured_first_are_refused_with_advice(data: bytes, expected: str) -> None:
    assert expected in refuse(data, "f.xls" if data[:2] == b"\xd0\xcf" else "f.xlsx")


def test_an_ordinary_workbook_with_a_cover_sheet_and_offset_data_is_still_read(tmp_path) -> None:
    import xlsxwriter

    path = tmp_path / "税收.xlsx"
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("填表说明").write(0, 0, "请按数据交换规范填写")
    sheet = book.add_worksheet("数据")
    sheet.write_row(2, 1, list(h.TAX_HEADER))  # header on row 3, from column B
    for i in range(5):
        sheet.write_row(3 + i, 1, [h.CODES[i], 2023, 10.5 + i])
    book.close()
    raw = read_table(path, TAX)
    assert raw.num_rows == 5 and raw.row_number.to_pylist() == [4, 5, 6, 7, 8]
    assert raw.column("credit_code").to_pylist()[0] == h.CODES[0]


_MEMORY_PROBE = """
import sys
from pathlib import Path
import psutil
import hostile_files as h
from jingxin.core.contracts import source
from jingxin.ingest import IngestError
from jingxin.ingest.limits import IngestLimits
from jingxin.ingest.readers import read_table

files = [h.corners(), h.corners("ZZ100000"), h.giant_shared_string(), h.lying_small(), h.ratio_bomb()]
before = psutil.Process().memory_info().rss
for n, data in enumerate(files):
    try:
        read_table(Path("f.xlsx"), source("tax"), data, IngestLimits())
    except IngestError:
        continue
    sys.exit(f"hostile workbook {n} was read")
# the peak of this process's own memory (VmHWM starts again at exec; ru_maxrss would carry
# the forking test worker's size)
status = Path("/proc/self/status").read_text()
peak = int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) * 1024
print(peak - before)
"""


def test_a_hostile_workbook_costs_little_memory() -> None:
    """All the hostile workbooks one after the other: the peak of a fresh process grows by far
    less than the files claim (hundreds of GB), bounded by the text one piece may decompress to
    (`max_text_bytes`, 128 MB) and the checks' arrays (about 240 MB measured, for the ratio
    bomb). A fresh process: a test worker's resident size also moves with what earlier tests
    left to the allocator."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) < 3 * IngestLimits().max_text_bytes


# ---- CSV ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "bom"), [("utf-8", False), ("utf-8", True), ("gb18030", False), ("ascii", False)]
)
def test_a_10_mb_single_line_csv_is_refused_in_well_under_a_second(encoding: str, bom: bool) -> None:
    data = h.single_line_csv(10 << 20, encoding, bom)
    started = time.process_time()
    message = refuse(data, "f.csv")
    assert time.process_time() - started < 0.5
    assert "有一行长达 10" in message and "超过每行 1 MB 的上限（ingest_max_line_bytes）" in message


def test_a_csv_with_too_many_columns_or_rows_is_refused() -> None:
    wide = (",".join(h.TAX_HEADER) + "," * 400 + "\n" + "a,b,c\n").encode()
    assert "表头有 403 列，超过 256 列的上限（ingest_max_columns）" in refuse(wide, "f.csv")
    long = h.mixed_csv(1500, 0.0)
    message = refuse(long, "f.csv", IngestLimits(max_rows=1000))
    assert "超过每个文件 1,000 行的上限（ingest_max_rows）" in message


def test_a_csv_that_matches_no_column_is_refused_with_the_reason() -> None:
    junk = ("名称,地址,备注\n" + "某公司,某地,无\n" * 1000).encode("gb18030")
    message = refuse(junk, "f.csv")
    assert "统一社会信用代码" in message


# ---- extreme rejected share ---------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030", "utf-8-sig"])
def test_a_file_of_junk_rows_is_refused_whole_and_nothing_is_stored(warehouse, tmp_path, encoding) -> None:
    path = tmp_path / "junk.csv"
    path.write_bytes(h.junk_rows_csv(3000, encoding))
    with pytest.raises(IngestError) as caught:
        ingest_file(warehouse, "tax", path)
    message = str(caught.value)
    assert "3,000 行数据中有 3,000 行（100%）未通过校验" in message
    assert "超过 50% 的上限（ingest_max_rejected_share）" in message
    assert "「统一社会信用代码」" in message and "首见第 2 行" in message
    assert counts(warehouse) == (0, 0)


def test_the_rejected_share_limit_spares_small_files_and_mostly_good_ones(warehouse, tmp_path) -> None:
    small = tmp_path / "small.csv"
    small.write_bytes(h.mixed_csv(30, 0.9))  # 27 of 30 rejected: below the floor, rows reported
    assert ingest_file(warehouse, "tax", small).rejected == 27
    fair = tmp_path / "fair.csv"
    fair.write_bytes(h.mixed_csv(2500, 0.4))  # 1,000 of 2,500: under half
    result = ingest_file(warehouse, "tax", fair)
    assert (result.accepted, result.rejected) == (1500, 1000)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(h.mixed_csv(2500, 0.6))
    with pytest.raises(IngestError, match="1,500 行（60%）未通过校验"):
        ingest_file(warehouse, "tax", bad)
    assert counts(warehouse) == (2, 27 + 1000)
    strict = IngestLimits(max_rejected_share=0.3, rejected_floor=10)
    fair.write_bytes(h.mixed_csv(2400, 0.4))  # other bytes: not a duplicate of the batch above
    with pytest.raises(IngestError, match="超过 30% 的上限"):
        ingest_file(warehouse, "tax", fair, limits=strict)


def test_hostile_files_through_ingest_store_nothing(warehouse, tmp_path) -> None:
    for name, data in {
        "corners.xlsx": h.corners(),
        "bomb.xlsx": h.ratio_bomb(),
        "shared.xlsx": h.giant_shared_string(),
        "line.csv": h.single_line_csv(),
    }.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(IngestError):
            ingest_file(warehouse, "tax", path)
    assert counts(warehouse) == (0, 0)
