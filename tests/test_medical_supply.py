"""Key suppliers' daily reports as a source (重点医疗物资生产企业日报, contract medical-supply).

The generator writes the 经信 department's Excel file (title row, note row, deliberate defects
listed in its manifest entry); ingestion takes it as one batch with the defective rows rejected
and kept with their reasons; the supplier board and the missing list read the live rows from
the warehouse, each with its batch and row; a corrected file supersedes the first; the board's
form remains for a supplier outside the source; scope decides whose reports are seen.
"""

from __future__ import annotations

import random
import shutil
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import pytest

from jingxin.core import credit_code as cc
from jingxin.core.contracts import source
from jingxin.core.db import Database
from jingxin.core.scope import Scope
from jingxin.core.warehouse import open_warehouse
from jingxin.ingest.service import ingest_file
from jingxin.medical import config, plans, suppliers
from jingxin.medical.models import Supplier
from jingxin.synth.medical_supply import SupplierSpec, write_reports

pytest_plugins = ["jingxin.web.pytest_fixtures"]
ON = date(2021, 6, 2)


@pytest.fixture
def db(_sqlite_template: Path, tmp_path: Path) -> Any:
    shutil.copyfile(_sqlite_template, tmp_path / "platform.sqlite")
    database = Database(f"sqlite:///{tmp_path / 'platform.sqlite'}")
    session = database.session()
    yield session
    session.close()
    database.dispose()


@pytest.fixture
def wh(tmp_path: Path) -> Any:
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    yield warehouse
    warehouse.close()


def test_contract_items_are_the_catalogue_names() -> None:
    """The contract's allowed item names are the catalogue's, as ingestion folds them (NFKC)."""
    allowed = source("medical-supply").column("item").allowed
    names = [unicodedata.normalize("NFKC", i.name) for i in config.catalogue().items.values()]
    assert allowed == names


def _suppliers(db: Any) -> tuple[str, str, str]:
    rnd = random.Random(9)
    maker, drugs, other = (cc.generate("330411", rnd) for _ in range(3))
    registry = ibis.memtable(
        {
            "credit_code": [maker, drugs, other],
            "name": ["口罩厂", "药厂", "纺织厂"],
            "county_code": ["330411", "330411", "330411"],
            "industry_code": ["1781", "2740", "1711"],
        }
    )
    added = suppliers.discover(db, registry)
    assert {s.credit_code for s in added} == {maker, drugs}
    assert {s.item_id for s in added if s.credit_code == drugs} == {"antiviral_oral", "ibuprofen", "lianhua"}
    assert suppliers.discover(db, registry) == []  # existing suppliers are kept, not doubled
    return maker, drugs, other


def _csv(path: Path, rows: list[str]) -> Path:
    header = "统一社会信用代码,企业名称,物资名称,日期,日产能,当日产量,库存"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8-sig")
    return path


