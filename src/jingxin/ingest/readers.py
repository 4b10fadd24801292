"""Readers (文件读取): departmental .xlsx and .csv files into one raw string table.

Before anything is parsed the file is measured against `jingxin.ingest.limits.IngestLimits`:
an .xlsx by `jingxin.ingest.xlsx_guard.check_xlsx` (archive sizes and ratios, declared and real
sheet areas, shared-string text), a CSV by its longest line, its line count and its header's
width. A sheet is then read as a stream of rows turned into Arrow columns in chunks. An .xls
(or .ods) is refused with the advice to save it as .xlsx: its size cannot be checked before
the reader allocates it.

Whatever the file, the result is a `RawTable`: one string column per file column, exactly as the
sender typed it, and the physical row number of every data row (行号: 1-based, counting title and
header rows, as Excel or a text editor shows it). Typing and checking happen later, column-wise.

Quirks handled here (see docs/data-exchange.md):

- CSV encoding: a UTF-8 BOM → utf-8-sig; else strict UTF-8; else GB18030 (a superset of GBK
  and GB2312). A UTF-16 BOM (Excel's "Unicode text") is read too. Comma or tab delimited.
- Title rows above the header, two-row merged headers: `jingxin.ingest.headers.find_header`.
- Rows that are not data: blank rows and totals/notes rows (合计/总计/小计、注:/备注/说明/
  填表人…, recognised by the first non-empty cell) are skipped wherever they are and are not
  counted as data rows; totals/notes rows are listed in `RawTable.skipped`.
- A CSV row whose number of fields does not fit the header (a truncated last line, an unquoted
  comma) is kept aside in `RawTable.malformed`: it is a data row, and it will be rejected.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from jingxin.core.contracts import Source
from jingxin.ingest.errors import IngestError
from jingxin.ingest.headers import HEADER_SEARCH_ROWS, HeaderLayout, HeaderMatch, bind_columns, find_header
from jingxin.ingest.limits import IngestLimits, check_table_shape, mib
from jingxin.ingest.normalize import normalize_array, normalize_text, remove_spaces
from jingxin.ingest.xlsx_guard import check_xlsx

EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}

# First non-empty cell of a row that is a total (合计行) or a note (注释行), after NFKC and
# without spaces. "注塑有限公司" is data; "注:" "注1、" "备注:" are notes.
FOOTER_PATTERN = (
    r"^(?:(?:全省|全市|全县|本页)?(?:合计|总计|小计|共计)(?:$|[:(]))"
    r"|^(?:注|备注|附注|说明|填表说明|填报说明|数据来源|资料来源|制表人|填表人|填报人|审核人|负责人|"
    r"单位负责人|统计负责人|制表单位|填报单位|制表日期|填表日期|填报日期|报送日期|联系电话)\d*[:、.]"
)
_FOOTER_RE = re.compile(FOOTER_PATTERN)


@dataclass(frozen=True)
class SkippedRow:
    """A totals or notes row (合计/注释行) that was not read as data. Blank rows are dropped
    silently and not listed."""

    row_number: int
    kind: str
    text: str


@dataclass(frozen=True)
class MalformedRow:
    """A CSV data row whose field count does not fit the header; it is rejected."""

    row_number: int
    fields: list[str]
    expected: int


@dataclass
class RawTable:
    """The data rows of one file as strings, before typing (原始数据)."""

    file_label: str
    match: HeaderMatch
    cells: list[pa.Array]  # one string column per file column (original text; null = no cell)
    normalized: list[pa.Array]  # the same cells NFKC-folded and trimmed, blank = null
    row_number: pa.Array  # int64, physical 1-based row of each data row
    header_rows: tuple[int, int]  # first and last physical row of the header
    encoding: str | None = None
    skipped: list[SkippedRow] = field(default_factory=list)
    malformed: list[MalformedRow] = field(default_factory=list)

    @property
    def source(self) -> Source:
        return self.match.source

    @property
    def num_rows(self) -> int:
        """Data rows that reached the table (malformed rows excluded)."""
        return len(self.row_number)

    @property
    def data_rows(self) -> int:
        """Every data row of the file: accepted + rejected adds up to this."""
        return self.num_rows + len(self.malformed)

    def column(self, name: str) -> pa.Array | None:
        """The raw cells of contract column `name`, or None when the file lacks it."""
        binding = self.match.binding(name)
        return None if binding is None else self.cells[binding.index]


# ---- entry point ---------------------------------------------------------------------------


def read_table(
    path: Path, src: Source, data: bytes | None = None, limits: IngestLimits | None = None
) -> RawTable:
    """Read a departmental file for contract `src`; refuse it (IngestError) when unreadable,
    without a header, missing a required column or with an unknown unit, or over one of the
    `limits` (default: the configured ones), which are checked before any cell is read."""
    path = Path(path)
    limits = limits or IngestLimits.from_settings()
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise IngestError(f"无法读取文件 {path}：{exc.strerror or exc}") from exc
    label = path.name
    if not data.strip():
        raise IngestError(f"文件 {label} 是空文件，没有表头也没有数据。")
    if _is_excel(path, data):
        return _read_excel(data, src, label, limits)
    if path.suffix.lower() not in CSV_SUFFIXES | {""}:
        raise IngestError(f"文件 {label} 的格式不受支持：请提交 .xlsx 或 .csv 文件（见数据交换规范）。")
    return _read_csv(data, src, label, limits)


def _is_excel(path: Path, data: bytes) -> bool:
    # Magic numbers beat the extension: an .xlsx renamed .csv is still a zip (PK..).
    if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return True
    return path.suffix.lower() in EXCEL_SUFFIXES


# ---- common post-processing ----------------------------------------------------------------


# Characters a totals or notes row can start with: a cheap filter before the regex.
_FOOTER_FIRST_CHARS = pa.array(sorted(set("合总小共全本注备附说填数资制审负单统报联")), pa.string())


def _drop_non_data(
    cells: list[pa.Array], rows: pa.Array
) -> tuple[list[pa.Array], list[pa.Array], pa.Array, list[SkippedRow]]:
    """Remove blank rows and totals/notes rows, vectorised over the first non-empty cell.

    Returns the raw cells, their normalised form (reused by validation), the row numbers and
    the totals/notes rows skipped.
    """
    normalized = [normalize_array(c) for c in cells]
    if len(rows) == 0 or not cells:
        return cells, normalized, rows, []
    first = pc.coalesce(*normalized)
    blank = pc.is_null(first)
    maybe = pc.fill_null(pc.is_in(pc.utf8_slice_codeunits(first, 0, 1), _FOOTER_FIRST_CHARS), False)
    footer_pos = np.array([], np.int64)
    if pc.any(maybe).as_py():
        candidates = np.flatnonzero(maybe.to_numpy(zero_copy_only=False))
        text = remove_spaces(first.take(pa.array(candidates)))
        hit = pc.fill_null(pc.match_substring_regex(text, FOOTER_PATTERN), False).to_numpy(
            zero_copy_only=False
        )
        footer_pos = candidates[hit]
    drop = blank.to_numpy(zero_copy_only=False).copy()
    drop[footer_pos] = True
    if not drop.any():
        return cells, normalized, rows, []
    skipped = [
        SkippedRow(int(rows[int(i)].as_py()), "合计/注释行", first[int(i)].as_py()) for i in footer_pos
    ]
    keep = pa.array(~drop)
    return [c.filter(keep) for c in cells], [c.filter(keep) for c in normalized], rows.filter(keep), skipped


def _head_strings(rows: Sequence[Sequence[Any]]) -> list[list[str]]:
    return [[normalize_text(_cell_text(v)) for v in row] for row in rows]


# ---- Excel ---------------------------------------------------------------------------------


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a person sees (Excel keeps 15 significant digits)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return f"{value:.15g}"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _column_array(values: Sequence[Any]) -> pa.Array:
    if all(isinstance(v, str) for v in values):
        return pa.array(values, pa.string())
    return pa.array([_cell_text(v) for v in values], pa.string())


def _fill_merged_header(rows: list[list[Any]], merged: Sequence[Any], limit: int) -> None:
    """Copy a merged cell's value (kept by Excel in its top-left cell) over the whole merged
    range, within the header area only: a merged data cell is not repeated into other rows."""
    for (r0, c0), (r1, c1) in merged:
        if r0 >= limit:
            continue
        value = rows[r0][c0] if r0 < len(rows) and c0 < len(rows[r0]) else None
        for r in range(r0, min(r1, limit - 1, len(rows) - 1) + 1):
            for c in range(c0, min(c1, len(rows[r]) - 1) + 1):
                if rows[r][c] in ("", None):
                    rows[r][c] = value


class _NoHeader(Exception):
    """A sheet without the contract's header (a cover or notes sheet)."""

    def __init__(self, error: IngestError) -> None:
        self.error = error


