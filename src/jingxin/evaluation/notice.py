"""The result notice (评价结果告知书): one PDF per enterprise, as county bureaus send them.

A notice states the enterprise's evaluation unit, every indicator with its value, reference,
weight and points, the total, its ranks, its class and the group it was ranked in, the change
since last year, the differentiated policies that follow from the class, and the explanation in
plain sentences (`explain.indicator_text`). It is drawn with reportlab in the built-in CID font
STSong-Light (Adobe-GB1), which needs no font file on the server; every PDF reader shows it
with its own Song typeface.

`notice_pdf` renders one enterprise's notice; `render_county_notices` writes a whole county's
notices into one zip (a long job: it reads the county's results and scores in two queries and
reports progress per notice).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.config import System
from jingxin.evaluation.stored import stored_scores

FONT = "STSong-Light"
Progress = Callable[[int, int], None]
"""progress(done, total), called after each notice."""


@dataclass
class Notice:
    """Everything one notice prints (one enterprise of one run)."""

    run: dict[str, Any]
    system: System
    result: dict[str, Any]
    scores: list[dict[str, Any]]
    members: list[dict[str, Any]] = field(default_factory=list)
    masked: bool = False
    """Sensitive figures (税收) shown as **** (a reader without clearance)."""


def _fmt(x: Any, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "—"
    return f"{float(x):,.{digits}f}".rstrip("0").rstrip(".") if digits else f"{float(x):,.0f}"


@lru_cache(maxsize=1)
def _industry_names() -> dict[str, str]:
    from jingxin.reference import industries

    return {i.code: i.name for i in industries()}


def _division_name(code: str | None) -> str:
    from jingxin.reference import division

    try:
        return division(code).name if code else "—"
    except KeyError:
        return code or "—"


def _county_full_name(code: str | None) -> str:
    """'杭州市西湖区' for a county code (its city first), for the issuing authority."""
    if not code:
        return ""
    city = _division_name(code[:4] + "00")
    county = _division_name(code)
    return county if county.startswith(city) else city + county


# ---- reading ------------------------------------------------------------------------------------
def _results(wh: Warehouse, run_id: str, scope: Scope) -> Any:
    t = wh.table("eval_results")
    return scope.restrict(t.filter(t.run_id == run_id))


def load_notices(wh: Warehouse, run_id: str, scope: Scope, credit_code: str | None = None) -> list[Notice]:
    """The notices of a run inside `scope` (one enterprise when `credit_code` is given), in
    county ranking order, read in two queries (results, then their scores)."""
    from jingxin.evaluation.runs import load_run, run_system

    run = load_run(wh, run_id)
    if run["level"] == "park":
        raise ValueError("园区评价不出具企业告知书")
    system = run_system(wh, run_id)
    res = _results(wh, run_id, scope)
    if credit_code is not None:
        res = res.filter(res.credit_code == credit_code)
    rows = wh.to_pyarrow(res.order_by(["county_code", "tenant", "rank_in_county", "credit_code"])).to_pylist()
    if not rows:
        return []
    s = stored_scores(wh, run_id)
    codes = [r["credit_code"] for r in rows]
    s = s.filter(s.credit_code.isin(codes)) if len(codes) <= 5000 else s.semi_join(res, "credit_code")
    by_code: dict[str, list[dict[str, Any]]] = {}
    for row in wh.to_pyarrow(s).to_pylist():
        by_code.setdefault(row["credit_code"], []).append(row)
    order = {ind.id: k for k, ind in enumerate(system.indicators)}
    members: dict[str, list[dict[str, Any]]] = {}
    merged = [r["unit_id"] for r in rows if (r["member_count"] or 1) > 1]
    if merged:
        t = wh.table("eval_results")
        mem = t.filter((t.run_id == run_id) & t.unit_id.isin(sorted(set(merged))))
        for m in wh.to_pyarrow(mem.select("unit_id", "credit_code", "name", "is_lead")).to_pylist():
            members.setdefault(m["unit_id"], []).append(m)
    out = []
    for r in rows:
        scores = sorted(by_code.get(r["credit_code"], []), key=lambda x: order.get(x["indicator"], 99))
        out.append(Notice(run, system, r, scores, members.get(r["unit_id"], [])))
    return out


# ---- drawing ------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _styles() -> dict[str, Any]:
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    body = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=17, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=body, fontSize=17, leading=26, alignment=TA_CENTER),
        "sub": ParagraphStyle("sub", parent=body, fontSize=9, leading=13, alignment=TA_CENTER),
        "h": ParagraphStyle("h", parent=body, fontSize=12, leading=20, spaceBefore=8),
        "body": body,
        "indent": ParagraphStyle("indent", parent=body, firstLineIndent=21),
        "cell": ParagraphStyle("cell", parent=body, fontSize=9, leading=12),
        "right": ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=11),
    }


def _table(rows: list[list[str]], widths: list[float], header: bool = True) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    st = _styles()
    data = [[Paragraph(escape(str(c)), st["cell"]) for c in row] for row in rows]
    table = Table(data, colWidths=widths, hAlign="LEFT")
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")))
    table.setStyle(TableStyle(style))
    return table


def _policy_lines(r: dict[str, Any]) -> list[str]:
    out = []
    if r.get("land_tax_relief_pct") is not None:
        pct = r["land_tax_relief_pct"]
        out.append(f"城镇土地使用税：减免{_fmt(pct)}%。" if pct else "城镇土地使用税：不享受减免。")
    if r.get("power_surcharge_yuan_per_kwh"):
        out.append(
            f"差别化电价：每千瓦时加价{_fmt(r['power_surcharge_yuan_per_kwh'])}元"
            f"（已连续{r['consecutive_d_years']}年评为{r['class']}类）。"
        )
    if r.get("energy_quota_change_pct"):
        out.append(f"用能指标：调减{_fmt(abs(r['energy_quota_change_pct']))}%。")
    if r.get("priority_land") or r.get("priority_funds"):
        what = "、".join(
            w for w, on in (("用地", r.get("priority_land")), ("资金", r.get("priority_funds"))) if on
        )
        out.append(f"要素保障：在{what}等要素配置上优先保障。")
    return out or ["本类别无差别化政策措施。"]


def _hidden(n: Notice, indicator: str) -> bool:
    from jingxin.core import audit

    return n.masked and audit.is_sensitive(indicator)


def _story(n: Notice) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    from jingxin.evaluation.explain import indicator_text

    st = _styles()
    r, system, run = n.result, n.system, n.run
    year = int(run["year"])
    rule = system.classes
    county = _county_full_name(r["county_code"])
    industry = r["industry_code"] or ""
    industry_name = _industry_names().get(industry[:2], "") if industry else ""
    p = []
    p.append(Paragraph(f"{year}年度亩均效益综合评价结果告知书", st["title"]))
    p.append(Paragraph(escape(system.title), st["sub"]))
    p.append(Spacer(1, 5 * mm))
    p.append(Paragraph(f"{escape(r['name'] or '')}（统一社会信用代码：{r['credit_code']}）：", st["body"]))
    basis = system.basis[0] if system.basis else "浙政发〔2018〕5号"
    p.append(
        Paragraph(
            escape(
                f"根据{basis}等规定，经部门数据归集、计算和审核，现将贵企业{year}年度{system.title}结果告知如下。"
            ),
            st["indent"],
        )
    )
    p.append(Paragraph("一、评价对象", st["h"]))
    scale = "规上" if r["above_scale"] else "规下"
    unit = "本企业" if (r["member_count"] or 1) <= 1 else f"同一宗地{r['member_count']}家企业合并评价"
    p.append(
        _table(
            [
                ["所在地", "行业", "规模", "用地面积（亩）", "评价单元"],
                [county, f"{industry} {industry_name}".strip(), scale, _fmt(r["land_mu"]), unit],
            ],
            [38 * mm, 50 * mm, 16 * mm, 26 * mm, 40 * mm],
        )
    )
    if len(n.members) > 1:
        names = "；".join(
            f"{m['name']}（{m['credit_code']}{'，主体企业' if m['is_lead'] else ''}）" for m in n.members
        )
        p.append(
            Paragraph(
                escape(f"合并评价企业：{names}。合并单元的名称、所在地、行业和规模取主体企业。"), st["small"]
            )
        )
    if r.get("tenant"):
        p.append(Paragraph("贵企业位于星级小微企业园内、无自有用地，按园区租户单独排名。", st["small"]))

    p.append(Paragraph("二、指标得分", st["h"]))
    label = {"minmax": "同组最优值", "benchmark": "标杆值"}.get(system.scoring.method, "参照值")
    rows = [["指标", "数值", label, "权重", "得分"]]
    for s in n.scores:
        ind = next((i for i in system.indicators if i.id == s["indicator"]), None)
        if ind is None:
            continue
        value = "缺数据" if s["missing"] else f"{_fmt(s['value'])} {ind.unit}"
        weight = "参考" if ind.weight == 0 else _fmt(s["weight"])
        score = _fmt(s["score"])
        cap = ind.cap if ind.cap is not None else system.scoring.cap_multiple
        if (
            cap is not None
            and ind.weight > 0
            and s["score"] is not None
            and s["score"] >= cap * s["weight"] - 1e-9
        ):
            score += "（封顶）"
        reference = f"{_fmt(s['reference'])} {ind.unit}"
        if _hidden(n, ind.id):
            value = reference = score = "****"
        rows.append([ind.name, value, reference, weight, score])
    p.append(_table(rows, [44 * mm, 38 * mm, 38 * mm, 20 * mm, 30 * mm]))

    p.append(Paragraph("三、评价结果", st["h"]))
    group_n = r.get("class_n")
    ranked = [
        ["总得分", "扣分", "县内排名", "县内同行业排名", f"分类排名（{r.get('class_group') or ''}）", "类别"],
        [
            _fmt(r["total_score"]),
            _fmt(r["deduction"]),
            f"{r['rank_in_county']}/{r['county_count']}",
            f"{r['rank_in_industry']}/{r['industry_count']}",
            f"{r.get('class_rank')}/{group_n}",
            f"{r['class']}类（{rule.label(r['class'])}）",
        ],
    ]
    p.append(_table(ranked, [22 * mm, 16 * mm, 24 * mm, 28 * mm, 42 * mm, 38 * mm]))
    if r.get("veto_reason"):
        p.append(Paragraph(escape(f"因{r['veto_reason']}，实行一票否决，评为{r['class']}类。"), st["body"]))
    if r.get("prev_class"):
        change = r.get("score_change")
        moved = r.get("class_change") or 0
        trend = "上升" if moved > 0 else "下降" if moved < 0 else "持平"
        p.append(
            Paragraph(
                f"上年度评为{r['prev_class']}类、得分{_fmt(r['prev_score'])}分；本年度得分变化"
                f"{'+' if (change or 0) > 0 else ''}{_fmt(change)}分，类别{trend}。",
                st["body"],
            )
        )

    p.append(Paragraph("四、差别化政策", st["h"]))
    for line in _policy_lines(r):
        p.append(Paragraph(escape(line), st["indent"]))

    p.append(Paragraph("五、评价说明", st["h"]))
    for s in n.scores:
        ind = next((i for i in system.indicators if i.id == s["indicator"]), None)
        if ind is not None and _hidden(n, ind.id):
            p.append(Paragraph(escape(f"{ind.name}：****（涉税数据，无查看权限）。"), st["indent"]))
        elif ind is not None:
            p.append(Paragraph(escape(indicator_text(ind, s, system)), st["indent"]))
    if r["deduction"]:
        p.append(
            Paragraph(
                escape(f"因存在{r['sublet_tenants']}户出租转租，扣{_fmt(r['deduction'])}分。"), st["indent"]
            )
        )
    p.append(
        Paragraph(
            "如对评价结果有异议，可通过企业码“诉求”或向所在县（市、区）经济和信息化主管部门申请复核。",
            st["indent"],
        )
    )
    p.append(Spacer(1, 8 * mm))
    issued = run["created_at"].date() if isinstance(run.get("created_at"), dt.datetime) else dt.date.today()
    p.append(Paragraph(escape(f"{county}经济和信息化局"), st["right"]))
    p.append(Paragraph(f"{issued.year}年{issued.month}月{issued.day}日", st["right"]))
    p.append(Spacer(1, 6 * mm))
    p.append(
        Paragraph(
            escape(
                f"评价批次 {run['run_id']}，评价体系 {system.id}（{system.version}），"
                f"配置指纹 {str(run['config_hash'])[:12]}。本告知书由数字经信平台生成。"
            ),
            st["small"],
        )
    )
    return p


def render_notice(notice: Notice) -> bytes:
    """One notice as PDF bytes (A4)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    buf = io.BytesIO()
    r = notice.result
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=16 * mm,
        title=f"{notice.run['year']}年度亩均效益综合评价结果告知书 {r['name']}",
        author="数字经信平台",
        invariant=1,  # the same notice gives the same bytes (no creation time in the file)
    )
    doc.build(_story(notice))
    return buf.getvalue()


