"""Warehouse tables: the lineage registry and one fact table per source contract.

Every fact row carries `batch_id` (the batch that brought it) and `source_row` (its row number
in the file as a spreadsheet shows it), so any figure can be traced back to a file and a line.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from jingxin.core.contracts import load_contracts

BATCHES = ibis.schema(
    {
        "batch_id": dt.int64,
        "source": dt.string,
        "period": dt.string,
        "file_name": dt.string,
        "content_hash": dt.string,
        "row_count": dt.int64,
        "accepted": dt.int64,
        "rejected": dt.int64,
        "loaded_by": dt.string,
        "loaded_at": dt.timestamp,
        "supersedes": dt.int64,
        "superseded_by": dt.int64,
    }
)

REJECTED_ROWS = ibis.schema(
    {
        "batch_id": dt.int64,
        "row_number": dt.int64,
        "column_name": dt.string,
        "value": dt.string,
        "reason": dt.string,
        "raw": dt.string,
    }
)

LINEAGE = {"batch_id": dt.int64, "source_row": dt.int64}


def fact_schemas() -> dict[str, ibis.Schema]:
    """One schema per fact table, derived from the data exchange contracts."""
    out = {}
    for src in load_contracts().sources.values():
        cols = dict(LINEAGE)
        cols.update({c.name: c.ibis_type for c in src.columns})
        out[src.table] = ibis.schema(cols)
    return out


def all_schemas() -> dict[str, ibis.Schema]:
    return {"batches": BATCHES, "rejected_rows": REJECTED_ROWS, **fact_schemas()}
