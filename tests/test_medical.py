"""Medical reserves: the ledger rebuilds stock at any date (property test), refuses what would
go negative, counts reconcile; days of supply and warnings on hand-made cases; the dispatch
model equals an exhaustive search on small instances; a plan approved and executed."""

from __future__ import annotations

import itertools
import shutil
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jingxin.core.db import Database
from jingxin.core.scope import Scope
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.testing import make_people
from jingxin.medical import config, dispatch, ledger, plans, supply
from jingxin.medical.models import Demand, LedgerIsAppendOnly, Movement

pytest_plugins = ["jingxin.web.pytest_fixtures"]
D0 = date(2021, 1, 1)


@pytest.fixture(scope="module")
def db(_sqlite_template, tmp_path_factory, fast_password_hashing) -> Any:
    target = tmp_path_factory.mktemp("medical") / "platform.sqlite"
    shutil.copyfile(_sqlite_template, target)
    database = Database(f"sqlite:///{target}")
    session = database.session()
    yield session
    session.close()
    database.dispose()


def test_catalogue_has_7_categories_and_21_subcategories() -> None:
    cat = config.catalogue()
    assert len(cat.categories) == 7 and cat.sub_count == 21
    assert all(i.unit for i in cat.items.values())


_counter = itertools.count()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 40),
            st.sampled_from(["in", "out", "move", "exp"]),
            st.integers(0, 2),
            st.integers(0, 1),
            st.integers(1, 30),
        ),
        min_size=1,
        max_size=25,
    ),
    st.lists(st.integers(-1, 45), min_size=1, max_size=5),
)
def test_ledger_rebuilds_stock_at_any_date(
    db: Any, moves: list[tuple[int, str, int, int, int]], asked: list[int]
) -> None:
    """Random movements, each accepted or refused by the ledger; stock_at on any date equals
    a plain replay of the accepted ones."""
    n = next(_counter)
    a = ledger.add_reserve(db, f"P{n}A", "甲库", "county", "physical", "330106")
    b = ledger.add_reserve(db, f"P{n}B", "乙库", "city", "physical", "330100")
    holders = [a.id, b.id]
    accepted: list[tuple[date, int | None, int | None, str, int]] = []
    for day, what, lot_no, who, qty in moves:
        lot, on = f"L{n}-{lot_no}", D0 + timedelta(days=day)
        src, dst = {
            "in": (None, holders[who]),
            "out": (holders[who], None),
            "exp": (holders[who], None),
            "move": (holders[who], holders[1 - who]),
        }[what]
        kind = {"in": "receipt", "out": "issue", "exp": "expiry", "move": "transfer"}[what]
        try:
            ledger.record(
                db,
                kind=kind,
                item_id="mask_n95",
                lot=lot,
                quantity=qty,
                on=on,
                recorded_by="t",
                from_reserve=src,
                to_reserve=dst,
                expires_on=date(2023, 1, 1),
            )
        except ledger.LedgerError:
            continue
        accepted.append((on, src, dst, lot, qty))
    for k in [*asked, 41]:
        on = D0 + timedelta(days=k)
        want: dict[tuple[int, str], int] = defaultdict(int)
        for when, src, dst, lot, qty in accepted:
            if when <= on:
                if src:
                    want[(src, lot)] -= qty
                if dst:
                    want[(dst, lot)] += qty
        got = {(x.reserve_id, x.lot): x.quantity for x in ledger.stock_at(db, on, reserve_ids=holders)}
        assert got == {k2: v for k2, v in want.items() if v}
        assert all(v >= 0 for v in got.values())


