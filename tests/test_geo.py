from shapely.geometry import shape

from jingxin.reference import cities, counties
from jingxin.reference.geo import boundaries


def test_province_map_has_the_eleven_cities_with_valid_shapes():
    fc = boundaries()
    assert {f["properties"]["code"] for f in fc["features"]} == {c.code for c in cities()}
    for feature in fc["features"]:
        geom = shape(feature["geometry"])
        assert geom.is_valid and not geom.is_empty
        assert 118 < geom.centroid.x < 123 and 27 < geom.centroid.y < 31.5  # inside Zhejiang


def test_every_county_is_on_its_city_map():
    seen = set()
    for city in cities():
        seen |= {f["properties"]["code"] for f in boundaries(city.code)["features"]}
    assert seen == {c.code for c in counties()}


def test_a_county_map_shows_the_county_itself():
    fc = boundaries("331127")
    assert [f["properties"]["name"] for f in fc["features"]] == ["景宁畲族自治县"]
