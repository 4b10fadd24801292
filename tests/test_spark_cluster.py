"""Spark as a province's cluster runs it: a standalone master and two workers on this machine.

The module starts the cluster once from the installed PySpark (`spark-class`, bound to
127.0.0.1, one core and a little memory per worker) and stops its JVMs at the end. A small
province on DuckDB is published with `jingxin publish --to spark://127.0.0.1:<port>/…`,
evaluated on the cluster with `jingxin evaluate` (a driver process of its own, with the Hive
catalog on), written back into DuckDB by a second publish and compared with DuckDB's own run;
a second Spark session, knowing nothing but the catalog folder, finds the tables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jingxin.core.spark.standalone import Cluster, standalone_cluster
from jingxin.core.spark.storage import Storage
from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province
from jingxin.evaluation.writeback import collect_spark_runs

pytest_plugins = ["jingxin.web.pytest_fixtures"]
pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.heavy, pytest.mark.xdist_group("spark")]

SYSTEM = "zhejiang_industry_above"
JINGXIN = str(Path(sys.executable).parent / "jingxin")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A standalone master and two workers (1 core, 512 MiB for executors each)."""
    with standalone_cluster(tmp_path_factory.mktemp("spark_cluster"), workers=2) as running:
        yield running


def _jingxin(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([JINGXIN, *args], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    return done.stdout


@pytest.fixture(scope="module")
def flow(cluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Publish a small province, evaluate it on the cluster, publish again (writing the run back)."""
    home = tmp_path_factory.mktemp("spark_flow")
    duck_url = f"duckdb:///{home / 'serving.duckdb'}"
    wh = open_warehouse(duck_url)
    try:
        load_facts(wh, province(400, years=(2021,), seed=20))
        reference = run_evaluation(wh, SYSTEM, 2021, history="none")
    finally:
        wh.close()
    spark_url = f"spark://127.0.0.1:{cluster.port}{home / 'spark'}"
    env = {
        **os.environ,
        "JINGXIN_HOME": str(home),
        "JINGXIN_WAREHOUSE": duck_url,
        "JINGXIN_SPARK_WAREHOUSE": spark_url,
        "JINGXIN_SPARK_MEMORY": "512m",
        "JINGXIN_SPARK_EXECUTOR_MEMORY": "512m",
        "JINGXIN_SPARK_PARTITIONS": "2",
        "JINGXIN_SPARK_CATALOG": str(home / "catalog"),
    }
    first = json.loads(_jingxin("publish", "--json", env=env))
    evaluated = json.loads(
        _jingxin(
            "evaluate",
            "--warehouse",
            spark_url,
            "--year",
            "2021",
            "--system",
            SYSTEM,
            "--history",
            "none",
            "--json",
            env=env,
        )  # fmt: skip
    )
    apps = cluster.state()["completedapps"]
    second = json.loads(_jingxin("publish", "--json", env=env))
    return {
        "home": home,
        "env": env,
        "duck_url": duck_url,
        "spark_url": spark_url,
        "reference": reference,
        "evaluated": evaluated,
        "first": first,
        "second": second,
        "apps": apps,
    }


def _results(wh, run_id: str):
    t = wh.table("eval_results")
    return wh.execute(t.filter(t.run_id == run_id)).sort_values("credit_code").reset_index(drop=True)


def test_cluster_evaluation_matches_duckdb_and_reaches_the_serving_store(flow) -> None:
    run_id = flow["evaluated"]["run_id"]
    # The evaluation ran as an application of the standalone master, on both workers' cores.
    app = next(a for a in flow["apps"] if a["name"] == "jingxin")
    assert app["cores"] == 2
    # The second publish wrote the Spark run back into DuckDB with its lineage.
    assert flow["second"]["collected_runs"] == [run_id]
    wh = open_warehouse(flow["duck_url"])
    try:
        runs = wh.execute(wh.table("eval_runs")).set_index("run_id")
        spark_run, duck_run = runs.loc[run_id], runs.loc[flow["reference"].run_id]
        assert spark_run.backend == "spark" and duck_run.backend == "duckdb"
        assert spark_run.config_hash == duck_run.config_hash
        assert json.loads(spark_run.batches_used) == json.loads(duck_run.batches_used)
        assert json.loads(spark_run.batches_used)["tax"]  # the batch ids it read are recorded
        got, expected = _results(wh, run_id), _results(wh, flow["reference"].run_id)
        scores = wh.table("eval_scores")
        n_scores = wh.execute(scores.filter(scores.run_id == run_id).count())
    finally:
        wh.close()
    assert len(got) == len(expected) > 100
    assert list(got.credit_code) == list(expected.credit_code)
    for col in ("class", "score_class", "rank_in_county", "rank_in_industry", "class_rank", "unit_id"):
        mismatches = int((got[col] != expected[col]).sum())
        assert mismatches == 0, (col, mismatches)
    assert (got.total_score - expected.total_score).abs().max() < 1e-9
    assert n_scores == len(got) * 8


def test_spark_runs_survive_a_publish_and_show_in_the_web_app(flow, fast_password_hashing) -> None:
    from fastapi.testclient import TestClient

    from jingxin.accounts.demo import create_demo_users
    from jingxin.core.db import upgrade
    from jingxin.core.settings import Settings
    from jingxin.web.app import create_app
    from jingxin.web.testing import DEMO_PASSWORD, login

    run_id = flow["evaluated"]["run_id"]
    storage = Storage.at(str(flow["home"] / "spark"))
    # The publish switched versions and left the rows written on Spark alone.
    assert flow["second"]["previous"] == flow["first"]["version"]
    assert storage.current_version() == flow["second"]["version"]
    assert "eval_runs" in storage.written_tables()
    serving = open_warehouse(flow["duck_url"])
    try:
        assert collect_spark_runs(storage, serving) == []  # written back once, not twice
        assert serving.execute(serving.table("eval_runs").count()) == 2
    finally:
        serving.close()
    db_url = f"sqlite:///{flow['home'] / 'platform.sqlite'}"
    upgrade(db_url)
    app = create_app(
        Settings(home=flow["home"], database_url=db_url, warehouse=flow["duck_url"], secret_key="t"),
        migrate=False,
    )
    try:
        with app.state.db.session() as db:
            create_demo_users(db, DEMO_PASSWORD)
            db.commit()
        client = TestClient(app, base_url="http://testserver")
        login(client, "admin")
        answer = client.get("/api/v1/evaluation/runs")
        assert answer.status_code == 200
        listed = {r["run_id"]: r for r in answer.json()}
        assert listed[run_id]["backend"] == "spark"
        page = client.get(f"/evaluation?year=2021&system={SYSTEM}")
        assert page.status_code == 200 and run_id in page.text  # the newest run of the year
    finally:
        app.state.warehouse.close()
        app.state.db.dispose()


CATALOG_READER = """
import json, sys
from pyspark.sql import SparkSession
from jingxin.core.spark.catalog import with_hive_catalog
spark = with_hive_catalog(SparkSession.builder.master("local[1]"), sys.argv[1]).getOrCreate()
out = {
    "databases": sorted(r[0] for r in spark.sql("SHOW DATABASES").collect()),
    "written_runs": [r[0] for r in spark.sql("SELECT run_id FROM jingxin_written.eval_runs").collect()],
    "current_runs": [r[0] for r in spark.sql("SELECT run_id FROM jingxin.eval_runs").collect()],
    "registry": spark.sql("SELECT count(*) FROM jingxin.registry").collect()[0][0],
}
spark.stop()
print("CATALOG " + json.dumps(out))
"""


def test_hive_catalog_persists_across_spark_sessions(flow) -> None:
    """A new Spark session with only the catalog folder finds the tables of the first one."""
    from jingxin.core.spark.catalog import version_database

    env = {**flow["env"], "SPARK_LOCAL_IP": "127.0.0.1"}
    done = subprocess.run(
        [sys.executable, "-c", CATALOG_READER, flow["env"]["JINGXIN_SPARK_CATALOG"]],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    line = next((x for x in done.stdout.splitlines() if x.startswith("CATALOG ")), None)
    assert line, done.stderr[-4000:]
    seen = json.loads(line[len("CATALOG ") :])
    run_id = flow["evaluated"]["run_id"]
    assert version_database(flow["first"]["version"]) in seen["databases"]
    assert {"jingxin", "jingxin_written"} <= set(seen["databases"])
    assert seen["written_runs"] == [run_id]
    # The view of the current version: DuckDB's own run (published) and the run written on Spark.
    assert sorted(seen["current_runs"]) == sorted([run_id, flow["reference"].run_id])
    assert seen["registry"] == flow["first"]["tables"]["registry"]
