"""Key suppliers (重点企业) and their daily reports (日报).

Suppliers are found in the warehouse's registry (企业名录): enterprises whose industry class
is one of the classes configured for an item's category (norms.yaml `supplier_industries`).
Each reports, every day, its capacity, output and stock of the item, through the form
(`report`) or as a file from a source (`import_reports`, CSV with a header; every row is kept
with the file's SHA-256 as its batch, so a figure can be traced to the file it came from).
A supplier with no report for a day is listed by `missing` (缺报).
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jingxin.core.scope import Scope
from jingxin.medical import config
from jingxin.medical.models import Supplier, SupplierReport

COLUMNS = ("credit_code", "item_id", "date", "capacity", "output", "stock")


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


def import_reports(db: Session, filename: str, content: bytes, recorded_by: str) -> int:
    """A source file of daily reports: all rows or none; every problem names row and column."""
    batch = hashlib.sha256(content).hexdigest()[:16]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("gb18030")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ReportError(f"{filename}: 缺少列 {'、'.join(missing)}（须有 {', '.join(COLUMNS)}）")
    by_key = {(s.credit_code, s.item_id): s.id for s in db.scalars(select(Supplier))}
    problems: list[str] = []
    rows: list[tuple[int, int, date, int, int, int]] = []
    for n, raw in enumerate(reader, start=2):
        key = (raw["credit_code"].strip(), raw["item_id"].strip())
        if key not in by_key:
            problems.append(f"{filename} 第{n}行 credit_code/item_id：{key[0]} 不是 {key[1]} 的重点企业")
            continue
        try:
            on = date.fromisoformat(raw["date"].strip())
        except ValueError:
            problems.append(f"{filename} 第{n}行 date：{raw['date']!r} 应为 YYYY-MM-DD")
            continue
        values = []
        for col in ("capacity", "output", "stock"):
            cell = raw[col].strip().replace(",", "")
            if not cell.isdigit():
                problems.append(f"{filename} 第{n}行 {col}：{raw[col]!r} 应为非负整数")
                break
            values.append(int(cell))
        else:
            rows.append((n, by_key[key], on, values[0], values[1], values[2]))
    if problems:
        raise ReportError("；".join(problems[:20]) + (f" 等{len(problems)}处" if len(problems) > 20 else ""))
    try:
        for n, sid, on, cap, out, stock in rows:
            try:
                report(db, sid, on, cap, out, stock, recorded_by, channel="source", batch=batch)
            except ReportError as exc:
                raise ReportError(f"{filename} 第{n}行：{exc}") from None
        db.commit()
    except Exception:
        db.rollback()
        raise
    return len(rows)


@dataclass(frozen=True)
class Missing:
    supplier_id: int
    credit_code: str
    name: str
    item_id: str
    division_code: str


def missing(db: Session, scope: Scope, on: date) -> list[Missing]:
    """Suppliers inside scope without a report for `on` (缺报)."""
    reported = set(db.scalars(select(SupplierReport.supplier_id).where(SupplierReport.on_date == on)))
    return [
        Missing(s.id, s.credit_code, s.name, s.item_id, s.division_code)
        for s in visible_suppliers(db, scope)
        if s.id not in reported
    ]


def board(db: Session, scope: Scope, on: date) -> list[dict[str, Any]]:
    """The supplier board: each supplier's report of the day, or 缺报."""
    latest = {
        r.supplier_id: r for r in db.scalars(select(SupplierReport).where(SupplierReport.on_date == on))
    }
    out = []
    for s in visible_suppliers(db, scope):
        r = latest.get(s.id)
        out.append(
            {
                "id": s.id,
                "name": s.name,
                "credit_code": s.credit_code,
                "division_code": s.division_code,
                "item": config.item(s.item_id).name,
                "capacity": r.capacity if r else None,
                "output": r.output if r else None,
                "stock": r.stock if r else None,
                "channel": r.channel if r else None,
                "missing": r is None,
            }
        )
    return out
