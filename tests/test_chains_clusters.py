"""The "415" clusters: membership with its evidence, ranked monthly indicators, region scope,
their map (home regions, drill-down inside the scope), pages and API."""

from __future__ import annotations

from typing import Any

import pytest

from jingxin import reference
from jingxin.chains import cluster_map, clusters, service
from jingxin.chains.compute import ChainsError
from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.warehouse import open_warehouse

pytest_plugins = ["jingxin.web.pytest_fixtures", "jingxin.chains.testing"]
MONTH = "2021-12"


@pytest.fixture(scope="module")
def wh(chains_province):
    w = open_warehouse(chains_province["url"])
    yield w
    w.close()


def test_reference_has_4_world_class_and_15_advantage_clusters_with_bodies() -> None:
    tiers = [c.tier for c in reference.clusters()]
    assert tiers.count("world_class") == 4 and tiers.count("advantage") == 15
    assert set(clusters.bodies()) == {c.id for c in reference.clusters()}


def test_membership_by_industry_and_by_invoice_with_evidence(wh) -> None:
    members = clusters.members(wh, MONTH, EVERYTHING, "modern_textile_apparel")
    reg = wh.execute(wh.current("registry"))
    textile = set(reg[reg.industry_code.str[:2].isin(["17", "18", "28"])].credit_code)
    by_industry = set(members[members.basis == "industry"].credit_code)
    assert by_industry == textile
    invoice = members[members.basis == "invoice"]
    assert len(invoice) >= 1 and (invoice.share >= 0.2).all()
    keywords = set(reference.cluster("modern_textile_apparel").keywords)
    assert set(invoice.evidence) <= keywords
    with pytest.raises(ChainsError, match="未知集群"):
        clusters.members(wh, MONTH, EVERYTHING, "nope")


def test_indicators_add_up_and_are_ranked(wh) -> None:
    r = clusters.indicators(wh, MONTH, EVERYTHING)
    df = r["clusters"].set_index("cluster_id")
    assert len(df) == 19 and list(r["clusters"]["rank"]) == list(range(1, 20))
    ranked = r["clusters"].dropna(subset=["output"])
    assert ranked.output.is_monotonic_decreasing
    city = r["by_city"].groupby("cluster_id").output.sum()
    month = r["by_month"].groupby("cluster_id").output.sum()
    for cid in city.index:
        assert city[cid] == pytest.approx(df.loc[cid, "output"]) == pytest.approx(month[cid])
    assert set(r["by_month"][r["by_month"].cluster_id == "auto_and_parts"].month) == {
        f"2021-{m:02d}" for m in range(1, 13)
    }
    # 亩均税收 of a cluster is the tax of its members with land over their land
    mem = clusters.members(wh, MONTH, EVERYTHING, "smart_electrical").credit_code.unique()
    tax = wh.execute(wh.current("tax"))
    land = wh.execute(wh.current("land"))
    t = tax[(tax.year == tax.year.max()) & tax.credit_code.isin(mem) & tax.credit_code.isin(land.credit_code)]
    a = land[land.credit_code.isin(t.credit_code)].area_mu.sum()
    assert df.loc["smart_electrical", "tax_per_mu"] == pytest.approx(t.tax_paid.sum() / a)
    half = clusters.indicators(wh, "2021-06", EVERYTHING)["clusters"].set_index("cluster_id")
    assert half.loc["auto_and_parts", "output"] < df.loc["auto_and_parts", "output"]


def test_region_scope(wh) -> None:
    whole = clusters.indicators(wh, MONTH, EVERYTHING)["clusters"].set_index("cluster_id")
    county = clusters.indicators(wh, MONTH, Scope(division="330600"))
    shaoxing = county["clusters"].set_index("cluster_id")
    assert (
        shaoxing.members <= whole.members.reindex(shaoxing.index)
    ).all() and shaoxing.members.sum() < whole.members.sum()
    assert set(county["by_city"].city) <= {"330600"}
    members = clusters.members(wh, MONTH, Scope(division="330600"), "modern_textile_apparel")
    assert len(members) and members.county_code.str.startswith("3306").all()


