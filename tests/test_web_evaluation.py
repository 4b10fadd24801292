"""The 亩均 evaluation in the web app: the home dashboard, results, enterprise profile, county
ranking and leaders, the JSON API, the map boundaries and the Excel export; above all that every
role sees exactly its scope (a county analyst its county, an enterprise itself) and that
sensitive fields are masked or audited.

One small province (four counties in two cities, two years, 规上 both years and 规下 the second)
is built once for the module straight as fact tables (`evaluation.sample`), evaluated, and
served by one app on a SQLite platform database with the demo accounts bound to real
enterprises of 西湖区 (330106).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from jingxin.core import audit
from jingxin.core.audit import MASK, Action
from jingxin.core.scope import Scope
from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation import service
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province
from jingxin.web.testing import DEMO_PASSWORD, login

pytest_plugins = ["jingxin.web.pytest_fixtures"]
pytestmark = pytest.mark.xdist_group("web_evaluation")

XIHU, SHANGCHENG, BINJIANG, LUCHENG = "330106", "330102", "330108", "330302"
COUNTIES = [XIHU, SHANGCHENG, BINJIANG, LUCHENG]
ABOVE, BELOW = "zhejiang_industry_above", "zhejiang_industry_below"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, fast_password_hashing: None) -> Iterator[dict[str, Any]]:
    """The warehouse, the app and what the tests need to know about both."""
    from jingxin.accounts.demo import create_demo_users
    from jingxin.core.db import upgrade
    from jingxin.core.settings import Settings
    from jingxin.web.app import create_app

    home = tmp_path_factory.mktemp("web_eval")
    wh_url = f"duckdb:///{home / 'warehouse.duckdb'}"
    wh = open_warehouse(wh_url)
    try:
        load_facts(wh, province(1600, years=(2020, 2021), seed=5, counties=COUNTIES))
        runs = {
            (2020, ABOVE): run_evaluation(wh, ABOVE, 2020).run_id,
            (2021, ABOVE): run_evaluation(wh, ABOVE, 2021).run_id,
            (2021, BELOW): run_evaluation(wh, BELOW, 2021).run_id,
        }
        latest = runs[(2021, ABOVE)]
        t = service.results(wh, latest)
        rows = wh.execute(t.select("credit_code", "name", "county_code", "tax_paid").order_by("credit_code"))
    finally:
        wh.close()
    by_county = {c: rows[rows.county_code == c] for c in COUNTIES}
    xihu = by_county[XIHU]
    own, neighbour = xihu.iloc[0], xihu.iloc[1]
    staff = list(xihu.credit_code.iloc[:2])
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    app = create_app(
        Settings(home=home, database_url=db_url, warehouse=wh_url, secret_key="test"), migrate=False
    )
    with app.state.db.session() as db:
        create_demo_users(db, DEMO_PASSWORD, enterprise_code=own.credit_code, staff_enterprises=staff)
        db.commit()
    clients: dict[str, TestClient] = {}

    def client(username: str) -> TestClient:
        if username not in clients:
            c = TestClient(app, base_url="http://testserver")
            login(c, username)
            clients[username] = c
        return clients[username]

    yield {
        "app": app,
        "client": client,
        "runs": runs,
        "latest": latest,
        "rows": rows,
        "own": own,
        "neighbour": neighbour,
        "staff": staff,
        "other": by_county[SHANGCHENG].iloc[0],
        "far": by_county[LUCHENG].iloc[0],
    }
    app.state.warehouse.close()
    app.state.db.dispose()


def _audit(app: Any, action: str, username: str | None = None) -> list[audit.AuditEntry]:
    with app.state.db.session() as db:
        return audit.search(db, action=action, username=username, limit=500)[0]


def _no_external_assets(html: str) -> None:
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not url.startswith(("http:", "https:", "//")), url


# ---- pages per role -------------------------------------------------------------------------
PAGES = {
    # username: {path: expected status}
    "admin": {"/": 200, "/evaluation": 200, "/ranking": 200, "/evaluation/enterprises/{other}": 200},
    "sheng": {"/": 200, "/evaluation": 200, "/ranking": 200, "/evaluation/enterprises/{far}": 200},
    "hangzhou": {"/": 200, "/evaluation": 200, "/ranking": 200, "/evaluation/enterprises/{far}": 404},
    "xihu": {"/": 200, "/evaluation": 200, "/ranking": 200, "/evaluation/enterprises/{other}": 404},
    "fuwu": {"/": 200, "/evaluation": 200, "/ranking": 403, "/evaluation/enterprises/{own}": 200},
    "qiye": {
        "/evaluation/enterprises/{own}": 200,
        "/ranking": 403,
        "/evaluation/enterprises/{neighbour}": 404,
    },
    "liaison-sw": {"/": 200, "/evaluation": 403, "/ranking": 403, "/evaluation/enterprises/{own}": 403},
}


@pytest.mark.parametrize("username", list(PAGES))
def test_pages_render_in_chinese_for_each_role(world, username: str) -> None:
    client = world["client"](username)
    codes = {k: world[k].credit_code for k in ("own", "neighbour", "other", "far")}
    for template, status in PAGES[username].items():
        path = template.format(**codes)
        response = client.get(path)
        assert response.status_code == status, (username, path, response.text[:300])
        html = response.text
        assert '<html lang="zh-CN">' in html and "数字经信" in html
        _no_external_assets(html)
        if status == 404:
            # the answer never names the enterprise that exists elsewhere
            for key in ("other", "far", "neighbour"):
                if codes[key] in path:
                    assert world[key]["name"] not in html


def test_dashboard_shows_the_users_region(world) -> None:
    province_page = world["client"]("sheng").get("/").text
    assert "浙江省亩均效益看板" in province_page and "杭州市" in province_page and "温州市" in province_page
    assert '"geo_url": "/api/v1/geo/330000"' in province_page

    city = world["client"]("hangzhou").get("/").text
    assert "杭州市亩均效益看板" in city and "/api/v1/geo/330100" in city
    assert "西湖区" in city and "滨江区" in city and "鹿城区" not in city

    county = world["client"]("xihu").get("/").text
    assert "西湖区亩均效益看板" in county and "/api/v1/geo/330106" in county
    region_list = county.split('id="region-list"', 1)[1].split("</table>", 1)[0]
    assert "西湖区" in region_list
    for name in ("上城区", "滨江区", "鹿城区", "杭州市"):
        assert name not in region_list
    config = json.loads(re.search(r'id="region-map-config">(.*?)</script>', county, re.S).group(1))
    assert [r["code"] for r in config["regions"]] == [XIHU]


def test_dashboard_drills_down_province_city_county(world) -> None:
    sheng = world["client"]("sheng")
    city = sheng.get("/?region=330100")
    assert city.status_code == 200 and "杭州市亩均效益看板" in city.text and "返回上级" in city.text
    county = sheng.get("/?region=330106&year=2021&system=zhejiang_industry_above")
    assert county.status_code == 200 and "西湖区亩均效益看板" in county.text
    api = sheng.get("/api/v1/dashboard", params={"region": "330100"}).json()
    assert api["region"] == {
        "code": "330100",
        "name": "杭州市",
        "level": "city",
        "parent": "330000",
        "children": "county",
    }
    assert {r["code"] for r in api["regions"]} == {XIHU, SHANGCHENG, BINJIANG}
    # the city analyst cannot go up to the province, nor sideways to Wenzhou
    hangzhou = world["client"]("hangzhou")
    assert hangzhou.get("/?region=330000").status_code == 404
    assert hangzhou.get("/?region=330300").status_code == 404
    assert hangzhou.get("/api/v1/dashboard", params={"region": "330302"}).status_code == 404
    assert hangzhou.get("/api/v1/dashboard").json()["region"]["parent"] is None


def test_dashboard_figures_are_sums_over_sums_with_change_on_last_year(world) -> None:
    api = world["client"]("sheng").get("/api/v1/dashboard", params={"year": 2021}).json()
    assert api["run"]["run_id"] == world["latest"]
    with world["app"].state.warehouse.reader() as wh:
        now = service.class_counts(wh, world["latest"], by="province")[0]
        before = service.class_counts(wh, world["runs"][(2020, ABOVE)], by="province")[0]
    head = api["headline"]
    assert head["tax_per_mu"] == pytest.approx(now["tax_paid"] / now["land_mu"])
    assert head["value_added_per_mu"] == pytest.approx(now["value_added"] / now["land_mu"])
    assert head["prev_year"] == 2020
    assert head["tax_per_mu_change"] == pytest.approx(now["tax_per_mu"] / before["tax_per_mu"] - 1)
    assert sum(c["count"] for c in api["classes"]) == head["enterprises"] == now["enterprises"]
    assert sum(r["enterprises"] for r in api["regions"]) == head["enterprises"]
    assert [p["year"] for p in api["trend"]] == [2020, 2021]
    below = world["client"]("sheng").get("/api/v1/dashboard", params={"system": BELOW}).json()
    assert below["run"]["run_id"] == world["runs"][(2021, BELOW)]
    assert below["headline"]["prev_year"] is None  # no 规下 run for 2020


# ---- map boundaries -------------------------------------------------------------------------
def test_geo_boundaries_only_inside_the_scope(world) -> None:
    sheng = world["client"]("sheng")
    cities = sheng.get("/api/v1/geo/330000")
    assert cities.status_code == 200
    assert len(cities.json()["features"]) == 11
    etag = cities.headers["etag"]
    assert "max-age" in cities.headers["cache-control"]
    assert sheng.get("/api/v1/geo/330000", headers={"If-None-Match": etag}).status_code == 304

    hangzhou = world["client"]("hangzhou")
    counties = hangzhou.get("/api/v1/geo/330100").json()
    names = {f["properties"]["name"] for f in counties["features"]}
    assert "西湖区" in names and all(f["properties"]["code"].startswith("3301") for f in counties["features"])
    assert hangzhou.get("/api/v1/geo/330000").status_code == 404
    assert hangzhou.get("/api/v1/geo/330300").status_code == 404

    xihu = world["client"]("xihu")
    own = xihu.get("/api/v1/geo/330106").json()
    assert [f["properties"]["code"] for f in own["features"]] == [XIHU]
    for code in ("330000", "330100", "330102", "330300"):
        response = xihu.get(f"/api/v1/geo/{code}")
        assert response.status_code == 404 and "features" not in response.text
    assert world["client"]("qiye").get("/api/v1/geo/330106").status_code == 403


# ---- scope of the county analyst ------------------------------------------------------------
def test_county_analyst_sees_only_their_county(world) -> None:
    xihu = world["client"]("xihu")
    other, far = world["other"], world["far"]
    listing = xihu.get("/api/v1/evaluation/results", params={"page_size": 500}).json()
    assert listing["total"] > 0
    assert {r["county_code"] for r in listing["items"]} == {XIHU}
    page = xihu.get("/evaluation").text
    assert other["name"] not in page and "上城区" not in page.split('id="results-table"', 1)[1]
    # another county's enterprise: not found, whichever way it is asked for
    for path in (
        f"/evaluation/enterprises/{other.credit_code}",
        f"/api/v1/evaluation/enterprises/{other.credit_code}",
        f"/api/v1/evaluation/enterprises/{far.credit_code}",
        f"/evaluation?county={SHANGCHENG}",
        f"/api/v1/evaluation/results?county={SHANGCHENG}",
        f"/?region={SHANGCHENG}",
        "/api/v1/dashboard?region=330100",
    ):
        response = xihu.get(path)
        assert response.status_code == 404, path
        assert other["name"] not in response.text and other.credit_code not in response.text.replace(path, "")
    # a search by another county's name or code finds nothing
    for q in (other["name"], other.credit_code):
        found = xihu.get("/api/v1/evaluation/results", params={"q": q}).json()
        assert found["total"] == 0 and found["items"] == []
    ranking = xihu.get("/api/v1/evaluation/ranking").json()
    assert [r["county_code"] for r in ranking["items"]] == [XIHU]
    leaders = xihu.get("/api/v1/evaluation/leaders").json()
    assert all(e["county_code"] == XIHU for g in leaders["industries"] for e in g["items"])


def test_excel_download_holds_only_rows_in_scope_and_is_audited(world) -> None:
    xihu = world["client"]("xihu")
    before = len(_audit(world["app"], Action.EXPORT, "xihu"))
    response = xihu.get("/evaluation/export.xlsx", params={"year": 2021, "system": ABOVE})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(XLSX)
    assert "attachment" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    assert "汇总" in book.sheetnames and "全部企业" in book.sheetnames
    sheet = book["全部企业"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    header, data = rows[0], [r for r in rows[1:] if r[0] is not None]
    county = header.index("区县代码")
    code = header.index("统一社会信用代码")
    expected = world["rows"][world["rows"].county_code == XIHU]
    assert len(data) == len(expected) > 0
    assert {r[county] for r in data} == {XIHU}
    assert {r[code] for r in data} == set(expected.credit_code)
    entries = _audit(world["app"], Action.EXPORT, "xihu")
    assert len(entries) == before + 1
    entry = entries[0]
    assert entry.object_id == world["latest"] and entry.detail["rows"] == len(expected)
    assert entry.detail["scope"] == XIHU
    # the API serves the same workbook, audited too
    api = xihu.get("/api/v1/evaluation/results.xlsx", params={"run_id": world["latest"]})
    assert api.status_code == 200 and api.headers["content-type"].startswith(XLSX)
    assert len(_audit(world["app"], Action.EXPORT, "xihu")) == before + 2
    # roles that only see single enterprises may not export lists
    for username in ("qiye", "fuwu"):
        assert world["client"](username).get("/evaluation/export.xlsx").status_code == 403
        assert world["client"](username).get("/api/v1/evaluation/results.xlsx").status_code == 403


def test_city_analyst_export_covers_the_city(world) -> None:
    response = world["client"]("hangzhou").get("/api/v1/evaluation/results.xlsx")
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    rows = list(book["全部企业"].iter_rows(min_row=2, values_only=True))
    county = rows[0].index("区县代码")
    assert {r[county] for r in rows[1:] if r[0] is not None} == {XIHU, SHANGCHENG, BINJIANG}


# ---- the enterprise user ----------------------------------------------------------------------
def test_enterprise_user_sees_only_itself(world) -> None:
    qiye = world["client"]("qiye")
    own, neighbour = world["own"], world["neighbour"]
    home = qiye.get("/", follow_redirects=False)
    assert (
        home.status_code == 303 and home.headers["location"] == f"/evaluation/enterprises/{own.credit_code}"
    )
    page = qiye.get("/")
    assert page.status_code == 200 and own["name"] in page.text and "贵企业" in page.text
    assert "本企业评价" in page.text  # its own navigation entry
    assert qiye.get("/evaluation", follow_redirects=False).headers["location"] == "/evaluation/mine"
    listing = qiye.get("/api/v1/evaluation/results").json()
    assert [r["credit_code"] for r in listing["items"]] == [own.credit_code]
    assert listing["items"][0]["tax_paid"] == pytest.approx(own.tax_paid)  # its own figures, unmasked
    for path in (
        f"/evaluation/enterprises/{neighbour.credit_code}",
        f"/api/v1/evaluation/enterprises/{neighbour.credit_code}",
    ):
        response = qiye.get(path)
        assert response.status_code == 404 and neighbour["name"] not in response.text
    for path in ("/ranking", "/api/v1/dashboard", "/api/v1/evaluation/ranking", "/api/v1/evaluation/leaders"):
        assert qiye.get(path).status_code == 403, path
    runs = {r["run_id"] for r in qiye.get("/api/v1/evaluation/runs").json()}
    assert runs == {rid for rid in world["runs"].values() if _has(world, rid, own.credit_code)}


def _has(world: dict[str, Any], run_id: str, credit_code: str) -> bool:
    with world["app"].state.warehouse.reader() as wh:
        t = service.results(wh, run_id, Scope(credit_code=credit_code))
        return int(wh.execute(t.count())) > 0


# ---- profile, explanation, masking --------------------------------------------------------------
def test_profile_explains_the_result_and_its_policies(world) -> None:
    sheng = world["client"]("sheng")
    code = world["own"].credit_code
    api = sheng.get(f"/api/v1/evaluation/enterprises/{code}").json()
    assert api["master"]["credit_code"] == code and api["master"]["county_name"] == "西湖区"
    assert api["land"] and all(p["area_mu"] > 0 for p in api["land"])
    assert api["run"]["run_id"] in set(world["runs"].values())
    exp = api["explanation"]
    assert exp["summary"].startswith("贵企业")
    lines = {line["indicator"]: line for line in exp["indicators"]}
    assert {"tax_per_mu", "value_added_per_mu"} <= set(lines)
    for line in lines.values():
        assert {"value", "reference", "weight", "score", "lost", "text"} <= set(line)
        if line["weight"] and not line["missing"]:
            assert line["lost"] == pytest.approx(max(0.0, line["weight"] - line["score"]))
    assert exp["advice"]
    assert [p["item"] for p in api["policies"]] == [
        "城镇土地使用税减免",
        "差别化电价",
        "用能指标",
        "要素优先保障",
    ]
    assert [h["year"] for h in api["history"]] == sorted(h["year"] for h in api["history"])
    page = sheng.get(f"/evaluation/enterprises/{code}").text
    for text in (
        "主体信息",
        "用地信息",
        "得分构成",
        "如何提升一档",
        "差别化政策",
        "历年分类",
        exp["summary"],
    ):
        assert text in page
    # another of its runs, by id; a run it is not in answers 404
    first = api["history"][0]["run_id"]
    assert sheng.get(f"/evaluation/enterprises/{code}", params={"run": first}).status_code == 200
    assert sheng.get(f"/evaluation/enterprises/{code}", params={"run": "2021-nope"}).status_code == 404


def test_sensitive_fields_masked_without_clearance_and_views_audited(world) -> None:
    app, code = world["app"], world["staff"][0]
    fuwu = world["client"]("fuwu")
    api = fuwu.get(f"/api/v1/evaluation/enterprises/{code}").json()
    assert api["masked"] is True
    assert api["result"]["tax_paid"] == MASK and api["result"]["tax_per_mu"] == MASK
    tax_line = next(line for line in api["explanation"]["indicators"] if line["indicator"] == "tax_per_mu")
    assert tax_line["value"] == MASK and tax_line["score"] == MASK and "无权查看" in tax_line["text"]
    assert all(o["indicator"] != "tax_per_mu" for o in api["explanation"]["options"])
    assert all(r["value"] == MASK for r in api["indicators"] if r["indicator"] == "tax_per_mu")
    listing = fuwu.get("/api/v1/evaluation/results").json()
    assert {r["credit_code"] for r in listing["items"]} == set(world["staff"])
    assert all(r["tax_paid"] == MASK for r in listing["items"])
    page = fuwu.get(f"/evaluation/enterprises/{code}").text
    tax = world["rows"].set_index("credit_code").loc[code, "tax_paid"]
    assert MASK in page and f"{tax:,.2f}" not in page
    assert not _audit(app, Action.VIEW_SENSITIVE, "fuwu")
    before = len(_audit(app, Action.VIEW_SENSITIVE, "sheng"))
    world["client"]("sheng").get(f"/evaluation/enterprises/{code}")
    entries = _audit(app, Action.VIEW_SENSITIVE, "sheng")
    assert len(entries) == before + 1
    assert entries[0].object_type == "enterprise" and entries[0].object_id == code
    assert "tax_paid" in entries[0].detail["fields"]


# ---- results list -------------------------------------------------------------------------------
def test_results_filters_sort_search_and_htmx_fragment(world) -> None:
    sheng = world["client"]("sheng")
    a = sheng.get("/api/v1/evaluation/results", params={"cls": "A", "page_size": 500}).json()
    assert a["total"] > 0 and {r["class"] for r in a["items"]} == {"A"}
    county = sheng.get("/api/v1/evaluation/results", params={"county": LUCHENG, "page_size": 500}).json()
    assert {r["county_code"] for r in county["items"]} == {LUCHENG}
    by_name = sheng.get("/api/v1/evaluation/results", params={"sort": "name", "page_size": 50}).json()
    names = [r["name"] for r in by_name["items"]]
    assert names == sorted(names)
    by_score = sheng.get("/api/v1/evaluation/results", params={"page_size": 50}).json()
    scores = [r["total_score"] for r in by_score["items"]]
    assert scores == sorted(scores, reverse=True)
    far = world["far"]
    for q in (far.credit_code[:14], far.credit_code.lower(), far["name"]):
        found = sheng.get("/api/v1/evaluation/results", params={"q": q}).json()
        assert far.credit_code in {r["credit_code"] for r in found["items"]}, q
    one = sheng.get("/api/v1/evaluation/results", params={"q": far.credit_code}).json()["items"][0]
    same = sheng.get(
        "/api/v1/evaluation/results", params={"division": one["division_code"], "page_size": 500}
    ).json()
    assert {r["division_code"] for r in same["items"]} == {one["division_code"]}
    below = sheng.get("/api/v1/evaluation/results", params={"system": BELOW}).json()
    assert below["run"]["system"] == BELOW and all(r["above_scale"] is False for r in below["items"])
    page2 = sheng.get("/api/v1/evaluation/results", params={"page": 2, "page_size": 10}).json()
    assert page2["page"] == 2 and len(page2["items"]) == 10
    assert sheng.get("/api/v1/evaluation/results", params={"year": 2019}).status_code == 404

    fragment = sheng.get("/evaluation", params={"cls": "A", "county": XIHU}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<table" in fragment.text
    full = sheng.get("/evaluation", params={"q": far["name"]})
    assert "<html" in full.text and far["name"] in full.text and "下载 Excel" in full.text


def test_service_staff_list_has_no_region_tools(world) -> None:
    page = world["client"]("fuwu").get("/evaluation").text
    assert "下载 Excel" not in page and 'id="f-county"' not in page
    for code in world["staff"]:
        assert code in page


# ---- ranking and leaders ------------------------------------------------------------------------
def test_ranking_and_leaders(world) -> None:
    sheng = world["client"]("sheng")
    ranking = sheng.get("/api/v1/evaluation/ranking", params={"by": "value_added_per_mu"}).json()
    items = ranking["items"]
    assert len(items) == 90  # every county of the province, those without results unranked
    ranked = [r for r in items if r["rank"] is not None]
    assert {r["county_code"] for r in ranked} == set(COUNTIES)
    assert [r["rank"] for r in ranked] == [1, 2, 3, 4]
    values = [r["value_added_per_mu"] for r in ranked]
    assert values == sorted(values, reverse=True)
    assert all(r["rank"] is None for r in items[4:])
    city = world["client"]("hangzhou").get("/api/v1/evaluation/ranking").json()["items"]
    assert all(r["county_code"].startswith("3301") for r in city)
    leaders = sheng.get("/api/v1/evaluation/leaders", params={"top_n": 3}).json()
    assert leaders["industries"] and all(len(g["items"]) <= 3 for g in leaders["industries"])
    page = sheng.get("/ranking", params={"by": "a_share"}).text
    assert "区县排名（按A类占比）" in page and "亩均效益领跑者" in page and "西湖区" in page


def test_openapi_documents_the_evaluation_api(world) -> None:
    spec = world["client"]("sheng").get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/evaluation/runs",
        "/api/v1/evaluation/results",
        "/api/v1/evaluation/results.xlsx",
        "/api/v1/evaluation/enterprises/{credit_code}",
        "/api/v1/evaluation/ranking",
        "/api/v1/evaluation/leaders",
        "/api/v1/dashboard",
        "/api/v1/geo/{code}",
    ):
        assert path in paths, path
        assert path.endswith("/runs") or "404" in paths[path]["get"]["responses"], path
    schemas = spec["components"]["schemas"]
    assert {
        "ResultPageOut",
        "ProfileOut",
        "DashboardOut",
        "RankingOut",
        "LeadersOut",
        "GeoCollection",
    } <= set(schemas)


# ---- the shared response cache ----------------------------------------------------------------


def _second_province_analyst(world) -> TestClient:
    """Another 省级分析员 with the same scope as `sheng` but a name and session of their own."""
    from jingxin.accounts.schemas import UserCreate
    from jingxin.accounts.service import create_user
    from jingxin.core.audit import CLI_ACTOR
    from jingxin.core.auth import Role

    app = world["app"]
    with app.state.db.session() as db:
        create_user(
            db,
            UserCreate(
                username="sheng-b", display_name="钱<二>", role=Role.PROVINCE_ANALYST, password=DEMO_PASSWORD
            ),
            CLI_ACTOR,
        )
        db.commit()
    return world["client"]("sheng-b")


def test_users_with_the_same_view_share_answers_but_not_their_name_or_token(world) -> None:
    from jingxin.web.response_cache import CSRF_HOLE, NAME_HOLE

    first, second = world["client"]("sheng"), _second_province_analyst(world)
    pages = {}
    for name, client in (("sheng", first), ("sheng-b", second)):
        me = client.get("/api/v1/me").json()
        html = client.get("/evaluation?year=2021").text
        assert CSRF_HOLE not in html and NAME_HOLE not in html
        assert html.count(me["csrf_token"]) >= 2  # the page's meta tag and the HTMX header
        pages[name] = (html, me)
    html_a, me_a = pages["sheng"]
    html_b, me_b = pages["sheng-b"]
    assert me_a["csrf_token"] not in html_b and me_b["csrf_token"] not in html_a
    assert "钱&lt;二&gt;" in html_b and "钱<二>" not in html_b
    assert me_a["display_name"] not in html_b
    same_a = html_a.replace(me_a["csrf_token"], "").replace(me_a["display_name"], "")
    same_b = html_b.replace(me_b["csrf_token"], "").replace("钱&lt;二&gt;", "")
    assert same_a == same_b


def test_a_cached_answer_never_crosses_a_scope(world) -> None:
    """Two county analysts (same role, other counties) ask the same question in turn."""
    from jingxin.accounts.schemas import UserCreate
    from jingxin.accounts.service import create_user
    from jingxin.core.audit import CLI_ACTOR
    from jingxin.core.auth import Role

    with world["app"].state.db.session() as db:
        create_user(
            db,
            UserCreate(
                username="shangcheng",
                display_name="上城分析员",
                role=Role.COUNTY_ANALYST,
                division_code=SHANGCHENG,
                password=DEMO_PASSWORD,
            ),
            CLI_ACTOR,
        )
        db.commit()
    url = "/api/v1/evaluation/results?year=2021&page_size=500"
    for _ in range(2):
        xihu = world["client"]("xihu").get(url).json()
        shangcheng = world["client"]("shangcheng").get(url).json()
        assert {r["county_code"] for r in xihu["items"]} == {XIHU}
        assert {r["county_code"] for r in shangcheng["items"]} == {SHANGCHENG}
        page = world["client"]("shangcheng").get("/evaluation?year=2021").text
        assert "上城" in page and world["own"].credit_code not in page


def test_every_answer_from_memory_is_audited_for_whoever_is_served(world) -> None:
    url = "/api/v1/evaluation/results?year=2021&page=2"
    client = world["client"]("sheng")
    before = len(_audit(world["app"], Action.VIEW_SENSITIVE, "sheng"))
    for _ in range(3):
        assert client.get(url).status_code == 200
    entries = _audit(world["app"], Action.VIEW_SENSITIVE, "sheng")
    assert len(entries) == before + 3
    assert {e.object_id for e in entries[:3]} == {world["latest"]}


def test_a_new_run_is_served_at_once(world) -> None:
    """Kept last among the tests of this module's world: it adds a run."""
    client = world["client"]("sheng")
    runs = client.get("/api/v1/evaluation/runs").json()
    with world["app"].state.warehouse.writer() as wh:
        new = run_evaluation(wh, ABOVE, 2020).run_id
    after = client.get("/api/v1/evaluation/runs").json()
    assert len(after) == len(runs) + 1 and new in {r["run_id"] for r in after}
    dashboard = client.get("/api/v1/dashboard?year=2020").json()
    assert dashboard["run"]["run_id"] == new


