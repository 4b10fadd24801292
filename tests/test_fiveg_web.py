"""5G pages through HTTP: the station map and the survey schedule, and who sees what.

Two operators (the demo operator `yidong` and `liantong`) file applications in 西湖区 and
鹿城区. An operator sees its own applications on the list, the schedule, the map and the detail
pages, and none of the other's (404 for a direct link, absent from every list and map); a
county analyst maps its county only; a liaison, an enterprise and service staff get no map.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest

from jingxin.core.calendar import CHINA_TZ, default_calendar
from jingxin.core.workflow.testing import make_people
from jingxin.fiveg import service
from jingxin.web.testing import DEMO_PASSWORD, login

pytest_plugins = ["jingxin.web.pytest_fixtures"]


def _config(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="fiveg-map-config">(.*?)</script>', page, re.S)
    assert found, "no map configuration on the page"
    return json.loads(found.group(1))


def _as(client: Any, user: str) -> str:
    client.cookies.clear()
    return login(client, user, DEMO_PASSWORD)


@pytest.fixture
def sites(web_app: Any) -> dict[str, int]:
    with web_app.state.db.session() as db:
        people = make_people(db, DEMO_PASSWORD)
        made = {}
        for key, who, county, lon, lat in (
            ("yd_xihu", "yidong", "330106", 120.11, 30.27),
            ("yd_lucheng", "yidong", "330302", 120.65, 28.02),
            ("lt_xihu", "liantong", "330106", 120.12, 30.26),
        ):
            item = service.file_application(
                db,
                people[who],
                county=county,
                site_name=f"站点-{key}",
                site_type="pole",
                power="grid",
                lon=lon,
                lat=lat,
            )
            made[key] = item.id
        db.commit()
    return made


def test_operator_sees_only_its_own_applications_everywhere(web_client: Any, sites: dict[str, int]) -> None:
    c = web_client
    _as(c, "liantong")
    listing = c.get("/fiveg").text
    assert "站点-lt_xihu" in listing and "站点-yd_" not in listing
    assert "联合踏勘日程" in listing  # its own application waits for its survey
    for key in ("yd_xihu", "yd_lucheng"):
        assert c.get(f"/fiveg/{sites[key]}").status_code == 404
    page = c.get("/fiveg/map")
    assert page.status_code == 200
    config = _config(page.text)
    assert [p["name"] for p in config["points"]] == ["站点-lt_xihu"]
    assert config["geo_url"] == "/fiveg/map/geo/330000" and "站点-yd_" not in page.text
    assert {r["code"]: r["open"] for r in config["regions"]}["330100"] == 1
    assert sum(r["open"] for r in config["regions"]) == 1  # nothing of the other operator counted
    drilled = _config(c.get("/fiveg/map?region=330300").text)  # 温州: yidong's site is not there for it
    assert drilled["points"] == [] and sum(r["open"] for r in drilled["regions"]) == 0
    geo = c.get("/fiveg/map/geo/330000")
    assert geo.status_code == 200 and len(geo.json()["features"]) == 11
    token = _as(c, "yidong")
    config = _config(c.get("/fiveg/map").text)
    assert sorted(p["name"] for p in config["points"]) == ["站点-yd_lucheng", "站点-yd_xihu"]
    assert all(p["group"] == "survey" for p in config["points"])
    # the operator cannot schedule its own survey nor act on the other's application
    day = default_calendar().next_working_day(datetime.now(CHINA_TZ).date()).isoformat()
    own = c.post(f"/fiveg/{sites['yd_xihu']}/schedule_survey", data={"survey_on": day, "csrf_token": token})
    assert own.status_code == 403
    other = c.post(f"/fiveg/{sites['lt_xihu']}/report_built", data={"value": day, "csrf_token": token})
    assert other.status_code == 404


def test_county_maps_its_region_and_other_roles_get_no_map(web_client: Any, sites: dict[str, int]) -> None:
    c = web_client
    _as(c, "xihu")
    config = _config(c.get("/fiveg/map").text)
    assert config["geo_url"] == "/fiveg/map/geo/330106"
    assert sorted(p["name"] for p in config["points"]) == ["站点-lt_xihu", "站点-yd_xihu"]
    assert [r["code"] for r in config["regions"]] == ["330106"] and config["regions"][0]["open"] == 2
    assert c.get("/fiveg/map?region=330300").status_code == 404
    assert c.get("/fiveg/map?region=330100").status_code == 404  # the city is above the county
    assert c.get("/fiveg/map/geo/330300").status_code == 404
    assert c.get("/fiveg/map/geo/330106").status_code == 200
    assert c.get(f"/fiveg/{sites['yd_lucheng']}").status_code == 404
    _as(c, "sheng")
    province = _config(c.get("/fiveg/map").text)
    assert len(province["points"]) == 3 and len(province["regions"]) == 11
    wenzhou = _config(c.get("/fiveg/map?region=330300").text)
    assert [p["name"] for p in wenzhou["points"]] == ["站点-yd_lucheng"]
    assert {r["code"]: r["open"] for r in wenzhou["regions"]}["330302"] == 1
    assert c.get("/fiveg/map?region=110101").status_code == 404  # not a division of the province
    for user in ("liaison-dl", "qiye", "fuwu"):
        _as(c, user)
        assert c.get("/fiveg/map").status_code == 403
        assert c.get("/fiveg/map/geo/330000").status_code == 403
