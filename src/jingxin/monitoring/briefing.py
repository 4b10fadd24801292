"""运行监测月报 (monthly briefing of industrial economic monitoring) as a Word document.

For a month and a region (the province, a city or a county): the headline figures, trend charts
(matplotlib PNG with a CJK font), the table of its counties (or its cities, for the province),
the warnings, and — only when a `jingxin.nowcast` package is installed — a nowcast section.

The nowcast hook: if `jingxin.nowcast` can be imported and has a callable
`briefing_section(warehouse, year, month, region_code)`, its return value, a mapping with
`title` (str), `paragraphs` (list of str) and optionally `table` (`{"columns": [...], "rows":
[[...], ...]}`) and `image` (PNG bytes), is written as section 五. Without it the section is left
out, and the document says nothing about a nowcast.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from docx import Document  # noqa: E402
from docx.enum.text import WD_ALIGN_PARAGRAPH  # noqa: E402
from docx.oxml.ns import qn  # noqa: E402
from docx.shared import Cm, Pt  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from jingxin import reference  # noqa: E402
from jingxin.core.warehouse import Warehouse  # noqa: E402
from jingxin.monitoring import store  # noqa: E402
from jingxin.monitoring.indicators import compute, first_day  # noqa: E402
from jingxin.monitoring.measures import COST_PER_100, MEASURES, label  # noqa: E402
from jingxin.monitoring.rules import COLOUR_LABELS, load_rules  # noqa: E402
from jingxin.monitoring.warnings import enterprise_warnings, region_warnings  # noqa: E402

HEADLINE = [
    "output_value",
    "revenue",
    "profit",
    "export_value",
    "customs_export",
    "kwh",
    "invoice_sales",
    COST_PER_100,
]
TREND_MONTHS = 13
CJK_FONTS = ("Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Zen Hei", "SimHei")


class BriefingError(ValueError):
    pass


def _cjk_font() -> str | None:
    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    for path in font_manager.findSystemFonts():
        if "NotoSansCJK" in path or "NotoSerifCJK" in path:
            font_manager.fontManager.addfont(path)
            return font_manager.FontProperties(fname=path).get_name()
    return None


def _region(code: str) -> tuple[str, str, str]:
    """(level, name, level of its parts) of a region code; BriefingError if unknown."""
    try:
        div = reference.division(code)
    except (KeyError, ValueError):
        raise BriefingError(
            f"区划代码 {code!r} 不存在：应为 330000（全省）、设区市或县（市、区）的 6 位代码"
        ) from None
    parts = {"province": "city", "city": "county", "county": "county"}[div.level]
    return div.level, div.name, parts


def _pct(v) -> str:
    return "—" if v is None or pd.isna(v) else f"{v:+.1f}%"


def _num(v, unit: str) -> str:
    if v is None or pd.isna(v):
        return "—"
    if unit == "千瓦时":
        return f"{v / 1e4:,.0f} 万千瓦时"
    return f"{v:,.0f} 万元"


def _chart(table: pd.DataFrame, level: str, code: str, font: str | None) -> bytes:
    if font:
        plt.rcParams["font.family"] = font
    plt.rcParams["axes.unicode_minus"] = False
    fig, ax = plt.subplots(figsize=(7.5, 3.4), dpi=130)
    sel = table[(table.level == level) & (table.code == code)]
    for measure in ("output_value", "kwh", "customs_export"):
        s = sel[sel.measure == measure].sort_values("month")
        s = s[s.month.map(lambda d: d.month != 1)]  # 1月与2月合并
        if len(s):
            ax.plot(
                [f"{d:%y.%m}" for d in s.month], s.yoy_month, marker="o", label=f"{label(measure)}当月同比"
            )
    ax.axhline(0, color="#888", lw=0.8)
    ax.set_ylabel("同比增速（%）")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _table(doc, columns: list[str], rows: list[list[str]]) -> None:
    t = doc.add_table(rows=1, cols=len(columns))
    t.style = "Table Grid"
    for cell, text in zip(t.rows[0].cells, columns, strict=True):
        cell.text = text
    for row in rows:
        cells = t.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = str(text)


def nowcast_hook():
    """The nowcast package's briefing section, or None when it is not installed."""
    try:
        module = importlib.import_module("jingxin.nowcast")
    except ImportError:
        return None
    hook = getattr(module, "briefing_section", None)
    return hook if callable(hook) else None