# ---- an empty warehouse -------------------------------------------------------------------------


@pytest.mark.parametrize("platform_url", ["sqlite"], indirect=True)
def test_pages_work_before_any_evaluation(web_client, demo_users, platform_url: str) -> None:
    login(web_client, "sheng")
    home = web_client.get("/")
    assert home.status_code == 200 and "尚无评价结果" in home.text
    assert web_client.get("/evaluation").status_code == 200
    assert web_client.get("/ranking").status_code == 200
    assert web_client.get("/api/v1/evaluation/runs").json() == []
    assert web_client.get("/api/v1/evaluation/results").status_code == 404
    assert web_client.get("/api/v1/dashboard").json()["run"] is None
    login(web_client, "qiye")
    own = web_client.get("/")
    assert own.status_code == 200 and "尚未收到贵企业的评价结果" in own.text


# ---- parameters are checked at the edge ---------------------------------------------------------
def test_every_offered_sort_answers(world) -> None:
    """The page's own sort menu offers 统一社会信用代码: it must sort, not fail."""
    from jingxin.evaluation.params import SORT_KEYS

    sheng = world["client"]("sheng")
    for sort in SORT_KEYS:
        response = sheng.get("/api/v1/evaluation/results", params={"sort": sort, "page_size": 200})
        assert response.status_code == 200, (sort, response.text[:300])
        assert sheng.get("/evaluation", params={"sort": sort}).status_code == 200, sort
    by_code = sheng.get("/api/v1/evaluation/results", params={"sort": "credit_code", "page_size": 200})
    codes = [r["credit_code"] for r in by_code.json()["items"]]
    assert codes == sorted(codes)


