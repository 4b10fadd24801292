"""Data page operations (数据归集服务): batches, rejected rows, CSV export, upload.

Every function takes the user's `Scope` and reads the batch registry only through
`Scope.restrict_batches`, so a liaison sees its own department's sources and nothing else, in
the pages and the API alike. A batch outside the scope is reported exactly like a batch that
does not exist (`BatchNotFound`), so ids cannot be probed.

Rejected rows are shown unmasked: they are the liaison's own file, returned so that the
department can correct it; downloading them is audited like every export.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import ibis

from jingxin.core.contracts import load_contracts
from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse
from jingxin.datahub.models import BatchOut, RejectedRowOut, SourceOut, SourceSummary, UploadOutcome
from jingxin.web.warehouse import WarehouseAccess

if TYPE_CHECKING:
    from jingxin.core.settings import Settings
    from jingxin.ingest.service import IngestLimits

MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # the default of the upload_max_bytes setting
ALLOWED_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv", ".txt")  # .xls: refused with advice by the reader
STATUS_LABELS = {"current": "现行", "superseded": "已被更正"}


class BatchNotFound(LookupError):
    """No such batch in this scope (也可能不存在)."""


class SourceNotAllowed(PermissionError):
    """The user may not upload to (or read) this source."""


class UploadRefused(ValueError):
    """The file was refused whole; the message is Chinese and meant for the sender."""


# ---- sources ------------------------------------------------------------------------------


def sources(scope: Scope) -> list[SourceOut]:
    """The sources whose batches this scope sees (and may upload, given the role)."""
    allowed = set(scope.visible_sources())
    return [
        SourceOut(id=s.id, title=s.title, department=s.department)
        for s in load_contracts().sources.values()
        if s.id in allowed
    ]


def _source_info(source_id: str) -> tuple[str, str]:
    src = load_contracts().sources.get(source_id)
    return (src.title, src.department) if src else (source_id, "")


# ---- batches ------------------------------------------------------------------------------


def _batches(wh: Warehouse, scope: Scope) -> ibis.Table:
    return scope.restrict_batches(wh.table("batches"))


def _aware(moment: datetime | None) -> datetime | None:
    """Ingestion stamps batches with the server's local wall-clock time, without a zone; the
    API promises RFC 3339 timestamps, so the zone is made explicit (the server's own)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.astimezone()


def _batch_out(row: dict[str, Any]) -> BatchOut:
    title, department = _source_info(row["source"])
    status: Literal["current", "superseded"] = "current" if row.get("superseded_by") is None else "superseded"
    return BatchOut(
        batch_id=int(row["batch_id"]),
        source=row["source"],
        source_title=title,
        department=department,
        period=row.get("period"),
        file_name=row.get("file_name"),
        content_hash=row.get("content_hash"),
        row_count=int(row.get("row_count") or 0),
        accepted=int(row.get("accepted") or 0),
        rejected=int(row.get("rejected") or 0),
        loaded_by=row.get("loaded_by"),
        loaded_at=_aware(row.get("loaded_at")),
        supersedes=row.get("supersedes"),
        superseded_by=row.get("superseded_by"),
        status=status,
        status_label=STATUS_LABELS[status],
    )


def list_batches(
    wh: Warehouse, scope: Scope, *, source: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[BatchOut], int]:
    """Batches in scope, newest first, and how many there are in all.

    `source` must be a known source id; anything else matches nothing without reaching the
    query (Ibis writes literals into the SQL text, so user text is never passed through).
    """
    table = _batches(wh, scope)
    if source:
        if source not in load_contracts().sources:
            return [], 0
        table = table.filter(table.source == source)
    total = int(wh.execute(table.count()))
    page = table.order_by(ibis.desc("batch_id")).limit(max(0, limit), offset=max(0, offset))
    return [_batch_out(r) for r in wh.to_pyarrow(page).to_pylist()], total


def get_batch(wh: Warehouse, scope: Scope, batch_id: int) -> BatchOut:
    table = _batches(wh, scope)
    rows = wh.to_pyarrow(table.filter(table.batch_id == batch_id)).to_pylist()
    if not rows:
        raise BatchNotFound(batch_id)
    return _batch_out(rows[0])


def source_summary(wh: Warehouse, scope: Scope) -> list[SourceSummary]:
    """Rows accepted and rejected per source over the live batches in scope."""
    table = _batches(wh, scope)
    live = table.filter(table.superseded_by.isnull())
    grouped = live.group_by("source").aggregate(
        batches=live.count(), accepted=live.accepted.sum(), rejected=live.rejected.sum()
    )
    by_source = {r["source"]: r for r in wh.to_pyarrow(grouped).to_pylist()}
    out = []
    for s in sources(scope):
        r = by_source.get(s.id)
        if r is not None:
            out.append(
                SourceSummary(
                    source=s.id,
                    source_title=s.title,
                    batches=int(r["batches"]),
                    accepted=int(r["accepted"] or 0),
                    rejected=int(r["rejected"] or 0),
                )
            )
    return out


# ---- rejected rows ------------------------------------------------------------------------


def rejected_rows(
    wh: Warehouse, scope: Scope, batch_id: int, *, limit: int | None = 200, offset: int = 0
) -> tuple[list[RejectedRowOut], int]:
    """The problems found in a batch's rows, in file order, and how many there are."""
    get_batch(wh, scope, batch_id)  # scope check first: out of scope is "not found"
    table = wh.table("rejected_rows")
    table = table.filter(table.batch_id == batch_id)
    total = int(wh.execute(table.count()))
    ordered = table.order_by(["row_number", "column_name"])
    if limit is not None:
        ordered = ordered.limit(max(0, limit), offset=max(0, offset))
    rows = wh.to_pyarrow(ordered.select("row_number", "column_name", "value", "reason", "raw")).to_pylist()
    return [RejectedRowOut(**r) for r in rows], total


CSV_HEADER = ("批次", "数据源", "行号", "列", "值", "原因", "原始行")
XLSX_SHEET_ROWS = 1_048_575  # Excel's rows per sheet, less the header


def rejected_pages(wh: Warehouse, batch_id: int) -> Iterator[list[dict[str, Any]]]:
    """All problems of a batch in file order, a page at a time (see
    `jingxin.ingest.batches.rejected_pages`). The caller checks the scope first."""
    from jingxin.ingest.service import rejected_pages

    return rejected_pages(wh, batch_id)


def rejected_csv_chunks(wh: Warehouse, batch: BatchOut) -> Iterator[bytes]:
    """The rejected rows of `batch` as CSV in UTF-8 with a BOM (so Excel opens it in Chinese),
    produced page by page: memory holds one page, whatever the batch's size."""
    from jingxin.ingest.service import safe_cell as _cell

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    for rows in rejected_pages(wh, batch.batch_id):
        buffer.seek(0)
        buffer.truncate()
        for r in rows:
            writer.writerow(
                [
                    batch.batch_id,
                    batch.source_title,
                    r["row_number"],
                    _cell(r["column_name"]),
                    _cell(r["value"]),
                    _cell(r["reason"]),
                    _cell(r["raw"]),
                ]
            )
        yield buffer.getvalue().encode("utf-8")


def rejected_csv(wh: Warehouse, scope: Scope, batch_id: int) -> bytes:
    """All rejected rows of a batch as one CSV document (for the CLI and tests; the web
    streams `rejected_csv_chunks`)."""
    return b"".join(rejected_csv_chunks(wh, get_batch(wh, scope, batch_id)))


def rejected_xlsx_file(wh: Warehouse, batch: BatchOut, folder: Path) -> Path:
    """The rejected rows of `batch` as an .xlsx written to `folder`, in constant memory
    (xlsxwriter flushes each row to disk). Every text is written as a string cell with the
    text format, so a value such as "=HYPERLINK(...)" or a credit code "0123…" is shown as
    typed and never run as a formula or turned into a number."""
    import xlsxwriter

    path = folder / "rejected.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": str(folder)})
    try:
        text = book.add_format({"num_format": "@"})
        bold = book.add_format({"bold": True, "num_format": "@"})
        sheet = None
        row = XLSX_SHEET_ROWS
        for rows in rejected_pages(wh, batch.batch_id):
            for r in rows:
                if row >= XLSX_SHEET_ROWS:
                    sheet = book.add_worksheet(f"拒收数据{len(book.worksheets()) + 1}")
                    sheet.set_column(0, 2, 10, text)
                    sheet.set_column(3, 6, 28, text)
                    for col, title in enumerate(CSV_HEADER):
                        sheet.write_string(0, col, title, bold)
                    row = 0
                row += 1
                assert sheet is not None
                sheet.write_number(row, 0, batch.batch_id)
                sheet.write_string(row, 1, batch.source_title, text)
                sheet.write_number(row, 2, r["row_number"] or 0)
                for col, key in enumerate(("column_name", "value", "reason", "raw"), start=3):
                    sheet.write_string(row, col, _xlsx_text(r[key]), text)
        if sheet is None:
            sheet = book.add_worksheet("拒收数据1")
            for col, title in enumerate(CSV_HEADER):
                sheet.write_string(0, col, title, bold)
    finally:
        book.close()
    return path