def test_home_regions_rule() -> None:
    assert cluster_map.homes({"330100": 60.0, "330200": 30.0, "330300": 10.0}) == ["330100", "330200"]
    assert cluster_map.homes({"330100": 9.0, "330200": 8.0, "330300": 8.0, "330400": 15.0}) == ["330400"]
    assert cluster_map.homes({"330100": 0.0}) == []


def test_map_places_each_cluster_at_its_home_regions(wh) -> None:
    data = service.cluster_overview(wh, MONTH, EVERYTHING)
    config = cluster_map.map_config(data, "330000", MONTH)
    assert [r["code"] for r in config["regions"]] == [c.code for c in reference.cities()]
    by_city = clusters.indicators(wh, MONTH, EVERYTHING)["by_city"]
    with_output = {c["cluster_id"] for c in data["clusters"] if (c["output"] or 0) > 0}
    placed = {p["url"].split("/")[3].split("?")[0] for p in config["points"]}
    assert placed == with_output  # every cluster with output, and only those, is on the map
    top = by_city.sort_values("output").groupby("cluster_id").tail(1)  # its largest city is a home
    names = {c.code: c.name for c in reference.cities()}
    for cid, city in zip(top.cluster_id, top.city, strict=True):
        assert any(cid in p["url"] and names[city] in p["tip"] for p in config["points"])
    homes = {r["code"]: r["homes"] for r in config["regions"]}
    assert sum(homes.values()) == len(config["points"])
    totals = by_city.groupby("city").output.sum()
    for r in config["regions"]:
        assert (r["output"] or 0) == pytest.approx(totals.get(r["code"], 0), abs=0.01)
    # a city's map: its counties, and only its members
    city = service.cluster_overview(wh, MONTH, Scope(division="330600"))
    config = cluster_map.map_config(city, "330600", MONTH)
    assert {r["code"][:4] for r in config["regions"]} == {"3306"} and config["points"]
    assert config["drill"]["url"] == f"/chains/clusters?region={{code}}&month={MONTH}"


@pytest.fixture
def chains_web(chains_province, web_settings, request) -> Any:
    import shutil
    from pathlib import Path

    shutil.copyfile(
        Path(chains_province["url"].removeprefix("duckdb:///")),
        Path(web_settings.warehouse_url.removeprefix("duckdb:///")),
    )
    request.getfixturevalue("demo_users")
    return request.getfixturevalue("web_client")


def test_pages_and_api(chains_web) -> None:
    from jingxin.web.testing import login

    client = chains_web
    login(client, "sheng")
    page = client.get("/chains/clusters?month=2021-12")
    assert page.status_code == 200 and "“415”先进制造业集群" in page.text and "智能电气" in page.text
    detail = client.get("/chains/clusters/modern_textile_apparel?month=2021-12")
    assert detail.status_code == 200 and "cluster-cities" in detail.text and "发票货物含" in detail.text
    assert client.get("/chains/clusters/nope").status_code == 404
    assert 'data-region-map="cluster-map-config"' in page.text and 'id="cluster-month"' in page.text
    city = client.get("/chains/clusters?region=330600&month=2021-06")
    assert city.status_code == 200 and "绍兴市“415”" in city.text and "2021年1—6月" in city.text
    assert client.get("/chains/clusters?region=339999").status_code == 404
    body = client.get("/api/v1/chains/clusters?month=2021-12").json()
    assert len(body["clusters"]) == 19 and body["clusters"][0]["rank"] == 1
    assert client.get("/api/v1/chains/clusters/nope/members").status_code == 422
    login(client, "xihu")
    members = client.get("/api/v1/chains/clusters/modern_textile_apparel/members?month=2021-12").json()
    assert all(m["county_code"] == "330106" for m in members)
    assert client.get("/chains/clusters?region=330106").status_code == 200
    assert client.get("/chains/clusters?region=330100").status_code == 404  # wider than the scope
    assert client.get("/chains/clusters?region=330602").status_code == 404  # another county
    login(client, "qiye")
    assert client.get("/api/v1/chains/clusters").status_code == 403
