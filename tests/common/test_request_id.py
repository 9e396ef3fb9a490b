"""The one request-id rule that the router and model-api share."""

from __future__ import annotations

import logging

import pytest

from understudy_common.request_id import (
    MAX_REQUEST_ID_LENGTH,
    request_id_from,
    why_invalid,
)


@pytest.mark.parametrize(
    "value",
    [b"abc-123", b"req/42", b"a+b=", b"!", b"~" * MAX_REQUEST_ID_LENGTH, b'{"x":1}'],
)
def test_visible_ascii_up_to_the_limit_is_kept(value: bytes) -> None:
    assert why_invalid(value) is None
    assert request_id_from([(b"x-request-id", value)]) == value.decode()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", "empty"),
        (b"x" * (MAX_REQUEST_ID_LENGTH + 1), "longer than 128 characters (129)"),
        (b"has space", "characters outside visible ASCII"),
        (b"tab\there", "characters outside visible ASCII"),
        ("caf\u00e9".encode(), "characters outside visible ASCII"),
        (b"nul\x00", "characters outside visible ASCII"),
    ],
)
def test_anything_else_is_replaced_and_the_reason_logged(
    value: bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert why_invalid(value) is not None and reason in str(why_invalid(value))
    with caplog.at_level(logging.WARNING, logger="understudy_common.request_id"):
        replaced = request_id_from([(b"x-request-id", value)])
    assert replaced != value.decode("latin-1") and len(replaced) == 32
    (record,) = caplog.records
    assert reason in record.getMessage() and replaced in record.getMessage()
    assert getattr(record, "http.request.id") == replaced


def test_no_header_gets_a_fresh_id_without_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="understudy_common.request_id"):
        first = request_id_from([(b"content-type", b"application/json")])
        second = request_id_from([])
    assert first != second and len(first) == len(second) == 32
    assert not caplog.records


def test_the_first_header_decides() -> None:
    headers = [(b"x-request-id", b"one"), (b"x-request-id", b"two")]
    assert request_id_from(headers) == "one"
