"""链主 (chain owners) on the map, changes over time, and suppliers in distress (from the risk
grades) in the weak links."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from jingxin.chains import compute, distress, network, service
from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.warehouse import open_warehouse

pytest_plugins = ["jingxin.web.pytest_fixtures", "jingxin.chains.testing"]
MONTH = "2021-12"


@pytest.fixture(scope="module")
def wh(chains_province):
    w = open_warehouse(chains_province["url"])
    yield w
    w.close()


def test_chain_owners_rank_members_by_size_and_network(wh) -> None:
    owners = network.chain_owners(wh, MONTH, EVERYTHING)
    assert owners.chain_id.nunique() >= 8
    for _, g in owners.groupby("chain_id"):
        assert list(g["rank"]) == list(range(1, len(g) + 1)) and len(g) <= network.TOP_OWNERS
        assert g.score.is_monotonic_decreasing
    assert (owners.local_suppliers <= owners.suppliers).all()
    # sales are the owner's invoiced sales over the 12 months
    inv = wh.execute(compute._invoices(wh, compute.window(MONTH)))
    top = owners.iloc[0]
    assert top.sales == pytest.approx(inv[inv.seller_code == top.credit_code].amount.sum())
    # the first owner of a chain is the member with the best combined percentile: no member of
    # the chain outranks it on both size and degree
    textile = owners[owners.chain_id == "modern_textile"].iloc[0]
    assert textile.size_pct >= 0.8 and textile.degree_pct >= 0.8
    county = network.chain_owners(wh, MONTH, Scope(division=textile.county_code))
    assert textile.credit_code in set(county.credit_code)
    assert county.county_code.str.startswith(textile.county_code).all()


def test_changes_over_time_follow_the_generated_switches(wh, chains_province) -> None:
    t = network.trend(wh, MONTH, EVERYTHING)
    chains = t["chains"]
    assert sorted(chains.month.unique()) == [f"2021-{m:02d}" for m in range(1, 13)]
    whole = compute.local_rates(wh, MONTH, EVERYTHING, "chain").set_index("chain_id")
    assert chains.groupby("chain_id").amount.sum().to_dict() == pytest.approx(whole.amount.to_dict())
    # From July the generator moves a quarter of outside purchases to in-province sellers
    # (manifest `switches`): the province rate month by month shows it.
    assert len(chains_province["manifest"]["chains"]["switches"]) > 20
    half = chains.assign(h2=chains.month >= "2021-07").groupby("h2")[["amount", "province_amount"]].sum()
    rate = half.province_amount / half.amount
    assert rate[True] - rate[False] >= 0.05
    segs = t["segments"]
    weak = compute.weak_links(wh, MONTH, EVERYTHING)
    flagged = weak[weak.weak_outside][["chain_id", "segment_id"]].itertuples(index=False)
    for chain_id, segment_id in flagged:  # a weak segment of the year is weak in most months
        months = segs[(segs.chain_id == chain_id) & (segs.segment_id == segment_id)]
        assert months.weak_outside.mean() >= 0.5


# ---- suppliers in distress: a province with chain invoices and the risk sources ---------------


@pytest.fixture(scope="module")
def risk_chains(tmp_path_factory) -> dict[str, Any]:
    from jingxin.ingest.directory import ingest_directory
    from jingxin.synth.generator import generate_province

    home = tmp_path_factory.mktemp("chains-risk")
    folder = home / "province"
    # Two years: the risk scorecard needs observed outcomes before the graded month.
    generate_province(folder, 800, "2020-2021", 5, 0.0, daily_days=5, chains=True, risk=True)
    url = f"duckdb:///{home / 'warehouse.duckdb'}"
    w = open_warehouse(url)
    try:
        assert not [o.error for o in ingest_directory(w, folder, loaded_by="chains-risk") if o.error]
    finally:
        w.close()
    return {"url": url, "path": home / "warehouse.duckdb"}


def test_distressed_suppliers_mark_weak_links(risk_chains) -> None:
    from jingxin.risk.config import KEY
    from jingxin.risk.service import MATERIALISED, score_month

    w = open_warehouse(risk_chains["url"])
    try:
        seg = distress.segment_distress(w, MONTH, EVERYTHING)
        graded = score_month(w, MONTH).table
        p = w.execute(compute.purchases(w, compute.window(MONTH), EVERYTHING))
        data = service.weak(w, MONTH, Scope(division="330100"))
    finally:
        w.close()
    bad = set(graded[(graded.grade == KEY) | (graded.category == MATERIALISED)].credit_code)
    assert bad
    p["bad"] = p.seller_code.isin(bad)
    expected = p.groupby(["chain_id", "segment_id"]).apply(
        lambda g: pd.Series(
            {
                "n": g.loc[g.bad, "seller_code"].nunique(),
                "share": g.loc[g.bad, "amount"].sum() / g.amount.sum(),
            }
        )
    )
    got = seg.set_index(["chain_id", "segment_id"])
    for key, row in expected.iterrows():
        assert got.loc[key, "distressed_suppliers"] == row.n
        assert got.loc[key, "distressed_share"] == pytest.approx(row.share)
        assert got.loc[key, "weak_distress"] == (row.share >= distress.WEAK_DISTRESS)
    assert got.weak_distress.any()
    assert data["distress_available"]
    # a county reader sees which supplier is distressed only inside its scope
    for r in data["single"]:
        if r["supplier_distressed"]:
            assert r["supplier"] in bad and r["supplier_county"].startswith("3301")
    for s in data["segments"]:
        assert all(d["code"] in bad and d["county"].startswith("3301") for d in s["distressed"])


def test_no_risk_grades_leaves_the_weak_links_as_they_were(wh) -> None:
    assert distress.segment_distress(wh, MONTH, EVERYTHING) is None  # no risk sources ingested
    data = service.weak(wh, MONTH, EVERYTHING)
    assert not data["distress_available"] and not any(s["weak_distress"] for s in data["segments"])


def test_pages_audit_the_distressed_suppliers_shown(risk_chains, web_settings, request) -> None:
    from jingxin.core.audit import AuditEntry
    from jingxin.web.testing import login

    shutil.copyfile(risk_chains["path"], Path(web_settings.warehouse_url.removeprefix("duckdb:///")))
    request.getfixturevalue("demo_users")
    client = request.getfixturevalue("web_client")
    app = request.getfixturevalue("web_app")
    login(client, "sheng")
    body = client.get(f"/api/v1/chains/weak-links?month={MONTH}").json()
    shown = {r["supplier"] for r in body["single"] if r["supplier_distressed"]}
    shown |= {d["code"] for s in body["segments"] for d in s["distressed"]}
    assert shown  # the province reader sees the distressed suppliers of the weak segments
    page = client.get(f"/chains/weak-links?month={MONTH}")
    assert page.status_code == 200 and "供方风险" in page.text
    with app.state.db.session() as db:
        entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "risk_grade_view")).all()
    assert len(entries) == 2 and all(set(e.detail["credit_codes"]) == shown for e in entries)
    trend = client.get(f"/chains/trend?month={MONTH}&chain=modern_textile")
    assert trend.status_code == 200 and "trend-chart" in trend.text
    owners = client.get(f"/api/v1/chains/owners?month={MONTH}").json()
    assert owners and {"rank", "score", "local_suppliers"} <= set(owners[0])
    assert "chain-owners" in client.get(f"/chains?month={MONTH}&chain=modern_textile").text
    login(client, "xihu")  # a county reader: aggregates, but no distressed supplier outside 西湖区
    county = client.get(f"/api/v1/chains/weak-links?month={MONTH}").json()
    assert all(d["county"].startswith("330106") for s in county["segments"] for d in s["distressed"])
    assert all(
        r["supplier_county"].startswith("330106") for r in county["single"] if r["supplier_distressed"]
    )
    login(client, "qiye")
    assert client.get("/api/v1/chains/trend").status_code == 403


def test_refresh_stores_months_that_add_up_to_the_live_analysis(chains_province, tmp_path) -> None:
    from typer.testing import CliRunner

    from jingxin.chains.cli import group as app
    from jingxin.chains.store import history

    path = tmp_path / "wh.duckdb"
    shutil.copyfile(chains_province["url"].removeprefix("duckdb:///"), path)
    url = f"duckdb:///{path}"
    runner = CliRunner()
    none = runner.invoke(app, ["history", "--warehouse", url])
    assert none.exit_code == 2 and "jingxin chains refresh" in none.output
    ran = runner.invoke(
        app, ["refresh", "--month", "2021-06", "--through", "2021-08", "--warehouse", url, "--json"]
    )
    assert ran.exit_code == 0, ran.output
    assert [r["month"] for r in json.loads(ran.output)] == ["2021-06", "2021-07", "2021-08"]
    again = runner.invoke(
        app, ["refresh", "--month", "2021-07", "--warehouse", url]
    )  # replaces, never doubles
    assert again.exit_code == 0 and "2021-07：保存" in again.output
    bad = runner.invoke(app, ["refresh", "--month", "2021-08", "--through", "2021-06", "--warehouse", url])
    assert bad.exit_code == 2 and "早于" in bad.output
    w = open_warehouse(url)
    try:
        stored = pd.DataFrame(history(w, EVERYTHING)["rates"]).set_index(["chain_id", "month"])
        live = network.trend(w, "2021-08", EVERYTHING, months=3)
        county = pd.DataFrame(history(w, Scope(division="330600"), "modern_textile")["rates"])
        weak_county = history(w, Scope(division="330600"))["weak"]
        weak = pd.DataFrame(history(w, EVERYTHING)["weak"])
    finally:
        w.close()
    lv = live["chains"].set_index(["chain_id", "month"])
    assert sorted(stored.index) == sorted(lv.index)
    for key in lv.index:
        assert stored.loc[key, "amount"] == pytest.approx(lv.loc[key, "amount"])
        assert stored.loc[key, "province"] == pytest.approx(lv.loc[key, "province"])
    assert (
        set(county.chain_id) == {"modern_textile"}
        and (county.amount < stored.xs("modern_textile").amount.values).all()
    )
    assert weak_county == []  # segment measures are the province's
    segs = live["segments"].set_index(["chain_id", "segment_id", "month"])
    w2 = weak.set_index(["chain_id", "segment_id", "month"])
    assert w2.outside.to_dict() == pytest.approx(segs.outside.reindex(w2.index).to_dict())
    assert (w2.weak_outside == segs.weak_outside.reindex(w2.index)).all()