BAD_PARAMS = [
    ("q", "\x00", "控制字符"),
    ("q", "a\nb", "控制字符"),
    ("q", "x" * 61, "60"),
    ("sort", "tax_paid", "只能取"),
    ("sort", "credit_code; drop table x", "只能取"),
    ("year", "abc", "整数"),
    ("year", "1999", "2000"),
    ("system", "Bad-System", "体系"),
    ("county", "33010", "6位"),
    ("county", "3301060", "6位"),
    ("division", "3", "2位"),
    ("cls", "E", "只能取"),
    ("scale", "huge", "只能取"),
    ("page", "0", "1至100000"),
    ("page", "x", "整数"),
    ("page_size", "501", "1至500"),
    ("run_id", "../etc/passwd", "批次号"),
]


def _refused(response: Any, name: str | None) -> str:
    """The Chinese message of a refused parameter, checked against the app's one rule: 422
    naming the parameter (FastAPI's `{loc, msg, type}` list for the API, the error page for
    pages); a NUL anywhere in the URL is refused before any route with a 400."""
    nul = "%00" in str(response.url)
    expected = 400 if nul else 422
    assert response.status_code == expected, (response.url, response.status_code, response.text[:300])
    if not str(response.url.path).startswith("/api/"):
        assert nul or "请求参数有误" in response.text
        return response.text
    detail = response.json()["detail"]
    if nul:
        assert isinstance(detail, str)
        return detail
    if name is not None:
        assert any(e["loc"][-1] == name for e in detail), detail
    return "；".join(e["msg"] for e in detail)