def build_document(wh: Warehouse, year: int, month: int, region: str):
    level, name, parts = _region(region)
    target = first_day(year, month)
    table = compute(wh, year, month, history=TREND_MONTHS)
    if table[table.month == target].empty:
        raise BriefingError(f"{year}年{month}月没有监测数据：请先导入该月的快报、用电等数据")
    rules = load_rules()
    if store.has_results(wh) and target in store.months(wh):
        warns = store.warnings(wh, target).to_dict("records")
    else:
        found = region_warnings(table, rules, year, month) + enterprise_warnings(wh, year, month, rules)
        warns = [w.to_dict() for w in found]
    prefix = reference.scope_prefix(region)
    for w in warns:  # stored rows carry NaN for a missing county (an industry's warning)
        w["county_code"] = w.get("county_code") if isinstance(w.get("county_code"), str) else None
    warns = [w for w in warns if level == "province" or (w["county_code"] or "").startswith(prefix)]

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Noto Sans CJK SC"
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "Noto Sans CJK SC")
    style.font.size = Pt(10.5)
    period = "1—2月" if month == 2 else f"{month}月"
    title = doc.add_heading(f"{name}工业经济运行监测月报（{year}年{period}）", level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(
        f"编制日期：{dt.date.today():%Y年%m月%d日}；数据：统计快报、电力、海关、税务开票，截至{year}年{month}月。"
    )

    now = table[(table.month == target) & (table.level == level) & (table.code == region)].set_index(
        "measure"
    )
    doc.add_heading("一、主要指标", level=1)
    lead = []
    for m in ("output_value", "kwh"):
        if m in now.index:
            lead.append(
                f"{label(m)}当月同比{_pct(now.loc[m, 'yoy_month'])}、累计同比{_pct(now.loc[m, 'yoy_ytd'])}"
            )
    doc.add_paragraph(f"{year}年{period}，{name}" + "；".join(lead) + "。" if lead else f"{name}本月无数据。")
    rows = []
    for m in HEADLINE:
        if m not in now.index:
            continue
        r = now.loc[m]
        if m == COST_PER_100:
            rows.append(
                [
                    label(m) + "（元，营收−利润近似）",
                    f"{r.value_month:.1f}" if pd.notna(r.value_month) else "—",
                    f"{r.yoy_month:+.1f}个百分点" if pd.notna(r.yoy_month) else "—",
                    f"{r.value_ytd:.1f}" if pd.notna(r.value_ytd) else "—",
                    f"{r.yoy_ytd:+.1f}个百分点" if pd.notna(r.yoy_ytd) else "—",
                    "—",
                ]
            )
            continue
        unit = MEASURES[m].unit
        share = f"{r.growing_share:.0f}% / {r.shrinking_share:.0f}%" if pd.notna(r.growing_share) else "—"
        rows.append(
            [
                label(m),
                _num(r.value_month, unit),
                _pct(r.yoy_month),
                _num(r.value_ytd, unit),
                _pct(r.yoy_ytd),
                share,
            ]
        )
    _table(doc, ["指标", "当月（1—2月合并）", "当月同比", "累计", "累计同比", "增长/下降企业占比"], rows)

    doc.add_heading("二、走势", level=1)
    doc.add_paragraph("近一年主要指标当月同比增速（1月与2月合并发布，不单列1月）。")
    doc.add_picture(io.BytesIO(_chart(table, level, region, _cjk_font())), width=Cm(16))

    part_label = {"city": "设区市", "county": "县（市、区）"}[parts]
    doc.add_heading(f"三、分{part_label}情况", level=1)
    sub = table[(table.month == target) & (table.level == parts) & table.code.str.startswith(prefix)]
    colour_of: dict[str, str] = {}
    for w in warns:
        if w["level"] == parts and w["measure"] in ("output_value", "kwh"):
            old = colour_of.get(w["code"], "green")
            colour_of[w["code"]] = (
                w["colour"]
                if ["green", "blue", "orange", "red"].index(w["colour"])
                > ["green", "blue", "orange", "red"].index(old)
                else old
            )
    rows = []
    for code, g in sub.groupby("code"):
        g = g.set_index("measure")

        def get(m: str, c: str, g: pd.DataFrame = g) -> float | None:
            return g.loc[m, c] if m in g.index else None

        rows.append(
            [
                reference.division(code).name if code in {d.code for d in reference.divisions()} else code,
                _pct(get("output_value", "yoy_month")),
                _pct(get("output_value", "yoy_ytd")),
                _pct(get("kwh", "yoy_month")),
                _pct(get("customs_export", "yoy_month")),
                COLOUR_LABELS[colour_of.get(code, "green")],
            ]
        )
    _table(
        doc, [part_label, "产值当月同比", "产值累计同比", "用电当月同比", "海关出口当月同比", "预警"], rows
    )

    doc.add_heading("四、预警", level=1)
    shown = [w for w in warns if w["colour"] in ("orange", "red")]
    if not shown:
        doc.add_paragraph("本月无橙色、红色预警。")
    else:
        doc.add_paragraph(
            f"本月橙色、红色预警 {len(shown)} 条（区域 {sum(w['kind'] == 'region' for w in shown)} 条，"
            f"重点企业 {sum(w['kind'] == 'enterprise' for w in shown)} 条）："
        )
        _table(
            doc,
            ["等级", "对象", "原因"],
            [[COLOUR_LABELS[w["colour"]], w["name"], w["reason"]] for w in shown[:60]],
        )
        if len(shown) > 60:
            doc.add_paragraph(f"其余 {len(shown) - 60} 条见平台预警列表。")

    hook = nowcast_hook()
    if hook is not None:
        section = hook(wh, year, month, region)
        if section:
            doc.add_heading(f"五、{section.get('title', '增速预测')}", level=1)
            for p in section.get("paragraphs", []):
                doc.add_paragraph(str(p))
            if section.get("table"):
                _table(
                    doc,
                    list(section["table"]["columns"]),
                    [[str(c) for c in r] for r in section["table"]["rows"]],
                )
            if section.get("image"):
                doc.add_picture(io.BytesIO(section["image"]), width=Cm(16))
    return doc


def write_briefing(wh: Warehouse, year: int, month: int, region: str, out: Path) -> Path:
    doc = build_document(wh, year, month, region)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(out))
    return out