def test_reports_file_ingested_and_read_by_the_board(db: Any, wh: Any, tmp_path: Path) -> None:
    maker, drugs, other = _suppliers(db)
    first = _csv(
        tmp_path / "medical_supply_0602.csv",
        [
            f'{maker},口罩厂,医用防护口罩（N95）,2021-06-02,"1,000",800,70',  # full-width brackets
            f"{maker},口罩厂,医用外科口罩,2021-06-32,100,50,7",  # impossible date
            f"{drugs},药厂,板蓝根颗粒,2021-06-02,10,5,1",  # not in the catalogue
            f"{drugs},药厂,布洛芬片,2021-06-02,10,12,0",  # output above capacity: accepted, flagged
        ],
    )
    result = ingest_file(wh, "medical-supply", first, loaded_by="liaison-jx")
    assert (result.accepted, result.rejected) == (2, 2)
    rejected = {r["row_number"]: r["reason"] for r in wh.table("rejected_rows").execute().to_dict("records")}
    assert "日期" in rejected[3] and "物资名称的取值不在允许范围内" in rejected[4]
    facts = wh.current("medical_supply")
    board = {
        (r["credit_code"], r["item"]): r for r in suppliers.board(db, Scope(division="330400"), ON, facts)
    }
    n95 = board[(maker, "医用防护口罩（N95）")]
    assert (n95["capacity"], n95["output"], n95["stock"], n95["channel"]) == (1000, 800, 70, "source")
    assert (n95["batch_id"], n95["source_row"]) == (result.batch_id, 2)
    assert board[(drugs, "布洛芬片")]["over_capacity"] and board[(maker, "医用外科口罩")]["missing"]
    missing = {(m.credit_code, m.item_id) for m in suppliers.missing(db, Scope(division="330400"), ON, facts)}
    assert (maker, "mask_n95") not in missing and (maker, "mask_surgical") in missing
    assert (drugs, "lianhua") in missing and (drugs, "ibuprofen") not in missing
    # another region sees none of these suppliers, nor their reports
    assert suppliers.board(db, Scope(division="330100"), ON, facts) == []
    # a supplier outside the source reports by the form; a day's form report counts
    sid = db.query(Supplier).filter_by(credit_code=drugs, item_id="lianhua").one().id
    with pytest.raises(suppliers.ReportError, match="超过产能"):
        suppliers.report(db, sid, ON, 10, 11, 0, "t")
    suppliers.report(db, sid, ON, 30, 20, 5, "xihu")
    db.commit()
    row = next(r for r in suppliers.board(db, Scope(), ON, facts) if r["id"] == sid)
    assert (row["channel"], row["capacity"]) == ("form", 30)
    # the corrected file for the same day supersedes the first: the board reads the new figures
    fixed = _csv(
        tmp_path / "medical_supply_0602_fixed.csv",
        [
            f"{maker},口罩厂,医用防护口罩（N95）,2021-06-02,1200,900,60",
            f"{maker},口罩厂,医用外科口罩,2021-06-02,100,50,7",
        ],
    )
    second = ingest_file(wh, "medical-supply", fixed, loaded_by="liaison-jx")
    assert second.supersedes == result.batch_id
    facts = wh.current("medical_supply")
    board = {(r["credit_code"], r["item"]): r for r in suppliers.board(db, Scope(), ON, facts)}
    assert board[(maker, "医用防护口罩（N95）")]["capacity"] == 1200
    assert board[(drugs, "布洛芬片")]["missing"]  # only in the superseded batch
    # dispatch takes the latest reported capacity from the source
    latest = suppliers.latest_source_reports(facts, date(2021, 6, 5))
    assert latest[(maker, "mask_n95")].capacity == 1200
    inst = plans.build_instance(db, Scope(), date(2021, 6, 5), "surge", facts)
    lead = config.norms().dispatch.target_days - 2
    assert {(s.key, s.item): s.capacity for s in inst.suppliers}[(maker, "mask_n95")] == 1200 * lead


def test_generated_file_in_the_departments_habit(db: Any, wh: Any, tmp_path: Path) -> None:
    """The generator writes Excel with a title row and a note row; its defects are exactly the
    rows ingestion rejects; the missing list equals the suppliers skipped or rejected that day."""
    rnd = random.Random(4)
    specs = []
    for k, item in enumerate(["mask_n95", "pcr_kit", "ventilator_icu", "goggles", "ibuprofen", "tent"]):
        code = cc.generate("330106", rnd)
        db.add(
            Supplier(
                credit_code=code,
                name=f"企业{k}",
                division_code="330106",
                item_id=item,
                industry_code="2770",
                daily_capacity=200,
                lead_days=2,
            )
        )
        specs.append(SupplierSpec(code, f"企业{k}", item, 200))
    db.commit()
    truth = write_reports(tmp_path / "out", specs, as_of=ON, days=6, seed=3, defects=0.15)
    entry = truth.entry
    assert entry is not None and entry.format == "xlsx"
    assert len(entry.title_rows) == len(entry.footer_rows) == 1
    assert entry.department == "经信" and entry.defects
    result = ingest_file(wh, "medical-supply", truth.path)
    assert result.accepted + result.rejected == entry.rows
    kept = sorted(wh.table("rejected_rows").execute()["row_number"].unique().tolist())
    assert kept == sorted(d.row for d in entry.defects)
    missing = suppliers.missing(db, Scope(), ON, wh.current("medical_supply"))
    assert {(m.credit_code, m.item_id) for m in missing} == truth.missing_on(ON)
