"""Excel of the 小微企业园 ratings (小微企业园绩效评价结果): title row, one row per park with
dimension scores, base, points, total, grade, proposed and rated star and the case state."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import xlsxwriter

from jingxin.core.spreadsheet import XLSX_OPTIONS
from jingxin.parks.config import ParkConfig

__all__ = ["parks_workbook"]


def parks_workbook(
    table: pd.DataFrame, cfg: ParkConfig, year: int, cases: dict[str, Any] | None = None
) -> bytes:
    """`table` is already restricted to the reader's scope."""
    cases = cases or {}
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {**XLSX_OPTIONS, "in_memory": True, "nan_inf_to_errors": True})
    bold = wb.add_format({"bold": True})
    title = wb.add_format({"bold": True, "font_size": 14})
    num = wb.add_format({"num_format": "0.00"})
    ws = wb.add_worksheet("绩效评价结果")
    ws.write(0, 0, f"{year}年度小微企业园绩效评价结果", title)
    dims = cfg.dimensions
    head = [
        "序号",
        "园区编号",
        "园区名称",
        "区县代码",
        *[d.name for d in dims],
        "基础得分",
        "加分",
        "总分",
        "档次",
        "建议星级",
        "评定星级",
        "评定状态",
        "说明",
    ]
    ws.write_row(2, 0, head, bold)
    for n, (pid, r) in enumerate(table.iterrows(), start=1):
        row = 2 + n
        ws.write_number(row, 0, n)
        ws.write_string(row, 1, str(pid))
        ws.write_string(row, 2, str(r["park_name"]))
        ws.write_string(row, 3, str(r["division_code"]))
        for k, d in enumerate(dims):
            ws.write_number(row, 4 + k, float(r[d.code]), num)
        c = 4 + len(dims)
        ws.write_number(row, c, float(r["base"]), num)
        ws.write_number(row, c + 1, float(r["points"]), num)
        ws.write_number(row, c + 2, float(r["total"]), num)
        ws.write_string(row, c + 3, str(r["grade"]))
        ws.write_number(row, c + 4, int(r["proposed_star"]))
        item = cases.get(str(pid))
        rated = (item.fields or {}).get("star", "") if item is not None and item.state == "rated" else ""
        ws.write_string(row, c + 5, str(rated))
        ws.write_string(row, c + 6, _state_label(item))
        ws.write_string(row, c + 7, str(r["reason"]))
    wb.close()
    return buf.getvalue()


def _state_label(item: Any) -> str:
    if item is None:
        return "未发起"
    from jingxin.core.workflow.config import load_workflow

    return load_workflow("park_rating").states[item.state].label
