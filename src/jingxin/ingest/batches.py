"""The batch registry (批次登记) as the CLI and the web app read it.

A batch is one ingested file: source, period, file name, content hash, counts, who and when,
and the supersession links that make corrections (更正) traceable without deleting anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from jingxin.core.spreadsheet import csv_cell
from jingxin.core.warehouse import Warehouse

BATCH_COLUMNS = (
    "batch_id",
    "source",
    "period",
    "file_name",
    "content_hash",
    "row_count",
    "accepted",
    "rejected",
    "loaded_by",
    "loaded_at",
    "supersedes",
    "superseded_by",
)
REJECTED_COLUMNS = ("row_number", "column_name", "value", "reason", "raw")
PAGE_ROWS = 5_000  # problems read at a time for an export (a few MB whatever the batch's size)


def _row(values: tuple[Any, ...], names: tuple[str, ...]) -> dict[str, Any]:
    out = dict(zip(names, values, strict=True))
    if isinstance(out.get("loaded_at"), dt.datetime):
        out["loaded_at"] = out["loaded_at"].replace(microsecond=0)
    return out


def list_batches(wh: Warehouse, source: str | None = None) -> list[dict[str, Any]]:
    """Every batch, newest first; optionally of one source."""
    cols = ", ".join(BATCH_COLUMNS)
    if source is None:
        rows = wh.sql(f"SELECT {cols} FROM batches ORDER BY batch_id DESC")
    else:
        rows = wh.sql(f"SELECT {cols} FROM batches WHERE source = ? ORDER BY batch_id DESC", [source])
    return [_row(r, BATCH_COLUMNS) for r in rows]


def get_batch(wh: Warehouse, batch_id: int) -> dict[str, Any] | None:
    cols = ", ".join(BATCH_COLUMNS)
    rows = wh.sql(f"SELECT {cols} FROM batches WHERE batch_id = ?", [batch_id])
    return _row(rows[0], BATCH_COLUMNS) if rows else None


def find_by_hash(wh: Warehouse, source: str, content_hash: str) -> dict[str, Any] | None:
    """The first batch that loaded exactly these bytes for this source (同一文件重复提交)."""
    cols = ", ".join(BATCH_COLUMNS)
    rows = wh.sql(
        f"SELECT {cols} FROM batches WHERE source = ? AND content_hash = ? ORDER BY batch_id LIMIT 1",
        [source, content_hash],
    )
    return _row(rows[0], BATCH_COLUMNS) if rows else None


def live_batches(wh: Warehouse, source: str, period: str) -> list[int]:
    """Batches of a source and period not yet superseded (现行批次)."""
    rows = wh.sql(
        "SELECT batch_id FROM batches"
        " WHERE source = ? AND period = ? AND superseded_by IS NULL ORDER BY batch_id",
        [source, period],
    )
    return [int(r[0]) for r in rows]


def rejected_rows(wh: Warehouse, batch_id: int) -> list[dict[str, Any]]:
    """The quarantined rows of a batch (隔离数据), one entry per problem, in file order."""
    cols = ", ".join(REJECTED_COLUMNS)
    rows = wh.sql(f"SELECT {cols} FROM rejected_rows WHERE batch_id = ? ORDER BY row_number", [batch_id])
    return [dict(zip(REJECTED_COLUMNS, r, strict=True)) for r in rows]


def rejected_table(wh: Warehouse, batch_id: int) -> pa.Table:
    rows = rejected_rows(wh, batch_id)
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema([(c, pa.int64() if c == "row_number" else pa.string()) for c in REJECTED_COLUMNS]),
    )


def rejected_pages(
    wh: Warehouse, batch_id: int, page_rows: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """All problems of a batch in file order, about `page_rows` at a time, for exports.

    Each page is the rows after the previous page up to the row of the `page_rows`-th problem
    (found by a query on the row number alone), so a page holds whole rows, and what the
    database sorts and returns at a time is one page, whatever the batch's size."""
    table = wh.table("rejected_rows")
    table = table.filter(table.batch_id == batch_id)
    page_rows = page_rows or PAGE_ROWS
    after = -1
    while True:
        rest = table.filter(table.row_number > after)
        probe = rest.select("row_number").order_by("row_number").limit(1, offset=page_rows - 1)
        found = wh.to_pyarrow(probe).column(0).to_pylist()
        window = rest if not found else rest.filter(rest.row_number <= found[0])
        page = window.order_by(["row_number", "column_name", "reason"]).select(*REJECTED_COLUMNS)
        rows = wh.to_pyarrow(page).to_pylist()
        if rows:
            yield rows
        if not found:
            return
        after = found[0]


def safe_cell(value: Any) -> str:
    """A CSV cell as text that no spreadsheet program runs as a formula (`core.spreadsheet`)."""
    return "" if value is None else str(csv_cell(str(value)))
