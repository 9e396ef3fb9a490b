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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

from understudy_common.jsonio import AsciiEncoder
from understudy_common.linelock import LineLock

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
        # One encoder for every line: orjson with python-json-logger's encoder's
        # ``default`` (datetimes, exceptions, enums ...), json where orjson would write
        # otherwise (jsonio.py). ASCII, no spaces between items.
        self._encoder = AsciiEncoder(self.json_encoder or json.JSONEncoder)

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        return self._encoder.encode(log_data)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        self._ecs_fields(
            log_data,
            created=record.created,
            levelname=record.levelname,
            message=record.getMessage(),
            name=record.name,
            extras=record.__dict__,
        )
        if record.exc_info:
            log_data["error.stack_trace"] = self.formatException(record.exc_info)
            exc = record.exc_info[1]
            if exc is not None:
                log_data["error.type"] = type(exc).__name__
                log_data["error.message"] = str(exc)
        log_data.update(message_dict)

    def _ecs_fields(
        self,
        log_data: dict[str, Any],
        *,
        created: float,
        levelname: str,
        message: str,
        name: str,
        extras: dict[str, Any],
    ) -> None:
        """The one definition of a line's fields, for a LogRecord and for ``log_event``."""
        log_data["@timestamp"] = datetime.fromtimestamp(created, tz=UTC).isoformat(
            timespec="milliseconds"
        )
        log_data["log.level"] = levelname.lower()
        log_data["message"] = message
        log_data["log.logger"] = name
        log_data["service.name"] = self._service
        log_data["event.dataset"] = extras.get("event.dataset") or self._dataset
        request_id = request_id_var.get()
        if request_id is not None:
            log_data["http.request.id"] = request_id
        for key, value in extras.items():
            if key not in _RESERVED and not key.startswith("_"):
                log_data[key] = _jsonable(value)

    def format_event(
        self, *, name: str, level: int, message: str, created: float, fields: dict[str, Any]
    ) -> str:
        """The line ``format`` writes for a record of logger ``name`` at ``level`` with
        ``fields`` as its extras (and no exception), built without a LogRecord."""
        log_data: dict[str, Any] = {}
        self._ecs_fields(
            log_data,
            created=created,
            levelname=logging.getLevelName(level),
            message=message,
            name=name,
            extras=fields,
        )
        return self.serialize_log_record(self.process_log_record(log_data))


_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)


