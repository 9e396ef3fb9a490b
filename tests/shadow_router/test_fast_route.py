"""The router's fast route (POST /v1/predictions answered before FastAPI) and FastAPI's
route answer every request with the same bytes, log the same request event and count the
same metrics: the same table of good and bad requests goes to a router with
``fast_route`` on and one with it off, both in process, against the real live (v1) and
candidate (v2) model-apis."""

# ruff: noqa: E501  (the table reads best one case per line)

from __future__ import annotations

import gzip
import io
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import ServiceProcess
from understudy_common.logging import configure_logging
from understudy_common.metrics import new_registry
from understudy_router.app import create_app
from understudy_router.settings import RouterSettings

JSON = {"content-type": "application/json"}

# (case, body builder (record -> raw bytes), extra headers, routing config name)
Case = tuple[str, Callable[[dict[str, Any]], bytes], dict[str, str], str]


def _json(document: Any) -> bytes:
    return json.dumps(document).encode()


CASES: list[Case] = [
    ("one record, mirrored", lambda r: _json({"records": [r]}), JSON, "shadow"),
    ("three records, mirrored", lambda r: _json({"records": [r, r, r]}), JSON, "shadow"),
    ("gzip body, forwarded decoded", lambda r: gzip.compress(_json({"records": [r]})), {**JSON, "content-encoding": "gzip"}, "shadow"),
    ("corrupt gzip", lambda r: b"{}", {**JSON, "content-encoding": "gzip"}, "shadow"),
    ("deflate", lambda r: b"{}", {**JSON, "content-encoding": "deflate"}, "shadow"),
    ("over the body limit", lambda r: _json({"records": [r] * 60}), JSON, "shadow"),
    ("not json: live's 400 passed on", lambda r: b"{records: oops", JSON, "shadow"),
    ("no content type: live's 415", lambda r: _json({"records": [r]}), {}, "shadow"),
    ("invalid record: live's 422, not mirrored", lambda r: _json({"records": [{}]}), JSON, "shadow"),
    ("invalid request id", lambda r: _json({"records": [r]}), {**JSON, "x-request-id": "has space"}, "shadow"),
    ("canary: the candidate answers", lambda r: _json({"records": [r]}), {**JSON, "X-Understudy-Key": "k1"}, "canary"),
    ("live unreachable: 502", lambda r: _json({"records": [r]}), JSON, "dead"),
    ("no live model: 503", lambda r: _json({"records": [r]}), JSON, "none"),
]  # fmt: skip

# Fields of the request event that differ between any two requests (time taken).
TIMING_FIELDS = {"@timestamp", "event.duration"}


def _configs(live: str, candidate: str) -> dict[str, dict[str, Any] | None]:
    return {
        "shadow": {
            "live": {"url": live, "version": "1.0.0"},
            "candidate": {"url": candidate, "version": "2.0.0"},
            "mirror_percent": 100,
        },
        "canary": {
            "live": {"url": live, "version": "1.0.0"},
            "candidate": {"url": candidate, "version": "2.0.0"},
            "weight": 100,
        },
        "dead": {"live": {"url": "http://127.0.0.1:9", "version": "1.0.0"}},
        "none": None,
    }


@contextmanager
def _router(
    config: dict[str, Any] | None, *, fast: bool
) -> Iterator[tuple[TestClient, io.StringIO]]:
    log = io.StringIO()
    configure_logging(service="shadow-router", stream=log)
    settings = RouterSettings(
        config_json=json.dumps(config) if config else None,
        fast_route=fast,
        max_body_bytes=32 * 1024,
    )
    try:
        with TestClient(create_app(settings, registry=new_registry())) as client:
            yield client, log
    finally:
        logging.getLogger().handlers.clear()