EXCEL_CHUNK_ROWS = 65_536  # rows turned into Arrow at a time, so no sheet is held as Python lists


def _read_excel(data: bytes, src: Source, label: str, limits: IngestLimits) -> RawTable:
    from python_calamine import CalamineWorkbook

    if data[:4] != b"PK\x03\x04":
        # .xls (BIFF) and .ods cannot be measured before the reader allocates them.
        raise IngestError(
            f"文件 {label} 是旧版 Excel（.xls）或其他表格格式，无法在读取前核验其大小。"
            "请在 Excel 或 WPS 中“另存为” .xlsx 后提交，或提交 .csv 文件。"
        )
    check_xlsx(data, label, limits)
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types per format
        raise IngestError(f"无法打开 Excel 文件 {label}：{exc}。请确认文件未损坏且不是加密文件。") from exc
    first_error: IngestError | None = None
    for sheet_name in book.sheet_names[: limits.max_sheets]:
        try:
            sheet = book.get_sheet_by_name(sheet_name)
        except Exception as exc:
            raise IngestError(f"无法读取 Excel 文件 {label} 的工作表 {sheet_name}：{exc}。") from exc
        try:
            return _read_sheet(sheet, src, label)
        except _NoHeader as exc:
            first_error = first_error or exc.error
            continue  # a cover or notes sheet (填表说明) before the data sheet
    if first_error is None:
        raise IngestError(f"Excel 文件 {label} 没有工作表。")
    raise first_error


