"""Blank submission templates (空白报送模板): one .xlsx per source, made from its contract.

The first sheet (填报数据) holds a title row and the header row, nothing else: the headers are
the contract's canonical Chinese headers with the unit in brackets (实缴税收(万元)), which
ingestion reads as the column's unit, and each header carries a comment with its type, unit,
whether it is required, its range and the other accepted headers. Code columns (统一社会信用代码,
区县代码, 行业代码) are formatted as text so that Excel keeps leading zeros and all 18 characters.

The example row is on the second sheet (填表说明), under the same headers, with one value per
column that passes validation. It is not on the data sheet on purpose: ingestion reads the
first sheet with a header, and an example row left there by mistake would be loaded as an
enterprise's figures.
"""

from __future__ import annotations

import io
import random
from datetime import date
from typing import Any

import xlsxwriter

from jingxin.core import credit_code
from jingxin.core.contracts import Column, Source
from jingxin.exchange.config import load_calendar

DATA_SHEET = "填报数据"
NOTES_SHEET = "填表说明"
TEXT_TYPES = frozenset({"credit_code", "county", "industry", "text"})
TYPE_NAMES = {
    "credit_code": "统一社会信用代码（18位，含校验位）",
    "text": "文本",
    "county": "区县代码（6位，GB/T 2260）",
    "industry": "行业代码（GB/T 4754-2017，2～4位）",
    "date": "日期，如 2021-03-15",
    "month": "年月，如 2021-03",
    "year": "年度，如 2021",
    "decimal": "数值",
    "integer": "整数",
    "boolean": "是/否",
}
EXAMPLE_COUNTY = "330106"  # 西湖区, a county of the reference divisions


def header_text(col: Column) -> str:
    """The header as the template writes it: the canonical header, unit in brackets."""
    return f"{col.header}({col.unit})" if col.unit else col.header


def _number(col: Column, integer: bool) -> float | int:
    low = col.min if col.min is not None else 0.0
    high = col.max if col.max is not None else low + 1000.0
    value = min(max(1234.5, low), high)
    return int(value) if integer else value


def example_value(col: Column) -> Any:
    """One value that passes the column's validation (shown in the example row)."""
    if col.allowed:
        return col.allowed[0]
    kind = col.type
    if kind == "credit_code":
        return credit_code.generate(EXAMPLE_COUNTY, random.Random(col.name))
    if kind == "county":
        return EXAMPLE_COUNTY
    if kind == "industry":
        from jingxin.reference import loaders

        return loaders.manufacturing_divisions()[0].code
    if kind == "date":
        return "2021-03-15"
    if kind == "month":
        return "2021-03"
    if kind == "year":
        return 2021
    if kind == "boolean":
        return "是"
    if kind in ("decimal", "integer"):
        return _number(col, kind == "integer")
    return f"示例{col.header}"


def _comment(col: Column) -> str:
    parts = [f"类型：{TYPE_NAMES.get(col.type, col.type)}", f"单位：{col.unit or '—'}"]
    parts.append("必填" if col.required else "选填（可留空）")
    if col.allowed:
        parts.append("只能填：" + "、".join(col.allowed))
    elif col.min is not None or col.max is not None:
        parts.append(
            f"范围：{col.min if col.min is not None else '—'} ～ {col.max if col.max is not None else '—'}"
        )
    if col.aliases:
        parts.append("也可用表头：" + "、".join(col.aliases))
    return "\n".join(parts)


def template_name(src: Source) -> str:
    return f"{src.title}_{src.id}_报送模板.xlsx"


def blank_template(src: Source) -> bytes:
    """The .xlsx template of one source."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    title_fmt = book.add_format({"bold": True, "font_size": 13})
    head_fmt = book.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True})
    text_fmt = book.add_format({"num_format": "@"})
    note_fmt = book.add_format({"text_wrap": True, "valign": "top"})
    rule = load_calendar().rule(src)

    sheet = book.add_worksheet(DATA_SHEET)
    sheet.write(0, 0, f"{src.title}（{src.id}）报送表　报送部门：{src.department}　{rule.label}", title_fmt)
    for i, col in enumerate(src.columns):
        sheet.write_string(1, i, header_text(col), head_fmt)
        sheet.write_comment(1, i, _comment(col), {"x_scale": 2.2, "y_scale": 1.6})
        width = max(12, len(header_text(col)) * 2 + 2)
        sheet.set_column(i, i, width, text_fmt if col.type in TEXT_TYPES else None)
    sheet.freeze_panes(2, 0)

    notes = book.add_worksheet(NOTES_SHEET)
    notes.set_column(0, max(0, len(src.columns) - 1), 22, note_fmt)
    notes.write(0, 0, "示例（请勿把示例行复制到“填报数据”表中，除非它确是贵单位的数据）：", title_fmt)
    for i, col in enumerate(src.columns):
        notes.write_string(1, i, header_text(col), head_fmt)
        value = example_value(col)
        if isinstance(value, str):
            notes.write_string(2, i, value, text_fmt if col.type in TEXT_TYPES else None)
        else:
            notes.write_number(2, i, value)
    lines = [
        f"数据源：{src.id}（{src.title}），报送部门：{src.department}。",
        f"报送周期：{rule.label}（{rule.basis}）。",
        "键（同一文件内不得重复）：" + " + ".join(src.column(k).header for k in src.key) + "。",
        "在“填报数据”表第 3 行起逐行填写；表头不要改动（也可使用批注中列出的别名）。",
        "单位以表头括号中的为准；代码列已设为文本格式，请勿删去前导 0。",
        "空白单元格表示未填：必填列为空的行会被退回，并说明原因。",
        *src.notes,
        "完整规则见平台“数据共享交换 → 数据交换规范”。",
    ]
    for j, line in enumerate(lines):
        notes.write_string(4 + j, 0, line)
    book.set_properties({"title": f"{src.title}报送模板", "subject": "数据交换规范", "company": "数字经信"})
    book.close()
    return buffer.getvalue()


def fill_template(src: Source, template: bytes, rows: list[dict[str, Any]]) -> bytes:
    """The template with `rows` (column name -> value) written from the first data row, as a
    department fills it in (values keep their types; text stays text)."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(template))
    sheet = book[DATA_SHEET]
    headers = [c.value for c in sheet[2]]
    by_header = {header_text(c): c.name for c in src.columns}
    for r, row in enumerate(rows, start=3):
        for i, header in enumerate(headers, start=1):
            value = row.get(by_header.get(str(header), ""))
            if isinstance(value, date):
                value = value.isoformat()
            cell = sheet.cell(row=r, column=i, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text as typed: "=..." stays text, never a formula
                cell.number_format = "@"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
