"""The monthly table a bureau sends upward (工业投资和项目推进情况月报表), in Excel.

One sheet: a title row, a header row, one row per county in the reader's scope, then a 合计 row.
Codes are text cells; every text goes through the platform's formula-safe options
(`core/spreadsheet.py`). The columns are `COLUMNS` (header, key of the progress row).
"""

from __future__ import annotations

from pathlib import Path

import xlsxwriter

from jingxin.core.spreadsheet import XLSX_OPTIONS
from jingxin.projects.progress import Progress

COLUMNS: tuple[tuple[str, str], ...] = (
    ("区县代码", "county_code"),
    ("区县", "county"),
    ("累计工业投资(万元)", "investment"),
    ("上年同期(万元)", "investment_last_year"),
    ("累计增速(%)", "investment_growth"),
    ("增速目标(%)", "investment_growth_target"),
    ("全年预计投资(万元)", "investment_forecast"),
    ("技改开工(个)", "tech_projects"),
    ("技改开工目标(个)", "tech_projects_target"),
    ("技改开工全年预计(个)", "tech_projects_forecast"),
    ("技改投产(个)", "tech_completed"),
    ("技改投产目标(个)", "tech_completed_target"),
    ("招引签约(个)", "attracted_projects"),
    ("招引签约目标(个)", "attracted_projects_target"),
    ("存在问题(条)", "problems"),
    ("排名", "rank"),
)
TITLE_ROW, HEADER_ROW, FIRST_DATA_ROW = 0, 1, 2  # zero-based, as xlsxwriter counts


def write_monthly_table(progress: Progress, path: Path | str) -> Path:
    path = Path(path)
    wb = xlsxwriter.Workbook(str(path), {**XLSX_OPTIONS, "nan_inf_to_errors": True})
    ws = wb.add_worksheet("月报表")
    bold = wb.add_format({"bold": True})
    text = wb.add_format({"num_format": "@"})
    number = wb.add_format({"num_format": "#,##0.00"})
    ws.write_string(
        TITLE_ROW, 0, f"工业投资和项目推进情况月报表（{progress.year}年1—{int(progress.month[5:])}月）", bold
    )
    for c, (header, _key) in enumerate(COLUMNS):
        ws.write_string(HEADER_ROW, c, header, bold)
    rows = sorted(progress.rows, key=lambda r: r["county_code"])
    for r, row in enumerate(rows, start=FIRST_DATA_ROW):
        for c, (_header, key) in enumerate(COLUMNS):
            value = row.get(key)
            if key in ("county_code", "county"):
                ws.write_string(r, c, str(value), text)
            elif value is None:
                ws.write_blank(r, c, None)
            elif isinstance(value, float):
                ws.write_number(r, c, value, number)
            else:
                ws.write_number(r, c, value)
    total_row = FIRST_DATA_ROW + len(rows)
    ws.write_string(total_row, 0, "合计", bold)
    for c, (_header, key) in enumerate(COLUMNS[2:], start=2):
        value = progress.province.get(key)
        if isinstance(value, int | float) and key != "rank":
            ws.write_number(total_row, c, value)
    ws.set_column(0, 1, 12)
    ws.set_column(2, len(COLUMNS) - 1, 14)
    wb.close()
    return path