def _read_sheet(sheet: Any, src: Source, label: str) -> RawTable:
    """One sheet, streamed: rows come from calamine and become Arrow columns in chunks."""
    rows_iter = sheet.iter_rows()
    # iter_rows starts at row 1 but at the first used column: pad rows back to column A.
    pad = [""] * (sheet.start[1] if sheet.start else 0)
    head_limit = HEADER_SEARCH_ROWS + 2
    head = [pad + list(r) for r in itertools.islice(rows_iter, head_limit)]
    _fill_merged_header(head, sheet.merged_cell_ranges or [], head_limit)
    try:
        layout = find_header(_head_strings(head), src, label)
    except IngestError as exc:
        raise _NoHeader(exc) from None
    match = bind_columns(layout.names, src, label)
    width = len(layout.names)
    chunks: list[list[pa.Array]] = [[] for _ in range(width)]

    def flush(body: list[list[Any]]) -> None:
        for i in range(width):
            chunks[i].append(_column_array([r[i] if i < len(r) else None for r in body]))

    flush(head[layout.data_start :])
    count = max(0, len(head) - layout.data_start)
    while body := [pad + list(r) for r in itertools.islice(rows_iter, EXCEL_CHUNK_ROWS)]:
        flush(body)
        count += len(body)
    cells = [pa.concat_arrays(c) for c in chunks]
    numbers = pa.array(np.arange(layout.data_start + 1, layout.data_start + 1 + count), pa.int64())
    cells, normalized, numbers, skipped = _drop_non_data(cells, numbers)
    return RawTable(label, match, cells, normalized, numbers, _header_span(layout), None, skipped)


def _header_span(layout: HeaderLayout) -> tuple[int, int]:
    return layout.first_row + 1, layout.first_row + layout.height