@pytest.mark.parametrize(("name", "value", "hint"), BAD_PARAMS)
def test_bad_results_parameters_are_refused_in_chinese(world, name: str, value: str, hint: str) -> None:
    sheng = world["client"]("sheng")
    if name not in ("page_size", "run_id"):
        page = sheng.get("/evaluation", params={name: value})
        assert hint in _refused(page, name), (name, value)
    message = _refused(sheng.get("/api/v1/evaluation/results", params={name: value}), name)
    assert hint in message and re.search(r"[\u4e00-\u9fff]", message)
    if value != "\x00":
        assert f"查询参数 {name}：" in message


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/evaluation/runs", {"year": "20x1"}),
        ("/api/v1/evaluation/ranking", {"by": "tax_paid"}),
        ("/api/v1/evaluation/leaders", {"top_n": "0"}),
        ("/api/v1/evaluation/leaders", {"top_n": "1000"}),
        ("/api/v1/dashboard", {"region": "abc"}),
        ("/api/v1/evaluation/results.xlsx", {"q": "\x00"}),
        ("/evaluation/export.xlsx", {"cls": "Z"}),
        ("/ranking", {"by": "nope"}),
        ("/", {"region": "abc"}),
        ("/api/v1/evaluation/enterprises/not-a-code", {}),
        ("/api/v1/evaluation/enterprises/91330106000000001X", {"run_id": "a b"}),
        ("/api/v1/geo/33", {}),
    ],
)
def test_bad_parameters_of_every_route_are_refused(world, path: str, params: dict[str, str]) -> None:
    message = _refused(world["client"]("sheng").get(path, params=params), None)
    assert re.search(r"[\u4e00-\u9fff]", message)


