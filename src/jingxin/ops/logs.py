"""Structured logs (结构化日志): one JSON object per line in production, readable text in
development (`JINGXIN_LOG_FORMAT=json|console`).

Every line, whether written through structlog or the standard `logging` module (uvicorn, huey,
the platform's own `logging.getLogger` calls), goes through the same formatter and carries the
context bound for the request or job being handled: `request_id` (see
`jingxin.core.request_context`) and, for requests, `user_id`. What may never reach a log —
passwords, tokens, cookies — is dropped by key in `drop_secrets`, a last line of defence: the
platform logs none of them on purpose.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

# Keys whose values never go into a log line, whatever logged them.
SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "token",
        "access_token",
        "id_token",
        "refresh_token",
        "cookie",
        "cookies",
        "authorization",
        "secret",
        "csrf_token",
        "client_secret",
        "set-cookie",
    }
)


def drop_secrets(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if key.lower() in SECRET_KEYS:
            event[key] = "[removed]"
    return event


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    drop_secrets,
]


def _route_structlog_to_logging() -> None:
    """structlog lines become standard `logging` records, so one handler formats all lines
    (and, before `configure_logging`, an info line goes where any other would: nowhere)."""
    structlog.configure(
        processors=[
            *_SHARED[:1],
            structlog.stdlib.filter_by_level,
            *_SHARED[1:],
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


_route_structlog_to_logging()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a line is logged, not when logging was set up:
    a process that swaps stderr (a test runner, a daemon redirecting it) never leaves the root
    logger writing to a closed stream."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(log_format: str = "json", level: str = "info", stream: TextIO | None = None) -> None:
    """Send every log line of the process to `stream` (stderr) in `log_format`.

    Replaces the root logger's handlers, so call it once at start (`jingxin serve` does, in
    each server process)."""
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # uvicorn's loggers write through the root handler; its access log is replaced by the
    # platform's own request line (route template, user, request id).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "huey"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True


def request_logger() -> Any:
    return structlog.get_logger("jingxin.request")


def create_served_app() -> Any:
    """The app as `jingxin serve` runs it: logging configured first, in every server process
    (uvicorn's workers each import this factory)."""
    from jingxin.core.settings import get_settings
    from jingxin.web.app import create_app

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings, warm=True)
