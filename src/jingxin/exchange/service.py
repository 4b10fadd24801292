"""Data exchange (数据共享交换) operations, for the pages, the API, the CLI and other scenarios.

In (数据归集方向): blank .xlsx templates per source (`blank_template`), the data exchange
specification, the submission tracker and reminders (`sync_tracker`, `remind_due_submissions`).
Out (数据共享方向): the dataset catalogue (`catalogue`), API tokens (`issue_token`,
`check_call`) and rows read through a token's `Scope` as JSON pages or a streamed CSV
(`read_page`, `iter_csv`). The parts live in `blanks`, `tracker`, `tokens` and `catalogue`;
this module is the one other packages import.
"""

from __future__ import annotations

from jingxin.exchange.blanks import blank_template, example_value, fill_template, header_text, template_name
from jingxin.exchange.catalogue import (
    BadQuery,
    DatasetNotFound,
    catalogue,
    dataset,
    describe,
    iter_csv,
    read_page,
    rows_table,
    shareable,
)
from jingxin.exchange.config import CalendarError, load_calendar
from jingxin.exchange.tokens import (
    Issued,
    TokenCall,
    TokenError,
    TokenRefused,
    bearer,
    check_call,
    issue_token,
    list_tokens,
    revoke_token,
    token_scope,
    token_status,
)
from jingxin.exchange.tracker import (
    STATUS_LABELS,
    ReminderReport,
    remind_due_submissions,
    send_reminders,
    submissions,
    summary,
    sync_tracker,
)

__all__ = [
    "STATUS_LABELS",
    "BadQuery",
    "CalendarError",
    "DatasetNotFound",
    "Issued",
    "ReminderReport",
    "TokenCall",
    "TokenError",
    "TokenRefused",
    "bearer",
    "blank_template",
    "catalogue",
    "check_call",
    "dataset",
    "describe",
    "example_value",
    "fill_template",
    "header_text",
    "issue_token",
    "iter_csv",
    "list_tokens",
    "load_calendar",
    "read_page",
    "remind_due_submissions",
    "revoke_token",
    "rows_table",
    "send_reminders",
    "shareable",
    "spec_markdown",
    "submissions",
    "summary",
    "sync_tracker",
    "template_name",
    "token_scope",
    "token_status",
]


def spec_markdown() -> str:
    """The data exchange specification (docs/data-exchange.md), rendered from the contracts
    the same way the committed document is, so the app serves what ingestion enforces."""
    from jingxin.ingest.docs import render_data_exchange

    return render_data_exchange()
