"""What-if evaluation (情景推演): same results as a stored run with the same parameters on
DuckDB, PostgreSQL and PySpark, for a county, a city and the province; region scope; saving,
comparing and adopting scenarios.

One small province (four counties in two cities, two years) is built once for the module
(`evaluation.sample`) on DuckDB, 2020 and 2021 evaluated and stored; the web app serves it on a
SQLite platform database with the demo accounts (xihu = county analyst of 西湖区 330106).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse, open_warehouse, publish_parquet
from jingxin.evaluation.config import ENV_SYSTEMS_DIR, load_system
from jingxin.evaluation.population import FACT_TABLES
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province
from jingxin.evaluation.whatif.engine import engine_for, forget_engines
from jingxin.evaluation.whatif.scenario import Scenario, ScenarioError, apply, to_override
from jingxin.evaluation.whatif.service import scenario_systems
from jingxin.web.testing import DEMO_PASSWORD, login

pytest_plugins = ["jingxin.web.pytest_fixtures"]
pytestmark = pytest.mark.xdist_group("whatif")

XIHU, SHANGCHENG, BINJIANG, LUCHENG = "330106", "330102", "330108", "330302"
COUNTIES = [XIHU, SHANGCHENG, BINJIANG, LUCHENG]
HANGZHOU, PROVINCE = "330100", "330000"
ABOVE = "zhejiang_industry_above"
SCENARIO = Scenario(
    weights={"tax_per_mu": 40, "value_added_per_mu": 10},
    caps={"value_added_per_discharge": 1.5},
    shares={"A": 25, "B": 55, "C": 12, "D": 8},
    land_tax_relief_pct={"A": 90, "B": 50},
)


def stored_county(wh: Warehouse, system: Any, division: str, history: str = "auto") -> pd.DataFrame:
    """A stored run of the division (county, city or province) with `system`."""
    run = run_evaluation(wh, system, 2021, Scope(division=division), history=history)
    res = wh.table("eval_results")
    return wh.execute(res.filter(res.run_id == run.run_id)).sort_values("credit_code").reset_index(drop=True)


def assert_same(stored: pd.DataFrame, what_if: Any) -> None:
    got = what_if.to_pandas().sort_values("credit_code").reset_index(drop=True)
    assert len(stored) == len(got) > 20
    assert list(stored.credit_code) == list(got.credit_code)
    for col in ("class", "score_class", "rank_in_county", "class_rank", "class_n", "consecutive_d_years"):
        same = (stored[col] == got[col]) | (stored[col].isna() & got[col].isna())
        assert same.all(), (col, stored.loc[~same, ["credit_code", col]].head())
    for col in ("total_score", "land_tax_relief_pct", "power_surcharge_yuan_per_kwh"):
        pd.testing.assert_series_equal(
            stored[col].astype(float), got[col].astype(float), check_names=False, rtol=1e-9, atol=1e-6
        )


def with_override(counties: list[str], scenario: Scenario) -> Any:
    """The system with the scenario as the override file of each of `counties`."""
    system = load_system(ABOVE)
    ovs = {c: to_override(system, c, 2021, scenario) for c in counties}
    return system.model_copy(update={"overrides": {**system.overrides, **ovs}})


def check_backend(wh: Warehouse, division: str, history: str = "auto", official_too: bool = True) -> None:
    """What-if of `division` (county, city or province) equals a stored run of the division
    whose counties carry the scenario as their override file."""
    system = load_system(ABOVE)
    engine = engine_for(wh, system, 2021, division, history)  # type: ignore[arg-type]
    try:
        official = engine.official()
        changed = engine.run(scenario_systems(system, engine.targets, 2021, SCENARIO))
        # the scenario changes classes (so the comparison below can fail)
        assert official.column("class").to_pylist() != changed.column("class").to_pylist()
        inside = [c for c in COUNTIES if c.startswith(Scope(division=division).prefix)]
        assert sorted(engine.targets) == sorted(inside)
        assert set(changed.column("county_code").to_pylist()) == set(inside)
        assert_same(stored_county(wh, with_override(inside, SCENARIO), division, history), changed)
        if official_too:
            assert_same(stored_county(wh, system, division, history), engine.official())
    finally:
        forget_engines(wh)


@pytest.fixture(scope="module")
def facts():
    return province(600, years=(2020, 2021), seed=11, counties=COUNTIES)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, facts, fast_password_hashing: None
) -> Iterator[dict[str, Any]]:
    from jingxin.accounts.demo import create_demo_users
    from jingxin.core.db import upgrade
    from jingxin.core.settings import Settings
    from jingxin.web.app import create_app

    home = tmp_path_factory.mktemp("whatif")
    systems = home / "systems"
    systems.mkdir()
    old = os.environ.get(ENV_SYSTEMS_DIR)
    os.environ[ENV_SYSTEMS_DIR] = str(systems)
    wh_url = f"duckdb:///{home / 'warehouse.duckdb'}"
    wh = open_warehouse(wh_url)
    load_facts(wh, facts)
    run_evaluation(wh, ABOVE, 2020)
    run_evaluation(wh, ABOVE, 2021)
    folder = tmp_path_factory.mktemp("parquet")
    publish_parquet(wh, folder, [*FACT_TABLES, "batches"])
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    app = create_app(
        Settings(home=home, database_url=db_url, warehouse=wh_url, secret_key="t"), migrate=False
    )
    with app.state.db.session() as db:
        create_demo_users(db, DEMO_PASSWORD)
        db.commit()
    clients: dict[str, TestClient] = {}

    def client(username: str) -> TestClient:
        if username not in clients:
            c = TestClient(app, base_url="http://testserver")
            c.headers["X-CSRF-Token"] = login(c, username)
            clients[username] = c
        return clients[username]

    try:
        yield {"wh": wh, "app": app, "client": client, "systems": systems, "parquet": folder}
    finally:
        app.state.warehouse.close()
        app.state.db.dispose()
        wh.close()
        if old is None:
            os.environ.pop(ENV_SYSTEMS_DIR, None)
        else:
            os.environ[ENV_SYSTEMS_DIR] = old


def pooled_with_the_city() -> Any:
    """The system with groups under 80 units pooled: this small province's counties (about 55
    units each) then share their class groups with the rest of their city."""
    system = load_system(ABOVE)
    pooling = system.classes.pooling.model_copy(update={"min_size": 80})
    return system.model_copy(update={"classes": system.classes.model_copy(update={"pooling": pooling})})


@pytest.mark.duckdb
def test_county_runs_and_what_ifs_in_groups_pooled_with_the_city(world) -> None:
    """A county's run leaves out the rest of its city but for the class groups shared with it,
    and its what-if scores the rest of the city once: ranks and classes are still the ones the
    whole province's run gives (official and with a scenario)."""
    import pyarrow as pa

    wh, system = world["wh"], pooled_with_the_city()
    county = stored_county(wh, system, XIHU)
    whole = stored_county(wh, system, "330000")
    whole = whole[whole.county_code == XIHU].reset_index(drop=True)
    pooled = county[county.class_group.str.startswith("本市小组合并")]
    assert len(pooled) and (pooled.class_n > len(county)).all()  # other counties' units counted
    assert_same(whole, pa.Table.from_pandas(county))

    engine = engine_for(wh, system, 2021, XIHU)
    try:
        assert len(engine.counties) > len(engine.targets) == 1
        assert_same(county, engine.official())
        changed = engine.run(scenario_systems(system, engine.targets, 2021, SCENARIO))
        ovs = {XIHU: to_override(system, XIHU, 2021, SCENARIO)}
        overridden = system.model_copy(update={"overrides": {**system.overrides, **ovs}})
        province_run = stored_county(wh, overridden, "330000")
        assert_same(province_run[province_run.county_code == XIHU].reset_index(drop=True), changed)
    finally:
        forget_engines(wh)


