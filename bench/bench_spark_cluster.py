"""Benchmark of the Spark path: publish time, and the evaluation on a standalone cluster with two
workers against Spark local mode (and DuckDB, the serving store, for reference).

A province of `--size` enterprises (`jingxin.evaluation.sample.province`, 2020–2021) is loaded
into a DuckDB file; 2020 and 2021 are evaluated there (2021 timed). `jingxin publish` writes it
to a Spark warehouse (timed). The 2021 evaluation (`zhejiang_industry_above`, last year's
results from the stored 2020 run) is then run with `jingxin evaluate` twice, each a driver
process of its own: on `local[2]`, and on a standalone master with two workers (one core and
`--worker-memory` each) started here from the installed PySpark. A second publish writes both
Spark runs back into DuckDB (timed); their classes, ranks and totals are compared with
DuckDB's run.

    .venv/bin/python bench/bench_spark_cluster.py --size 1000000 --worker-memory 4g

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jingxin.core.spark.standalone import standalone_cluster
from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province

SYSTEM = "zhejiang_industry_above"
JINGXIN = str(Path(sys.executable).parent / "jingxin")


def _cli(*args: str, env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run([JINGXIN, *args, "--json"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stdout + done.stderr[-4000:])
    out = json.loads(done.stdout)
    out["process_seconds"] = round(time.perf_counter() - started, 1)
    return out


def _results(wh, run_id: str):
    t = wh.table("eval_results")
    cols = ["credit_code", "class", "rank_in_county", "rank_in_industry", "class_rank", "total_score"]
    frame = wh.execute(t.filter(t.run_id == run_id).select(*cols))
    return frame.sort_values("credit_code").reset_index(drop=True)


def _progress(out: dict[str, Any]) -> None:
    """The figures so far on stderr, so that a run stopped half-way still leaves them."""
    print(json.dumps(out), file=sys.stderr, flush=True)


def bench(size: int, seed: int, worker_memory: str, driver_memory: str) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench_spark_"))
    duck_url = f"duckdb:///{work / 'serving.duckdb'}"
    out: dict[str, Any] = {
        "size": size,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "worker_memory": worker_memory,
        "driver_memory": driver_memory,
    }
    wh = open_warehouse(duck_url)
    try:
        started = time.perf_counter()
        load_facts(wh, province(size, years=(2020, 2021), seed=seed))
        out["load_seconds"] = round(time.perf_counter() - started, 1)
        run_evaluation(wh, SYSTEM, 2020)
        duck = run_evaluation(wh, SYSTEM, 2021)
        out["duckdb"] = {"seconds": duck.seconds, "evaluated": duck.enterprise_count}
        _progress(out)
    finally:
        wh.close()
    env = {
        **os.environ,
        "JINGXIN_HOME": str(work),
        "JINGXIN_WAREHOUSE": duck_url,
        "JINGXIN_SPARK_MEMORY": driver_memory,
        "JINGXIN_SPARK_EXECUTOR_MEMORY": worker_memory,
    }
    local_url = f"spark://{work / 'spark'}"
    out["publish"] = _cli("publish", "--to", local_url, env=env)
    out["publish"].pop("tables", None)
    _progress(out)
    evaluate = ("evaluate", "--year", "2021", "--system", SYSTEM, "--history", "runs")
    local = _cli(*evaluate, "--warehouse", local_url, env={**env, "JINGXIN_SPARK_MASTER": "local[2]"})
    out["spark_local2"] = {k: local[k] for k in ("run_id", "seconds", "timings", "process_seconds")}
    _progress(out)
    with standalone_cluster(work / "cluster", workers=2, worker_memory=worker_memory) as cluster:
        cluster_url = f"spark://127.0.0.1:{cluster.port}{work / 'spark'}"
        on_cluster = _cli(*evaluate, "--warehouse", cluster_url, env=env)
        apps = cluster.state()["completedapps"]
    keys = ("run_id", "seconds", "timings", "process_seconds")
    out["spark_cluster_2_workers"] = {k: on_cluster[k] for k in keys}
    out["spark_cluster_2_workers"]["cores"] = apps[-1]["cores"] if apps else None
    _progress(out)
    second = _cli("publish", "--to", local_url, env=env)
    out["publish_with_write_back"] = {k: second[k] for k in ("version", "seconds", "collected_runs")}
    wh = open_warehouse(duck_url)
    try:
        expected = _results(wh, duck.run_id)
        spark_runs = {"spark_local2": local["run_id"], "spark_cluster_2_workers": on_cluster["run_id"]}
        for key, run_id in spark_runs.items():
            got = _results(wh, run_id)
            same = len(got) == len(expected) and (got.credit_code == expected.credit_code).all()
            out[key]["mismatches"] = {
                col: int((got[col] != expected[col]).sum()) if same else None
                for col in ("class", "rank_in_county", "rank_in_industry", "class_rank")
            }
            out[key]["max_total_difference"] = (
                float((got.total_score - expected.total_score).abs().max()) if same else None
            )
    finally:
        wh.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker-memory", default="4g", help="memory each worker offers its executor")
    parser.add_argument("--driver-memory", default="4g")
    args = parser.parse_args()
    print(json.dumps(bench(args.size, args.seed, args.worker_memory, args.driver_memory), indent=2))


if __name__ == "__main__":
    main()
