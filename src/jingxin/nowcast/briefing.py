"""The nowcast section of the monthly briefing (运行监测月报, `jingxin.monitoring.briefing`).

The briefing shows the newest stored nowcast of its month and region; it never fits a model
itself, so a briefing costs no more when a nowcast exists. The caller has already checked the
reader's scope for `region` (the briefing is made for one region), so the region's own scope is
used here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jingxin.core.scope import Scope
from jingxin.nowcast.service import latest_run, run_view

if TYPE_CHECKING:
    from jingxin.core.warehouse import Warehouse


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def briefing_section(wh: Warehouse, year: int, month: int, region: str) -> dict[str, Any] | None:
    """Title, paragraphs and table of the newest nowcast of `year`-`month` for `region`, or
    None when no nowcast of that month holds the region."""
    scope = Scope(division=region)
    target = f"{year:04d}-{month:02d}"
    run = latest_run(wh, scope, target, region)
    if run is None:
        return None
    view = run_view(wh, scope, str(run["run_id"]), region)
    month_rows = [e for e in view["estimates"] if e["kind"] == "month"]
    dfm = next((e for e in month_rows if e["model"] == "dfm"), None)
    paragraphs = [
        f"截至 {view['as_of']}，{view['region_name']}{year}年{month}月规上工业增加值当月同比的现时预测"
        + (
            f"为 {_pct(dfm['point'])}（90%区间 {_pct(dfm['lower'])} 至 {_pct(dfm['upper'])}）。"
            if dfm and dfm["point"] is not None
            else "未能由动态因子模型给出，见下表其他方法。"
        ),
        "预测依据当日已到的用电、发票等数据；统计局正式数据发布后以正式数据为准。",
    ]
    moved = sorted(
        (n for n in view["news"] if n["impact"] is not None), key=lambda n: abs(n["impact"]), reverse=True
    )[:3]
    if moved and view["news_compared_as_of"]:
        parts = "；".join(f"{n['label']} {n['impact']:+.2f} 个百分点" for n in moved)
        paragraphs.append(f"与 {view['news_compared_as_of']} 的预测相比，变动主要来自：{parts}。")
    rows = [
        [
            e["model_label"],
            "当月" if e["kind"] == "month" else f"季度（{e['period']}）",
            _pct(e["point"]),
            f"{_pct(e['lower'])} ~ {_pct(e['upper'])}" if e["lower"] is not None else "—",
            _pct(e["official"]),
        ]
        for e in view["estimates"]
    ]
    return {
        "title": "规上工业增加值增速现时预测",
        "paragraphs": paragraphs,
        "table": {"columns": ["方法", "期间", "预测值", "区间", "正式数据"], "rows": rows},
    }
