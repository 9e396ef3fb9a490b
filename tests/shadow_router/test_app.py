"""The router app in-process: routes that need no upstream, and config rejection."""

from __future__ import annotations

import functools
import gzip
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.router import metric
from understudy_common.metrics import new_registry
from understudy_router.app import create_app
from understudy_router.settings import RouterSettings

GOOD = {
    "live": {"url": "http://127.0.0.1:9", "version": "1.0.0"},
    "candidate": {"url": "http://127.0.0.1:10", "version": "2.0.0"},
    "mirror_percent": 25,
}


def offer(client: TestClient, app: Any, raw: str | None, source: str) -> bool:
    """Hand a document to the router on its event loop, as the config sources do."""
    assert client.portal is not None
    call = functools.partial(app.state.router.offer_document, raw, source=source)
    result: bool = client.portal.call(call)
    return result


def test_without_live_the_router_is_ready_and_predictions_answer_503() -> None:
    """Readiness means serving: no ModelRollout yet must not hold `helm install --wait`."""
    registry = new_registry()
    with TestClient(create_app(RouterSettings(), registry=registry)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "routing_configured": False}
        response = client.post("/v1/predictions", json={"records": [{}]})
        assert response.status_code == 503
        assert response.json()["error"] == "upstream_unavailable"
        assert len(response.headers["x-request-id"]) == 32
        view = client.get("/v1/routing").json()
        text = client.get("/metrics").text
    assert view["generation"] == 0 and view["configured"] is False
    assert view["live_version"] is None and view["mirroring"] is False
    assert view["last_reload"] is None and view["waiting_for"] is None
    assert metric(text, "understudy_router_requests_total", outcome="live_error") == 1
    assert metric(text, "understudy_router_routing_configured") == 0


def test_a_configmap_source_not_read_yet_keeps_readyz_503() -> None:
    """Until the first list of its ConfigMap the router cannot know the live model."""
    settings = RouterSettings(
        configmap="ns/house-prices-router", kubeconfig=Path("/nonexistent/kubeconfig")
    )
    with TestClient(create_app(settings, registry=new_registry())) as client:
        ready = client.get("/readyz")
        view = client.get("/v1/routing").json()
    assert ready.status_code == 503
    assert "configmap:ns/house-prices-router" in ready.json()["message"]
    assert view["waiting_for"] == "configmap:ns/house-prices-router"


def test_request_id_is_taken_from_the_client_and_echoed() -> None:
    with TestClient(create_app(RouterSettings())) as client:
        response = client.post("/v1/predictions", json={}, headers={"X-Request-ID": "abc-123"})
        assert response.headers["x-request-id"] == "abc-123"
        assert (
            client.get("/healthz", headers={"X-Request-ID": "h1"}).headers["x-request-id"] == "h1"
        )


def test_body_over_the_limit_is_413_without_forwarding() -> None:
    settings = RouterSettings(config_json=json.dumps(GOOD), max_body_bytes=100)
    registry = new_registry()
    with TestClient(create_app(settings, registry=registry)) as client:
        response = client.post(
            "/v1/predictions", content=b"x" * 101, headers={"content-type": "application/json"}
        )
        text = client.get("/metrics").text
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert metric(text, "understudy_router_requests_total") == 0


@pytest.mark.parametrize(
    ("encoding", "content", "status", "code"),
    [
        ("br", b"{}", 415, "unsupported_content_encoding"),
        ("gzip", b"{not gzip", 400, "malformed_body"),
        ("gzip", gzip.compress(b"\0" * 10_000, mtime=0), 413, "body_too_large"),
    ],
)
def test_a_body_that_cannot_be_decoded_is_refused_without_forwarding(
    encoding: str, content: bytes, status: int, code: str
) -> None:
    settings = RouterSettings(config_json=json.dumps(GOOD), max_body_bytes=1000)
    registry = new_registry()
    with TestClient(create_app(settings, registry=registry)) as client:
        response = client.post(
            "/v1/predictions",
            content=content,
            headers={"content-type": "application/json", "content-encoding": encoding},
        )
        text = client.get("/metrics").text
    assert response.status_code == status
    assert response.json()["error"] == code
    assert metric(text, "understudy_router_requests_total") == 0


