"""Errors of ingestion (数据归集).

A file is either ingested (perhaps with some rows quarantined, 隔离) or refused whole. A whole
refusal is an `IngestError`: the file's structure is wrong (missing column, unknown unit,
unreadable encoding), so no row of it can be trusted and nothing is written.
"""

from __future__ import annotations


class IngestError(ValueError):
    """The file is refused whole (整份退回). The message is Chinese and names the file, the
    column and what the sender should change, because it is shown to a department's data
    liaison as it is."""
