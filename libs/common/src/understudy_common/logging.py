"""One JSON-lines logging set-up for every Understudy process.

Each record is one JSON object per line on stdout with ECS field names
(``@timestamp``, ``log.level``, ``message``, ``service.name``, ``event.dataset``,
``http.request.id``), so Fluent Bit can ship it to Elasticsearch unchanged and
Kibana can join the live and candidate records of one request by its id.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

# The request id of the request being handled, set by the HTTP middleware of
# each service; every log line written while it is set carries it.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "understudy_request_id", default=None
)

# Loggers owned by libraries we run under; their handlers are replaced so that
# their lines come out as the same JSON as ours.
TAKEN_OVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "kopf", "httpx")

# Attributes every LogRecord has; anything else was passed via ``extra=`` and
# is emitted as a field of its own. uvicorn's ``color_message`` (the message again, with
# ANSI colour escapes for a terminal) is dropped too: it is noise in JSON.
_RESERVED = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "color_message"}
)


class EcsJsonFormatter(JsonFormatter):
    """python-json-logger formatter that renames fields to their ECS names."""

    def __init__(self, *, service: str, dataset: str) -> None:
        super().__init__()
        self._service = service
        self._dataset = dataset

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["@timestamp"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(
            timespec="milliseconds"
        )
        log_data["log.level"] = record.levelname.lower()
        log_data["message"] = record.getMessage()
        log_data["log.logger"] = record.name
        log_data["service.name"] = self._service
        log_data["event.dataset"] = getattr(record, "event.dataset", None) or self._dataset
        request_id = request_id_var.get()
        if request_id is not None:
            log_data["http.request.id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                log_data[key] = _jsonable(value)
        if record.exc_info:
            log_data["error.stack_trace"] = self.formatException(record.exc_info)
            exc = record.exc_info[1]
            if exc is not None:
                log_data["error.type"] = type(exc).__name__
                log_data["error.message"] = str(exc)
        log_data.update(message_dict)


_SCALARS = (str, int, float, bool, type(None))


def _jsonable(value: Any) -> Any:
    """``value`` if JSON can carry it, else its ``repr``: a library's extra (kopf
    attaches its settings object to records) must never break a log line."""
    # Scalars and flat lists of scalars (most extras: the router's per-comparison fields)
    # need no trial encoding; it doubled the cost of a comparison log line.
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, _SCALARS) for v in value):
        return value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def configure_logging(
    *, service: str, level: str | int = "INFO", stream: TextIO | None = None
) -> logging.Handler:
    """Route the root logger and the library loggers to one JSON handler.

    ``event.dataset`` defaults to ``<service>.log``; a record may override it with
    ``extra={"event.dataset": "..."}`` (the router does, for comparison events).
    Calling it again replaces the previous handler, so tests can capture output.
    """
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(EcsJsonFormatter(service=service, dataset=f"{service}.log"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in TAKEN_OVER_LOGGERS:
        lib_logger = logging.getLogger(name)
        for old in list(lib_logger.handlers):
            lib_logger.removeHandler(old)
        lib_logger.propagate = True
    # httpx logs every request at INFO; that would double the router's volume.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler


@contextmanager
def request_context(request_id: str) -> Iterator[None]:
    """Set the request id for the log lines written inside the block."""
    token = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(token)


def uvicorn_log_config() -> dict[str, Any]:
    """A uvicorn ``log_config`` that leaves handlers to :func:`configure_logging`."""
    return {"version": 1, "disable_existing_loggers": False}
