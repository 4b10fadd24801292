"""Writing a planned frame to disk as CSV or Excel, in the sending department's habits.

CSV lines are assembled with pyarrow compute kernels (quote only where needed, join fields,
append the line end) and streamed in chunks, transcoded to GBK/GB18030 where the department
uses it; no per-row Python. Excel is written with xlsxwriter in constant-memory mode, which
does need a Python call per row (about 120k cells/s), hence the switch to CSV for big files.

Row numbers (行号) recorded in the manifest are physical: the line number a text editor shows
for CSV (header on line 1, first data row on line 2; no field contains a line break) and the
row number Excel shows for xlsx (title, header and footer rows included).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xlsxwriter

from jingxin.synth.defects import Plan
from jingxin.synth.frame import Frame
from jingxin.synth.habits import Habit
from jingxin.synth.textformat import FULLWIDTH_SPACE, fixed, fullwidth_digits

CSV_CHUNK_ROWS = 250_000
XLSX_CHUNK_ROWS = 20_000
# Fixed document timestamp so that the same seed gives byte-identical workbooks.
XLSX_CREATED = dt.datetime(2022, 1, 1, 8, 0, 0)


@dataclass
class Written:
    """Physical layout of a written file, for the manifest."""

    data_rows: int
    title_rows: list[int] = field(default_factory=list)
    header_rows: list[int] = field(default_factory=lambda: [1])
    footer_rows: list[int] = field(default_factory=list)
    truncated_text: str | None = None
    bytes: int = 0

    @property
    def first_data_row(self) -> int:
        return max(self.title_rows + self.header_rows) + 1


def _replace(text: pa.Array, rows: np.ndarray, values: list[str]) -> pa.Array:
    """Return `text` with the given (sorted) rows replaced by `values`."""
    mask = np.zeros(len(text), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(text, pa.array(mask), pa.array(values, pa.string()))


def render_text(frame: Frame, plan: Plan, habit: Habit, rng: np.random.Generator) -> list[pa.Array]:
    """Every column as text, as the department writes it: numbers in the file's unit with its
    decimals (and 千分位), full-width digits and spaces on a few clean rows, defect cells in place."""
    rows = frame.rows
    clean = np.ones(rows, dtype=bool)
    clean[plan.touched] = False
    wide = pa.array(clean & (rng.random(rows) < habit.fullwidth_digits))
    spaced = clean & (rng.random(rows) < habit.fullwidth_spaces)
    lead = pa.array(spaced & (rng.random(rows) < 0.5))
    trail = pa.array(spaced & ~lead.to_numpy(zero_copy_only=False))
    out: list[pa.Array] = []
    first_code = True
    for i, col in enumerate(frame.columns):
        if col.numeric:
            text = fixed(col.file_values(), col.file_decimals, habit.thousands and col.spec.type == "decimal")
        else:
            text = col.text_array()
        if habit.fullwidth_digits and (col.numeric or col.spec.type == "year"):
            text = pc.if_else(wide, fullwidth_digits(text), text)
        if habit.fullwidth_spaces and col.spec.type == "credit_code" and first_code:
            text = pc.if_else(lead, pc.binary_join_element_wise(FULLWIDTH_SPACE, text, ""), text)
            text = pc.if_else(trail, pc.binary_join_element_wise(text, FULLWIDTH_SPACE, ""), text)
            first_code = False
        if i in plan.cells:
            items = sorted(plan.cells[i].items())
            text = _replace(text, np.array([r for r, _ in items]), [t for _, (t, _) in items])
        out.append(text)
    return out


def _quote(text: pa.Array) -> pa.Array:
    """CSV quoting where needed: fields with a comma or a quote are quoted, quotes doubled."""
    text = pc.fill_null(text, "")
    needs = pc.or_(pc.match_substring(text, ","), pc.match_substring(text, '"'))
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, text)


def _concatenated(lines: pa.Array | pa.ChunkedArray) -> bytes:
    """The bytes of a string array's values laid end to end (lines already carry their ends)."""
    if isinstance(lines, pa.ChunkedArray):
        return b"".join(_concatenated(chunk) for chunk in lines.chunks)
    lines = pc.cast(lines, pa.large_string()) if lines.type != pa.large_string() else lines
    if len(lines) == 0:
        return b""
    buffers = lines.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    return buffers[2][int(offsets[0]) : int(offsets[-1])].to_pybytes()