def test_ledger_refuses_and_stays_append_only(db: Any) -> None:
    r = ledger.add_reserve(db, "NEG", "库", "county", "physical", "330102")
    ledger.record(
        db,
        kind="receipt",
        item_id="mask_n95",
        lot="X1",
        quantity=10,
        on=date(2021, 3, 1),
        recorded_by="t",
        to_reserve=r.id,
        expires_on=date(2023, 1, 1),
    )
    ledger.record(
        db,
        kind="issue",
        item_id="mask_n95",
        lot="X1",
        quantity=8,
        on=date(2021, 3, 5),
        recorded_by="t",
        from_reserve=r.id,
    )
    with pytest.raises(ledger.LedgerError, match="库存不足 3"):  # earlier issue would break the later one
        ledger.record(
            db,
            kind="issue",
            item_id="mask_n95",
            lot="X1",
            quantity=5,
            on=date(2021, 3, 2),
            recorded_by="t",
            from_reserve=r.id,
        )
    with pytest.raises(ledger.LedgerError, match="有效期"):
        ledger.record(
            db,
            kind="receipt",
            item_id="mask_n95",
            lot="Y",
            quantity=1,
            on=D0,
            recorded_by="t",
            to_reserve=r.id,
        )
    with pytest.raises(ledger.LedgerError, match="正整数"):
        ledger.record(
            db, kind="receipt", item_id="tent", lot="T", quantity=0, on=D0, recorded_by="t", to_reserve=r.id
        )
    row = db.query(Movement).filter_by(lot="X1").first()
    row.quantity = 99
    with pytest.raises(LedgerIsAppendOnly):
        db.flush()
    db.rollback()
    # rotation: old lot out, new lot in, one reference
    ledger.rotate(
        db,
        reserve=r.id,
        item_id="mask_n95",
        old_lot="X1",
        new_lot="X2",
        quantity=2,
        new_expires_on=date(2024, 1, 1),
        on=date(2021, 3, 6),
        recorded_by="t",
    )
    lots = {x.lot: x.quantity for x in ledger.stock_at(db, date(2021, 3, 6), reserve_ids=[r.id])}
    assert lots == {"X2": 2}
    # count: shelf shows 1 where the book says 2 -> unreconciled, then adjusted
    ledger.count(
        db, reserve=r.id, item_id="mask_n95", lot="X2", counted=1, on=date(2021, 3, 7), recorded_by="t"
    )
    assert [u["difference"] for u in ledger.unreconciled(db) if u["lot"] == "X2"] == [-1]
    ledger.count(
        db,
        reserve=r.id,
        item_id="mask_n95",
        lot="X2",
        counted=1,
        on=date(2021, 3, 8),
        recorded_by="t",
        adjust=True,
    )
    assert {x.lot: x.quantity for x in ledger.stock_at(db, date(2021, 3, 8), reserve_ids=[r.id])} == {"X2": 1}


def test_days_of_supply_and_warnings_hand_made(db: Any) -> None:
    """淳安县 330127: 50 masks/day normally. Physical 600 (12 days: above 10), agreement 800 (16
    days: below 20). One lot expires in 30 days (warned), one has expired (not counted)."""
    county = "330127"
    phys = ledger.add_reserve(db, "CA-P", "淳安县储备库", "county", "physical", county)
    agree = ledger.add_reserve(db, "CA-C", "淳安县产能储备", "county", "capacity", county)
    db.add(Demand(division_code=county, item_id="mask_n95", daily=50, priority=1, source="test"))
    db.commit()
    on = date(2021, 6, 1)
    rec = dict(kind="receipt", item_id="mask_n95", recorded_by="t", on=date(2021, 1, 1))
    ledger.record(db, lot="CA1", quantity=400, to_reserve=phys.id, expires_on=date(2022, 1, 1), **rec)
    ledger.record(db, lot="CA2", quantity=200, to_reserve=phys.id, expires_on=on + timedelta(days=30), **rec)
    ledger.record(db, lot="CA3", quantity=70, to_reserve=phys.id, expires_on=date(2021, 5, 1), **rec)
    ledger.record(db, lot="CA4", quantity=800, to_reserve=agree.id, expires_on=date(2023, 1, 1), **rec)
    province = Scope()
    (s,) = [x for x in supply.supply(db, province, county, on) if x.item_id == "mask_n95"]
    assert (s.physical, s.agreement, s.physical_days, s.agreement_days) == (600, 800, 12.0, 16.0)
    assert s.below_norm == ["协议储备可保障 16.0 天，低于 20 天"]
    (surge,) = [x for x in supply.supply(db, province, county, on, "surge") if x.item_id == "mask_n95"]
    assert surge.physical_days == pytest.approx(600 / 400)  # protective ×8
    found = [w for w in supply.warnings(db, Scope(division="330100"), on) if w.division_code == county]
    assert len(found) == 3  # 淳安 is 杭州市's: the city sees its warnings
    found = [w for w in supply.warnings(db, Scope(division="330127"), on)]
    kinds = sorted((w.kind, w.lot) for w in found if w.item_id == "mask_n95")
    assert kinds == [("below_norm", None), ("expired", "CA3"), ("expiry", "CA2")]
    assert not [w for w in supply.warnings(db, Scope(division="330302"), on) if w.division_code == county]
    with pytest.raises(PermissionError):
        supply.supply(db, Scope(division="330302"), county, on)


