"""Feedback bodies: the batch-level rules (pure code), one row per rule."""

from __future__ import annotations

import pytest

from understudy_router.feedback.payload import FeedbackError, parse_labels
from understudy_router.feedback.store import Label


def test_a_valid_body_gives_its_labels_in_order() -> None:
    body = (
        b'{"labels": [{"request_id": "req/42", "record": 0, "actual": 215000},'
        b' {"actual": 0.5, "record": 3, "request_id": "a+b="}]}'
    )
    assert parse_labels(body, max_labels=2) == [
        Label("req/42", 0, 215000.0),
        Label("a+b=", 3, 0.5),
    ]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (b"  ", 400, "malformed_json", None),
        (
            b'{"labels": [{"request_id": "x", "record": 0, "actual": -Infinity}]}',
            400,
            "malformed_json",
            None,
        ),
        (b"[" * 100_000, 400, "malformed_json", None),
        (b'"labels"', 422, "invalid_request", None),
        (b'{"labels": [{"request_id": "x", "record": 0, "actual": 1}]} ', 200, "", None),
        (
            b'{"labels": [{"request_id": "", "record": 0, "actual": 1}]}',
            422,
            "invalid_labels",
            "request_id",
        ),
        (
            b'{"labels": [{"request_id": "' + b"x" * 129 + b'", "record": 0, "actual": 1}]}',
            422,
            "invalid_labels",
            "request_id",
        ),
        (
            b'{"labels": [{"request_id": "\\u00e9", "record": 0, "actual": 1}]}',
            422,
            "invalid_labels",
            "request_id",
        ),
        (
            b'{"labels": [{"request_id": "x", "record": 2147483648, "actual": 1}]}',
            422,
            "invalid_labels",
            "record",
        ),
        (
            b'{"labels": [{"request_id": "x", "record": true, "actual": 1}]}',
            422,
            "invalid_labels",
            "record",
        ),
        (
            b'{"labels": [{"request_id": "x", "record": 0, "actual": 1' + b"0" * 400 + b"}]}",
            422,
            "invalid_labels",
            "actual",
        ),
        # finite but past the schema's maximum (found by the fuzz test's negative mode)
        (
            b'{"labels": [{"request_id": "x", "record": 0, "actual": 1.0000000000000002e+300}]}',
            422,
            "invalid_labels",
            "actual",
        ),
        (
            b'{"labels": [{"request_id": "x", "record": 0, "actual": null}]}',
            422,
            "invalid_labels",
            "actual",
        ),
    ],
)
def test_batch_rules(body: bytes, status: int, code: str, field: str | None) -> None:
    if status == 200:
        assert len(parse_labels(body, max_labels=1)) == 1
        return
    with pytest.raises(FeedbackError) as caught:
        parse_labels(body, max_labels=10)
    assert (caught.value.status, caught.value.code) == (status, code)
    if field is not None:
        assert caught.value.errors[0]["field"] == field
        assert field in caught.value.message


def test_every_bad_label_is_listed_with_its_index() -> None:
    body = (
        b'{"labels": [{"request_id": "ok", "record": 0, "actual": 1},'
        b' {"request_id": "x", "record": -1, "actual": -1}, {"zz": 1}]}'
    )
    with pytest.raises(FeedbackError) as caught:
        parse_labels(body, max_labels=10)
    found = [(e["label"], e["field"], e["code"]) for e in caught.value.errors]
    assert found == [
        (1, "record", "out_of_range"),
        (1, "actual", "negative"),
        (2, "zz", "unknown_field"),
        (2, "request_id", "missing"),
        (2, "record", "missing"),
        (2, "actual", "missing"),
    ]
    assert caught.value.message.startswith("6 problem(s) in the labels, none applied")
