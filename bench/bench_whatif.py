"""Benchmark of the what-if engine (情景推演): a county and the whole province, beside the
stored run.

For each size a province is generated (`evaluation.sample.province`, 2020–2021), loaded into a
DuckDB file, and 2020 and 2021 stored (`stored run`: the 2021 run end to end, timed). Then, on
the same data and in one process, for the county with the most evaluated enterprises and for
the province (330000):

- `build`: the engine built once (facts and the parameter-free scoring staged, statements
  compiled; the first what-if of a division pays it, later ones reuse it);
- `run`: `--runs` recomputations with a changed weight and changed class shares (parameter rows
  written, the scored table refilled and the final statement run through their prepared
  statements, results fetched), median;
- `request`: the same through `service.run_scenario` with the comparison (what the page shows);
- `http`: the JSON API (`POST /api/v1/evaluation/whatif`) and the form's HTMX fragment
  (`POST /evaluation/whatif/run`, what the browser waits for) through the web app in this
  process (Starlette's TestClient, logged in as the province analyst), median.

Every figure is given as wall seconds and CPU seconds (user + system of this process, all
threads; `resource.getrusage`): the machine is shared, so CPU seconds are the fairer measure;
the load average is printed at the start and end of each size.

    .venv/bin/python bench/bench_whatif.py --sizes 5000 100000

Prints one JSON line per size. `--pandas` adds the pandas baseline of `bench/bench_evaluation.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_evaluation import YEARS  # noqa: E402

from jingxin.core.warehouse import open_warehouse  # noqa: E402
from jingxin.evaluation.config import load_system  # noqa: E402
from jingxin.evaluation.runs import run_evaluation  # noqa: E402
from jingxin.evaluation.sample import load_facts, province  # noqa: E402
from jingxin.evaluation.whatif.engine import engine_for, forget_engines  # noqa: E402
from jingxin.evaluation.whatif.scenario import Scenario  # noqa: E402
from jingxin.evaluation.whatif.service import run_scenario, scenario_systems  # noqa: E402

SYSTEM = "zhejiang_industry_above"
PROVINCE = "330000"
SCENARIO = Scenario(weights={"tax_per_mu": 35}, shares={"A": 20, "B": 62, "C": 10, "D": 8})
FORM = {"w_tax_per_mu": "35", "share_A": "20", "share_B": "62", "share_C": "10", "share_D": "8"}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(fn: Callable[[], Any], runs: int = 1) -> tuple[float, float, Any]:
    """Median wall and CPU seconds of `runs` calls, and the last answer."""
    walls, cpus, answer = [], [], None
    for _ in range(runs):
        t, c = time.perf_counter(), _cpu()
        answer = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(_cpu() - c)
    return round(statistics.median(walls), 4), round(statistics.median(cpus), 4), answer


def _web(home: Path, wh_url: str) -> Any:
    """The web app on this warehouse, with the demo accounts, and a client logged in as the
    province analyst (`sheng`)."""
    from fastapi.testclient import TestClient

    from jingxin.accounts.demo import create_demo_users
    from jingxin.core import auth
    from jingxin.core.db import upgrade
    from jingxin.core.settings import Settings
    from jingxin.web.app import create_app
    from jingxin.web.testing import DEMO_PASSWORD, FAST_HASHER, login

    auth.configure_hasher(FAST_HASHER)  # the login is not what is measured
    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    app = create_app(
        Settings(home=home, database_url=db_url, warehouse=wh_url, secret_key="b"), migrate=False
    )
    with app.state.db.session() as db:
        create_demo_users(db, DEMO_PASSWORD)
        db.commit()
    client = TestClient(app, base_url="http://testserver")
    client.headers["X-CSRF-Token"] = login(client, "sheng")
    return app, client


def _division(out: dict[str, Any], key: str, wh: Any, client: Any, division: str, runs: int) -> None:
    system = load_system(SYSTEM)
    wall, cpu, engine = _timed(lambda: engine_for(wh, system, YEARS[1], division))
    out[f"{key}_build"] = {"wall": wall, "cpu": cpu}
    engine.official()
    changes = scenario_systems(system, engine.targets, YEARS[1], SCENARIO)
    wall, cpu, _ = _timed(lambda: engine.run(changes), runs)
    out[f"{key}_run"] = {"wall": wall, "cpu": cpu}
    wall, cpu, answer = _timed(lambda: run_scenario(wh, SYSTEM, YEARS[1], division, SCENARIO), runs)
    out[f"{key}_request"] = {"wall": wall, "cpu": cpu}
    out[f"{key}_enterprises"], out[f"{key}_moved"] = answer["enterprises"], answer["moved"]
    body = {"county": division, "year": YEARS[1], "system": SYSTEM, "scenario": SCENARIO.model_dump()}
    client.post("/api/v1/evaluation/whatif", json=body)  # the web app's engine: built once
    wall, cpu, resp = _timed(lambda: client.post("/api/v1/evaluation/whatif", json=body), runs)
    assert resp.status_code == 200, resp.text[:500]
    out[f"{key}_http_api"] = {"wall": wall, "cpu": cpu}
    form = {"county": division, "year": str(YEARS[1]), "system": SYSTEM, **FORM}
    wall, cpu, resp = _timed(lambda: client.post("/evaluation/whatif/run", data=form), runs)
    assert resp.status_code == 200 and "whatif-counts" in resp.text, resp.text[:500]
    out[f"{key}_http_form"] = {"wall": wall, "cpu": cpu}


def bench_size(n: int, runs: int, seed: int, with_pandas: bool) -> dict[str, Any]:
    system = load_system(SYSTEM)
    out: dict[str, Any] = {"enterprises": n, "load_average_start": os.getloadavg()}
    facts = province(n, years=YEARS, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        wh_url = f"duckdb:///{home / 'wh.duckdb'}"
        wh = open_warehouse(wh_url)
        load_facts(wh, facts)
        run_evaluation(wh, system, YEARS[0])
        t, c = time.perf_counter(), _cpu()
        summary = run_evaluation(wh, system, YEARS[1])
        out["stored_run"] = {"wall": round(time.perf_counter() - t, 3), "cpu": round(_cpu() - c, 3)}
        out["evaluated"] = summary.enterprise_count
        if with_pandas:
            out["pandas_seconds"] = _pandas(facts, system)
        res = wh.table("eval_results")
        mine = res.filter(res.run_id == summary.run_id)
        counts = wh.execute(mine.group_by("county_code").aggregate(k=mine.count()))
        county = str(counts.sort_values("k").iloc[-1].county_code)
        out["county"] = county
        app, client = _web(home, wh_url)
        try:
            _division(out, "county", wh, client, county, runs)
            _division(out, "province", wh, client, PROVINCE, max(3, runs // 2))
        finally:
            client.close()
            forget_engines(app.state.warehouse)
            app.state.warehouse.close()
            app.state.db.dispose()
        out["load_average_end"] = os.getloadavg()
        forget_engines(wh)  # drop the staged facts before the connection closes
        wh.close()
    return out


def _pandas(facts: dict[str, Any], system: Any) -> float:
    import numpy as np
    import pandas as pd
    from bench_evaluation import pandas_evaluate

    frames = {}
    for batch, (name, table) in enumerate(facts.items(), start=1):
        frame = table.to_pandas()
        frame["batch_id"], frame["source_row"] = batch, np.arange(2, len(frame) + 2)
        frames[name] = frame
    frames["power_monthly"]["month"] = pd.to_datetime(frames["power_monthly"]["month"])
    prev = pandas_evaluate(frames, system, YEARS[0], None)
    t = time.perf_counter()
    pandas_evaluate(frames, system, YEARS[1], prev)
    return round(time.perf_counter() - t, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 100_000])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pandas", action="store_true", help="add the pandas baseline")
    args = parser.parse_args()
    print(json.dumps({"machine": {"platform": platform.platform(), "cpus": os.cpu_count()}}))
    for n in args.sizes:
        print(json.dumps(bench_size(n, args.runs, args.seed, args.pandas), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