_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
XLSX_CELL_CHARS = 32_767  # Excel's limit for one cell


def _xlsx_text(value: Any) -> str:
    """Text as an .xlsx string cell can hold it: no XML-illegal control characters, at most
    Excel's 32,767 characters (the CSV download keeps the whole text)."""
    if value is None:
        return ""
    return _XLSX_ILLEGAL.sub("\ufffd", str(value))[:XLSX_CELL_CHARS]


def rejected_download_name(batch: BatchOut, suffix: str = "csv") -> str:
    return f"拒收数据_批次{batch.batch_id}_{batch.source_title}.{suffix}"


def rejected_csv_name(batch: BatchOut) -> str:
    return rejected_download_name(batch, "csv")


# ---- upload -------------------------------------------------------------------------------


def safe_file_name(name: str | None) -> str:
    """The uploaded file's own name without any folder part or control characters, kept
    because the batch registry records it and departments recognise their files by it."""
    text = unicodedata.normalize("NFC", (name or "").replace("\\", "/").split("/")[-1])
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip().strip(".")
    text = re.sub(r"\s+", " ", text)
    if not text:
        return "upload.csv"
    stem, dot, suffix = text.rpartition(".")
    if dot and len(suffix) <= 8:
        return stem[:120] + "." + suffix
    return text[:128]


