"""The engine against the hand-written SQL reference of `zhejiang_industry_above` (bench/reference_sql.py).

A small generated province with every rule the reference covers in play: shared parcels (one
of them leased by its second user), sublet deductions, vetoes, a rated 小微企业园 with members
that have no land of their own, 黄岩's fixed references, small industries pooled, and last
year's stored run. Totals, ranks, classes, class groups and policy columns must be equal.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation.config import load_system
from jingxin.evaluation.runs import load_inputs, run_evaluation
from jingxin.evaluation.sample import load_facts, load_parks, province

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from reference_sql import check_system, reference_run  # noqa: E402

SYSTEM = "zhejiang_industry_above"
COUNTIES = ["331003", "331004", "330102", "330106"]
COMPARED = [
    "unit_id",
    "member_count",
    "is_lead",
    "county_code",
    "division_code",
    "land_mu",
    "score",
    "sublet_tenants",
    "deduction",
    "total_score",
    "rank_in_county",
    "county_count",
    "rank_in_industry",
    "industry_count",
    "class_rank",
    "class_n",
    "class_group",
    "class_key",
    "tenant",
    "score_class",
    "class",
    "veto_reason",
    "prev_score",
    "prev_class",
    "score_change",
    "class_change",
    "consecutive_d_years",
    "land_tax_relief_pct",
    "power_surcharge_yuan_per_kwh",
    "energy_quota_change_pct",
    "priority_land",
    "priority_funds",
]


@pytest.fixture(scope="module")
def province_wh(tmp_path_factory):
    wh = open_warehouse(f"duckdb:///{tmp_path_factory.mktemp('ref') / 'wh.duckdb'}")
    facts = province(3000, years=(2020, 2021), seed=5, counties=COUNTIES)
    land = facts["land"]
    # the second user of every fourth shared parcel leases it (the holder of the right leads)
    parcels = land["parcel_id"].to_numpy(zero_copy_only=False)
    repeated = np.flatnonzero(parcels[1:] == parcels[:-1]) + 1
    acquisition = land["acquisition"].to_numpy(zero_copy_only=False).copy()
    acquisition[repeated[::4]] = "租赁"
    facts["land"] = land.set_column(
        land.schema.get_field_index("acquisition"), "acquisition", pa.array(acquisition)
    )
    # a few enterprises without land, members of a rated park: tenants ranked apart
    codes = facts["registry"]["credit_code"].to_numpy(zero_copy_only=False)
    landless = codes[100:130]
    keep = pc.invert(pc.is_in(facts["land"]["credit_code"], value_set=pa.array(landless)))
    facts["land"] = facts["land"].filter(keep)
    load_facts(wh, facts)
    load_parks(
        wh,
        {
            "park_id": ["P1", "P2"],
            "park_name": ["星级园", "普通园"],
            "kind": ["小微企业园", "小微企业园"],
            "division_code": ["331003", "331004"],
            "star": [5, 2],
            "area_mu": [100.0, 50.0],
        },
        {"credit_code": list(codes[100:140]), "park_id": ["P1"] * 30 + ["P2"] * 10},
        2020,
    )
    stats = facts["statistics"].filter(pc.equal(facts["statistics"]["year"], 2021))
    above = stats.filter(stats["above_scale"])["credit_code"].to_numpy(zero_copy_only=False)
    vetoed = above[300:304]  # enterprises that are evaluated (most 规上 are manufacturers)
    n = 60
    load_inputs(
        wh,
        "sublets",
        pa.table(
            {
                "credit_code": codes[200 : 200 + n],
                "year": np.full(n, 2021, np.int32),
                "tenants": np.arange(n) % 4,
            }
        ),
    )
    load_inputs(
        wh,
        "vetoes",
        pa.table(
            {
                "credit_code": list(vetoed),
                "year": np.full(4, 2021, np.int32),
                "class": ["D", "C", "D", "C"],
                "reason": ["发生较大安全生产事故"] * 4,
            }
        ),
    )
    yield wh
    wh.close()


def _by_code(table: pa.Table) -> dict[str, dict]:
    return {row["credit_code"]: row for row in table.select(["credit_code", *COMPARED]).to_pylist()}


def _equal(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b)
    return a == b


def test_reference_equals_the_engine_including_last_years_run(province_wh) -> None:
    wh = province_wh
    system = load_system(SYSTEM)
    con = wh.con.con
    for year in (2020, 2021):  # 2021 reads the stored 2020 run as last year's result
        run = run_evaluation(wh, SYSTEM, year)
        res = wh.table("eval_results")
        engine = _by_code(wh.to_pyarrow(res.filter(res.run_id == run.run_id)))
        reference = _by_code(reference_run(con, system, year, store=False).results)
        assert set(engine) == set(reference)
        differing = {
            col: [c for c in engine if not _equal(engine[c][col], reference[c][col])] for col in COMPARED
        }
        shown = {
            col: [(c, engine[c][col], reference[c][col]) for c in codes[:3]]
            for col, codes in differing.items()
        }
        assert {col: rows for col, rows in shown.items() if rows} == {}
        rows = list(engine.values())
        assert {r["class"] for r in rows} == {"A", "B", "C", "D"}
        if year == 2021:  # every rule the reference covers is exercised
            assert any(r["tenant"] for r in rows)
            assert any(r["member_count"] > 1 for r in rows)
            assert any(r["deduction"] > 0 for r in rows)
            assert any(r["veto_reason"] for r in rows)
            assert any(r["prev_class"] == "D" and r["consecutive_d_years"] == 2 for r in rows)
            assert any("小组合并" in r["class_group"] for r in rows)
            assert any(r["county_code"] == "331003" for r in rows)


def test_the_reference_refuses_other_rules() -> None:
    system = load_system(SYSTEM)
    with pytest.raises(ValueError, match="classes"):
        check_system(
            system.model_copy(update={"classes": system.classes.model_copy(update={"group": "county"})})
        )
    with pytest.raises(ValueError, match="system"):
        check_system(load_system("zhejiang_industry_below"))
