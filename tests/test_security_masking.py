"""Masked figures cannot be recomputed (`jingxin.core.visibility`).

Each test plays an adversary with a role without clearance (service staff, a data liaison):
it fetches every page, API answer and download about an enterprise it may see and tries to
recompute the tax paid (实缴税收) or 亩均税收 from what is shown, by the arithmetic of the
evaluation itself:

- total − Σ other indicators' points (+ deduction) = the tax indicator's points, ÷ weight ×
  reference = 亩均税收, × land = tax paid (the 规上 system, and 规下 with 单位电耗税收);
- the lift advice: an option's needed value gives the gap, the gap gives the total;
- last year: the history's total minus last year's other indicator points;
- ranks of two visible enterprises (an order by total is an inequality on their tax);
- any number in the sentences and in the HTML that equals a hidden figure.

Each derivation is run on what the adversary sees; the test asserts it yields nothing, and
checks the same derivation *does* recover the figure from a cleared user's view (so the
attack is real, not vacuous). Roles with clearance and the enterprise about itself are the
control group.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jingxin.core.audit import MASK
from jingxin.core.scope import Scope
from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation import service
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province
from jingxin.web.testing import DEMO_PASSWORD, login

pytest_plugins = ["jingxin.web.pytest_fixtures"]
pytestmark = pytest.mark.xdist_group("security_masking")

XIHU, SHANGCHENG = "330106", "330102"
ABOVE, BELOW = "zhejiang_industry_above", "zhejiang_industry_below"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, fast_password_hashing: None) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import create_demo_users
    from jingxin.core.db import upgrade
    from jingxin.core.settings import Settings
    from jingxin.web.app import create_app

    home = tmp_path_factory.mktemp("masking")
    wh_url = f"duckdb:///{home / 'warehouse.duckdb'}"
    wh = open_warehouse(wh_url)
    try:
        load_facts(wh, province(500, years=(2020, 2021), seed=11, counties=[XIHU, SHANGCHENG]))
        runs = {
            (2020, ABOVE): run_evaluation(wh, ABOVE, 2020).run_id,  # references from the data
            (2021, ABOVE): run_evaluation(wh, ABOVE, 2021).run_id,  # published references
            (2021, BELOW): run_evaluation(wh, BELOW, 2021).run_id,  # 亩均税收 and 单位电耗税收
        }
        truth: dict[tuple[str, str], dict[str, Any]] = {}
        for run_id in runs.values():
            res = wh.execute(service.results(wh, run_id))
            for r in res.to_dict("records"):
                r = {k: None if isinstance(v, float) and v != v else v for k, v in r.items()}
                truth[(run_id, r["credit_code"])] = r
        xihu = {
            rid: [c for (r, c), v in truth.items() if r == rid and v["county_code"] == XIHU]
            for rid in runs.values()
        }
    finally:
        wh.close()
    above = sorted(set(xihu[runs[(2021, ABOVE)]]) & set(xihu[runs[(2020, ABOVE)]]))
    below = sorted(xihu[runs[(2021, BELOW)]])
    # below the top class (so a cleared user gets lift advice), vetoes left out
    latest = runs[(2021, ABOVE)]
    climbers = [
        c
        for c in above
        if truth[(latest, c)]["class"] not in ("A", "A+") and not truth[(latest, c)]["veto_reason"]
    ]
    staff = climbers[:3] + below[:2]
    assert len(staff) == 5
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    app = create_app(
        Settings(home=home, database_url=db_url, warehouse=wh_url, secret_key="t"), migrate=False
    )
    with app.state.db.session() as db:
        create_demo_users(db, DEMO_PASSWORD, enterprise_code=staff[0], staff_enterprises=staff)
        db.commit()
    clients: dict[str, TestClient] = {}

    def client(username: str) -> TestClient:
        if username not in clients:
            c = TestClient(app, base_url="http://testserver")
            login(c, username)
            clients[username] = c
        return clients[username]

    yield {"app": app, "client": client, "runs": runs, "truth": truth, "staff": staff, "wh_url": wh_url}
    app.state.warehouse.close()
    app.state.db.dispose()


# ---- the adversary's arithmetic ----------------------------------------------------------------
def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def derive_from_total(result: dict[str, Any], lines: list[dict[str, Any]]) -> float | None:
    """亩均税收 from the total: total + deduction − Σ other points = tax points; ÷ w × ref."""
    total = _num(result.get("total_score"))
    tax = next((line for line in lines if line["indicator"] == "tax_per_mu"), None)
    if total is None or tax is None or result.get("veto_reason"):
        return None
    others = [line for line in lines if line["indicator"] != "tax_per_mu" and line["weight"]]
    if any(_num(line["score"]) is None for line in others):
        return None
    ref = _num(tax.get("reference"))
    points = total + (_num(result.get("deduction")) or 0.0) - sum(float(line["score"]) for line in others)
    if ref is None or not tax["weight"]:
        return None
    return points / tax["weight"] * ref


def derive_gap(explanation: dict[str, Any]) -> float | None:
    """The gap to the next class from a lift option (needed points − points); with a
    published class threshold (or any other enterprise's total) it gives the total back."""
    if _num(explanation.get("gap")) is not None:
        return float(explanation["gap"])
    lines = {line["indicator"]: line for line in explanation["indicators"]}
    for option in explanation.get("options", []):
        line = lines.get(option["indicator"])
        if line and _num(line["score"]) is not None and _num(line["reference"]):
            return option["needed_value"] / line["reference"] * line["weight"] - line["score"]
    return None


def numbers_in(text: str) -> set[str]:
    return set(re.findall(r"\d[\d,]*\.\d+|\d+", text))


def _true_tax_per_mu(row: dict[str, Any]) -> float:
    return row["tax_paid"] / row["land_mu"]


# ---- the attacks -------------------------------------------------------------------------------
def _profile(world: dict[str, Any], username: str, code: str, run_id: str) -> dict[str, Any]:
    response = world["client"](username).get(
        f"/api/v1/evaluation/enterprises/{code}", params={"run_id": run_id}
    )
    assert response.status_code == 200, response.text[:300]
    return response.json()


@pytest.mark.parametrize(("year", "system"), [(2020, ABOVE), (2021, ABOVE), (2021, BELOW)])
def test_the_attack_works_on_a_cleared_view(world, year: int, system: str) -> None:
    """Control: from an analyst's view the derivation recovers the tax exactly, so the same
    derivation failing for service staff means something."""
    run_id = world["runs"][(year, system)]
    code = next(
        c
        for c in world["staff"]
        if (run_id, c) in world["truth"] and not world["truth"][(run_id, c)]["veto_reason"]
    )
    truth = world["truth"][(run_id, code)]
    view = _profile(world, "xihu", code, run_id)
    derived = derive_from_total(view["result"], view["explanation"]["indicators"])
    assert derived == pytest.approx(_true_tax_per_mu(truth), rel=1e-6)
    assert derived * truth["land_mu"] == pytest.approx(truth["tax_paid"], rel=1e-6)
    if system == ABOVE and year == 2021:  # an enterprise below class A has a gap to derive
        gaps = [
            derive_gap(_profile(world, "xihu", c, run_id)["explanation"])
            for c in world["staff"]
            if (run_id, c) in world["truth"]
        ]
        assert any(g is not None for g in gaps)


@pytest.mark.parametrize(("year", "system"), [(2020, ABOVE), (2021, ABOVE), (2021, BELOW)])
def test_service_staff_cannot_recompute_tax_from_a_profile(world, year: int, system: str) -> None:
    run_id = world["runs"][(year, system)]
    fuwu = world["client"]("fuwu")
    checked = 0
    for code in world["staff"]:
        truth = world["truth"].get((run_id, code))
        if truth is None:
            continue
        checked += 1
        view = _profile(world, "fuwu", code, run_id)
        result, exp = view["result"], view["explanation"]
        assert view["masked"] is True
        # the direct figures
        assert result["tax_paid"] == MASK and result["tax_per_mu"] == MASK
        # total − Σ others, whatever the system (规下: 单位电耗税收 reads the tax too)
        assert derive_from_total(result, exp["indicators"]) is None
        for line in exp["indicators"]:
            if line["indicator"] in ("tax_per_mu", "tax_per_kwh"):
                assert line["value"] == line["score"] == line["reference"] == line["lost"] == MASK
                assert line["missing"] == MASK  # "no tax data" is a statement about the tax
        # the lift advice gives no gap
        assert derive_gap(exp) is None and exp["options"] == []
        # last year's total and this year's: none in the history
        for h in view["history"]:
            assert h["total_score"] in (MASK, None) and h["score_change"] in (MASK, None)
            assert h["rank_in_county"] in (MASK, None) and h["rank_in_industry"] in (MASK, None)
        for row in view["indicators"]:
            if row["indicator"] in ("tax_per_mu", "tax_per_kwh"):
                assert row["value"] == row["score"] == MASK
        # and no hidden number in any sentence
        text = " ".join(
            [exp["summary"], exp["advice"], *exp["notes"], *(line["text"] for line in exp["indicators"])]
        )
        hidden = {f"{truth['total_score']:.1f}".rstrip("0").rstrip("."), f"{_true_tax_per_mu(truth):.2f}"}
        if truth["prev_score"] is not None:
            hidden.add(f"{truth['prev_score']:.1f}".rstrip("0").rstrip("."))
        assert not (numbers_in(text) & hidden), (text, hidden)
        # the page shows no more than the API
        html = fuwu.get(f"/evaluation/enterprises/{code}", params={"run": run_id}).text
        for figure in (
            f"{truth['total_score']:,.2f}",
            f"{_true_tax_per_mu(truth):,.2f}",
            f"{truth['tax_paid']:,.2f}",
            f"{truth['score']:,.1f}",
        ):
            assert figure not in html, figure
        assert "score-trend" not in html
    assert checked >= 2


def test_service_staff_cannot_order_their_enterprises_by_total(world) -> None:
    """Ranks of two visible enterprises, or a list sorted by total, are inequalities on tax."""
    fuwu = world["client"]("fuwu")
    listing = fuwu.get("/api/v1/evaluation/results", params={"page_size": 500}).json()
    assert {r["credit_code"] for r in listing["items"]} <= set(world["staff"])
    for r in listing["items"]:
        for key in ("total_score", "rank_in_county", "rank_in_industry", "prev_score", "score_change"):
            assert r[key] in (MASK, None), key
        assert r["tax_paid"] in (MASK, None) and r["tax_per_mu"] in (MASK, None)
    for sort in ("-total_score", "total_score", "rank_in_county", "-rank_in_county", "score_change"):
        response = fuwu.get("/api/v1/evaluation/results", params={"sort": sort})
        assert response.status_code == 400, sort
        assert "无权" in response.json()["detail"]
        assert fuwu.get("/evaluation", params={"sort": sort}).status_code == 400
    # the orders offered are the allowed ones, the default among them
    page = fuwu.get("/evaluation").text
    assert 'value="-total_score"' not in page and 'value="name"' in page
    assert fuwu.get("/api/v1/evaluation/results", params={"sort": "name"}).status_code == 200
    table = page.split('id="results-table"', 1)[1]
    for code in world["staff"]:
        run_id = world["runs"][(2021, ABOVE)]
        truth = world["truth"].get((run_id, code))
        if truth:
            assert f"{truth['total_score']:,.2f}" not in table


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/evaluation/results.xlsx",
        "/evaluation/export.xlsx",
        "/api/v1/evaluation/ranking",
        "/api/v1/evaluation/leaders",
        "/api/v1/dashboard",
        "/ranking",
    ],
)
def test_service_staff_get_no_regional_figures_or_downloads(world, path: str) -> None:
    assert world["client"]("fuwu").get(path).status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/evaluation",
        "/evaluation/enterprises/{code}",
        "/api/v1/evaluation/results",
        "/api/v1/evaluation/enterprises/{code}",
        "/api/v1/evaluation/runs",
        "/api/v1/evaluation/results.xlsx",
        "/api/v1/dashboard",
        "/ranking",
    ],
)
def test_a_liaison_sees_no_evaluation_at_all(world, path: str) -> None:
    response = world["client"]("liaison-sw").get(path.format(code=world["staff"][0]))
    assert response.status_code == 403


