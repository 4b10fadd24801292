"""Excel downloads of the monitoring tables (监测表格下载), streamed from a temporary file.

Every table a page shows can be downloaded: the workbook is written in xlsxwriter's
constant-memory mode (rows flushed as written, as evaluation/export.py does), text cells as
strings with the quote prefix where they would start a formula (core/spreadsheet.py), and the
download is streamed from disk and the file removed afterwards.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import xlsxwriter

from jingxin.core.spreadsheet import XLSX_OPTIONS
from jingxin.evaluation.export import _Formats, write_text


def write_workbook(
    title: str, sheet: str, columns: Sequence[tuple[str, str]], rows: Iterable[dict[str, Any]]
) -> tuple[Path, int]:
    """(path of the workbook in a fresh temporary folder, rows written)."""
    folder = Path(tempfile.mkdtemp(prefix="jingxin-monitor-"))
    path = folder / "table.xlsx"
    book = xlsxwriter.Workbook(str(path), {**XLSX_OPTIONS, "constant_memory": True})
    n = 0
    try:
        fmt = _Formats(book)
        ws = book.add_worksheet(sheet[:31])
        ws.write_string(0, 0, title, fmt.title)
        ws.write_row(1, 0, [h for _, h in columns], fmt.head)
        for j, (key, header) in enumerate(columns):
            ws.set_column(j, j, 24 if key in ("name", "reason", "code") else max(10, len(header) * 2))
        for r in rows:
            n += 1
            for j, (key, _) in enumerate(columns):
                v = r.get(key)
                if v is None:
                    continue
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    write_text(ws, n + 1, j, str(v), fmt)
                else:
                    ws.write_number(n + 1, j, float(v), fmt.number("#,##0.00"))
        ws.freeze_panes(2, 1)
    finally:
        book.close()
    return path, n