@pytest.mark.duckdb
def test_duckdb_what_if_equals_a_stored_run(world) -> None:
    check_backend(world["wh"], XIHU)
    check_backend(world["wh"], PROVINCE)


@pytest.mark.postgres
def test_postgres_what_if_equals_a_stored_run(facts, postgres_schema_url) -> None:
    wh = open_warehouse(postgres_schema_url)
    try:
        load_facts(wh, facts)
        run_evaluation(wh, ABOVE, 2020)
        check_backend(wh, SHANGCHENG)
        check_backend(wh, PROVINCE, official_too=False)
        check_backend(wh, HANGZHOU, official_too=False)
    finally:
        wh.close()


@pytest.mark.spark
@pytest.mark.heavy  # a stored run and a what-if on Spark local: many minutes on two cores
@pytest.mark.xdist_group("spark")
def test_spark_what_if_equals_a_stored_run(world) -> None:
    wh = open_warehouse(f"spark://{world['parquet']}")
    try:
        # Spark: no history, scenario only (each Spark stage is a job: minutes on 2 cores)
        check_backend(wh, LUCHENG, history="none", official_too=False)
        check_backend(wh, PROVINCE, history="none", official_too=False)
    finally:
        wh.close()


def test_scenario_errors_name_the_field() -> None:
    system = load_system(ABOVE)
    with pytest.raises(ScenarioError, match="没有指标 nope"):
        apply(system, XIHU, 2021, Scenario(weights={"nope": 3}))
    with pytest.raises(ScenarioError, match="分类比例"):
        apply(system, XIHU, 2021, Scenario(shares={"A": 50, "B": 60, "C": 0, "D": 0}))
    with pytest.raises(ScenarioError, match="至少一个指标"):
        apply(system, XIHU, 2021, Scenario(weights={i.id: 0 for i in system.indicators}))
    with pytest.raises(ScenarioError, match="差别化电价"):
        apply(system, XIHU, 2021, Scenario(surcharge_yuan_per_kwh=[0.1]))