def test_the_enterprise_sees_its_own_figures_and_nobody_elses(world) -> None:
    """An enterprise is cleared for itself: its own figures unmasked, nothing of another."""
    qiye = world["client"]("qiye")
    run_id = world["runs"][(2021, ABOVE)]
    own = world["staff"][0]
    view = _profile(world, "qiye", own, run_id)
    truth = world["truth"][(run_id, own)]
    assert view["result"]["tax_paid"] == pytest.approx(truth["tax_paid"])
    assert derive_from_total(view["result"], view["explanation"]["indicators"]) == pytest.approx(
        _true_tax_per_mu(truth), rel=1e-6
    )
    listing = qiye.get("/api/v1/evaluation/results").json()
    assert [r["credit_code"] for r in listing["items"]] == [own]
    body = qiye.get(f"/evaluation/enterprises/{own}").text + str(view)
    for (rid, code), row in world["truth"].items():
        if code != own and rid == run_id and row["tax_paid"] and row["tax_paid"] > 100:
            assert f"{row['tax_paid']:,.2f}" not in body


def test_regional_figures_and_exports_follow_the_same_rule(world) -> None:
    """The layers below the routes apply the rule too: a role without clearance would get no
    regional 亩均税收 or mean score, no ranking by them, and an export without any column
    derived from tax (roles without clearance have no route to these today)."""
    from jingxin.core.visibility import MASKED
    from jingxin.evaluation import presenters
    from jingxin.evaluation.export import ExportQuery, export_frame

    run_id = world["runs"][(2021, BELOW)]
    with world["app"].state.warehouse.reader() as wh:
        data = presenters.dashboard_data(wh, Scope(division=XIHU), XIHU, 2021, ABOVE, MASKED)
        assert data["headline"]["tax_per_mu"] == MASK and data["headline"]["value_added_per_mu"] != MASK
        assert all(r["tax_per_mu"] in (MASK, None) for r in data["regions"] + data["trend"])
        context = presenters.dashboard_context(data, "tax_per_mu", MASKED)
        assert "tax_per_mu" not in context["map_config"]["measures"]
        assert context["map_config"]["measure"] != "tax_per_mu"
        with pytest.raises(Exception, match="无权"):
            presenters.ranking(wh, run_id, Scope(division=XIHU), MASKED, "tax_per_mu")
        with pytest.raises(Exception, match="无权"):
            presenters.ranking(wh, run_id, Scope(division=XIHU), MASKED, "mean_score")
        rows = presenters.ranking(wh, run_id, Scope(division=XIHU), MASKED, "value_added_per_mu")
        assert all(r["tax_per_mu"] in (MASK, None) and r["mean_score"] in (MASK, None) for r in rows)
        assert presenters.leaders(wh, run_id, Scope(division=XIHU), MASKED) == {}
        masked, cols = export_frame(wh, run_id, Scope(division=XIHU), ExportQuery(visibility=MASKED))
        full, _ = export_frame(wh, run_id, Scope(division=XIHU))
    names = set(masked.columns)
    for column in (
        "tax_per_mu_value",
        "tax_per_mu_score",
        "tax_per_kwh_value",
        "tax_per_kwh_score",
        "score",
        "total_score",
        "rank_in_county",
        "rank_in_industry",
        "prev_score",
        "score_change",
    ):
        assert column in full.columns and column not in names, column
    assert {"credit_code", "class", "land_mu"} <= names
    assert len(masked) == len(full)
    # the masked export is not ordered by rank: its order is by county and code
    assert list(masked.credit_code) == sorted(masked.credit_code)


