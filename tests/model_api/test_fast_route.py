"""The fast route (POST /v1/predictions answered by the request middleware) and FastAPI's
route answer every request with the same bytes, log the same event and count the same
metrics: the same table of good and bad requests goes to an app with ``fast_route`` on
and one with it off."""

# ruff: noqa: E501  (the table reads best one case per line)

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.model_api import Service

JSON = {"content-type": "application/json"}

# (case, body builder (record -> raw bytes), extra headers)
Case = tuple[str, Callable[[dict[str, Any]], bytes], dict[str, str]]


def _json(document: Any) -> bytes:
    return json.dumps(document).encode()


CASES: list[Case] = [
    ("one record", lambda r: _json({"records": [r]}), JSON),
    ("three records", lambda r: _json({"records": [r, r, r]}), JSON),
    ("unseen category: a warning", lambda r: _json({"records": [{**r, "Neighborhood": "Atlantis"}]}), JSON),
    ("charset in the content type", lambda r: _json({"records": [r]}), {"content-type": "Application/JSON; charset=utf-8"}),
    ("gzip body", lambda r: gzip.compress(_json({"records": [r]})), {**JSON, "content-encoding": "gzip"}),
    ("corrupt gzip", lambda r: b"{}", {**JSON, "content-encoding": "gzip"}),
    ("deflate", lambda r: b"{}", {**JSON, "content-encoding": "deflate"}),
    ("over the body limit", lambda r: _json({"records": [r] * 60}), JSON),
    ("not json", lambda r: b"{records: oops", JSON),
    ("empty body", lambda r: b"", JSON),
    ("text/plain", lambda r: _json({"records": [r]}), {"content-type": "text/plain"}),
    ("no content type", lambda r: _json({"records": [r]}), {}),
    ("top level list", lambda r: _json([r]), JSON),
    ("no records key", lambda r: _json({"rows": [r]}), JSON),
    ("empty records", lambda r: _json({"records": []}), JSON),
    ("record not an object", lambda r: _json({"records": [r, 5]}), JSON),
    ("missing and unknown fields", lambda r: _json({"records": [{**{k: v for k, v in r.items() if k != "Lot_Area"}, "x": 1}]}), JSON),
    ("NaN literal", lambda r: _json({"records": [{**r, "Lot_Area": float("nan")}]}), JSON),
    ("huge integer", lambda r: _json({"records": [r]}).replace(b'"Lot_Area": ', b'"Lot_Area": ' + b"9" * 400 + b', "x": '), JSON),
    ("lone surrogate field name", lambda r: _json({"records": [{**r, "\ud800": 1}]}), JSON),
    ("invalid request id", lambda r: _json({"records": [r]}), {**JSON, "x-request-id": "has space"}),
]  # fmt: skip

# Fields of the request event that differ between any two requests (time taken).
TIMING_FIELDS = {"@timestamp", "event.duration", "latency_ms"}


def _answers(svc: Service, records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(status, header pairs in order, body) per case; a replaced request id (random)
    reads ``<new id>``."""
    out = []
    for i, (_, body, headers) in enumerate(CASES):
        headers = {"x-request-id": f"case-{i}", **headers}
        response = svc.client.post("/v1/predictions", content=body(records[0]), headers=headers)
        given = response.headers["x-request-id"].encode()

        def same(data: bytes, given: bytes = given) -> bytes:
            return data if given.startswith(b"case-") else data.replace(given, b"<new id>")

        # TestClient adds no header of its own: these are the app's, in its order.
        pairs = [(name, same(value)) for name, value in response.headers.raw]
        out.append((response.status_code, pairs, same(response.content)))
    return out


def _events(svc: Service) -> list[dict[str, Any]]:
    events = []
    for event in svc.request_events():
        event = {k: v for k, v in event.items() if k not in TIMING_FIELDS}
        if not str(event.get("http.request.id", "")).startswith("case-"):
            event["http.request.id"] = "<new id>"
            event["message"] = "<new id>"
        events.append(event)
    return events


def _requests_total(svc: Service) -> list[tuple[dict[str, str], float]]:
    return sorted(
        (sorted(labels.items()), value)
        for labels, value in svc.samples("understudy_model_api_requests_total")
    )  # type: ignore[return-value]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_fast_and_fastapi_routes_answer_log_and_count_alike(
    service_factory: Callable[..., Any], records: list[dict[str, Any]], version: str
) -> None:
    seen = {}
    for fast in (True, False):
        with service_factory(
            version, fast_route=fast, log_inputs=True, max_body_bytes=32 * 1024
        ) as svc:
            seen[fast] = (_answers(svc, records), _events(svc), _requests_total(svc))
    (fast_answers, fast_events, fast_counts) = seen[True]
    (slow_answers, slow_events, slow_counts) = seen[False]
    for case, fast_answer, slow_answer in zip(CASES, fast_answers, slow_answers, strict=True):
        assert fast_answer == slow_answer, case[0]
    assert fast_events == slow_events
    assert len(fast_events) == len(CASES)  # one event per request, either way
    assert fast_counts == slow_counts
    statuses = {status for status, _, _ in fast_answers}
    assert statuses == {200, 400, 413, 415, 422}  # the table reaches every answer
    assert all(answer[1][-1][0] == b"x-model-version" for answer in fast_answers)


def test_the_fast_route_is_the_one_serving_by_default(
    service: Service, records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With fast_route on, FastAPI's route is not on the path (the middleware answers):
    a route that fails if called leaves the answer a 200."""

    async def not_here(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("FastAPI's route was called")

    for route in service.client.app.routes:  # type: ignore[attr-defined]
        if getattr(route, "path", None) == "/v1/predictions":
            monkeypatch.setattr(route, "app", not_here)
    response = service.post({"records": records[:1]})
    assert response.status_code == 200
    assert service.value("understudy_model_api_requests_total", route="/v1/predictions") == 1


def _scope(request_id: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/predictions",
        "raw_path": b"/v1/predictions",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"x-request-id", request_id.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


@pytest.mark.parametrize("fast", [True, False])
def test_the_request_is_logged_once_its_answer_is_sent(
    service_factory: Callable[..., Any], records: list[dict[str, Any]], fast: bool
) -> None:
    """Either route sends the answer first and writes the request's event after (the
    bookkeeping of predictions.py), still once and still under the request's id."""
    body = _json({"records": records[:1]})
    scope = _scope("after-1")
    with service_factory("v1", fast_route=fast) as svc:
        events_when_sent: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                events_when_sent.append(len(svc.request_events()))

        svc.client.portal.call(svc.client.app, scope, receive, send)  # type: ignore[union-attr]
        assert events_when_sent == [0]
        [event] = svc.request_events()
        assert event["http.request.id"] == "after-1"
        assert event["http.response.status_code"] == 200


@pytest.mark.parametrize("fast", [True, False])
def test_a_request_whose_answer_cannot_be_sent_is_still_logged(
    service_factory: Callable[..., Any], records: list[dict[str, Any]], fast: bool
) -> None:
    body = _json({"records": records[:1]})
    with service_factory("v1", fast_route=fast) as svc:

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                raise ConnectionResetError("the client went away")

        with pytest.raises(ConnectionResetError):
            svc.client.portal.call(svc.client.app, _scope("gone-1"), receive, send)  # type: ignore[union-attr]
        [event] = svc.request_events()
        assert event["http.request.id"] == "gone-1"
        assert event["http.response.status_code"] == 200
