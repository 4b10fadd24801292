"""Built evaluations reused (`evaluation.reuse`): the same results as a new build, and a new
build whenever something the expressions were built on changed, on DuckDB and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from jingxin.core.scope import EVERYTHING
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation import reuse
from jingxin.evaluation.config import load_system
from jingxin.evaluation.runs import evaluate, load_inputs, run_evaluation
from jingxin.evaluation.sample import load_facts, load_parks, province
from jingxin.evaluation.staging import collecting, fetch_arrow

SYSTEM = "zhejiang_industry_above"
COUNTIES = ["331003", "331004"]


@pytest.fixture
def loaded(warehouse: Warehouse) -> tuple[Warehouse, dict[str, pa.Table]]:
    """Two years of facts, a rated park (so the park year is asked) and last year's run."""
    facts = province(500, years=(2020, 2021), seed=3, counties=COUNTIES)
    load_facts(warehouse, facts)
    codes = facts["registry"]["credit_code"].to_numpy(zero_copy_only=False)
    load_parks(
        warehouse,
        {
            "park_id": ["P1"],
            "park_name": ["星级园"],
            "kind": ["小微企业园"],
            "division_code": ["331003"],
            "star": [5],
            "area_mu": [80.0],
        },
        {"credit_code": list(codes[10:25]), "park_id": ["P1"] * 15},
        2020,
    )
    run_evaluation(warehouse, SYSTEM, 2020)
    return warehouse, facts


def _evaluated(wh: Warehouse, *, fresh: bool = False) -> tuple[pa.Table, bool, dict]:
    """Results (sorted), whether the build was reused, and the lineage."""
    if fresh:
        reuse.forget(wh)
    ev = evaluate(wh, load_system(SYSTEM), 2021)
    try:
        data = fetch_arrow(wh, ev.results)
    finally:
        ev.release()
    return data.sort_by("credit_code"), ev.reused, ev.batches_used


def _same(a: pa.Table, b: pa.Table) -> bool:
    """The same results: every column equal, floats to 12 significant digits. Unrounded
    references and scores are sums whose last bits follow the order DuckDB's threads add rows
    in (two builds differ there too); totals are rounded (`compute.ROUND_DIGITS`) and equal."""
    if a.schema != b.schema or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        x, y = a[name], b[name]
        if pa.types.is_floating(x.type):
            if not np.allclose(x.to_numpy(), y.to_numpy(), rtol=1e-12, atol=0, equal_nan=True):
                return False
        elif not x.equals(y):
            return False
    return a["total_score"].equals(b["total_score"])


def _batch(facts: pa.Table, **changes) -> pa.Table:
    for name, values in changes.items():
        facts = facts.set_column(facts.schema.get_field_index(name), name, values)
    return facts


def test_a_second_evaluation_reuses_the_build_with_the_same_results(loaded) -> None:
    wh, _ = loaded
    first, first_reused, lineage = _evaluated(wh)
    again, reused, again_lineage = _evaluated(wh)
    assert (first_reused, reused) == (False, True)
    assert _same(again, first)
    assert again_lineage == lineage
    # stored runs too: the second run reuses the first's build and stores the same results
    runs = [run_evaluation(wh, SYSTEM, 2021) for _ in range(2)]
    stored = [
        wh.to_pyarrow(wh.table("eval_results").filter(lambda t, r=r: t.run_id == r.run_id))
        .drop(["run_id"])
        .sort_by("credit_code")
        for r in runs
    ]
    assert _same(stored[1], stored[0])
    assert stored[0].num_rows == first.num_rows


def test_new_data_for_another_year_keeps_the_build_and_the_new_data_is_read(loaded) -> None:
    wh, facts = loaded
    before, _, lineage = _evaluated(wh)
    # next year's tax arrives: tax now has two live batches, for different years
    tax_2022 = facts["tax"].filter(pc.equal(facts["tax"]["year"], 2021))
    load_facts(wh, {"tax": _batch(tax_2022, year=pa.array(np.full(tax_2022.num_rows, 2022), pa.int32()))}, 50)
    after, reused, after_lineage = _evaluated(wh)
    assert reused
    assert _same(after, before)
    assert after_lineage == lineage
    # and a veto loaded now is read by the reused build (the stages read the data)
    target = after.filter(pc.equal(after["score_class"], "A"))["credit_code"][0].as_py()
    load_inputs(
        wh,
        "vetoes",
        pa.table(
            {
                "credit_code": [target],
                "year": pa.array([2021], pa.int32()),
                "class": ["D"],
                "reason": ["安全事故"],
            }
        ),
    )
    vetoed, reused, _ = _evaluated(wh)
    fresh, _, _ = _evaluated(wh, fresh=True)
    assert reused
    assert _same(vetoed, fresh)
    row = vetoed.filter(pc.equal(vetoed["credit_code"], target)).to_pylist()[0]
    assert (row["class"], row["veto_reason"]) == ("D", "安全事故")


