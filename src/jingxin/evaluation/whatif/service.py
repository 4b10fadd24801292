"""What-if for the pages and the API (情景推演服务): scope checks, one call per recomputation.

`run_scenario` answers a what-if of a county, a city or the province: the engine kept for the
division (built at the first call, `engine.engine_for`), its official results (kept), the
scenario's results, and the comparison (`compare.compare`). A scenario of a city or the
province applies to every county in it, each over its own parameters (`scenario_systems`).
For a county the comparison adds its place among the counties by mean score and share of
class A (`county_rank`: the other counties' figures from the latest province-wide stored run;
only this county's place is shown, no other county's figures).
"""

from __future__ import annotations

import functools
import time
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from jingxin.core.cache import cached_read
from jingxin.core.scope import Scope, division_prefix
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.config import System, _search_dirs, load_system
from jingxin.evaluation.whatif.compare import compare
from jingxin.evaluation.whatif.engine import division_level, engine_for
from jingxin.evaluation.whatif.scenario import Scenario, apply


def whatif_system(system_id: str) -> System:
    """`config.load_system`, kept while none of the files it reads changes (the system's YAML
    and its override files: adopting a scenario writes one). Parsing the YAML costs more than
    a county's recomputation; every what-if request needs the system."""
    dirs = _search_dirs(None)
    files = [d / f"{system_id}.yaml" for d in dirs]
    files += [f for d in dirs for f in sorted((d / "overrides" / system_id).glob("*.yaml"))]
    signature = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.is_file())
    return _load(system_id, signature)


@functools.lru_cache(maxsize=16)
def _load(system_id: str, signature: tuple) -> System:
    return load_system(system_id)


class OutOfScope(LookupError):
    """The county is not in the user's scope (answered as not found)."""


def check_division(scope: Scope, division: str | None) -> str:
    """The division (county, city or province) the user may re-run, by the scope's rule
    (`Scope.allows_division`): a county analyst only its own county, a city analyst its city
    or a county of it, a province analyst any of them. Without one: the user's own division
    when it is a county."""
    if division is None and scope.division and len(division_prefix(scope.division)) == 6:
        division = scope.division
    if (
        division is None
        or len(division) != 6
        or not division.isdigit()
        or not scope.allows_division(division)
    ):
        raise OutOfScope(division)
    return division


@cached_read
def county_figures(wh: Warehouse, system_id: str, year: int) -> dict[str, tuple[float, float]]:
    """county → (mean score, share of class A and better) of the latest province-wide run."""
    if not (wh.has_table("eval_runs") and wh.has_table("eval_results")):
        return {}
    runs = wh.table("eval_runs")
    runs = runs.filter((runs.system == system_id) & (runs.year == year) & (runs.scope == "330000"))
    found = wh.to_pyarrow(runs.order_by(ibis.desc("created_at")).select("run_id").limit(1)).to_pylist()
    if not found:
        return {}
    system = whatif_system(system_id)
    top = [system.classes.order[0], "A+"]
    res = wh.table("eval_results")
    res = res.filter(res.run_id == found[0]["run_id"])
    per = res.group_by("county_code").aggregate(
        mean=res.total_score.mean(where=res.is_lead), a=res["class"].isin(top).mean()
    )
    return {
        r["county_code"]: (float(r["mean"] or 0), float(r["a"] or 0)) for r in wh.to_pyarrow(per).to_pylist()
    }


def _figures(t: pa.Table, top: list[str]) -> tuple[float, float]:
    lead = t.filter(pc.fill_null(t["is_lead"], True))
    mean = pc.mean(lead["total_score"]).as_py() or 0.0
    a = pc.mean(pc.cast(pc.is_in(t["class"], pa.array(top)), pa.float64())).as_py() or 0.0
    return float(mean), float(a)


