"""ECharts options of the county pages (data only: static/js draws them, no inline script)."""

from __future__ import annotations

from typing import Any

from jingxin.core.scope import Scope
from jingxin.places.county import CountyIndex
from jingxin.reference import divisions

__all__ = ["map_config", "radar", "trend"]


def map_config(ci: CountyIndex, scope: Scope, region: str) -> dict[str, Any] | None:
    """The region map of evaluation.js: the province shows its cities (设区市 group), a city
    its counties (全省县（市、区） group); a click on a city drills down, on a county opens its
    scorecard. Only places in scope carry values."""
    level = "city" if region == "330000" else "county"
    group = next((g for g in ci.groups if g.code == ("cities" if level == "city" else "counties")), None)
    if group is None:
        return None
    names = {d.code: d.name for d in divisions()}
    regions = [
        {"code": c, "name": names[c], "score": round(float(r["score"]), 2), "rank": int(r["rank"])}
        for c, r in group.table.iterrows()
        if scope.allows_division(c) and (level == "city" or c.startswith(region[:4]))
    ]
    return {
        "geo_url": f"/api/v1/geo/{region}",
        "map_name": f"places-{region}",
        "measure": "score",
        "measures": {"score": {"name": f"综合得分（{group.name}）", "unit": "分"}},
        "regions": regions,
        "drill": {"url": "/places?region={code}" if level == "city" else "/places/county/{code}"},
    }


def radar(group: dict[str, Any]) -> dict[str, Any]:
    """The place's normalised indicator values against the group's mean (0–100)."""
    inds = group["indicators"]
    return {
        "tooltip": {},
        "legend": {"data": ["本地", "组内平均"], "bottom": 0},
        "radar": {
            "indicator": [{"name": i["name"], "max": 100} for i in inds],
            "radius": "62%",
            "axisName": {"fontSize": 10},
        },
        "series": [
            {
                "type": "radar",
                "data": [
                    {
                        "name": "本地",
                        "value": [round(i["normalised"] or 0, 1) for i in inds],
                        "areaStyle": {"opacity": 0.2},
                    },
                    {"name": "组内平均", "value": [round(i["normalised_mean"] or 0, 1) for i in inds]},
                ],
            }
        ],
    }


def trend(card: dict[str, Any]) -> dict[str, Any]:
    """Score per year, one line per evaluation group."""
    years = sorted({t["year"] for t in card["trend"]})
    groups = sorted({t["group"] for t in card["trend"]})
    names = {g["code"]: g["name"] for g in card["groups"]}
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0},
        "xAxis": {"type": "category", "data": [str(y) for y in years]},
        "yAxis": {"type": "value", "name": "综合得分"},
        "series": [
            {
                "type": "line",
                "name": names.get(g, g),
                "data": [
                    next((t["score"] for t in card["trend"] if t["year"] == y and t["group"] == g), None)
                    for y in years
                ],
            }
            for g in groups
        ],
    }
