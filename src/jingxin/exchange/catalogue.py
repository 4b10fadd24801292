"""The catalogue of shareable datasets (共享数据目录) and reading them out (数据共享).

Every source of `core/contracts.yaml` is a dataset, read generically: its fields are the
contract's columns, its update frequency the submission calendar's rule, its lineage the live
batches of the batch registry. Rows are read from the live facts (`Warehouse.current`) and
always through `Scope.restrict`: a token's grant becomes a `Scope` (see `tokens.token_scope`),
so a token of 西湖区 gets exactly the rows a county analyst of 西湖区 would.

CSV is written as data, never as formulas: every cell goes through the same helper as the
rejected-rows download (`jingxin.datahub.service`), which prefixes text starting with
= + - @ tab or CR with an apostrophe. A CSV is streamed in chunks of record batches, so memory
stays bounded however many rows a dataset has.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from jingxin.core.audit import is_sensitive
from jingxin.core.contracts import Column, Source, load_contracts
from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse
from jingxin.exchange.blanks import TYPE_NAMES, header_text
from jingxin.exchange.config import FREQUENCY_LABELS, load_calendar
from jingxin.ingest.batches import safe_cell

CSV_CHUNK_ROWS = 5000
MAX_PAGE = 1000


class DatasetNotFound(LookupError):
    """No such dataset in the catalogue."""


class BadQuery(ValueError):
    """A query the dataset cannot answer (message in Chinese)."""


def shareable() -> dict[str, Source]:
    """The datasets of the catalogue by id: every contract source, in contract order."""
    return dict(load_contracts().sources)


def dataset(dataset_id: str) -> Source:
    src = shareable().get(dataset_id)
    if src is None:
        raise DatasetNotFound(dataset_id)
    return src


@dataclass(frozen=True)
class FieldInfo:
    name: str
    header: str
    type: str
    unit: str | None
    required: bool
    sensitive: bool


@dataclass(frozen=True)
class BatchRef:
    batch_id: int
    period: str | None
    file_name: str | None
    accepted: int
    loaded_at: datetime | None


@dataclass
class DatasetInfo:
    id: str
    title: str
    department: str
    table: str
    frequency: str
    rule: str
    rule_basis: str
    key: list[str]
    fields: list[FieldInfo]
    lineage_visible: bool
    live_batches: int = 0
    live_rows: int = 0
    periods: list[str] = field(default_factory=list)
    latest: list[BatchRef] = field(default_factory=list)


def _fields(src: Source) -> list[FieldInfo]:
    return [
        FieldInfo(
            c.name, header_text(c), TYPE_NAMES.get(c.type, c.type), c.unit, c.required, is_sensitive(c.name)
        )
        for c in src.columns
    ]


def describe(src: Source, scope: Scope | None = None) -> DatasetInfo:
    """A dataset's entry without its lineage: fields, department, frequency and rule."""
    rule = load_calendar().rule(src)
    return DatasetInfo(
        id=src.id,
        title=src.title,
        department=src.department,
        table=src.table,
        frequency=FREQUENCY_LABELS[rule.frequency],
        rule=rule.label,
        rule_basis=rule.basis,
        key=[src.column(k).header for k in src.key],
        fields=_fields(src),
        lineage_visible=scope is not None and scope.allows_source(src.id),
    )


def catalogue(wh: Warehouse, scope: Scope, *, latest: int = 3) -> list[DatasetInfo]:
    """Every dataset with its fields, source department, update frequency and lineage (the
    live batches it is made of; shown only where the scope may see that source's batches)."""
    batches = scope.restrict_batches(wh.table("batches"))
    live = batches.filter(batches.superseded_by.isnull())
    rows = wh.to_pyarrow(
        live.select("batch_id", "source", "period", "file_name", "accepted", "loaded_at").order_by(
            ibis.desc("batch_id")
        )
    ).to_pylist()
    out = []
    for src in shareable().values():
        info = describe(src, scope)
        if info.lineage_visible:
            mine = [r for r in rows if r["source"] == src.id]
            info.live_batches = len(mine)
            info.live_rows = sum(int(r["accepted"] or 0) for r in mine)
            info.periods = sorted({str(r["period"]) for r in mine if r["period"]}, reverse=True)
            info.latest = [
                BatchRef(
                    int(r["batch_id"]), r["period"], r["file_name"], int(r["accepted"] or 0), r["loaded_at"]
                )
                for r in mine[:latest]
            ]
        out.append(info)
    return out


