"""Chains (十大标志性产业链): definitions, the goods rule, local supporting rates, weak links,
single-supplier dependencies and matching, measured against the generator's truth."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jingxin import reference
from jingxin.chains import compute, match
from jingxin.chains.definitions import DefinitionError, classify_goods, definitions, parse_definitions
from jingxin.chains.truth import check
from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.warehouse import open_warehouse

MONTH = "2021-12"
pytest_plugins = ["jingxin.chains.testing"]
SHARED = next(
    (p / "shared" for p in Path(__file__).resolve().parents if (p / "shared" / "DOMAIN.md").exists()),
    Path("/nonexistent"),
)


@pytest.fixture(scope="module")
def province(chains_province):
    wh = open_warehouse(chains_province["url"])
    yield {**chains_province, "wh": wh}
    wh.close()


# ---- reference data ----------------------------------------------------------------------------


def test_segments_partition_every_chain_and_carry_a_source() -> None:
    defs = definitions()
    assert [c.id for c in defs.chains] == [c.id for c in reference.chains()]
    for c in defs.chains:
        assert [s.id for s in c.segments] == ["upstream", "midstream", "downstream"]
        assert all("assumption" in s.source or "source" in s.source for s in c.segments)
    owners = defs.keyword_owner()
    assert owners["涤纶"] == ("modern_textile", "upstream")


def test_reference_chains_and_clusters_match_the_shared_reference() -> None:
    if not (SHARED / "DOMAIN.md").exists():
        pytest.skip(f"shared reference not found at {SHARED}")
    domain = (SHARED / "DOMAIN.md").read_text(encoding="utf-8")
    section = domain[domain.index("## 5. Chains and clusters") : domain.index("## 6.")]
    listed = re.search(r"\(十大标志性产业链[^)]*\)\*\*: (.*?)\.\n", section, re.S).group(1)
    names = [n.strip() for n in listed.replace("\n", " ").split(",")]
    assert [c.name for c in reference.chains()] == names
    world = [c.name for c in reference.clusters() if c.tier == "world_class"]
    assert world == ["新一代信息技术", "汽车及零部件", "绿色化工", "现代纺织和服装"]
    confirmed = [c.name for c in reference.clusters() if c.tier == "advantage" and c.confirmed]
    for name in confirmed:  # every advantage cluster marked confirmed is named in DOMAIN §5
        assert name in section, name
    with (SHARED / "reference" / "gbt4754-2017.csv").open(encoding="utf-8") as fh:
        codes = {r["class"] or r["group"] or r["division"] for r in csv.DictReader(fh)}
    for item in [
        *reference.chains(),
        *reference.clusters(),
        *(s for c in definitions().chains for s in c.segments),
    ]:
        for code in item.industry_codes:
            assert code in codes, (item.id, code)


def test_a_broken_definition_names_the_entry_and_the_fix() -> None:
    text = Path(definitions().source_file.replace("jingxin/", "src/jingxin/", 1)).read_text(encoding="utf-8")
    broken = text.replace("keywords: [化纤, 涤纶, 锦纶, 氨纶]", "keywords: [化纤, 涤纶, 锦纶, 氨纶, 纱线]")
    with pytest.raises(DefinitionError, match=r"modern_textile.*「纱线」已属于.*请删去其一|「纱线」已属于"):
        parse_definitions(broken, "county.yaml")
    lost = text.replace('industry_codes: ["28"]', 'industry_codes: ["2821"]')
    with pytest.raises(
        DefinitionError, match=r"county.yaml: chains.modern_textile: 环节行业代码应正好覆盖.*缺"
    ):
        parse_definitions(lost, "county.yaml")


def test_goods_rule_tokenises_and_shows_its_evidence() -> None:
    a, b, c = classify_goods(["*纺织产品*涤纶低弹丝 150D", "*汽车零配件*动力电池包", "办公用品"])
    assert (a.keyword, a.chain_id, a.segment_id) == ("涤纶", "modern_textile", "upstream")
    assert "涤纶" in a.tokens and "命中关键词「涤纶」" in a.evidence
    assert b.keyword == "动力电池"
    assert c.chain_id is None and "未命中" in c.evidence


# ---- generated truth -------------------------------------------------------------------------------


def test_analysis_recovers_the_generated_truth(province) -> None:
    report = check(province["wh"], province["folder"], MONTH)
    lr = report["local_rate"]
    assert lr["max_error_points_by_chain"] <= 2.0, lr
    assert lr["max_error_points_by_county"] <= 2.0, lr
    assert lr["missing_counties"] == [] and lr["counties"] == lr["counties_in_truth"]
    weak = report["weak_links"]
    assert weak["injected"] and weak["injected_found"] == weak["injected"]
    assert weak["against_realised"]["precision"] == 1.0 and weak["against_realised"]["recall"] == 1.0
    single = report["single_supplier"]
    assert single["injected"] >= 4 and single["injected_found"] == single["injected"]
    assert single["against_realised"]["recall"] == 1.0 and single["against_realised"]["precision"] == 1.0
    members = report["invoice_members"]
    assert members["cross_industry_sellers"] >= 5 and members["found"] == members["cross_industry_sellers"]


def test_membership_shows_its_basis_and_evidence(province) -> None:
    wh = province["wh"]
    seller = next(
        g
        for g in province["manifest"]["chains"]["goods_members"]
        if g["credit_code"] in province["manifest"]["chains"]["local_rates"]["2021"]["goods_members_selling"]
    )
    t = compute.membership(wh, compute.window(MONTH))
    rows = wh.execute(t.filter(t.credit_code == seller["credit_code"]))
    assert list(rows.basis) == ["invoice"]  # its industry is outside every chain
    assert rows.iloc[0].chain_id == seller["chain"] and rows.iloc[0].keyword == seller["keyword"]
    assert rows.iloc[0].share >= compute.MIN_SALES_SHARE


def test_matching_ranks_the_held_back_switches_above_chance(province) -> None:
    switches = province["manifest"]["chains"]["switches"]
    result = match.evaluate(province["wh"], switches, "2021-06")
    assert result["servable"] >= 20, result
    assert result["hit_rate"] >= result["random_baseline"] + 0.1, result
    buyer = switches[0]["buyer"]
    recs = match.recommend(province["wh"], buyer, "2021-06", EVERYTHING)
    assert 1 <= recs.groupby("keyword").size().max() <= 5
    assert recs.evidence.str.contains("万元").all()


# ---- scope and CLI -----------------------------------------------------------------------------------


def test_region_scope_is_enforced(province) -> None:
    wh = province["wh"]
    everything = compute.local_rates(wh, MONTH, EVERYTHING, "county")
    county = everything.sort_values("amount").iloc[-1].buyer_county
    mine = compute.local_rates(wh, MONTH, Scope(division=county), "county")
    assert list(mine.buyer_county) == [county]
    other = next(c for c in everything.buyer_county if c[:4] != county[:4])
    assert (
        compute.local_rates(wh, MONTH, Scope(division=other), "chain").amount.sum() < everything.amount.sum()
    )
    # A buyer outside the county gets no recommendation there; an enterprise sees only itself.
    switches = province["manifest"]["chains"]["switches"]
    outsider = next(s["buyer"] for s in switches if s["buyer"][2:8][:4] != county[:4])
    assert match.recommend(wh, outsider, "2021-06", Scope(division=county)).empty
    assert compute.local_rates(wh, MONTH, Scope(credit_code=outsider), "county").buyer_county.nunique() <= 1
    assert match.recommend(wh, outsider, "2021-06", Scope(credit_code="91330100000000000X")).empty


def test_cli_local_rate_and_errors(province) -> None:
    from jingxin.chains.cli import group as app

    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "local-rate",
            "--chain",
            "modern_textile",
            "--month",
            MONTH,
            "--warehouse",
            province["url"],
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    truth = province["manifest"]["chains"]["local_rates"]["2021"]["chain"]["modern_textile"]
    assert abs(data["rates"][0]["province"] - truth["province"]) < 0.02
    bad = runner.invoke(app, ["local-rate", "--chain", "textile", "--warehouse", province["url"]])
    assert bad.exit_code == 2 and "未知产业链" in bad.output
    buyer = province["manifest"]["chains"]["switches"][0]["buyer"]
    rec = runner.invoke(
        app, ["match", "--buyer", buyer, "--month", "2021-06", "--warehouse", province["url"], "--json"]
    )
    assert rec.exit_code == 0, rec.output
    assert len(json.loads(rec.output)["recommendations"]) >= 1
    month = runner.invoke(app, ["weak-links", "--month", "2021/13", "--warehouse", province["url"]])
    assert month.exit_code == 2 and "YYYY-MM" in month.output


def test_an_agreed_match_is_recorded_on_the_workflow(province, tmp_path) -> None:
    from jingxin.chains.cooperation import converted, propose
    from jingxin.core.db import Database, upgrade
    from jingxin.core.workflow import service as wf
    from jingxin.core.workflow.service import get_item

    db_url = f"sqlite:///{tmp_path / 'platform.sqlite'}"
    upgrade(db_url)
    from jingxin.accounts import service as accounts

    wh = province["wh"]
    switch = province["manifest"]["chains"]["switches"][0]
    recs = match.recommend(wh, switch["buyer"], "2021-06", EVERYTHING)
    top = recs.iloc[0]
    with Database(db_url).session() as db:
        from jingxin.accounts.schemas import UserCreate
        from jingxin.core.audit import CLI_ACTOR
        from jingxin.core.auth import Role

        sheng = accounts.create_user(
            db,
            UserCreate(
                username="xian",
                display_name="县分析员",
                role=Role.COUNTY_ANALYST,
                division_code=switch["buyer"][2:8],
                password="jingxin2024demo",
            ),
            CLI_ACTOR,
        )
        with pytest.raises(compute.ChainsError, match="不是"):
            propose(db, wh, sheng, sheng.scope, switch["buyer"], "91330100000000000X", top.keyword, "2021-06")
        item = propose(db, wh, sheng, sheng.scope, switch["buyer"], top.s_code, top.keyword, "2021-06")
        assert item.state == "proposed" and item.credit_code == switch["buyer"]
        wf.act(db, item.id, "buyer_agree", sheng, fields={"buyer_answer": "同意试单"})
        from jingxin.core.workflow.testing import bj

        agreed = bj(2021, 6, 28, 10)  # agreed in June: the July invoices show whether it traded
        wf.act(db, item.id, "seller_agree_last", sheng, fields={"seller_answer": "同意供货"}, now=agreed)
        assert get_item(db, sheng.scope, item.id).state == "matched"
        from jingxin.chains.cooperation import conversion

        report = conversion(db, wh, sheng.scope)
        traded = converted(wh, switch["buyer"], top.s_code, "2021-06") > 0
        assert report["matched"] == 1 and report["items"][0]["agreed"] == "2021-06"
        assert report["traded"] == int(traded) and report["rate"] == float(traded)
        # A county analyst of another city cannot propose for this buyer.
        elsewhere = "330102" if not switch["buyer"][2:8].startswith("3301") else "330302"
        other = accounts.create_user(
            db,
            UserCreate(
                username="other",
                display_name="外县",
                role=Role.COUNTY_ANALYST,
                division_code=elsewhere,
                password="jingxin2024demo",
            ),
            CLI_ACTOR,
        )
        with pytest.raises(compute.ChainsError):
            propose(db, wh, other, other.scope, switch["buyer"], top.s_code, top.keyword, "2021-06")
    assert converted(wh, switch["buyer"], switch["new_supplier"], switch["from_month"]) > 0


def test_chains_option_changes_only_the_invoice_files(tmp_path) -> None:
    import hashlib

    from jingxin.synth.generator import generate_province

    def digests(folder: Path) -> dict[str, str]:
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.iterdir()
            if p.name != "manifest.json"
        }

    plain, chained = tmp_path / "plain", tmp_path / "chained"
    generate_province(plain, 300, "2021", 3, 0.02, daily_days=5)
    generate_province(chained, 300, "2021", 3, 0.02, daily_days=5, chains=True)
    a, b = digests(plain), digests(chained)
    assert a.keys() == b.keys()
    changed = {name for name in a if a[name] != b[name]}
    assert changed == {"invoices_2021.csv"}
    assert "chains" not in json.loads((plain / "manifest.json").read_text(encoding="utf-8"))
    assert json.loads((chained / "manifest.json").read_text(encoding="utf-8"))["parameters"]["chains"] is True
    with pytest.raises(ValueError, match="chains needs the invoice files"):
        generate_province(tmp_path / "x", 50, "2021", 3, annual_only=True, chains=True)