# ---- CSV -----------------------------------------------------------------------------------


def _is_utf8(data: bytes) -> bool:
    """Strict UTF-8 check without building a Python string (Arrow's validator, ~1 GB/s)."""
    offsets = pa.py_buffer(np.array([0, len(data)], np.int64))
    array = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        array.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def to_utf8(data: bytes, label: str) -> tuple[bytes, str]:
    """The file as UTF-8 bytes without BOM, and the encoding it was in: a BOM first, then
    strict UTF-8, then GB18030 (a superset of GBK and GB2312)."""
    if data.startswith(codecs.BOM_UTF8) and _is_utf8(data[len(codecs.BOM_UTF8) :]):
        return data[len(codecs.BOM_UTF8) :], "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16").encode("utf-8"), "utf-16"
        except UnicodeDecodeError:
            pass
    elif _is_utf8(data):
        return data, "utf-8"
    else:
        try:
            return data.decode("gb18030").encode("utf-8"), "gb18030"
        except UnicodeDecodeError:
            pass
    raise IngestError(
        f"无法识别文件 {label} 的编码：既不是 UTF-8，也不是 GB18030/GBK。"
        "请用 Excel 另存为“CSV UTF-8（逗号分隔）”或直接提交 .xlsx 文件。"
    )


def _delimiter(head: str) -> str:
    return "\t" if head.count("\t") > head.count(",") else ","


def check_csv_lines(data: bytes, label: str, limits: IngestLimits) -> np.ndarray:
    """Refuse a text file with a line longer than `max_line_bytes` or more lines than the row
    limit allows, on the raw bytes (before decoding: a 10 MB line costs milliseconds here and
    seconds in the header search). LF and CR are line ends in every accepted encoding.
    Returns the positions of the LF bytes (reused when the file is UTF-8 as it is)."""
    buf = np.frombuffer(data, np.uint8)
    line_feeds = np.flatnonzero(buf == 10)
    ends = np.flatnonzero((buf == 10) | (buf == 13)) if b"\r" in data else line_feeds
    bounds = np.concatenate(([-1], ends, [len(data)]))
    longest = int(np.diff(bounds).max()) - 1 if len(bounds) > 1 else len(data)
    if longest > limits.max_line_bytes:
        raise IngestError(
            f"文件 {label} 有一行长达 {mib(longest)}，超过每行 {mib(limits.max_line_bytes)} 的上限"
            "（ingest_max_line_bytes），不是逐行记录的表格。请确认文件是每个单位一行的 CSV，"
            "或直接提交 .xlsx 文件。"
        )
    lines = len(line_feeds) or len(ends)
    if lines > limits.max_rows + HEADER_SEARCH_ROWS + 2:
        raise IngestError(
            f"文件 {label} 有 {lines:,} 行，超过每个文件 {limits.max_rows:,} 行的上限（ingest_max_rows）。"
            "请拆分为多个文件分批提交。"
        )
    return line_feeds