def test_county_analyst_stays_in_its_county(world) -> None:
    xihu = world["client"]("xihu")
    mine = xihu.post("/api/v1/evaluation/whatif", json={"scenario": {"weights": {"tax_per_mu": 40}}})
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["county"] == XIHU and body["enterprises"] > 20
    assert sum(c["scenario"] for c in body["counts"]) == body["enterprises"]
    assert body["moved"] == len(body["movers"]) > 0 and all(m["why"] for m in body["movers"])
    # crossing the county boundary: API, page, form post and saved scenarios all refuse
    other = {"county": SHANGCHENG, "scenario": {}}
    assert xihu.post("/api/v1/evaluation/whatif", json=other).status_code == 404
    assert xihu.get(f"/evaluation/whatif?county={SHANGCHENG}").status_code == 404
    form = {"county": SHANGCHENG, "w_tax_per_mu": "40"}
    assert xihu.post("/evaluation/whatif/run", data=form).status_code == 404
    assert xihu.post("/api/v1/evaluation/whatif/scenarios", json={**other, "name": "越界"}).status_code == 404
    sheng = world["client"]("sheng")
    saved = sheng.post("/api/v1/evaluation/whatif/scenarios", json={**other, "name": "上城情景"})
    assert saved.status_code == 201, saved.text
    assert xihu.get(f"/api/v1/evaluation/whatif/scenarios?county={SHANGCHENG}").status_code == 404
    mine_saved = xihu.post(
        "/api/v1/evaluation/whatif/scenarios",
        json={"name": "西湖", "scenario": {"weights": {"tax_per_mu": 40}}},
    ).json()
    pair = f"/evaluation/whatif?a={saved.json()['id']}&b={mine_saved['id']}"
    assert xihu.get(pair).status_code == 404
    assert xihu.post(f"/api/v1/evaluation/whatif/scenarios/{mine_saved['id']}/adopt").status_code == 403
    # nor the city or the province as a whole
    for above in (HANGZHOU, PROVINCE):
        assert xihu.post("/api/v1/evaluation/whatif", json={"county": above}).status_code == 404
        assert xihu.get(f"/evaluation/whatif?county={above}").status_code == 404


