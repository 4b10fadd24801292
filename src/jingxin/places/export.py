"""Excel of the county index (县域制造业高质量发展评价结果) in the layout a bureau publishes:
a title row, then per evaluation group its ranking with the three group scores, the total, the
rank interval and 天工鼎; a second sheet with every indicator value; a third with the method."""

from __future__ import annotations

import io
import json

import xlsxwriter

from jingxin.core.scope import Scope
from jingxin.core.spreadsheet import XLSX_OPTIONS
from jingxin.places.county import CountyIndex, point_label, treatment_rows
from jingxin.places.service import visible_rows

__all__ = ["county_workbook"]


def county_workbook(ci: CountyIndex, scope: Scope) -> bytes:
    """The workbook of the rows `scope` covers (bytes, for a download or a file)."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {**XLSX_OPTIONS, "in_memory": True, "nan_inf_to_errors": True})
    bold = wb.add_format({"bold": True})
    title = wb.add_format({"bold": True, "font_size": 14})
    num = wb.add_format({"num_format": "0.00"})
    rows = visible_rows(ci, scope)
    pillars = [g for g in ci.config.groups]
    ws = wb.add_worksheet("评价结果")
    ws.write(0, 0, f"{ci.year}年度{ci.config.name}结果", title)
    r = 2
    for g in ci.groups:
        part = rows[rows["group"] == g.code]
        if part.empty:
            continue
        ws.write(r, 0, f"{g.name}（共{len(g.table)}个）", bold)
        head = [
            "排名",
            "排名区间",
            "地区",
            "区划代码",
            *[p.name for p in pillars],
            "综合得分",
            "影响排名最大的指标",
            "天工鼎",
        ]
        ws.write_row(r + 1, 0, head, bold)
        r += 2
        names = {i.code: i.name for i in ci.config.indicators}
        for _, x in part.iterrows():
            ws.write_number(r, 0, int(x["rank"]))
            ws.write_string(r, 1, f"{int(x['rank_low'])}–{int(x['rank_high'])}")
            ws.write_string(r, 2, str(x["name"]))
            ws.write_string(r, 3, str(x["code"]))
            for k, p in enumerate(pillars):
                ws.write_number(r, 4 + k, float(x[p.code]), num)
            ws.write_number(r, 4 + len(pillars), float(x["score"]), num)
            ws.write_string(r, 5 + len(pillars), names.get(str(x["mover"]), ""))
            ws.write_string(r, 6 + len(pillars), "天工鼎" if bool(x["tiangongding"]) else "")
            r += 1
        r += 1
    ws.set_column(2, 2, 14)
    ws2 = wb.add_worksheet("指标值")
    inds = ci.config.indicators
    ws2.write_row(
        0,
        0,
        ["评价组", "地区", "区划代码", *[f"{i.name}({i.unit})" if i.unit else i.name for i in inds]],
        bold,
    )
    k = 1
    for g in ci.groups:
        for code in g.table.index:
            if not scope.allows_division(str(code)):
                continue
            ws2.write_string(k, 0, g.name)
            ws2.write_string(k, 1, str(rows.loc[rows["code"] == code, "name"].iloc[0]))
            ws2.write_string(k, 2, str(code))
            for j, i in enumerate(inds):
                v = float(g.result.imputed.at[code, i.code])
                ws2.write_number(k, 3 + j, v, num) if v == v else ws2.write_blank(k, 3 + j, None)
                notes = []
                if bool(g.result.imputed_mask.at[code, i.code]):
                    notes.append("缺数，已按组内均值插补")
                treated = point_label(g, str(code), i.code)
                if treated:
                    notes.append(f"异常值处理：{treated}，标准化按处理后的值")
                if notes:
                    ws2.write_comment(k, 3 + j, "；".join(notes))
            k += 1
    ws4 = wb.add_worksheet("异常值处理")
    ws4.write_row(
        0,
        0,
        [
            "评价组",
            "指标",
            "处理前偏度",
            "处理前峰度",
            "处理",
            "缩尾点数（高端）",
            "缩尾点数（低端）",
            "变换",
            "处理后偏度",
            "处理后峰度",
        ],
        bold,
    )
    k = 1
    for g in ci.groups:
        for t in treatment_rows(g):
            ws4.write_row(k, 0, [g.name, t["name"]])
            for j, key in ((2, "skew"), (3, "kurt"), (8, "skew_after"), (9, "kurt_after")):
                v = t[key]
                ws4.write_number(k, j, v, num) if v is not None else ws4.write_blank(k, j, None)
            ws4.write_string(k, 4, t["label"])
            ws4.write_number(k, 5, t["win_high"])
            ws4.write_number(k, 6, t["win_low"])
            ws4.write_string(k, 7, t["transform"])
            k += 1
    if k == 1:
        treatment = ci.config.method.treatment
        ws4.write_string(1, 0, "未启用" if not treatment.enabled else "各组各项指标均在阈值内，未作处理")
    ws3 = wb.add_worksheet("方法")
    spec = ci.config.spec()
    ws3.write(0, 0, "方法指纹", bold)
    ws3.write_string(0, 1, spec.fingerprint())
    ws3.write(1, 0, "方法", bold)
    ws3.write_string(1, 1, json.dumps(spec.to_dict()["method"], ensure_ascii=False, default=list))
    ws3.write(2, 0, "稳健性", bold)
    ws3.write_string(2, 1, json.dumps(ci.config.uncertainty.model_dump(), ensure_ascii=False))
    ws3.write(3, 0, "说明", bold)
    ws3.write_string(
        3, 1, "省级未公布指标权重，本表按三组等权、组内等权（可配置）；排名区间为蒙特卡洛5%–95%分位。"
    )
    wb.close()
    return buf.getvalue()