# ---- run metadata is scoped --------------------------------------------------------------------
def test_run_metadata_counts_only_what_the_user_may_see(world) -> None:
    from datetime import datetime

    all_runs = {r["run_id"]: r for r in world["client"]("sheng").get("/api/v1/evaluation/runs").json()}
    xihu_runs = world["client"]("xihu").get("/api/v1/evaluation/runs").json()
    with world["app"].state.warehouse.reader() as wh:
        for run in xihu_runs:
            t = service.results(wh, run["run_id"], Scope(division=XIHU))
            n = int(wh.execute(t.count()))
            units = int(wh.execute(t.filter(t.is_lead).count()))
            assert run["enterprise_count"] == n < all_runs[run["run_id"]]["enterprise_count"]
            assert run["unit_count"] == units
    own = world["client"]("qiye").get("/api/v1/evaluation/runs").json()
    assert own and all(r["enterprise_count"] == 1 for r in own)
    for run in [*all_runs.values(), *xihu_runs, *own]:
        created = datetime.fromisoformat(run["created_at"])
        assert created.utcoffset() is not None, run["created_at"]
    # the profile's run carries the scoped counts too
    profile = world["client"]("qiye").get(f"/api/v1/evaluation/enterprises/{world['own'].credit_code}").json()
    assert profile["run"]["enterprise_count"] == 1


