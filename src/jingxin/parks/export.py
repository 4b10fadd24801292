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


def manufacturing_workbook(table: pd.DataFrame, result: Any, cfg: Any, year: int, run_id: str) -> bytes:
    """Excel of the manufacturing parks' stars (制造业园区高质量发展星级评价结果): a title row, one
    row per park in rank order with the group scores, the score, the stars and the 亩均 score;
    a sheet of indicator values; a sheet of the method. `table` is already cut to the scope."""
    from jingxin.reference import divisions

    names = {d.code: d.name for d in divisions()}
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {**XLSX_OPTIONS, "in_memory": True, "nan_inf_to_errors": True})
    bold = wb.add_format({"bold": True})
    title = wb.add_format({"bold": True, "font_size": 14})
    num = wb.add_format({"num_format": "0.00"})
    ws = wb.add_worksheet("星级评价结果")
    ws.write(0, 0, f"{year}年度{cfg.name}结果", title)
    head = [
        "序号",
        "全省排名",
        "园区编号",
        "园区名称",
        "类型",
        "所在县（市、区）",
        "区划代码",
        *[g.name for g in cfg.groups],
        "综合得分",
        "星级",
        "亩均效益综合评价得分",
    ]
    ws.write_row(2, 0, head, bold)
    for n, (pid, r) in enumerate(table.iterrows(), start=1):
        row = 2 + n
        ws.write_number(row, 0, n)
        ws.write_number(row, 1, int(r["rank"]))
        ws.write_string(row, 2, str(pid))
        ws.write_string(row, 3, str(r["park_name"]))
        ws.write_string(row, 4, str(r["kind"]))
        ws.write_string(row, 5, names.get(str(r["county_code"]), ""))
        ws.write_string(row, 6, str(r["county_code"]))
        for k, g in enumerate(cfg.groups):
            ws.write_number(row, 7 + k, float(r[g.code]), num)
        c = 7 + len(cfg.groups)
        ws.write_number(row, c, float(r["score"]), num)
        ws.write_string(row, c + 1, "★" * int(r["star"]) if int(r["star"]) else "未达一星")
        ws.write_number(row, c + 2, float(r["total_score"]), num)
    ws.set_column(3, 3, 24)
    ws2 = wb.add_worksheet("指标值")
    inds = cfg.indicators
    ws2.write_row(
        0, 0, ["园区编号", "园区名称", *[f"{i.name}({i.unit})" if i.unit else i.name for i in inds]], bold
    )
    for k, (pid, r) in enumerate(table.iterrows(), start=1):
        ws2.write_string(k, 0, str(pid))
        ws2.write_string(k, 1, str(r["park_name"]))
        for j, i in enumerate(inds):
            v = float(result.raw.at[pid, i.code]) if result is not None else float("nan")
            ws2.write_number(k, 2 + j, v, num) if v == v else ws2.write_blank(k, 2 + j, None)
    ws3 = wb.add_worksheet("方法")
    spec = cfg.spec()
    ws3.write(0, 0, "方法指纹", bold)
    ws3.write_string(0, 1, spec.fingerprint())
    ws3.write(1, 0, "亩均评价批次", bold)
    ws3.write_string(1, 1, run_id)
    ws3.write(2, 0, "星级分数线", bold)
    ws3.write_string(2, 1, "；".join(f"{s}星 ≥ {cfg.stars[s]:g}" for s in sorted(cfg.stars)))
    ws3.write(3, 0, "说明", bold)
    ws3.write_string(
        3,
        1,
        "省级制造业园区星级评价办法未公开，本表的分组、权重与星级分数线为本平台暂定（可配置）；"
        "得分为全省经开区、高新区的最小—最大标准化加权平均（0–100）。",
    )
    wb.close()
    return buf.getvalue()