def notice_pdf(
    wh: Warehouse, run_id: str, credit_code: str, scope: Scope = EVERYTHING, *, masked: bool = False
) -> bytes | None:
    """The notice of one enterprise of a run as PDF, or None when it has no result in `scope`
    (so an enterprise outside the caller's scope looks exactly like one that does not exist).
    `masked`: tax figures shown as **** (a reader without clearance)."""
    found = load_notices(wh, run_id, scope, credit_code)
    if not found:
        return None
    found[0].masked = masked
    return render_notice(found[0])


def notice_file_name(notice: Notice) -> str:
    """`<credit code>_<name>.pdf` (a name with characters a file system refuses is cleaned)."""
    name = "".join(ch for ch in (notice.result["name"] or "") if ch not in '\\/:*?"<>|\n\r\t').strip()
    return f"{notice.result['credit_code']}_{name or '企业'}.pdf"


def write_zip(notices: Iterable[Notice], out_path: Path, total: int, progress: Progress | None = None) -> int:
    """Write `notices` as PDFs into the zip `out_path` (written to a temporary name first and
    renamed, so a failed job leaves no half file); returns how many were written."""
    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.name + ".part")
    done = 0
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for notice in notices:
                zf.writestr(notice_file_name(notice), render_notice(notice))
                done += 1
                if progress is not None:
                    progress(done, total)
        tmp.replace(out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return done


def render_county_notices(
    warehouse: Warehouse,
    run_id: str,
    county_code: str,
    out_path: Path | str,
    progress: Progress | None = None,
) -> int:
    """All notices of `county_code` (a county, city or the province code) in run `run_id` as
    one zip of PDFs at `out_path`; returns the number of notices. `progress(done, total)` is
    called after each one (for a job's progress bar)."""
    scope = EVERYTHING if county_code in ("", "330000") else Scope(division=county_code)
    notices = load_notices(warehouse, run_id, scope)
    if progress is not None:
        progress(0, len(notices))
    return write_zip(notices, Path(out_path), len(notices), progress)