def _brute(inst: dispatch.Instance) -> tuple[float, ...]:
    xs, ys = dispatch._arcs(inst)
    best: tuple[float, ...] | None = None
    ranges = [range(0, inst.need[(r, i)] + 1) for (_, r, i) in xs] + [
        range(0, inst.need[(r, inst.suppliers[k].item)] + 1) for (k, r) in ys
    ]
    for q in itertools.product(*ranges):
        got: dict[tuple[str, str], int] = defaultdict(int)
        used: dict[Any, int] = defaultdict(int)
        cost = 0.0
        for (s, r, i), v in zip(xs, q[: len(xs)], strict=True):
            got[(r, i)] += v
            used[(s, i)] += v
            cost += v * inst.hours[(s, r)] * inst.cost_per_unit_hour
        for (k, r), v in zip(ys, q[len(xs) :], strict=True):
            sup = inst.suppliers[k]
            got[(r, sup.item)] += v
            used[k] += v
            cost += v * (inst.hours[(sup.place, r)] * inst.cost_per_unit_hour + inst.production_cost)
        if (
            any(got[k] > n for k, n in inst.need.items())
            or any(used[(s, i)] > inst.avail[(s, i)] for (s, i) in inst.avail if (s, i) in used)
            or any(used[k] > inst.suppliers[k].capacity for k in range(len(inst.suppliers)) if k in used)
        ):
            continue
        short = defaultdict(int)
        for k, n in inst.need.items():
            short[inst.priority[k]] += n - got[k]
        key = (*(short[p] for p in sorted(set(inst.priority.values()))), round(cost, 6))
        best = key if best is None or key < best else best
    assert best is not None
    return best


@pytest.mark.parametrize("seed", range(6))
def test_dispatch_equals_exhaustive_search(seed: int) -> None:
    import random

    rnd = random.Random(seed)
    items, regions, sources = ["m", "v"], ["A", "B"], ["S", "T"]
    need = {(r, i): rnd.randint(0, 3) for r in regions for i in items}
    inst = dispatch.Instance(
        need=need,
        priority={k: rnd.randint(1, 2) for k in need},
        avail={(s, i): rnd.randint(0, 3) for s in sources for i in items},
        suppliers=[dispatch.Supplier("K", rnd.choice(items), "S", rnd.randint(0, 2))],
        hours={(a, b): float(rnd.randint(1, 9)) for a in sources for b in regions},
        max_hours=8.0,
        cost_per_unit_hour=1.0,
        production_cost=2.5,
    )
    result = dispatch.solve(inst)
    assert result.status == "Optimal" and result.gap <= 1e-6
    short = {p: result.shortfall.get(p, 0) for p in sorted(set(inst.priority.values()))}
    want = _brute(inst)
    assert (*short.values(), round(result.cost, 6)) == want


