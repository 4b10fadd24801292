"""Cells that spreadsheet programs read as data, never as formulas (表格导出安全).

A value from a departmental file or a user (an enterprise name, a veto reason) that starts
with ``= + - @``, a tab or a carriage return is run by Excel, WPS and LibreOffice as a formula
when the file is opened (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``): CSV or formula
injection. Every workbook and CSV the platform writes goes through these helpers:

- CSV has no cell types, so such text gets a leading apostrophe, as spreadsheet programs
  themselves do when a user types it (`csv_cell`);
- in a workbook, text is always written as a string cell (never parsed as a formula, number or
  link) and such text carries Excel's "quote prefix" flag, so that editing the cell keeps it
  text too (`XLSX_OPTIONS`, `needs_quote_prefix`).

Codes (统一社会信用代码, 区划代码, 行业代码) are text: in a workbook they are string cells with
the text number format ``@``, so an all-digit code is never shown as 9.13E+17.
"""

from __future__ import annotations

from typing import Any

FORMULA_START: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet program treat a cell as a formula."""

XLSX_OPTIONS: dict[str, Any] = {
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
}
"""xlsxwriter Workbook options: a Python string is always written as a string cell."""


def needs_quote_prefix(text: str) -> bool:
    """Whether text would start a formula if typed into a cell."""
    return text.startswith(FORMULA_START)


def csv_cell(value: Any) -> Any:
    """A CSV cell value that no spreadsheet program runs: text starting a formula gets a
    leading apostrophe; numbers and missing values pass unchanged."""
    if isinstance(value, str) and needs_quote_prefix(value):
        return "'" + value
    return value