def _plain(value: Any) -> bool:
    """True when ``value`` is built of exactly dict (with str keys), list, tuple, str, int,
    float, bool and None, all of which JSON encodes; False leaves the answer to a trial."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            item_kind = type(item)
            if item_kind is str or item_kind is float or item_kind is int or item is None:
                if type(key) is str:
                    continue
                return False
            if type(key) is not str or not _plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_plain(item) for item in value)
    return kind is str or kind is int or kind is float or kind is bool or value is None


def _jsonable(value: Any) -> Any:
    """``value`` if JSON can carry it, else its ``repr``: a library's extra (kopf
    attaches its settings object to records) must never break a log line."""
    # Scalars and flat lists of scalars (most extras: the router's per-comparison fields)
    # need no trial encoding; it doubled the cost of a comparison log line.
    kind = type(value)
    if kind in _SCALAR_TYPES or isinstance(value, _SCALARS):
        return value
    # The exact types in one C-level pass first (a generator of isinstance calls cost
    # ~1 µs per list field, and a comparison line has five such lists).
    if (kind is list or kind is tuple) and _SCALAR_TYPES.issuperset(map(type, value)):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, _SCALARS) for v in value):
        return value
    # Nested lists and objects of plain values (model-api's logged inputs: a trial encoding
    # of one record's 80 fields cost 3-4x this walk, and the line encodes them again).
    try:
        if _plain(value):
            return value
    except RecursionError:  # a cycle or deep nesting: the trial encoding decides, as before
        pass
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


class JsonLinesHandler(logging.StreamHandler[TextIO]):
    """A StreamHandler that writes each line in one piece, under ``line_lock`` when the
    stream is shared with another process (linelock.py says why)."""

    def __init__(self, stream: TextIO, line_lock: LineLock | None = None) -> None:
        super().__init__(stream)
        self.line_lock = line_lock

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write_line(self.format(record))
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def write_line(self, line: str) -> None:
        """One line and its flush (the caller holds the handler's own lock)."""
        lock = self.line_lock
        if lock is None:
            self.stream.write(line + self.terminator)
            self.flush()
            return
        with lock:
            self.stream.write(line + self.terminator)
            self.flush()


def configure_logging(
    *,
    service: str,
    level: str | int = "INFO",
    stream: TextIO | None = None,
    line_lock: LineLock | None = None,
) -> JsonLinesHandler:
    """Route the root logger and the library loggers to one JSON handler.

    ``event.dataset`` defaults to ``<service>.log``; a record may override it with
    ``extra={"event.dataset": "..."}`` (the router does, for comparison events).
    Calling it again replaces the previous handler, so tests can capture output.
    ``line_lock``: the stream is shared with other processes (see ``share_lines``; once
    this process has shared its lines, a handler configured later keeps that lock).
    """
    handler = JsonLinesHandler(stream or sys.stdout, line_lock or _shared_lock)
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


def _json_handlers(logger: logging.Logger, level: int) -> list[JsonLinesHandler] | None:
    """The handlers a record of ``logger`` at ``level`` would reach, when every handler on
    the way is a JsonLinesHandler with our formatter and nothing filters; else None."""
    found: list[JsonLinesHandler] = []
    seen_any = False
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or current.disabled:
            return None
        for handler in current.handlers:
            if (
                type(handler) is not JsonLinesHandler
                or handler.filters
                or not isinstance(handler.formatter, EcsJsonFormatter)
            ):
                return None
            seen_any = True
            if level >= handler.level:
                found.append(handler)
        if not current.propagate:
            break
        current = current.parent
    return found if seen_any else None  # no handler at all: logging's lastResort decides


def log_event(
    logger: logging.Logger, level: int, fields: dict[str, Any], msg: str, *args: object
) -> None:
    """``logger.log(level, msg, *args, extra=fields)`` without the LogRecord, for an event
    written once per request on a hot path: the same line through the same handler and
    stream, built by the same formatter (``EcsJsonFormatter.format_event``). It skips the
    record's creation (caller lookup, thread and process names) and the formatter's walk
    over the record's attributes: measured in bench/README.md ("where the time goes").
    When anything else would see the record (a filter, another kind of handler such as
    pytest's caplog) it takes the standard path, so nothing is lost either way
    (tests/common/test_logging.py holds both lines equal)."""
    if not logger.isEnabledFor(level):
        return
    handlers = _json_handlers(logger, level)
    if handlers is None:
        logger.log(level, msg, *args, extra=fields, stacklevel=2)
        return
    created = time.time()
    message = msg % args if args else msg
    for handler in handlers:
        formatter = handler.formatter
        assert isinstance(formatter, EcsJsonFormatter)  # _json_handlers checked it
        handler.acquire()
        try:
            line = formatter.format_event(
                name=logger.name, level=level, message=message, created=created, fields=fields
            )
            handler.write_line(line)
        except Exception:
            handler.handleError(logger.makeRecord(logger.name, level, "", 0, msg, args, None))
        finally:
            handler.release()


@contextmanager
def request_context(request_id: str) -> Iterator[None]:
    """Set the request id for the log lines written inside the block."""
    token = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(token)


# The lock this process's lines are written under once it shares its stdout (share_lines).
_shared_lock: LineLock | None = None


def share_lines() -> LineLock | None:
    """Guard this process's JSON lines with a LineLock and return it, for a child process
    that writes to the same stdout (``configure_logging(line_lock=...)`` with the inherited
    descriptor). One lock per process: a replaced child gets the same one. None where the
    platform has no such lock."""
    global _shared_lock
    if _shared_lock is None:
        _shared_lock = LineLock.create()
    for handler in logging.getLogger().handlers:
        if isinstance(handler, JsonLinesHandler):
            handler.line_lock = _shared_lock
    return _shared_lock


def uvicorn_log_config() -> dict[str, Any]:
    """A uvicorn ``log_config`` that leaves handlers to :func:`configure_logging`."""
    return {"version": 1, "disable_existing_loggers": False}