def _read_csv(data: bytes, src: Source, label: str, limits: IngestLimits) -> RawTable:
    line_feeds = check_csv_lines(data, label, limits)
    utf8, encoding = to_utf8(data, label)
    if b"\r" in utf8 and utf8.count(b"\r") != utf8.count(b"\r\n"):
        # Lone CRs (classic Mac line ends) end lines for editors and spreadsheets too.
        utf8 = re.sub(rb"\r(?!\n)", b"\n", utf8)
    newlines = line_feeds if utf8 is data else np.flatnonzero(np.frombuffer(utf8, np.uint8) == 10)

    # Header: parse the first lines with the csv module, remembering where each row ends.
    head_lines = HEADER_SEARCH_ROWS + 2
    head_end = int(newlines[head_lines - 1]) + 1 if len(newlines) >= head_lines else len(utf8)
    head_text = utf8[:head_end].decode("utf-8")
    delimiter = _delimiter(head_text)
    widest = max((line.count(delimiter) + 1 for line in head_text.splitlines()), default=0)
    check_table_shape(label, "表头", 0, widest, limits, "")
    head_rows, row_ends = [], []
    reader = csv.reader(io.StringIO(head_text, newline=""), delimiter=delimiter)
    for fields in reader:
        head_rows.append(fields)
        row_ends.append(reader.line_num)
    layout = find_header(_head_strings(head_rows), src, label)
    match = bind_columns(layout.names, src, label)
    header_last_line = row_ends[layout.data_start - 1]  # physical line where the header ends
    body_offset = int(newlines[header_last_line - 1]) + 1 if header_last_line <= len(newlines) else len(utf8)
    width = len(layout.names)
    needed = max(b.index for b in match.bindings.values()) + 1
    first_line = header_last_line + 1
    check_table_shape(label, "数据", max(0, len(newlines) + 1 - header_last_line), width, limits, "")

    parsed = _parse_body_fast(utf8, body_offset, newlines, first_line, width, delimiter)
    if parsed is None:
        parsed = _parse_body_slow(utf8[body_offset:].decode("utf-8"), first_line, width, delimiter)
    cells, numbers, odd_rows = parsed

    malformed, extra_cells, extra_numbers, skipped = _sort_odd_rows(odd_rows, width, needed)
    if extra_numbers:
        cells, numbers = _append_rows(cells, numbers, extra_cells, extra_numbers)
    cells, normalized, numbers, more_skipped = _drop_non_data(cells, numbers)
    return RawTable(
        label,
        match,
        cells,
        normalized,
        numbers,
        _header_span_csv(row_ends, layout),
        encoding,
        sorted(skipped + more_skipped, key=lambda s: s.row_number),
        malformed,
    )


def _header_span_csv(row_ends: list[int], layout: HeaderLayout) -> tuple[int, int]:
    first = row_ends[layout.first_row - 1] + 1 if layout.first_row > 0 else 1
    return first, row_ends[layout.data_start - 1]


OddRow = tuple[int, list[str]]  # (physical row, fields) of a row whose width differs