def _truncate(fields: list[str], rng: np.random.Generator) -> str:
    """The last line cut mid-way: fewer fields than the header, no line end after it."""
    keep = int(rng.integers(1, len(fields) - 1))
    partial = fields[keep]
    head = fields[:keep]
    if len(partial) >= 2 and not partial.startswith('"'):
        head.append(partial[: len(partial) // 2])
    return ",".join(head)


def write_csv(
    path: Path, frame: Frame, plan: Plan, habit: Habit, rng: np.random.Generator, encoding: str | None = None
) -> Written:
    """Write the frame as CSV; returns the layout (header on line 1)."""
    encoding = encoding or habit.encoding
    newline = "\r\n" if habit.crlf else "\n"
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    fields = [_quote(t) for t in render_text(frame, plan, habit, rng)]
    lines = pc.binary_join_element_wise(*fields, ",")
    order = plan.order
    body = order[:-1] if plan.truncate else order
    written = Written(data_rows=len(order))
    with open(path, "wb") as fh:
        if encoding == "utf-8-sig":
            fh.write(b"\xef\xbb\xbf")
        header = ",".join(_quote(pa.array([c.title for c in frame.columns])).to_pylist()) + newline
        fh.write(header.encode(codec))
        for start in range(0, len(body), CSV_CHUNK_ROWS):
            chunk = lines.take(pa.array(body[start : start + CSV_CHUNK_ROWS]))
            blob = _concatenated(pc.binary_join_element_wise(chunk, newline, ""))
            fh.write(blob if codec == "utf-8" else blob.decode("utf-8").encode(codec))
        if plan.truncate:
            last = int(order[-1])
            text = _truncate([str(f[last].as_py()) for f in fields], rng)
            fh.write(text.encode(codec))
            written.truncated_text = text
    written.bytes = path.stat().st_size
    return written


def _column_lists(frame: Frame, rows: np.ndarray) -> list[list[object]]:
    """Python values of the given rows, per column, for xlsxwriter: numbers as numbers (None for
    blanks), years as integers, everything else as text."""
    out: list[list[object]] = []
    for col in frame.columns:
        if col.numeric:
            values = col.file_values()[rows]
            if col.spec.type == "integer":
                lst: list[object] = [None if np.isnan(v) else int(v) for v in values]
            else:
                lst = list(np.where(np.isnan(values), None, values))
        elif col.spec.type == "year":
            lst = [int(str(v)) for v in col.text_rows(rows)]
        else:
            lst = col.text_rows(rows)
        out.append(lst)
    return out


def write_xlsx(
    path: Path, frame: Frame, plan: Plan, habit: Habit, title: str | None, footer: str | None
) -> Written:
    """Write the frame as an Excel workbook with optional title, grouped header and footer rows."""
    wb = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    wb.set_properties({"created": XLSX_CREATED})
    ws = wb.add_worksheet("Sheet1")
    bold = wb.add_format({"bold": True, "align": "center", "valign": "vcenter"})
    ncol = len(frame.columns)
    for c, col in enumerate(frame.columns):
        ws.set_column(c, c, 22 if col.spec.type == "credit_code" else max(12, len(col.title) * 2))
    r = 0
    written = Written(data_rows=len(plan.order), header_rows=[])
    if title:
        ws.merge_range(
            r, 0, r, ncol - 1, title, wb.add_format({"bold": True, "font_size": 14, "align": "center"})
        )
        written.title_rows.append(r + 1)
        r += 1
    if habit.groups:
        # Group labels merged across their columns; every column's own header is on the row below.
        names = [c.spec.name for c in frame.columns]
        for label, members in habit.groups:
            cols = [names.index(m) for m in members]
            ws.merge_range(r, min(cols), r, max(cols), label, bold)
        written.header_rows.append(r + 1)
        r += 1
    ws.write_row(r, 0, [c.title for c in frame.columns], bold)
    written.header_rows.append(r + 1)
    r += 1

    # Position of each original row in the written order (defect rows are never duplicated).
    position = np.empty(frame.rows, dtype=np.int64)
    position[plan.order] = np.arange(len(plan.order))
    overrides: dict[int, dict[int, object]] = {}
    for c, cells in plan.cells.items():
        for row, (text, number) in cells.items():
            overrides.setdefault(int(position[row]), {})[c] = number if number is not None else text
    order = plan.order
    for start in range(0, len(order), XLSX_CHUNK_ROWS):
        rows = order[start : start + XLSX_CHUNK_ROWS]
        columns = _column_lists(frame, rows)
        for offset, values in enumerate(zip(*columns, strict=True)):
            replaced = overrides.get(start + offset)
            row_values = list(values)
            if replaced:
                for c, v in replaced.items():
                    row_values[c] = v
            ws.write_row(r, 0, row_values)
            r += 1
    if footer:
        ws.write(r, 0, footer)
        written.footer_rows.append(r + 1)
    wb.close()
    written.bytes = path.stat().st_size
    return written