def test_county_tax_per_mu_views_are_audited(world) -> None:
    """A county's 亩均税收 on the ranking and the dashboard is a sum of enterprises' tax (of one
    enterprise, when a county has one): a cleared user's view of it is recorded."""
    app = world["app"]
    before = len(_audit(app, Action.VIEW_SENSITIVE, "hangzhou"))
    client = world["client"]("hangzhou")
    assert client.get("/api/v1/evaluation/ranking").status_code == 200
    assert client.get("/ranking").status_code == 200
    assert client.get("/api/v1/dashboard").status_code == 200
    assert client.get("/").status_code == 200
    entries = _audit(app, Action.VIEW_SENSITIVE, "hangzhou")
    assert len(entries) == before + 4
    assert {e.object_type for e in entries[:4]} == {"county_ranking", "dashboard"}
    assert all("tax_per_mu" in e.detail["fields"] for e in entries[:4])


def test_run_counts_are_scoped_on_every_backend(warehouse) -> None:
    """The scoped counts of `service.runs` are one query that DuckDB and PostgreSQL answer alike."""
    load_facts(warehouse, province(200, years=(2021,), seed=2, counties=[XIHU, SHANGCHENG]))
    run = run_evaluation(warehouse, ABOVE, 2021)
    t = service.results(warehouse, run.run_id)
    rows = warehouse.execute(t.select("credit_code", "county_code", "is_lead"))
    xihu = rows[rows.county_code == XIHU]
    [scoped] = service.runs(warehouse, Scope(division=XIHU))
    assert scoped["enterprise_count"] == len(xihu) < run.enterprise_count
    assert scoped["unit_count"] == int(xihu.is_lead.sum())
    [own] = service.runs(warehouse, Scope(credit_code=xihu.credit_code.iloc[0]))
    assert own["enterprise_count"] == 1
    [whole] = service.runs(warehouse)
    assert whole["enterprise_count"] == run.enterprise_count
    assert all(r["created_at"].utcoffset() is not None for r in (scoped, own, whole))
    assert service.run_info(warehouse, run.run_id, Scope(division=XIHU))["enterprise_count"] == len(xihu)


def test_warming_makes_the_headline_views_before_the_first_request(world) -> None:
    """`jingxin serve` warms each process's read cache at start (`jingxin.web.warmup`): the
    province's and a city's first dashboard and result list then read nothing again."""
    from jingxin.core import cache, metrics
    from jingxin.web import response_cache
    from jingxin.web.warmup import warm_headline_views

    def misses() -> float:
        return (
            metrics.CACHE_REQUESTS.labels("read", "miss")._value.get()
            + metrics.CACHE_REQUESTS.labels("table", "miss")._value.get()
        )

    cache.clear()
    response_cache._store.clear()
    before = misses()
    assert warm_headline_views(world["app"].state.warehouse, budget=60) == 13  # admin, province, 11 cities
    warmed = misses()
    assert warmed > before
    for user in ("sheng", "hangzhou"):
        client = world["client"](user)
        assert client.get("/api/v1/dashboard").status_code == 200
        assert client.get("/api/v1/evaluation/results?page=1").status_code == 200
    assert misses() == warmed
    assert warm_headline_views(world["app"].state.warehouse, budget=0) == 0
