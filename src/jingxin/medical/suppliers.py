"""Key suppliers (重点企业) and their daily reports (日报).

Suppliers are found in the warehouse's registry (企业名录): enterprises whose industry class
is one of the classes configured for an item's category (norms.yaml `supplier_industries`).
Each reports, every day, its capacity, output and stock of the item. The reports arrive as the
source `medical-supply` (重点医疗物资生产企业日报, contracts.yaml): the 经信 department's file goes
through the normal ingestion (upload, validation, rejected rows kept with their reasons, one
batch per file, corrections supersede), and the board reads the live batches' rows from the
warehouse, each with its batch and source row. A supplier outside the source may be reported
through the board's form (`report`, kept in the platform database). A supplier with neither
for a day is listed by `missing` (缺报).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jingxin.core.scope import Scope
from jingxin.medical import config
from jingxin.medical.models import Supplier, SupplierReport


class ReportError(ValueError):
    """A report that cannot be taken; says the file, row and column and how to fix it."""


def discover(db: Session, registry: Any, lead_days: int = 2) -> list[Supplier]:
    """Add every enterprise of the warehouse registry (an ibis table or rows with credit_code,
    name, county_code, industry_code) whose class maps to a category, one supplier per item.
    Existing suppliers are kept as they are."""
    classes: dict[str, list[str]] = {}
    for cat, codes in config.norms().supplier_industries.items():
        for code in codes:
            classes.setdefault(code, []).append(cat)
    if hasattr(registry, "filter"):
        registry = (
            registry.filter(registry.industry_code.isin(sorted(classes)))
            .select("credit_code", "name", "county_code", "industry_code")
            .distinct()
            .to_pandas()
            .to_dict("records")
        )
    known = {(s.credit_code, s.item_id) for s in db.scalars(select(Supplier))}
    added = []
    for row in registry:
        for cat in classes.get(row["industry_code"], []):
            for item in config.catalogue().items.values():
                if item.category != cat or (row["credit_code"], item.id) in known:
                    continue
                s = Supplier(
                    credit_code=row["credit_code"],
                    name=row["name"],
                    division_code=row["county_code"],
                    item_id=item.id,
                    industry_code=row["industry_code"],
                    daily_capacity=0,
                    lead_days=lead_days,
                )
                db.add(s)
                known.add((row["credit_code"], item.id))
                added.append(s)
    db.commit()
    return added


def visible_suppliers(db: Session, scope: Scope) -> list[Supplier]:
    rows = db.scalars(
        select(Supplier).order_by(Supplier.division_code, Supplier.credit_code, Supplier.item_id)
    )
    return [s for s in rows if scope.allows_enterprise(s.credit_code, s.division_code)]


def report(
    db: Session,
    supplier_id: int,
    on: date,
    capacity: int,
    output: int,
    stock: int,
    recorded_by: str,
    channel: str = "form",
    batch: str = "",
) -> SupplierReport:
    for name, value in (("产能", capacity), ("产量", output), ("库存", stock)):
        if not isinstance(value, int) or value < 0:
            raise ReportError(f"{name}须为非负整数，收到 {value!r}")
    if output > capacity:
        raise ReportError(f"产量 {output} 超过产能 {capacity}：请核对后再报")
    if db.get(Supplier, supplier_id) is None:
        raise ReportError(f"重点企业 {supplier_id} 不存在")
    row = SupplierReport(
        supplier_id=supplier_id,
        on_date=on,
        capacity=capacity,
        output=output,
        stock=stock,
        channel=channel,
        batch=batch,
        recorded_by=recorded_by,
    )
    db.add(row)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise ReportError(f"企业 {supplier_id} {on} 的日报已报送，不能重复报送") from None
    return row


@dataclass(frozen=True)
class SourceReport:
    """One accepted row of the source `medical-supply` (重点医疗物资生产企业日报), with its lineage."""

    credit_code: str
    item_id: str
    day: date
    capacity: int
    output: int
    stock: int
    batch_id: int
    source_row: int


def _item_ids() -> dict[str, str]:
    """Catalogue item id by its name as the contract spells it (NFKC-folded, like ingestion)."""
    return {unicodedata.normalize("NFKC", it.name): it.id for it in config.catalogue().items.values()}


def _rows(expr: Any) -> list[SourceReport]:
    ids = _item_ids()
    out = []
    for r in expr.to_pyarrow().to_pylist():
        if r["item"] in ids:  # a name the catalogue no longer has is left out
            out.append(
                SourceReport(
                    r["credit_code"],
                    ids[r["item"]],
                    r["day"],
                    int(r["capacity"]),
                    int(r["output"]),
                    int(r["stock"]),
                    int(r["batch_id"]),
                    int(r["source_row"]),
                )
            )
    return out


COLUMNS = ("credit_code", "item", "day", "capacity", "output", "stock", "batch_id", "source_row")


def source_reports(
    facts: Any, on: date, codes: list[str] | None = None
) -> dict[tuple[str, str], SourceReport]:
    """The day's reports from the warehouse: `facts` is `warehouse.current("medical_supply")`
    (live batches only), keyed by (credit code, item id); `codes` limits it to these suppliers."""
    t = facts.filter(facts.day == on)
    if codes is not None:
        t = t.filter(t.credit_code.isin(sorted(set(codes)) or [""]))
    return {(r.credit_code, r.item_id): r for r in _rows(t.select(*COLUMNS))}


def latest_source_reports(
    facts: Any, on: date, codes: list[str] | None = None
) -> dict[tuple[str, str], SourceReport]:
    """Each supplier-item's latest report on or before `on` (for dispatch capacities)."""
    t = facts.filter(facts.day <= on)
    if codes is not None:
        t = t.filter(t.credit_code.isin(sorted(set(codes)) or [""]))
    last = t.group_by(["credit_code", "item"]).aggregate(last_day=t.day.max())
    t = t.join(last, [t.credit_code == last.credit_code, t.item == last.item, t.day == last.last_day])
    return {(r.credit_code, r.item_id): r for r in _rows(t.select(*COLUMNS))}


