"""Excel downloads of the appeals, arrears and burden pages: one workbook, one sheet per table,
written safely (`jingxin.core.spreadsheet`: text never becomes a formula, codes stay text)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import xlsxwriter

from jingxin.core.spreadsheet import XLSX_OPTIONS, needs_quote_prefix

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]]) -> bytes:
    """A workbook of (sheet name, headers, rows)."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, **XLSX_OPTIONS})
    head = book.add_format({"bold": True, "bg_color": "#EEF2F7"})
    text = book.add_format({"num_format": "@"})
    quoted = book.add_format({"num_format": "@", "quote_prefix": True})
    for name, headers, rows in sheets:
        sheet = book.add_worksheet(name[:31])
        sheet.write_row(0, 0, list(headers), head)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, str):
                    sheet.write_string(r, c, value, quoted if needs_quote_prefix(value) else text)
                elif isinstance(value, bool):
                    sheet.write_string(r, c, "是" if value else "否", text)
                elif isinstance(value, int | float):
                    sheet.write_number(r, c, value)
                else:
                    sheet.write_string(r, c, str(value), text)
        sheet.set_column(0, max(0, len(headers) - 1), 16)
    book.close()
    return out.getvalue()
