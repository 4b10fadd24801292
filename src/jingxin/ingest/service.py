"""Ingestion service (数据归集服务): one departmental file → one batch, all or nothing.

`ingest_file` is what the CLI and the web upload call. It reads, validates and writes the batch
row, the accepted facts and the rejected rows in ONE warehouse transaction, so a crash or an
error anywhere leaves the warehouse as it was (lineage: see DESIGN.md "Lineage and versions").

- Same bytes again for the same source (same sha256) → nothing is written; the existing batch
  is returned with `duplicate=True` (重复提交不重复入库).
- A file for a source and period that already has a live batch supersedes it (更正): the old
  batch gets `superseded_by`, the new one `supersedes`; no row is deleted, and
  `Warehouse.current(table)` shows only live batches' facts. A batch in which every row was
  rejected is recorded but supersedes nothing, so a wholly bad file cannot hide good data.
- A file refused whole raises `IngestError` and writes nothing. Besides a wrong structure,
  that is a file over one of the read limits (`jingxin.ingest.limits`) and a file most of whose
  rows are rejected (more than `max_rejected_share` of them and at least `rejected_floor`):
  such a file is not what the contract describes, and millions of stored rejections would
  help no one; the refusal names the commonest problems instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sys
import threading
import time
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from jingxin.core import metrics
from jingxin.core.contracts import Source, source
from jingxin.core.warehouse import Warehouse
from jingxin.ingest import batches
from jingxin.ingest.batches import rejected_pages, safe_cell
from jingxin.ingest.errors import IngestError
from jingxin.ingest.limits import IngestLimits
from jingxin.ingest.readers import RawTable, read_table
from jingxin.ingest.validate import Validated, validate

__all__ = ["BatchResult", "IngestError", "IngestLimits", "ingest_file", "rejected_pages", "safe_cell"]

# Test hook: when set (seconds), the ingest prints IN_TRANSACTION_MARKER inside the
# transaction, after the facts are written, and sleeps, so a test can kill it mid-flight.
PAUSE_ENV = "JINGXIN_INGEST_TEST_PAUSE"
IN_TRANSACTION_MARKER = "JINGXIN-INGEST-IN-TRANSACTION"
CURRENT_PERIOD = "current"

# One writer at a time per Warehouse object: threads of one process (the web server) share a
# connection, and its transaction() is not a lock. Other processes are kept out by DuckDB's
# file lock or, on PostgreSQL, by LOCK TABLE batches below.
_WRITE_LOCKS: weakref.WeakKeyDictionary[Warehouse, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def _write_lock(warehouse: Warehouse) -> threading.Lock:
    with _LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(warehouse, threading.Lock())


@dataclass
class BatchResult:
    """What happened to one file. `rejected` counts rows; `errors` counts problems (a row
    may have several). `skipped` lists totals/notes rows (合计/注释行) not read as data."""

    batch_id: int
    source: str
    period: str
    file_name: str
    content_hash: str
    row_count: int
    accepted: int
    rejected: int
    loaded_by: str
    loaded_at: dt.datetime
    supersedes: int | None = None
    superseded_by: int | None = None
    duplicate: bool = False
    errors: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["loaded_at"] = self.loaded_at.isoformat(sep=" ", timespec="seconds")
        return out

    @classmethod
    def from_row(cls, row: dict[str, Any], duplicate: bool = False) -> BatchResult:
        return cls(**{k: row[k] for k in batches.BATCH_COLUMNS}, duplicate=duplicate)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _format_period(kind: str, low: Any, high: Any) -> str:
    def one(v: Any) -> str:
        if kind == "year":
            return str(v)
        if kind == "month":
            return v.strftime("%Y-%m")
        return v.isoformat()

    return one(low) if low == high else f"{one(low)}..{one(high)}"


def batch_period(src: Source, checked: Validated, given: str | None) -> str:
    """The batch's period (批次期间): `given` if any; for a periodic source the span of its
    period column over the accepted rows (2021; 2021-01..2021-12; 2021-03-01..2021-03-31);
    for registry-like sources "current"."""
    if given:
        return given
    if src.period is None:
        return CURRENT_PERIOD
    values = checked.accepted.column(src.period)
    if values.null_count == len(values):
        values = checked.period_values
    values = pc.drop_null(values)
    if len(values) == 0:
        return "未知"
    bounds = pc.min_max(values).as_py()
    return _format_period(src.column(src.period).type, bounds["min"], bounds["max"])


def _notes(raw: RawTable) -> list[str]:
    notes = []
    for b in raw.match.bindings.values():
        if b.unit and b.factor != 1.0:
            notes.append(f"「{b.header}」单位为{b.unit}，已换算为{b.column.unit}（×{b.factor:g}）")
        if b.header and b.header != b.column.header and b.unit is None:
            notes.append(f"「{b.header}」按别名识别为「{b.column.header}」")
    if raw.encoding and raw.encoding not in ("utf-8", "utf-8-sig"):
        notes.append(f"文件编码识别为{raw.encoding.upper()}")
    return notes


def _pause_for_tests() -> None:
    pause = os.environ.get(PAUSE_ENV)
    if pause:
        print(IN_TRANSACTION_MARKER, flush=True)
        sys.stdout.flush()
        time.sleep(float(pause))


def ingest_file(
    warehouse: Warehouse,
    source_id: str,
    path: str | Path,
    loaded_by: str = "cli",
    period: str | None = None,
    limits: IngestLimits | None = None,
) -> BatchResult:
    """Ingest one departmental file as a batch of `source_id` (see the module docstring).

    Raises `IngestError` (nothing written) when the source is unknown or the file is refused
    whole: unreadable, no header, a required column missing, a unit that does not convert,
    no data rows, over a read limit of `limits` (default: the configured ones), or most rows
    rejected.
    """
    started = time.perf_counter()
    try:
        src = source(source_id)
    except KeyError as exc:
        raise IngestError(str(exc.args[0])) from None
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"无法读取文件 {path}：{exc.strerror or exc}") from exc
    digest = content_hash(data)
    seen = batches.find_by_hash(warehouse, src.id, digest)
    if seen is not None:
        return BatchResult.from_row(seen, duplicate=True)

    limits = limits or IngestLimits.from_settings()
    raw = read_table(path, src, data, limits)
    if raw.data_rows == 0:
        raise IngestError(f"文件 {path.name} 没有数据行：表头之后为空（或只有合计/注释行）。")
    checked = validate(raw, limits)
    raw.cells = raw.normalized = []  # free the raw text: what is written is in `checked` now
    batch_period_text = batch_period(src, checked, period)
    now = dt.datetime.now().replace(microsecond=0)

    with _write_lock(warehouse), warehouse.transaction():
        if warehouse.kind == "postgres":
            # Serialise ingests: the next batch id and the live-batch lookup must not race.
            warehouse.sql("LOCK TABLE batches IN SHARE ROW EXCLUSIVE MODE")
        seen = batches.find_by_hash(warehouse, src.id, digest)
        if seen is not None:  # the same file was committed by another process meanwhile
            return BatchResult.from_row(seen, duplicate=True)
        batch_id = int(warehouse.sql("SELECT COALESCE(MAX(batch_id), 0) + 1 FROM batches")[0][0])
        live = batches.live_batches(warehouse, src.id, batch_period_text) if checked.accepted_count else []
        supersedes = live[-1] if live else None
        warehouse.sql(
            "INSERT INTO batches (batch_id, source, period, file_name, content_hash, row_count, accepted,"
            " rejected, loaded_by, loaded_at, supersedes, superseded_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            [
                batch_id,
                src.id,
                batch_period_text,
                path.name,
                digest,
                checked.data_rows,
                checked.accepted_count,
                checked.rejected,
                loaded_by,
                now,
                supersedes,
            ],
        )
        if live:
            marks = ", ".join("?" for _ in live)
            warehouse.sql(
                f"UPDATE batches SET superseded_by = ? WHERE batch_id IN ({marks})", [batch_id, *live]
            )
        warehouse.insert_arrow(src.table, checked.accepted, {"batch_id": batch_id})
        _pause_for_tests()
        warehouse.insert_arrow("rejected_rows", checked.errors, {"batch_id": batch_id})
    # the next reads of these rows are planned from fresh statistics on PostgreSQL
    warehouse.analyze([src.table, "batches"])

    metrics.count_ingest(src.id, checked.accepted_count, checked.rejected)
    return BatchResult(
        batch_id=batch_id,
        source=src.id,
        period=batch_period_text,
        file_name=path.name,
        content_hash=digest,
        row_count=checked.data_rows,
        accepted=checked.accepted_count,
        rejected=checked.rejected,
        loaded_by=loaded_by,
        loaded_at=now,
        supersedes=supersedes,
        errors=checked.errors.num_rows,
        skipped=[{"row_number": s.row_number, "kind": s.kind, "text": s.text} for s in raw.skipped],
        notes=_notes(raw),
        seconds=round(time.perf_counter() - started, 3),
    )
