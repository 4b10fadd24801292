"""ECharts options of the nowcast page: the published history with the nowcasts and their
intervals, and the news (what moved the nowcast since the last one)."""

from __future__ import annotations

from typing import Any

COLORS = {"dfm": "#c0392b", "bridge": "#2471a3", "naive": "#7f8c8d"}


def nowcast_chart(view: dict[str, Any]) -> dict[str, Any]:
    """Published 当月同比 (line) and, at the target month, each model's nowcast with its 90%
    interval (a point with error bars drawn as a custom series)."""
    months = [h["month"] for h in view["history"]]
    target = view["target_month"]
    if target not in months:
        months.append(target)
    published = {h["month"]: h["value"] for h in view["history"]}
    series: list[dict[str, Any]] = [
        {
            "name": "已发布",
            "type": "line",
            "data": [published.get(m) for m in months],
            "connectNulls": False,
            "itemStyle": {"color": "#333"},
            "symbolSize": 5,
        }
    ]
    for e in view["estimates"]:
        if e["kind"] != "month":
            continue
        color = COLORS[e["model"]]
        series.append(
            {
                "name": e["model_label"],
                "type": "scatter",
                "symbolSize": 11,
                "itemStyle": {"color": color},
                "data": [[target, round(e["point"], 2)]],
            }
        )
        series.append(
            {
                "name": e["model_label"],
                "type": "line",
                "symbol": "none",
                "lineStyle": {"color": color, "width": 3, "opacity": 0.5},
                "data": [[target, round(e["lower"], 2)], [target, round(e["upper"], 2)]],
                "tooltip": {"show": False},
            }
        )
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 50, "right": 20, "top": 40, "bottom": 40},
        "xAxis": {"type": "category", "data": months},
        "yAxis": {"type": "value", "name": "同比 %"},
        "series": series,
    }


def news_chart(view: dict[str, Any]) -> dict[str, Any] | None:
    """Bars of each indicator's contribution to the change, ending in the total."""
    items = view["news"]
    if not items:
        return None
    labels = [i["label"] for i in items] + ["合计变动"]
    values = [round(i["impact"], 3) for i in items]
    values.append(round(sum(values), 3))
    return {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 170, "right": 30, "top": 20, "bottom": 30},
        "xAxis": {"type": "value", "name": "百分点"},
        "yAxis": {"type": "category", "data": labels, "inverse": True},
        "series": [
            {
                "type": "bar",
                "data": [
                    {"value": v, "itemStyle": {"color": "#c0392b" if v < 0 else "#27ae60"}} for v in values
                ],
                "label": {"show": True, "position": "right", "formatter": "{c}"},
            }
        ],
    }