def test_config_from_environment_is_in_force_and_published() -> None:
    registry = new_registry()
    settings = RouterSettings(config_json=json.dumps(GOOD))
    with TestClient(create_app(settings, registry=registry)) as client:
        view = client.get("/v1/routing").json()
        text = client.get("/metrics").text
        assert client.get("/readyz").json() == {"status": "ready", "routing_configured": True}
    assert view["generation"] == 1 and view["source"] == "env"
    assert view["config"]["mirror_percent"] == 25
    assert view["configured"] is True and view["mirroring"] is True
    assert (view["live_version"], view["candidate_version"]) == ("1.0.0", "2.0.0")
    assert view["mirror_percent"] == 25
    assert view["last_reload"]["outcome"] == "applied" and view["last_reload"]["source"] == "env"
    assert metric(text, "understudy_router_routing_configured") == 1
    [info] = [
        s
        for s in (
            line for line in text.splitlines() if line.startswith("understudy_router_config_info")
        )
    ]
    assert 'candidate_version="2.0.0"' in info and 'mirror_percent="25"' in info
    # No comparisons yet: window sizes 0 and no KS series.
    assert metric(text, "understudy_router_window_predictions", role="live") == 0
    assert "understudy_router_prediction_ks_statistic{" not in text


def test_invalid_config_at_start_fails_start_up() -> None:
    settings = RouterSettings(config_json='{"live": {"url": "nope", "version": "1"}}')
    with (
        pytest.raises(RuntimeError, match=r"CONFIG_JSON is invalid.*live\.url"),
        TestClient(create_app(settings)),
    ):
        pass


@pytest.mark.parametrize(
    "bad",
    [
        "{oops",
        json.dumps({**GOOD, "mirror_percent": 150}),
        json.dumps({**GOOD, "tolerance": {"absolute": -5}}),
        json.dumps({**GOOD, "candidate": {"url": "localhost:8002", "version": "2"}}),
        None,
    ],
)
def test_bad_reload_is_rejected_with_one_line_and_a_metric(
    bad: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    registry = new_registry()
    app = create_app(RouterSettings(config_json=json.dumps(GOOD)), registry=registry)
    with TestClient(app) as client:
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert offer(client, app, bad, "file:/etc/router.json") is False
        view = client.get("/v1/routing").json()
        text = client.get("/metrics").text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "rejected routing config from file:/etc/router.json" in errors[0].getMessage()
    assert view["generation"] == 1 and view["config"]["mirror_percent"] == 25
    assert view["last_rejection"].startswith("file:/etc/router.json")
    assert view["last_reload"]["outcome"] == "rejected" and view["last_reload"]["error"]
    assert view["configured"] is True  # the last good config stays in force
    assert (
        metric(text, "understudy_router_config_reloads_total", source="file", outcome="rejected")
        == 1
    )


def test_a_bad_slice_field_is_rejected_with_a_readable_message_and_a_good_one_applied() -> None:
    registry = new_registry()
    app = create_app(RouterSettings(config_json=json.dumps(GOOD)), registry=registry)
    with TestClient(app) as client:
        assert not offer(client, app, json.dumps({**GOOD, "slice_field": "Sale Type"}), "file:/x")
        rejected = client.get("/v1/routing").json()
        assert offer(client, app, json.dumps({**GOOD, "slice_field": "Sale_Type"}), "file:/x")
        applied = client.get("/v1/routing").json()
    assert rejected["last_rejection"] == (
        "file:/x: routing config is invalid: slice_field: Value error, must be 1-64 letters, "
        "digits, '_', '.' or '-' (a record field name), got 'Sale Type'"
    )
    assert rejected["generation"] == 1 and rejected["config"]["slice_field"] is None
    assert applied["generation"] == 2 and applied["config"]["slice_field"] == "Sale_Type"


def test_same_config_again_is_unchanged_and_a_new_candidate_is_applied() -> None:
    registry = new_registry()
    app = create_app(RouterSettings(config_json=json.dumps(GOOD)), registry=registry)
    with TestClient(app) as client:
        assert offer(client, app, json.dumps(GOOD), "file:/x")
        unchanged = client.get("/v1/routing").json()
        assert unchanged["generation"] == 1
        assert unchanged["last_reload"]["outcome"] == "unchanged"
        changed = {**GOOD, "candidate": {"url": "http://127.0.0.1:11", "version": "3.0.0"}}
        assert offer(client, app, json.dumps(changed), "file:/x")
        view = client.get("/v1/routing").json()
        text = client.get("/metrics").text
    assert view["generation"] == 2 and view["config"]["candidate"]["version"] == "3.0.0"
    assert metric(text, "understudy_router_config_reloads_total", outcome="unchanged") == 1
    assert 'candidate_version="3.0.0"' in text


@pytest.mark.parametrize("freeze_gc", [False, True])
def test_a_server_process_freezes_what_start_up_left_alive(freeze_gc: bool) -> None:
    """``__main__`` asks for it (understudy_common.gcfreeze: a full collection walked the
    router's ~73,000 start-up objects each time); an app in another process, a test's,
    leaves its collector alone."""
    import gc

    app = create_app(RouterSettings(), registry=new_registry(), freeze_gc=freeze_gc)
    try:
        with TestClient(app) as client:
            assert client.get("/readyz").status_code == 200
            frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert (frozen > 10_000) if freeze_gc else (frozen == 0)
