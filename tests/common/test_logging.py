import io
import json
import logging

import pytest

from understudy_common.logging import (
    TAKEN_OVER_LOGGERS,
    configure_logging,
    log_event,
    request_context,
)


@pytest.fixture
def stream():
    buffer = io.StringIO()
    configure_logging(service="test-svc", level="DEBUG", stream=buffer)
    yield buffer
    configure_logging(service="test-svc")


def _lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_each_line_is_json_with_ecs_fields(stream):
    logging.getLogger("understudy.test").info("trained %s in %.1fs", "v1", 0.25)
    (event,) = _lines(stream)
    assert event["message"] == "trained v1 in 0.2s"
    assert event["log.level"] == "info"
    assert event["service.name"] == "test-svc"
    assert event["event.dataset"] == "test-svc.log"
    assert event["@timestamp"].endswith("+00:00")
    assert "http.request.id" not in event


def test_request_id_comes_from_the_context(stream):
    with request_context("req-123"):
        logging.getLogger("x").warning("inside")
    logging.getLogger("x").warning("outside")
    inside, outside = _lines(stream)
    assert inside["http.request.id"] == "req-123"
    assert "http.request.id" not in outside


def test_extra_fields_and_dataset_override(stream):
    logging.getLogger("x").info(
        "compared", extra={"event.dataset": "router.comparison", "agree": False, "abs_diff": 12.5}
    )
    (event,) = _lines(stream)
    assert event["event.dataset"] == "router.comparison"
    assert event["agree"] is False
    assert event["abs_diff"] == 12.5


def test_exceptions_are_structured(stream):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("x").exception("failed")
    (event,) = _lines(stream)
    assert event["error.type"] == "RuntimeError"
    assert event["error.message"] == "boom"
    assert "Traceback" in event["error.stack_trace"]


@pytest.mark.parametrize("name", TAKEN_OVER_LOGGERS)
def test_library_loggers_are_taken_over(stream, name):
    library_logger = logging.getLogger(name)
    library_logger.addHandler(logging.StreamHandler(io.StringIO()))  # e.g. uvicorn's own
    configure_logging(service="test-svc", level="DEBUG", stream=stream)
    assert library_logger.handlers == []
    library_logger.warning("from %s", name)
    assert _lines(stream)[-1]["log.logger"] == name


def test_extras_json_cannot_carry_are_written_as_repr(stream):
    class Settings:  # like the object kopf attaches to its records
        def __repr__(self) -> str:
            return "<Settings>"

    logging.getLogger("kopf.objects").info("handled", extra={"settings": Settings(), "n": 1})
    (event,) = _lines(stream)
    assert event["settings"] == "<Settings>"
    assert event["n"] == 1


def test_uvicorns_ansi_colour_message_is_dropped(stream):
    # uvicorn logs e.g. "Uvicorn running on ..." with extra={"color_message": <ANSI>}.
    logging.getLogger("uvicorn.error").info(
        "Uvicorn running on %s", "http://x", extra={"color_message": "\x1b[1m%s\x1b[0m"}
    )
    (event,) = _lines(stream)
    assert event["message"] == "Uvicorn running on http://x"
    assert "color_message" not in event
    assert "\x1b" not in json.dumps(event)


def _without_time(line: dict) -> dict:
    return {k: v for k, v in line.items() if k != "@timestamp"}


def test_log_event_writes_the_line_logger_info_writes(stream):
    fields = {
        "event.dataset": "svc.request",
        "records": 2,
        "inputs": [{"a": 1.5, "b": None, "c": "\ud800"}],  # a lone surrogate escapes alike
        "settings": object(),  # repr, as for any extra JSON cannot carry
        "_private": 1,  # dropped, as for any extra
    }
    log = logging.getLogger("understudy.test.events")
    with request_context("req-9"):
        log.info("request %s: %s records", "req-9", 2, extra=fields)
        log_event(log, logging.INFO, fields, "request %s: %s records", "req-9", 2)
    standard, fast = stream.getvalue().splitlines()
    assert json.loads(fast)["http.request.id"] == "req-9"
    assert fast.split(',"', 1)[1] == standard.split(',"', 1)[1]  # all but @timestamp, in order
    assert list(json.loads(fast)) == list(json.loads(standard))


def test_log_event_keeps_the_level(stream):
    configure_logging(service="test-svc", level="WARNING", stream=stream)
    log_event(logging.getLogger("x"), logging.INFO, {"n": 1}, "dropped")
    log_event(logging.getLogger("x"), logging.WARNING, {"n": 2}, "kept")
    (event,) = _lines(stream)
    assert event["n"] == 2 and event["log.level"] == "warning"


def test_log_event_takes_the_standard_path_when_others_listen(stream):
    """A filter or a handler of another kind (pytest's caplog, a test's list) sees a
    real LogRecord: log_event hands over to logger.log then."""
    records: list[logging.LogRecord] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    log = logging.getLogger("understudy.test.listened")
    handler = ListHandler()
    log.addHandler(handler)
    try:
        log_event(log, logging.INFO, {"n": 3}, "seen by %s", "both")
    finally:
        log.removeHandler(handler)
    (event,) = _lines(stream)
    assert event["message"] == "seen by both" and event["n"] == 3
    [record] = records
    assert record.getMessage() == "seen by both" and record.n == 3  # type: ignore[attr-defined]


def test_nested_plain_extras_pass_unchanged_and_others_as_repr(stream):
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    cycle: list = []
    cycle.append(cycle)
    plain = [{"a": 1.5, "b": None, "c": ["x", True, {"d": 2}]}]
    logging.getLogger("x").info(
        "extras",
        extra={
            "plain": plain,
            "nested_opaque": [{"a": Opaque()}],
            "int_keys": {1: "one"},  # JSON writes the key as "1": encodable, kept
            "cycle": cycle,
        },
    )
    (event,) = _lines(stream)
    assert event["plain"] == plain
    assert event["nested_opaque"] == "[{'a': <Opaque>}]"
    assert event["int_keys"] == {"1": "one"}
    assert event["cycle"] == "[[...]]"
