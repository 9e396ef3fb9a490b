"""POST /v1/predictions in process: answers, and every class of bad input (docs/contracts.md)."""

# ruff: noqa: E501  (the table of bad inputs reads best one case per line)

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.support.model_api import Service
from understudy_model.artifact import load_artifact
from understudy_model.validation import validate_records


def test_predicts_dollars_equal_to_the_reference_pipeline(
    service: Service, records: list[dict[str, Any]], artifacts: Any
) -> None:
    response = service.post({"records": records})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"predictions", "model", "request_id", "warnings"}
    assert body["model"] == {"name": "house-prices", "version": "1.0.0"}
    assert body["request_id"] == response.headers["x-request-id"]
    assert response.headers["x-model-version"] == "1.0.0"
    model = load_artifact(artifacts.v1)
    expected = model.predict_rows(validate_records(records, model.schema).rows)
    np.testing.assert_allclose(body["predictions"], expected, rtol=1e-9, atol=0)
    assert all(10_000 < p < 2_000_000 for p in body["predictions"])


def test_unseen_category_is_a_warning_and_null_a_category(
    service: Service, records: list[dict[str, Any]]
) -> None:
    record = {**records[0], "Neighborhood": "Atlantis", "Misc_Feature": None}
    response = service.post({"records": [records[1], record]})
    assert response.status_code == 200
    assert response.json()["warnings"] == [
        {
            "record": 1,
            "field": "Neighborhood",
            "code": "unseen_category",
            "message": "category 'Atlantis' was not seen in training; it is encoded as unseen",
        }
    ]


def _with(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**record, **changes}


def _without(record: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != field}


# (case, body builder (record -> raw bytes), content type, status, error code, expected issue)
BadCase = tuple[str, Callable[[dict[str, Any]], bytes], str, int, str, tuple[str, str] | None]


def _json(document: Any) -> bytes:
    return json.dumps(document).encode()