def _requests_total(client: TestClient) -> list[tuple[list[tuple[str, str]], float]]:
    text = client.get("/metrics").text
    return sorted(
        (sorted(s.labels.items()), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "understudy_router_requests_total"
    )


def _run(
    configs: dict[str, dict[str, Any] | None], record: dict[str, Any], *, fast: bool
) -> tuple[list[Any], list[Any], list[Any]]:
    """(status, header pairs, body) and request events per case, and the request counters
    per config; a replaced request id (random) reads ``<new id>``."""
    answers: list[Any] = []
    events: list[Any] = []
    counts: list[Any] = []
    for name, config in configs.items():
        with _router(config, fast=fast) as (client, log):
            for i, (_, body, headers, config_name) in enumerate(CASES):
                if config_name != name:
                    continue
                response = client.post(
                    "/v1/predictions",
                    content=body(record),
                    headers={"x-request-id": f"case-{i}", **headers},
                )
                given = response.headers["x-request-id"].encode()

                def same(data: bytes, given: bytes = given) -> bytes:
                    return data if given.startswith(b"case-") else data.replace(given, b"<new id>")

                # TestClient adds no header of its own: these are the app's, in its order.
                pairs = [(k, same(v)) for k, v in response.headers.raw]
                answers.append((i, response.status_code, pairs, same(response.content)))
            counts.append((name, _requests_total(client)))
            for line in log.getvalue().splitlines():
                event = json.loads(line)
                if event.get("event.dataset") != "shadow-router.request":
                    continue
                event = {k: v for k, v in event.items() if k not in TIMING_FIELDS}
                if not str(event.get("http.request.id", "")).startswith("case-"):
                    event["http.request.id"] = "<new id>"
                events.append(event)
    return sorted(answers), events, counts


def test_fast_and_fastapi_routes_answer_log_and_count_alike(
    live_api: ServiceProcess, candidate_api: ServiceProcess, records: list[dict[str, Any]]
) -> None:
    configs = _configs(live_api.url, candidate_api.url)
    fast = _run(configs, records[0], fast=True)
    slow = _run(configs, records[0], fast=False)
    for case, fast_answer, slow_answer in zip(CASES, fast[0], slow[0], strict=True):
        assert fast_answer == slow_answer, case[0]
    assert fast[1] == slow[1]
    assert len(fast[1]) == len(CASES)  # one request event per request, either way
    assert fast[2] == slow[2]
    statuses = {answer[1] for answer in fast[0]}
    assert statuses == {200, 400, 413, 415, 422, 502, 503}  # the table reaches every answer
    by_case = {answer[0]: answer for answer in fast[0]}
    assert dict(by_case[0][2])[b"x-model-version"] == b"1.0.0"
    assert dict(by_case[10][2])[b"x-model-version"] == b"2.0.0"  # the canary's answer
    # Events come case by case (the configs follow the table): only good live answers of
    # the shadow config are mirrored.
    mirrored = [i for i, e in enumerate(fast[1]) if e["understudy.mirrored"]]
    assert mirrored == [0, 1, 2, 9]


def test_the_fast_route_is_the_one_serving_by_default(
    live_api: ServiceProcess, records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With fast_route on, FastAPI's route is not on the path: a route that fails if
    called leaves the answer a 200."""

    async def not_here(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("FastAPI's route was called")

    config = {"live": {"url": live_api.url, "version": "1.0.0"}}
    with _router(config, fast=True) as (client, _):
        for route in client.app.routes:  # type: ignore[attr-defined]
            if getattr(route, "path", None) == "/v1/predictions":
                monkeypatch.setattr(route, "app", not_here)
        response = client.post(
            "/v1/predictions", content=_json({"records": records[:1]}), headers=JSON
        )
    assert response.status_code == 200


def test_a_bug_on_the_fast_route_is_a_json_500_with_the_request_id_and_a_stack_trace(
    live_api: ServiceProcess, records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from understudy_router.service import ShadowRouter

    async def broken(self: ShadowRouter, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in routing")

    monkeypatch.setattr(ShadowRouter, "predict", broken)
    config = {"live": {"url": live_api.url, "version": "1.0.0"}}
    with _router(config, fast=True) as (client, log):
        response = client.post(
            "/v1/predictions",
            content=_json({"records": records[:1]}),
            headers={**JSON, "x-request-id": "bug-1"},
        )
        lines = [json.loads(line) for line in log.getvalue().splitlines()]
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert response.headers["x-request-id"] == "bug-1"
    errors = [e for e in lines if e["log.level"] == "error"]
    assert len(errors) == 1 and "a bug in routing" in errors[0]["error.stack_trace"]
    assert errors[0]["http.request.id"] == "bug-1"