def test_a_second_live_batch_for_the_same_year_rebuilds(loaded) -> None:
    """A correction loaded beside the first file (not superseding it): the build now has to
    keep the latest row per enterprise, which a reused build would not do."""
    wh, facts = loaded
    before, _, _ = _evaluated(wh)
    tax = facts["tax"].filter(pc.equal(facts["tax"]["year"], 2021))
    doubled = pc.multiply(tax["tax_paid"], 3.0)
    load_facts(wh, {"tax": _batch(tax, tax_paid=doubled)}, 60)
    after, reused, lineage = _evaluated(wh)
    fresh, _, _ = _evaluated(wh, fresh=True)
    assert not reused
    assert _same(after, fresh)
    assert not _same(after, before)
    assert after.num_rows == before.num_rows  # one row per enterprise, not one per batch
    assert 60 in lineage["tax"]


def test_a_superseding_correction_keeps_the_build_and_changes_the_results(loaded) -> None:
    wh, facts = loaded
    before, _, lineage = _evaluated(wh)
    tax = facts["tax"].filter(pc.equal(facts["tax"]["year"], 2021))
    ids = load_facts(wh, {"tax": _batch(tax, tax_paid=pc.multiply(tax["tax_paid"], 3.0))}, 70)
    wh.sql("UPDATE batches SET superseded_by = ? WHERE batch_id = ?", [ids["tax"], lineage["tax"][0]])
    after, reused, after_lineage = _evaluated(wh)
    fresh, _, _ = _evaluated(wh, fresh=True)
    assert reused  # still one live batch of tax for 2021: the same build reads the new one
    assert _same(after, fresh)
    assert not _same(after, before)
    assert after_lineage["tax"] == [70]


def test_a_newer_run_of_last_year_rebuilds(loaded) -> None:
    wh, _ = loaded
    _evaluated(wh)
    newer = run_evaluation(wh, SYSTEM, 2020, weights={"tax_per_mu": 60})
    after, reused, _ = _evaluated(wh)
    fresh, _, _ = _evaluated(wh, fresh=True)
    assert not reused
    assert _same(after, fresh)
    prev = wh.to_pyarrow(wh.table("eval_results").filter(lambda t: t.run_id == newer.run_id))
    prev_score = dict(zip(prev["credit_code"].to_pylist(), prev["total_score"].to_pylist(), strict=True))
    got = [r for r in after.to_pylist() if r["credit_code"] in prev_score]
    assert got and all(r["prev_score"] == prev_score[r["credit_code"]] for r in got)


def test_an_evaluation_still_holding_its_stages_makes_the_next_one_build_anew(loaded) -> None:
    wh, _ = loaded
    system = load_system(SYSTEM)
    _evaluated(wh)
    held = evaluate(wh, system, 2021)
    beside = evaluate(wh, system, 2021)
    try:
        assert held.reused and not beside.reused
        assert _same(
            fetch_arrow(wh, beside.results).sort_by("credit_code"),
            fetch_arrow(wh, held.results).sort_by("credit_code"),
        )
    finally:
        held.release()
        beside.release()


def test_a_changed_table_rebuilds(loaded) -> None:
    wh, _ = loaded
    before, _, _ = _evaluated(wh)
    wh.sql("ALTER TABLE tax ADD COLUMN surcharge_paid DOUBLE PRECISION")
    after, reused, _ = _evaluated(wh)
    assert not reused
    assert _same(after, before)


def test_a_build_that_reads_what_is_not_recorded_is_not_kept(warehouse: Warehouse) -> None:
    wh = warehouse
    builds = reuse.Builds.of(wh, "hash", 2021, EVERYTHING, None, "auto")
    assert builds is not None
    with collecting() as collected, builds.recording(collected) as trace:
        wh.sql("SELECT count(*) FROM batches")
    assert not trace.replayable
    builds.keep(trace, object())
    with collecting() as collected:
        assert builds.reuse(collected) is None