BAD_INPUTS: list[BadCase] = [
    ("not json", lambda r: b"{records: oops", "application/json", 400, "malformed_json", None),
    ("truncated", lambda r: _json({"records": [r]})[:-5], "application/json", 400, "malformed_json", None),
    ("empty body", lambda r: b"", "application/json", 400, "malformed_json", None),
    ("not utf-8", lambda r: b'{"records": ["\xff\xfe"]}', "application/json", 400, "malformed_json", None),
    ("nested too deeply", lambda r: b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "malformed_json", None),
    ("text/plain", lambda r: _json({"records": [r]}), "text/plain", 415, "unsupported_media_type", None),
    ("form", lambda r: b"records=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type", None),
    ("no content type", lambda r: _json({"records": [r]}), "", 415, "unsupported_media_type", None),
    ("top level list", lambda r: _json([r]), "application/json", 422, "invalid_request", None),
    ("top level string", lambda r: _json("records"), "application/json", 422, "invalid_request", None),
    ("no records key", lambda r: _json({"rows": [r]}), "application/json", 422, "invalid_request", None),
    ("extra top level key", lambda r: _json({"records": [r], "x": 1}), "application/json", 422, "invalid_request", None),
    ("records not a list", lambda r: _json({"records": r}), "application/json", 422, "invalid_request", None),
    ("records null", lambda r: _json({"records": None}), "application/json", 422, "invalid_request", None),
    ("empty records", lambda r: _json({"records": []}), "application/json", 422, "invalid_request", None),
    ("too many records", lambda r: _json({"records": [r] * 1001}), "application/json", 422, "invalid_request", None),
    ("record not an object", lambda r: _json({"records": [r, 5]}), "application/json", 422, "validation_failed", ("", "not_an_object")),
    ("missing field", lambda r: _json({"records": [_without(r, "Lot_Area")]}), "application/json", 422, "validation_failed", ("Lot_Area", "missing")),
    ("unknown field", lambda r: _json({"records": [_with(r, Lot_Areaa=5)]}), "application/json", 422, "validation_failed", ("Lot_Areaa", "unknown_field")),
    ("string for number", lambda r: _json({"records": [_with(r, Lot_Area="big")]}), "application/json", 422, "validation_failed", ("Lot_Area", "wrong_type")),
    ("bool for number", lambda r: _json({"records": [_with(r, Lot_Area=True)]}), "application/json", 422, "validation_failed", ("Lot_Area", "wrong_type")),
    ("fraction for integer", lambda r: _json({"records": [_with(r, Lot_Area=1.5)]}), "application/json", 422, "validation_failed", ("Lot_Area", "wrong_type")),
    ("number for category", lambda r: _json({"records": [_with(r, Neighborhood=3)]}), "application/json", 422, "validation_failed", ("Neighborhood", "wrong_type")),
    ("list for category", lambda r: _json({"records": [_with(r, Neighborhood=["a"])]}), "application/json", 422, "validation_failed", ("Neighborhood", "wrong_type")),
    ("null where never empty", lambda r: _json({"records": [_with(r, Lot_Area=None)]}), "application/json", 422, "validation_failed", ("Lot_Area", "null")),
    ("out of range", lambda r: _json({"records": [_with(r, Lot_Area=10**9)]}), "application/json", 422, "validation_failed", ("Lot_Area", "out_of_range")),
    ("negative out of range", lambda r: _json({"records": [_with(r, Gr_Liv_Area=-1)]}), "application/json", 422, "validation_failed", ("Gr_Liv_Area", "out_of_range")),
    ("NaN literal", lambda r: _json({"records": [_with(r, Lot_Area=float("nan"))]}), "application/json", 422, "validation_failed", ("Lot_Area", "not_finite")),
    ("Infinity literal", lambda r: _json({"records": [_with(r, Longitude=float("inf"))]}), "application/json", 422, "validation_failed", ("Longitude", "not_finite")),
    ("-Infinity literal", lambda r: _json({"records": [_with(r, Latitude=float("-inf"))]}), "application/json", 422, "validation_failed", ("Latitude", "not_finite")),
    ("1e999 overflows", lambda r: _json({"records": [r]}).replace(b'"Lot_Area": ', b'"Lot_Area": 1e999, "x": '), "application/json", 422, "validation_failed", ("Lot_Area", "not_finite")),
    ("huge integer", lambda r: _json({"records": [r]}).replace(b'"Lot_Area": ', b'"Lot_Area": ' + b"9" * 400 + b', "x": '), "application/json", 422, "validation_failed", ("Lot_Area", "not_finite")),
    ("integer past the digit limit", lambda r: _json({"records": [r]}).replace(b'"Lot_Area": ', b'"Lot_Area": ' + b"9" * 5000 + b', "x": '), "application/json", 422, "validation_failed", ("Lot_Area", "not_finite")),
    ("lone surrogate field name", lambda r: _json({"records": [_with(r, **{"\ud800": 1})]}), "application/json", 422, "validation_failed", ("\ud800", "unknown_field")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "issue"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_gets_its_contract_error_never_a_500(
    service: Service,
    records: list[dict[str, Any]],
    body: Callable[[dict[str, Any]], bytes],
    content_type: str,
    status: int,
    code: str,
    issue: tuple[str, str] | None,
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = service.client.post("/v1/predictions", content=body(records[0]), headers=headers)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert error["error"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert response.headers["x-request-id"]
    if issue is not None:
        field, issue_code = issue
        found = {(e["field"] or "", e["code"]) for e in error["errors"]}
        assert (field, issue_code) in found, error["errors"][:5]
        assert all(set(e) == {"record", "field", "code", "message"} for e in error["errors"])
    assert service.value("understudy_model_api_requests_total", status_class="5xx") == 0


def test_validation_errors_name_the_record_and_field(
    service: Service, records: list[dict[str, Any]]
) -> None:
    bad = [records[0], _with(records[1], Lot_Area="x", Year_Built=None), records[2]]
    response = service.post({"records": bad})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["record"], e["field"], e["code"]) for e in errors] == [
        (1, "Lot_Area", "wrong_type"),
        (1, "Year_Built", "null"),
    ]


@pytest.mark.parametrize("max_records", [1, 3])
def test_max_records_is_a_setting(
    service_factory: Callable[..., Any], records: list[dict[str, Any]], max_records: int
) -> None:
    with service_factory("v1", max_records=max_records) as svc:
        assert svc.post({"records": records[:max_records]}).status_code == 200
        too_many = svc.post({"records": records[: max_records + 1]})
        assert too_many.status_code == 422
        assert too_many.json()["error"] == "invalid_request"


def test_a_gzip_body_is_answered_like_the_plain_one(
    service: Service, records: list[dict[str, Any]]
) -> None:
    plain = json.dumps({"records": records[:3]}).encode()
    headers = {"content-type": "application/json"}
    want = service.client.post("/v1/predictions", content=plain, headers=headers)
    got = service.client.post(
        "/v1/predictions",
        content=gzip.compress(plain),
        headers={**headers, "content-encoding": "gzip"},
    )
    assert got.status_code == want.status_code == 200
    assert got.json()["predictions"] == want.json()["predictions"]


@pytest.mark.parametrize(
    ("encoding", "content", "status", "code"),
    [
        ("deflate", b"{}", 415, "unsupported_content_encoding"),
        ("gzip", b"{}", 400, "malformed_body"),
    ],
)
def test_a_body_that_cannot_be_decoded_is_a_clear_error(
    service: Service, encoding: str, content: bytes, status: int, code: str
) -> None:
    response = service.client.post(
        "/v1/predictions",
        content=content,
        headers={"content-type": "application/json", "content-encoding": encoding},
    )
    assert response.status_code == status
    assert response.json()["error"] == code


class TestBodyLimit:
    LIMIT = 64 * 1024

    def _big(self, records: list[dict[str, Any]]) -> bytes:
        body = json.dumps({"records": records * 40}).encode()
        assert len(body) > self.LIMIT
        return body

    def test_a_gzip_body_over_the_limit_once_inflated(
        self, service_factory: Callable[..., Any], records: list[dict[str, Any]]
    ) -> None:
        plain = json.dumps({"records": records[:2] * 200}).encode()  # repeats: packs small
        small = gzip.compress(plain)
        assert len(small) < self.LIMIT < len(plain)
        with service_factory("v1", max_body_bytes=self.LIMIT) as svc:
            response = svc.client.post(
                "/v1/predictions",
                content=small,
                headers={"content-type": "application/json", "content-encoding": "gzip"},
            )
            assert response.status_code == 413
            assert "decompressed request body" in response.json()["message"]

    def test_declared_length_over_the_limit(
        self, service_factory: Callable[..., Any], records: list[dict[str, Any]]
    ) -> None:
        with service_factory("v1", max_body_bytes=self.LIMIT) as svc:
            response = svc.client.post(
                "/v1/predictions",
                content=self._big(records),
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 413
            assert response.json()["error"] == "body_too_large"

    def test_lying_content_length_is_caught_while_reading(
        self, service_factory: Callable[..., Any], records: list[dict[str, Any]]
    ) -> None:
        with service_factory("v1", max_body_bytes=self.LIMIT) as svc:
            response = svc.client.post(
                "/v1/predictions",
                content=self._big(records),
                headers={"content-type": "application/json", "content-length": "100"},
            )
            assert response.status_code == 413

    def test_chunked_body_without_length(
        self, service_factory: Callable[..., Any], records: list[dict[str, Any]]
    ) -> None:
        body = self._big(records)
        chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)]
        with service_factory("v1", max_body_bytes=self.LIMIT) as svc:
            response = svc.client.post(
                "/v1/predictions",
                content=iter(chunks),
                headers={"content-type": "application/json"},
            )
            assert "content-length" not in response.request.headers
            assert response.status_code == 413

    def test_a_body_just_under_the_limit_is_read(
        self, service_factory: Callable[..., Any], records: list[dict[str, Any]]
    ) -> None:
        body = json.dumps({"records": records[:2]}).encode()
        with service_factory("v1", max_body_bytes=len(body)) as svc:
            response = svc.client.post(
                "/v1/predictions", content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code == 200


def test_content_type_with_charset_is_json(service: Service, records: list[dict[str, Any]]) -> None:
    response = service.client.post(
        "/v1/predictions",
        content=json.dumps({"records": records[:1]}),
        headers={"content-type": "Application/JSON; charset=utf-8"},
    )
    assert response.status_code == 200


def test_a_bug_behind_the_route_is_a_json_500_with_the_request_id(
    service: Service, records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        async def predict(self, rows: Any, *, alone: bool = False) -> Any:
            raise ZeroDivisionError("a genuine bug")

    runtime = service.client.app.state.runtime  # type: ignore[attr-defined]
    monkeypatch.setattr(runtime, "runner", Broken())
    response = service.post({"records": records[:1]}, headers={"x-request-id": "bug-1"})
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert response.headers["x-request-id"] == "bug-1"
    assert service.value("understudy_model_api_requests_total", status_class="5xx") == 1
    crash = [e for e in service.events() if e.get("error.type") == "ZeroDivisionError"]
    assert crash and crash[0]["http.request.id"] == "bug-1"