def test_visibility_is_decided_by_role() -> None:
    from jingxin.core.auth import Role
    from jingxin.core.visibility import FULL, MASKED, visibility_for

    assert visibility_for(Role.SERVICE_STAFF) is MASKED and visibility_for(Role.LIAISON) is MASKED
    for role in (Role.ADMIN, Role.PROVINCE_ANALYST, Role.CITY_ANALYST, Role.COUNTY_ANALYST, Role.ENTERPRISE):
        assert visibility_for(role) is FULL
    assert MASKED.withholds_indicator({"tax_paid", "kwh"}) and not MASKED.withholds_indicator(
        {"value_added", "area_mu"}
    )
    assert not FULL.withholds("total_score") and MASKED.withholds("total_score")
    assert MASKED.row({"prev_score": None, "class": "B"}) == {"prev_score": None, "class": "B"}
    # a missing tax is masked too: "no tax record" says something about the tax
    assert MASKED.row({"tax_paid": None})["tax_paid"] == MASK


def test_a_download_for_a_cleared_user_holds_the_figures(world) -> None:
    """Control for the export: an analyst's workbook has the tax columns."""
    from openpyxl import load_workbook

    response = world["client"]("xihu").get(
        "/api/v1/evaluation/results.xlsx", params={"run_id": world["runs"][(2021, BELOW)]}
    )
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    header = next(book["全部企业"].iter_rows(min_row=2, max_row=2, values_only=True))
    assert "综合得分" in header and any("税收" in str(h) for h in header)