def ingest_limits(settings: Settings) -> IngestLimits:
    """The read limits of an upload, as `settings` configure them."""
    from jingxin.ingest.service import IngestLimits

    return IngestLimits.from_settings(settings)


def upload(
    access: WarehouseAccess,
    scope: Scope,
    source_id: str,
    stream: IO[bytes],
    file_name: str | None,
    loaded_by: str,
    *,
    limits: IngestLimits | None = None,
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> UploadOutcome:
    """Ingest one uploaded file as a batch of `source_id` (整份入库或整份退回).

    The file is copied to a private temporary folder under its own name (ingestion records
    the name), at most `max_bytes` of it, ingested under the warehouse write lock within
    `limits` (see `jingxin.ingest.limits`), and removed.
    """
    from jingxin.ingest.service import IngestError, ingest_file

    if source_id not in load_contracts().sources:
        raise UploadRefused(f"未知数据源 {source_id!r}：请从列表中选择本部门的数据源。")
    if not scope.allows_source(source_id):
        raise SourceNotAllowed(source_id)
    name = safe_file_name(file_name)
    if not name.lower().endswith(ALLOWED_SUFFIXES):
        raise UploadRefused(f"文件 {name} 的格式不受支持：请提交 .xlsx 或 .csv 文件（见数据交换规范）。")
    folder = Path(tempfile.mkdtemp(prefix="jingxin-upload-"))
    try:
        path = folder / name
        _copy_limited(stream, path, max_bytes)
        with access.writer() as wh:
            try:
                result = ingest_file(wh, source_id, path, loaded_by=loaded_by, limits=limits)
            except IngestError as exc:
                raise UploadRefused(str(exc)) from None
            batch = get_batch(wh, Scope(), result.batch_id)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return UploadOutcome(
        batch=batch,
        duplicate=bool(result.duplicate),
        errors=int(getattr(result, "errors", 0) or 0),
        notes=list(getattr(result, "notes", []) or []),
        skipped=list(getattr(result, "skipped", []) or []),
    )


def _copy_limited(stream: IO[bytes], path: Path, limit: int = MAX_UPLOAD_BYTES) -> None:
    size = 0
    with path.open("wb") as out:
        while chunk := stream.read(1024 * 1024):
            size += len(chunk)
            if size > limit:
                raise UploadRefused(
                    f"文件超过 {limit // (1024 * 1024)} MB 的上限（upload_max_bytes），请拆分后分批提交。"
                )
            out.write(chunk)
    if size == 0:
        raise UploadRefused("上传的文件是空文件。")


def outcome_messages(outcome: UploadOutcome) -> Iterable[tuple[str, str]]:
    """(kind, text) flash messages that tell a liaison what became of their file."""
    b = outcome.batch
    if outcome.duplicate:
        yield "warning", f"该文件此前已提交（批次 {b.batch_id}），内容相同，未重复入库。"
        return
    text = f"已入库为批次 {b.batch_id}：数据行 {b.row_count}，接收 {b.accepted}，拒收 {b.rejected}。"
    if b.supersedes:
        text += f"本批次更正了批次 {b.supersedes}。"
    yield ("success" if b.rejected == 0 else "warning"), text
    for note in outcome.notes:
        yield "info", note