@dataclass(frozen=True)
class Missing:
    supplier_id: int
    credit_code: str
    name: str
    item_id: str
    division_code: str


def _form_reports(db: Session, on: date) -> dict[int, SupplierReport]:
    return {r.supplier_id: r for r in db.scalars(select(SupplierReport).where(SupplierReport.on_date == on))}


def missing(db: Session, scope: Scope, on: date, facts: Any) -> list[Missing]:
    """Suppliers inside scope with no report for `on` (缺报): none from the source in the
    warehouse (`facts`: `warehouse.current("medical_supply")`) and none by the form."""
    visible = visible_suppliers(db, scope)
    from_source = source_reports(facts, on, [s.credit_code for s in visible])
    by_form = _form_reports(db, on)
    return [
        Missing(s.id, s.credit_code, s.name, s.item_id, s.division_code)
        for s in visible
        if (s.credit_code, s.item_id) not in from_source and s.id not in by_form
    ]


def board(db: Session, scope: Scope, on: date, facts: Any) -> list[dict[str, Any]]:
    """The supplier board: each supplier's report of the day from the source (with its batch
    and row) or the form, or 缺报; output above capacity is marked for checking."""
    visible = visible_suppliers(db, scope)
    from_source = source_reports(facts, on, [s.credit_code for s in visible])
    by_form = _form_reports(db, on)
    out = []
    for s in visible:
        src = from_source.get((s.credit_code, s.item_id))
        form = by_form.get(s.id)
        r: Any = src or form
        out.append(
            {
                "id": s.id,
                "name": s.name,
                "credit_code": s.credit_code,
                "division_code": s.division_code,
                "item": config.item(s.item_id).name,
                "unit": config.item(s.item_id).unit,
                "capacity": r.capacity if r else None,
                "output": r.output if r else None,
                "stock": r.stock if r else None,
                "channel": "source" if src else ("form" if form else None),
                "batch_id": src.batch_id if src else None,
                "source_row": src.source_row if src else None,
                "over_capacity": bool(r and r.output > r.capacity),
                "missing": r is None,
            }
        )
    return out
