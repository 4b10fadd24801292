"""The monthly table a bureau sends upward (工业投资和项目推进情况月报表), in Excel.

One sheet: a title row, a header row, one row per county in the reader's scope, a 合计 row, then
the legend of the progress colours: the cells of growth, the three counts and 进度 are filled
green, orange or red (进度正常, 滞后, 严重滞后) as on the page.
Codes are text cells; every text goes through the platform's formula-safe options
(`core/spreadsheet.py`). The columns are `COLUMNS` (header, key of the progress row).
"""

from __future__ import annotations

from pathlib import Path

import xlsxwriter

from jingxin.core.spreadsheet import XLSX_OPTIONS
from jingxin.projects.progress import PACE, Progress

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
    ("进度", "status"),
)
# Cells coloured by progress (进度颜色): the column's key → the key of its colour in the row.
COLOURED = {
    "investment_growth": "investment_growth_colour",
    "tech_projects": "tech_projects_colour",
    "tech_completed": "tech_completed_colour",
    "attracted_projects": "attracted_projects_colour",
    "status": "colour",
}
# Fills, the same as the pages' `pace-*` classes (web/static/css/jingxin.css).
FILLS = {"green": "#E3F4E8", "orange": "#FDEBD7", "red": "#FBE0DF", "grey": "#EEEEEE"}
TITLE_ROW, HEADER_ROW, FIRST_DATA_ROW = 0, 1, 2  # zero-based, as xlsxwriter counts


def write_monthly_table(progress: Progress, path: Path | str) -> Path:
    """Write the table; the legend states the thresholds the progress was coloured with."""
    path = Path(path)
    cfg_green, cfg_orange = progress.thresholds["green"], progress.thresholds["orange"]
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
    kinds = {"text": {"num_format": "@"}, "number": {"num_format": "#,##0.00"}, "int": {}}
    fills = {
        (colour, kind): wb.add_format({"bg_color": fill, **spec})
        for colour, fill in FILLS.items()
        for kind, spec in kinds.items()
    }
    plain = {"text": text, "number": number, "int": None}
    rows = sorted(progress.rows, key=lambda r: r["county_code"])
    for r, row in enumerate(rows, start=FIRST_DATA_ROW):
        for c, (_header, key) in enumerate(COLUMNS):
            value = row.get(key)
            colour = row.get(COLOURED[key]) if key in COLOURED else None
            look = {k: fills[(colour, k)] if colour in FILLS else plain[k] for k in kinds}
            if key in ("county_code", "county", "status"):
                ws.write_string(r, c, str(value), look["text"])
            elif value is None:
                ws.write_blank(r, c, None, look["int"])
            elif isinstance(value, float):
                ws.write_number(r, c, value, look["number"])
            else:
                ws.write_number(r, c, value, look["int"])
    total_row = FIRST_DATA_ROW + len(rows)
    ws.write_string(total_row, 0, "合计", bold)
    for c, (_header, key) in enumerate(COLUMNS[2:], start=2):
        value = progress.province.get(key)
        if isinstance(value, int | float) and key != "rank":
            ws.write_number(total_row, c, value)
    legend = total_row + 2
    ws.write_string(legend, 0, "进度颜色：", bold)
    for c, (colour, label) in enumerate(PACE.items(), start=1):
        ws.write_string(legend, c, label, fills[(colour, "text")])
    ws.write_string(
        legend + 1,
        0,
        f"累计完成÷时间进度 ≥ {cfg_green:.0%} 为进度正常，≥ {cfg_orange:.0%} 为滞后，以下为严重滞后；"
        f"增速达到目标为进度正常，达到目标的 {cfg_orange:.0%} 为滞后，以下为严重滞后。",
    )
    ws.set_column(0, 1, 12)
    ws.set_column(2, len(COLUMNS) - 1, 14)
    wb.close()
    return path