def _parse_body_fast(
    utf8: bytes, offset: int, newlines: np.ndarray, first_line: int, width: int, delimiter: str
) -> tuple[list[pa.Array], pa.Array, list[OddRow]] | None:
    """Parse the data rows with Arrow's CSV reader (C++, no Python per row).

    Row numbers and field counts come from byte positions (numpy): each non-empty line is one
    row, and a line without quotes has one field more than delimiters. A line with an odd
    number of quotes means a quoted cell spans lines: None sends the caller to the slow path,
    as does any disagreement with Arrow about which rows have the wrong width. Lines with
    quoted cells are counted exactly (csv module) only when Arrow found more odd rows than the
    unquoted lines explain.
    """
    buf = np.frombuffer(utf8, np.uint8)[offset:]
    ends = newlines[newlines >= offset] - offset
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(buf)]))
    lengths = stops - starts
    non_empty = lengths > 0
    one = np.flatnonzero(lengths == 1)
    non_empty[one] = buf[starts[one]] != 13  # a line holding only the CR of a CRLF pair

    def per_line(reduce: np.ufunc, flags: np.ndarray, **kwargs: Any) -> np.ndarray:
        """`reduce` over the flagged bytes of each line (its segment runs to the next line's
        start, so it takes the line's LF too, which is never flagged). One pass over the bytes,
        no per-byte integer array; a last line that starts at the very end is empty: 0."""
        out = np.zeros(len(starts), np.int64)
        inside = starts < len(buf)
        if inside.any():
            out[inside] = reduce.reduceat(flags.view(np.uint8), starts[inside], **kwargs)
        return out

    def line_text(i: int) -> str:
        return bytes(buf[starts[i] : stops[i]]).decode("utf-8").rstrip("\r")

    quoted = np.zeros(len(starts), bool)
    is_quote = buf == 34
    if is_quote.any():
        if per_line(np.bitwise_xor, is_quote).any():  # an odd number of quotes on a line
            return None
        quoted = per_line(np.bitwise_or, is_quote) > 0
    calls = 0

    def on_invalid(row: Any) -> str:
        nonlocal calls
        calls += 1
        return "skip"

    names = [f"c{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(utf8).slice(offset)),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None
    # Arrow reads a line without quotes as delimiters + 1 fields, as counted here; when it
    # found no row of the wrong width (the usual case) no such line has one, and counting
    # the delimiters of every line is skipped.
    odd_mask = np.zeros(len(starts), bool)
    if calls:
        fields = per_line(np.add, buf == ord(delimiter), dtype=np.int64) + 1  # exact without quotes
        odd_mask = non_empty & ~quoted & (fields != width)
    if calls != int(odd_mask.sum()):
        # Some lines with quoted cells have the wrong width: count their fields exactly.
        for i in np.flatnonzero(non_empty & quoted):
            odd_mask[i] = len(_split(line_text(int(i)), delimiter)) != width
    kept = np.flatnonzero(non_empty & ~odd_mask)
    odd_lines = np.flatnonzero(odd_mask)
    if calls != len(odd_lines) or table.num_rows != len(kept):
        return None  # Arrow saw the rows differently (a lone CR, a stray quote): be exact instead
    cells = [table.column(i).combine_chunks() for i in range(width)]
    odd_rows = [(int(i) + first_line, _split(line_text(int(i)), delimiter)) for i in odd_lines]
    return cells, pa.array(kept + first_line, pa.int64()), odd_rows


def _split(text: str, delimiter: str) -> list[str]:
    return next(csv.reader([text], delimiter=delimiter), [])


def _parse_body_slow(
    text: str, first_line: int, width: int, delimiter: str
) -> tuple[list[pa.Array], pa.Array, list[OddRow]]:
    """The csv module, row by row: only for files with line breaks inside quoted cells."""
    columns: list[list[str]] = [[] for _ in range(width)]
    numbers: list[int] = []
    odd: list[OddRow] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    previous_end = 0
    for fields in reader:
        row_number = first_line + previous_end  # the row starts on the line after the last one
        previous_end = reader.line_num
        if not fields:
            continue  # an empty line
        if len(fields) != width:
            odd.append((row_number, fields))
            continue
        numbers.append(row_number)
        for col, value in zip(columns, fields, strict=True):
            col.append(value)
    return [pa.array(c, pa.string()) for c in columns], pa.array(numbers, pa.int64()), odd


def _sort_odd_rows(
    odd: list[OddRow], width: int, needed: int
) -> tuple[list[MalformedRow], list[list[str]], list[int], list[SkippedRow]]:
    """Decide what each row of unexpected width is.

    Blank or totals/notes rows are skipped; a row that only lacks or adds empty trailing
    fields outside the named columns (Excel pads CSV rows to the widest row) is repaired;
    anything else is malformed and will be rejected with its row number.
    """
    malformed: list[MalformedRow] = []
    extra_cells: list[list[str]] = []
    extra_numbers: list[int] = []
    skipped: list[SkippedRow] = []
    for number, fields in odd:
        stripped = [normalize_text(f) for f in fields]
        first = next((s for s in stripped if s), "")
        if not first:
            continue  # a blank row
        if _FOOTER_RE.match(re.sub(r"\s+", "", first)):
            skipped.append(SkippedRow(number, "合计/注释行", first))
        elif len(fields) < needed or any(stripped[width:]):
            malformed.append(MalformedRow(number, fields, width))
        else:
            extra_cells.append((fields + [""] * width)[:width])
            extra_numbers.append(number)
    return malformed, extra_cells, extra_numbers, skipped


def _append_rows(
    cells: list[pa.Array], numbers: pa.Array, extra: list[list[str]], extra_numbers: list[int]
) -> tuple[list[pa.Array], pa.Array]:
    """Add repaired rows and restore file order (duplicates are judged by row order)."""
    merged = [
        pa.concat_arrays([c, pa.array([row[i] for row in extra], pa.string())]) for i, c in enumerate(cells)
    ]
    all_numbers = pa.concat_arrays([numbers, pa.array(extra_numbers, pa.int64())])
    order = pc.sort_indices(all_numbers)
    return [c.take(order) for c in merged], all_numbers.take(order)
