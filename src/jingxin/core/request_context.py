"""The request id (请求编号) of the work being done now, for logs, the audit log and jobs.

A web request takes its id from the incoming `X-Request-ID` header (a proxy in front may have
set it) or gets a new one (`jingxin.ops.middleware`); a job runs under the id of the request
that submitted it. Everything written meanwhile carries the same id: every log line (through
structlog's context variables), every audit entry (`audit_log.request_id`), the job and its
log lines. One id then finds a request's whole trail across the server log and both tables.

A context variable, not a global: each request (task) and each job thread sees its own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept only when it is short and plain (letters, digits, - _ . :), so that a
# client cannot write arbitrary text into the logs and the audit log through the header.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(sent: str | None) -> str:
    """The id to use for a request that sent `sent` in its header: that id when it is plain
    text of at most 64 characters, a new one otherwise."""
    if sent and _VALID_ID.match(sent):
        return sent
    return new_request_id()


def current_request_id() -> str | None:
    """The id of the request (or job) being handled now; None outside of one (CLI)."""
    return _request_id.get()


@contextmanager
def request_id_bound(request_id: str | None) -> Iterator[None]:
    """Within the block, `current_request_id()` and every structlog line carry `request_id`."""
    token = _request_id.set(request_id)
    structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        yield
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
        _request_id.reset(token)