def county_rank(
    wh: Warehouse, system: System, year: int, county: str, official: pa.Table, scenario: pa.Table
) -> dict[str, Any] | None:
    """This county's place among the counties, official and with the scenario."""
    others = dict(county_figures(wh, system.id, year))
    if len(others) < 2:
        return None
    top = [system.classes.order[0], "A+"]
    out: dict[str, Any] = {"counties": len(others | {county: (0, 0)})}
    for label, table in (("official", official), ("scenario", scenario)):
        figs = {**others, county: _figures(table, top)}
        for k, key in ((0, "mean_score"), (1, "a_share")):
            mine = figs[county][k]
            out.setdefault(key, {})[label] = 1 + sum(
                1 for c, f in figs.items() if c != county and f[k] > mine
            )
            out.setdefault(key + "_value", {})[label] = round(mine * (100 if k else 1), 2)
    return out


def official_parameters(system: System, county: str, year: int) -> dict[str, Any]:
    """The county's official parameters, as the what-if form shows them."""
    s = system.for_county(county)
    sur = s.policies.power_surcharge
    return {
        "indicators": [
            {
                "id": i.id,
                "name": i.name,
                "unit": i.unit,
                "weight": i.weight,
                "reference": s.reference_rule(i).fixed_for(year),
                "cap": i.cap if i.cap is not None else s.scoring.cap_multiple,
            }
            for i in s.indicators
        ],
        "classes": s.classes.order,
        "all_classes": s.classes.all_classes,
        "method": s.classes.method,
        "shares": dict(s.classes.shares),
        "thresholds": dict(s.classes.thresholds),
        "relief": {c: s.policies.land_tax_relief_pct.get(c) for c in s.classes.all_classes},
        "surcharge": []
        if sur is None
        else [{"min_years": st.min_years, "rate": st.yuan_per_kwh} for st in sur.steps],
        "surcharge_class": None if sur is None else sur.class_,
    }


def scenario_systems(system: System, counties: list[str], year: int, scenario: Scenario) -> dict[str, System]:
    """Each county's system with the scenario applied (`scenario.apply`); the counties without
    an override of their own share one (applied once: a province has about ninety counties)."""
    out: dict[str, System] = {}
    shared: System | None = None
    for county in counties:
        if county in system.overrides:
            out[county] = apply(system, county, year, scenario)
        else:
            if shared is None:
                shared = apply(system, county, year, scenario)
            out[county] = shared
    return out


def scenario_result(
    wh: Warehouse, system: System, year: int, division: str, scenario: Scenario
) -> tuple[pa.Table, pa.Table]:
    """(official results, the scenario's results) of the division."""
    engine = engine_for(wh, system, year, division)
    official = engine.official()
    if scenario.is_empty():
        return official, official
    return official, engine.run(scenario_systems(system, engine.targets, year, scenario))


AREA = {"county": "县内", "city": "市内", "province": "省内"}


def run_scenario(
    wh: Warehouse, system_id: str, year: int, division: str, scenario: Scenario
) -> dict[str, Any]:
    """Recompute the division (county, city or province) with the scenario and compare it with
    the official parameters."""
    started = time.perf_counter()
    system = whatif_system(system_id)
    division_system = apply(system, division, year, scenario)  # checks the scenario once
    engine = engine_for(wh, system, year, division)
    official = engine.official()
    computed = time.perf_counter()
    result = official
    if not scenario.is_empty():
        result = engine.run(scenario_systems(system, engine.targets, year, scenario))
    ran = time.perf_counter()
    level = division_level(division)
    out = compare(system.for_county(division), division_system, official, result)
    out["level"], out["area"] = level, AREA[level]
    out["county_rank"] = None
    out["references"] = dict.fromkeys((i.id for i in system.indicators), None)
    if level == "county":
        out["county_rank"] = county_rank(wh, system, year, division, official, result)
        mine = official.filter(pc.equal(official["county_code"], division))
        out["references"] = {
            i.id: (None if mine.num_rows == 0 else pc.min(mine[f"ref_{i.id}"]).as_py())
            for i in system.indicators
        }
    out["seconds"] = {
        "engine": round(computed - started, 3),
        "run": round(ran - computed, 3),
        "total": round(time.perf_counter() - started, 3),
    }
    return out
