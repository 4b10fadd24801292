"""The nowcast of one run and region as an Excel workbook (estimates, news, published history)."""

from __future__ import annotations

import io
from typing import Any

import xlsxwriter

from jingxin.core.spreadsheet import XLSX_OPTIONS


def workbook(view: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, **XLSX_OPTIONS})  # strings stay strings
    bold = book.add_format({"bold": True})
    sheets = {
        "现时预测": (
            ["期间类型", "期间", "模型", "预测值(%)", "区间下限(%)", "区间上限(%)", "已发布(%)"],
            [
                [
                    "当月" if e["kind"] == "month" else "当季",
                    e["period"],
                    e["model_label"],
                    e["point"],
                    e["lower"],
                    e["upper"],
                    e["official"],
                ]
                for e in view["estimates"]
            ],
        ),
        "新闻分解": (
            ["来源", "影响(百分点)", "实际值", "此前预期"],
            [[n["label"], n["impact"], n["observed"], n["expected"]] for n in view["news"]],
        ),
        "已发布增速": (["年月", "当月同比(%)"], [[h["month"], h["value"]] for h in view["history"]]),
    }
    for name, (head, rows) in sheets.items():
        ws = book.add_worksheet(name)
        title = f"{view['region_name']} 规上工业增加值现时预测 {view['target_month']}"
        ws.write(0, 0, f"{title}（数据截至 {view['as_of']}）", bold)
        ws.write_row(1, 0, head, bold)
        for r, row in enumerate(rows, start=2):
            ws.write_row(r, 0, ["" if v is None else v for v in row])
        ws.set_column(0, len(head), 16)
    book.close()
    return buf.getvalue()
