"""The map of the "415" clusters (集群分布图) on the clusters page.

Drawn by the platform's region map (`static/js/evaluation.js`, `[data-region-map]`, the same
boundaries `/api/v1/geo/{code}` as the evaluation, monitoring and park maps): the divisions
under the map's region (the cities of the province, the counties of a city, or the county
itself) coloured by the cluster output located there, and one point per cluster in each of its
home regions (集聚地), labelled with its rank, that opens the cluster when clicked.

A cluster's **home regions** are the divisions on the map holding at least `HOME_SHARE` of its
output (January to the month, members inside the reader's region), and always the largest one;
a cluster with no output in the region has no point. `HOME_SHARE` is a project assumption (no
provincial document defines where a cluster "is"). Several clusters at home in one division sit
on a small circle around the division's inside point (`reference.geo.point`) so none hides
another.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from jingxin import reference
from jingxin.reference.geo import point

HOME_SHARE = 0.25  # project assumption: a division with a quarter of a cluster's output is a home
TIERS = {  # point groups: tier → label, colour
    "world_class": ("世界级先进制造业集群", "#d1495b"),
    "advantage": ("优势产业集群", "#f3a712"),
}
MEASURES = {
    "output": {"name": "集群产值合计", "unit": "万元", "decimals": 0},
    "homes": {"name": "以此为集聚地的集群", "unit": "个", "decimals": 0},
}


def _children(region: str) -> list[Any]:
    level = reference.division(region).level
    if level == "province":
        return list(reference.cities())
    if level == "city":
        return [c for c in reference.counties() if c.parent_code == region]
    return [reference.division(region)]


def _child_of(region: str, county_code: str) -> str:
    """The map division (city on the province map, else county) a county falls in."""
    return county_code[:4] + "00" if region == "330000" else county_code


def homes(shares: dict[str, float]) -> list[str]:
    """The home divisions of one cluster from its output by division (see the docstring)."""
    total = sum(v for v in shares.values() if v > 0)
    if total <= 0:
        return []
    ranked = sorted(((v, k) for k, v in shares.items() if v > 0), reverse=True)
    return [k for i, (v, k) in enumerate(ranked) if i == 0 or v / total >= HOME_SHARE]


def map_config(data: dict[str, Any], region: str, month: str) -> dict[str, Any]:
    """The map's configuration for `data` (`service.cluster_overview` read in the map's region)."""
    children = _children(region)
    names = {c.code: c.name for c in children}
    output: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in data["by_county"]:
        child = _child_of(region, r["county_code"])
        if child in names and r["output"] is not None:
            output[r["cluster_id"]][child] += float(r["output"])
    by_child: dict[str, float] = defaultdict(float)
    for per in output.values():
        for child, value in per.items():
            by_child[child] += value
    clusters = {c["cluster_id"]: c for c in data["clusters"]}
    placed: dict[str, list[tuple[dict[str, Any], float]]] = defaultdict(list)
    for cid, per in output.items():
        total = sum(per.values())
        for child in homes(per):
            placed[child].append((clusters[cid], per[child] / total))
    radius = 0.12 if region == "330000" else 0.04  # degrees: apart on a city, inside a county
    points = []
    for child, items in placed.items():
        lon, lat = point(child)
        items.sort(key=lambda item: item[0]["rank"])
        for i, (c, share) in enumerate(items):
            angle = 2 * math.pi * i / len(items)
            spread = radius if len(items) > 1 else 0.0
            points.append(
                {
                    "name": f"{c['rank']} {c['name']}",
                    "value": [
                        round(lon + spread * math.cos(angle), 4),
                        round(lat + spread * math.sin(angle), 4),
                    ],
                    "group": c["tier"],
                    "url": f"/chains/clusters/{c['cluster_id']}?month={month}",
                    "tip": f"第 {c['rank']} 名 {c['name']}（{TIERS[c['tier']][0]}）<br>"
                    f"{names[child]}：产值 {output[c['cluster_id']][child]:,.0f} 万元，"
                    f"占该集群 {share:.0%}",
                }
            )
    counts: defaultdict[str, int] = defaultdict(int)
    for p in points:
        counts[p["group"]] += 1
    return {
        "geo_url": f"/api/v1/geo/{region}",
        "map_name": f"clusters-{region}",
        "measure": "output",
        "measures": MEASURES,
        "regions": [
            {
                "code": c.code,
                "name": c.name,
                "output": round(by_child[c.code], 2) if c.code in by_child else None,
                "homes": len(placed.get(c.code, [])),
            }
            for c in children
        ],
        "drill": {"url": f"/chains/clusters?region={{code}}&month={month}"},
        "points": points,
        "point_groups": [
            {"key": k, "label": label, "color": colour, "count": counts.get(k, 0)}
            for k, (label, colour) in TIERS.items()
        ],
    }