def test_plan_proposed_approved_and_executed(db: Any) -> None:
    people = make_people(db)
    sheng = people["sheng"]
    on = date(2021, 6, 1)
    prov = ledger.add_reserve(db, "PROV", "省级医疗物资储备库", "province", "physical", "330000")
    xihu = ledger.add_reserve(db, "XH", "西湖区储备库", "county", "physical", "330106")
    db.add(Demand(division_code="330106", item_id="pcr_kit", daily=10, priority=1, source="test"))
    db.commit()
    ledger.record(
        db,
        kind="receipt",
        item_id="pcr_kit",
        lot="PK1",
        quantity=500,
        on=date(2021, 5, 1),
        recorded_by="t",
        to_reserve=prov.id,
        expires_on=date(2022, 5, 1),
    )
    plan = plans.propose(db, sheng, on, "surge")  # need: 10 days × 10 × 10 (testing ×10) = 1000
    short_ca = [s for s in plan.summary["short"] if s[0] == "330106"]
    xh_lines = [ln for ln in plan.lines if ln["region"] == "330106"]
    assert sum(ln["quantity"] for ln in xh_lines) == 500 and short_ca == [["330106", "pcr_kit", 500]]
    assert "补其1级缺口 1000 中的 500" in xh_lines[0]["why"]
    with pytest.raises(plans.PlanError, match="审批"):
        plans.execute(db, plan.id, sheng)
    with pytest.raises(wf.ItemNotFound):  # a province plan: the city does not even see it
        wf.act(db, plan.item_id, "approve", people["hangzhou"])
    wf.act(db, plan.item_id, "approve", sheng)
    plans.execute(db, plan.id, sheng)
    got = {x.lot: x.quantity for x in ledger.stock_at(db, on, reserve_ids=[xihu.id], item_id="pcr_kit")}
    assert got == {"PK1": 500}
    with pytest.raises(plans.PlanError, match="已执行"):
        plans.execute(db, plan.id, sheng)


def test_warnings_against_generated_truth(db: Any, tmp_path: Any) -> None:
    """Injected below-norm pairs, agreement shortfalls, expiring lots and missing reports are
    all found, and nothing else is (precision and recall 1.0 on three counties × 25 items).
    The suppliers' reports arrive as the 经信 file, ingested into a warehouse; one in ten of
    its rows carries a deliberate defect, and a rejected report of the day counts as missing."""
    from jingxin.core.warehouse import open_warehouse
    from jingxin.ingest.service import ingest_file
    from jingxin.medical.evaluate import measure
    from jingxin.synth import medical as synth

    counties = ["330381", "330382", "330481"]
    truth = synth.load(
        db,
        seed=5,
        as_of=date(2021, 6, 1),
        counties=counties,
        share_injected=0.15,
        out_dir=tmp_path,
        supply_defects=0.1,
    )
    assert truth.below_norm and truth.expiring and truth.agreement_short
    assert truth.supply is not None and truth.supply.path is not None and truth.missing_reports
    wh = open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    result = ingest_file(wh, "medical-supply", truth.supply.path)
    assert result.rejected == len(truth.supply.entry.defects) > 0
    got = measure(db, truth.manifest(), wh.current("medical_supply"), set(counties))
    wh.close()
    for name, m in got.items():
        assert (name, m["precision"], m["recall"]) == (name, 1.0, 1.0), m


def test_medical_and_fiveg_tables_match_their_migration(db: Any) -> None:
    """Autogenerate finds nothing to do for the tables of migration 0015_medical."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import jingxin.fiveg.models  # noqa: F401
    from jingxin.core import db as coredb

    with db.get_bind().connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, coredb.Base.metadata)
    assert [d for d in diff if "medical_" in repr(d) or "fiveg_" in repr(d)] == []