def test_province_and_city_what_if_stay_in_scope(world) -> None:
    """A province analyst re-runs the whole province, a city analyst its city; one scenario
    changes every county in it; neither reaches above its own division."""
    scenario = {"weights": {"tax_per_mu": 40}, "shares": {"A": 25, "B": 55, "C": 12, "D": 8}}
    sheng = world["client"]("sheng")
    whole = sheng.post("/api/v1/evaluation/whatif", json={"county": PROVINCE, "scenario": scenario})
    assert whole.status_code == 200, whole.text
    body = whole.json()
    assert body["county"] == PROVINCE and body["level"] == "province" and body["county_rank"] is None
    one = sheng.post("/api/v1/evaluation/whatif", json={"county": XIHU, "scenario": scenario}).json()
    assert body["enterprises"] > one["enterprises"] > 20
    assert sum(c["scenario"] for c in body["counts"]) == body["enterprises"]
    assert body["moved"] > one["moved"] > 0
    page = sheng.get(f"/evaluation/whatif?county={PROVINCE}")
    assert page.status_code == 200 and "省内排名" in page.text
    assert sheng.get("/evaluation/whatif").status_code == 200  # a county first, the province on request
    hangzhou = world["client"]("hangzhou")
    city = hangzhou.post("/api/v1/evaluation/whatif", json={"county": HANGZHOU, "scenario": scenario})
    assert city.status_code == 200, city.text
    assert (
        city.json()["level"] == "city"
        and one["enterprises"] < city.json()["enterprises"] < body["enterprises"]
    )
    for outside in (PROVINCE, "330300", LUCHENG):
        assert hangzhou.post("/api/v1/evaluation/whatif", json={"county": outside}).status_code == 404
    # a province scenario is saved, but adopting it as a county override file is refused
    admin = world["client"]("admin")
    saved = admin.post(
        "/api/v1/evaluation/whatif/scenarios", json={"county": PROVINCE, "name": "全省", "scenario": scenario}
    )
    assert saved.status_code == 201, saved.text
    refused = admin.post(f"/api/v1/evaluation/whatif/scenarios/{saved.json()['id']}/adopt")
    assert refused.status_code == 422 and "区县参数文件" in refused.json()["detail"]


def test_bad_form_input_is_explained(world) -> None:
    xihu = world["client"]("xihu")
    page = xihu.post("/evaluation/whatif/run", data={"county": XIHU, "w_tax_per_mu": "三十"})
    assert page.status_code == 200 and "亩均税收权重" in page.text and "不是数字" in page.text


def test_adopting_writes_the_override_and_audits(world) -> None:
    from jingxin.core import audit

    wh = world["wh"]
    runs_before = wh.execute(wh.table("eval_runs").count())
    admin = world["client"]("admin")
    scenario = {"weights": {"tax_per_mu": 35}, "shares": {"A": 22, "B": 58, "C": 15, "D": 5}}
    saved = admin.post(
        "/api/v1/evaluation/whatif/scenarios",
        json={"county": BINJIANG, "name": "滨江35", "scenario": scenario},
    ).json()
    done = admin.post(f"/api/v1/evaluation/whatif/scenarios/{saved['id']}/adopt")
    assert done.status_code == 200, done.text
    path = world["systems"] / "overrides" / ABOVE / f"{BINJIANG}.yaml"
    assert path.is_file()
    system = load_system(ABOVE)
    county = system.for_county(BINJIANG)
    assert county.indicator("tax_per_mu").weight == 35 and county.classes.shares["A"] == 22
    with world["app"].state.db.session() as db:
        entries = audit.search(db, action="whatif_adopt", limit=10)[0]
    assert entries and entries[0].object_id == str(saved["id"])
    # nothing written to the official results
    assert wh.execute(wh.table("eval_runs").count()) == runs_before
    path.unlink()