# ---- rows ---------------------------------------------------------------------------------


def _first(src: Source, kind: str) -> Column | None:
    return next((c for c in src.columns if c.type == kind), None)


def _period_filter(table: ir.Table, src: Source, period: str) -> ir.Table:
    """Rows whose period column falls in `period` (2021, 2021-03 or 2021-03-05)."""
    if src.period is None:
        raise BadQuery(f"数据集 {src.id} 是登记类数据，没有期间，不能按期间筛选")
    col = src.column(src.period)
    try:
        parts = [int(x) for x in period.split("-")]
        if len(parts) == 1:
            first, last = date(parts[0], 1, 1), date(parts[0], 12, 31)
        elif len(parts) == 2:
            first = date(parts[0], parts[1], 1)
            last = date(parts[0] + (parts[1] == 12), parts[1] % 12 + 1, 1)
            last = date.fromordinal(last.toordinal() - 1)
        elif len(parts) == 3:
            first = last = date(*parts)
        else:
            raise ValueError(period)
    except ValueError:
        raise BadQuery(f"期间 {period!r} 的格式不正确：应为 2021、2021-03 或 2021-03-05") from None
    column = table[col.name]
    if col.type == "year":
        return table.filter((column >= first.year) & (column <= last.year))
    return table.filter((column >= first) & (column <= last))


def rows_table(
    wh: Warehouse, scope: Scope, dataset_id: str, fields: Sequence[str], *, period: str | None = None
) -> ir.Table:
    """The live rows of a dataset inside `scope`, with `fields`, in key order."""
    src = dataset(dataset_id)
    names = [c.name for c in src.columns]
    bad = [f for f in fields if f not in names]
    if bad or not fields:
        raise BadQuery(f"数据集 {dataset_id} 没有字段 {', '.join(bad) or '（空）'}；可选：{', '.join(names)}")
    table = wh.current(src.table)
    county = _first(src, "county")
    code = _first(src, "credit_code")
    registry = wh.current("registry") if wh.has_table("registry") else None
    try:
        table = scope.restrict(
            table,
            county_column=county.name if county else None,
            code_column=code.name if code else None,
            registry=registry,
        )
    except ValueError:
        raise BadQuery(f"数据集 {dataset_id} 没有区划或企业代码列，不能按区划提供") from None
    if period:
        table = _period_filter(table, src, period)
    # Key order makes pages stable: the same offset always gives the same rows.
    return table.order_by(list(src.key)).select(*fields)


def read_page(
    wh: Warehouse,
    scope: Scope,
    dataset_id: str,
    fields: Sequence[str],
    *,
    period: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of rows and how many rows match in all."""
    table = rows_table(wh, scope, dataset_id, fields, period=period)
    total = int(wh.execute(table.count()))
    page = table.limit(max(0, min(limit, MAX_PAGE)), offset=max(0, offset))
    return wh.to_pyarrow(page).to_pylist(), total


def _text(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, date):
        return value.isoformat()
    return safe_cell(value)


def iter_csv(
    wh: Warehouse,
    scope: Scope,
    dataset_id: str,
    fields: Sequence[str],
    *,
    period: str | None = None,
    chunk_rows: int = CSV_CHUNK_ROWS,
) -> Iterator[bytes]:
    """A dataset's rows as CSV (UTF-8 with BOM so Excel reads Chinese; headers as in the
    template), in chunks of `chunk_rows` rows read from a record-batch stream."""
    src = dataset(dataset_id)
    table = rows_table(wh, scope, dataset_id, fields, period=period)
    by_name = {c.name: c for c in src.columns}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_text(header_text(by_name[f])) for f in fields])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    reader = wh.con.to_pyarrow_batches(table, chunk_size=chunk_rows)
    try:
        for batch in reader:
            buffer.seek(0)
            buffer.truncate()
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            writer.writerows([_text(v) for v in row] for row in zip(*columns, strict=True))
            yield buffer.getvalue().encode("utf-8")
    finally:
        reader.close()
