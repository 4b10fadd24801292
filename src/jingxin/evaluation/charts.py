"""ECharts options of the evaluation pages and the home dashboard (图表配置).

Each builder takes data the viewer may see (already passed through `jingxin.core.visibility`)
and returns an ECharts option as a dict, or None when there is nothing to draw; the page
embeds it as JSON and `web/static/js` draws it. A withheld figure is never drawn.
"""

from __future__ import annotations

from typing import Any

from jingxin.core.audit import MASK

CLASS_COLOURS = {"A+": "#1d6b3f", "A": "#2f7d4f", "B": "#1e4f91", "C": "#d08c1a", "D": "#b8332b"}


MEASURE_SERIES = (("tax_per_mu", "亩均税收", "#1e4f91"), ("value_added_per_mu", "亩均增加值", "#d08c1a"))


def _number(value: Any) -> bool:
    return value is not None and value != MASK


def score_chart(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The total score over the years (None with fewer than two, or when withheld)."""
    if len(history) < 2 or not any(_number(h["total_score"]) for h in history):
        return None
    return {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 8, "right": 24, "top": 32, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [f"{h['year']}年" for h in history]},
        "yAxis": {"type": "value", "scale": True},
        "series": [
            {
                "type": "line",
                "name": "综合得分",
                "data": [round(h["total_score"], 1) if _number(h["total_score"]) else None for h in history],
                "label": {"show": True, "formatter": "{c}"},
                "itemStyle": {"color": "#1e4f91"},
            }
        ],
    }


def classes_chart(classes: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not any(c["count"] for c in classes):
        return None
    return {
        "tooltip": {"trigger": "item", "formatter": "{b}：{c}家（{d}%）"},
        "legend": {"bottom": 0},
        "series": [
            {
                "type": "pie",
                "radius": ["42%", "68%"],
                "center": ["50%", "45%"],
                "label": {"formatter": "{b}\n{c}家"},
                "data": [
                    {
                        "name": f"{c['class']}类 {c['label']}",
                        "value": c["count"],
                        "itemStyle": {"color": CLASS_COLOURS.get(c["class"], "#888")},
                    }
                    for c in classes
                    if c["count"]
                ],
            }
        ],
    }


def trend_chart(trend: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Both per-mu figures on one axis from zero (same unit), so the bars compare honestly."""
    if not trend:
        return None
    shown = [(k, n, c) for k, n, c in MEASURE_SERIES if any(_number(p[k]) for p in trend)]
    if not shown:
        return None

    def series(key: str, name: str, colour: str) -> dict[str, Any]:
        return {
            "type": "bar",
            "name": name,
            "barMaxWidth": 32,
            "data": [round(p[key], 2) if _number(p[key]) else None for p in trend],
            "itemStyle": {"color": colour},
            "label": {"show": True, "position": "top", "fontSize": 11},
        }

    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 8, "top": 40, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [f"{p['year']}年" for p in trend]},
        "yAxis": {"type": "value", "name": "万元/亩"},
        "series": [series(*item) for item in shown],
    }


def ranking_chart(rows: list[dict[str, Any]], by: str, label: str) -> dict[str, Any] | None:
    """The top regions by `by` as horizontal bars (None when nothing to rank)."""
    rows = [r for r in rows if _number(r[by])]
    if not rows:
        return None
    scale = 100 if by == "a_share" else 1
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "grid": {"left": 8, "right": 40, "top": 8, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "value"},
        "yAxis": {"type": "category", "inverse": True, "data": [r["county_name"] for r in rows]},
        "series": [
            {
                "type": "bar",
                "name": label,
                "data": [round(r[by] * scale, 2) for r in rows],
                "itemStyle": {"color": "#1e4f91"},
                "label": {"show": True, "position": "right"},
            }
        ],
    }
