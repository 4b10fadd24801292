"""Excel lists (风险企业清单): the month's graded enterprises, general-concern groups and the
common-problem table, one sheet each, in Chinese, as a county or the province files them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xlsxwriter

from jingxin.risk.config import GENERAL, KEY
from jingxin.risk.service import MonthResult, explain

GRADE_COLUMNS = (
    "统一社会信用代码",
    "企业名称",
    "区县代码",
    "行业代码",
    "风险分级",
    "风险类别",
    "评分",
    "出险概率",
    "主要原因",
    "担保圈",
    "担保链规模",
)


def write_lists(
    result: MonthResult,
    path: Path,
    groups: list[dict[str, Any]],
    concentration: list[dict[str, Any]],
    rows=None,
) -> Path:
    """Write the workbook; `rows` (default: 重点关注 and 一般关注 of the result) are the
    enterprises listed, already restricted to the reader's scope by the caller."""
    t = result.table if rows is None else rows
    t = t[t["grade"].isin([KEY, GENERAL])].sort_values(["grade", "score"], ascending=[False, True])
    wb = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "nan_inf_to_errors": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    bold = wb.add_format({"bold": True})
    ws = wb.add_worksheet("风险企业清单")
    ws.write(0, 0, f"企业风险分级清单（{result.month}）", bold)
    ws.write_row(1, 0, GRADE_COLUMNS, bold)
    for i, (_, r) in enumerate(t.iterrows(), start=2):
        ws.write_row(
            i,
            0,
            [
                r["credit_code"],
                _text(r.get("name")),
                _text(r.get("county_code")),
                _text(r.get("industry_code")),
                r["grade"],
                r["category"],
                float(r["score"]),
                round(float(r["pd"]), 4),
                "；".join(explain(r, result.config)),
                int(r["circle"]) if r["circle"] >= 0 else "",
                int(r["chain_size"]) or "",
            ],
        )
    ws2 = wb.add_worksheet("一般关注分类")
    ws2.write_row(0, 0, ("类型", "企业数", "企业（统一社会信用代码）"), bold)
    for i, g in enumerate(groups, start=1):
        ws2.write_row(i, 0, (g["type"], g["count"], "、".join(g["credit_codes"])))
    ws3 = wb.add_worksheet("共性问题")
    ws3.write_row(
        0, 0, ("维度", "分组", "企业数", "重点关注", "关注合计", "重点关注占比", "关注占比", "预警"), bold
    )
    dims = {"county": "区县", "industry": "行业", "chain": "担保链", "circle": "担保圈"}
    for i, c in enumerate(concentration, start=1):
        ws3.write_row(
            i,
            0,
            (
                dims[c["dimension"]],
                c["group"],
                c["enterprises"],
                c["key"],
                c["concern"],
                c["key_share"],
                c["concern_share"],
                "是" if c["warning"] else "",
            ),
        )
    wb.close()
    return path


def _text(value: Any) -> str:
    return "" if value is None or value != value else str(value)  # NaN: not in the registry
