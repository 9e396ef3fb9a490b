"""The other routes, headers, metrics and logs of the in-process app."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.model_api import Service
from understudy_common.metrics import new_registry
from understudy_model.artifact import ArtifactError
from understudy_model_api.app import create_app
from understudy_model_api.settings import Settings


def test_model_metadata_has_holdout_metrics_and_the_feature_schema(service: Service) -> None:
    body = service.client.get("/v1/model").json()
    assert (body["name"], body["version"], body["algorithm"]) == ("house-prices", "1.0.0", "linear")
    assert set(body["metrics"]["holdout"]) == {"rmse", "mae", "r2"}
    assert len(body["feature_schema"]["fields"]) == 73
    assert body["data"]["fingerprint"].startswith("sha256:")
    assert body["serving"]["predictor"] == "fast"


def test_health_and_readiness_once_loaded(service: Service) -> None:
    assert service.client.get("/healthz").json() == {"status": "ok"}
    ready = service.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["version"] == "1.0.0"


def test_not_ready_before_the_model_has_loaded(artifacts: Any) -> None:
    app = create_app(Settings(artifact_dir=artifacts.v1), registry=new_registry())
    client = TestClient(app)  # no `with`: the lifespan (model load) has not run
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["error"] == "not_ready"
    predict = client.post("/v1/predictions", json={"records": [{}]})
    assert predict.status_code == 503
    assert "x-model-version" not in predict.headers


def test_a_bad_artifact_fails_start_up_with_a_clear_error(tmp_path: Path) -> None:
    app = create_app(Settings(artifact_dir=tmp_path), registry=new_registry())
    with pytest.raises(ArtifactError, match="not a model artifact directory"), TestClient(app):
        pass


@pytest.mark.parametrize(
    ("given", "echoed"),
    [
        ("abc-123", True),
        ("0f" * 16, True),
        ("req/42", True),  # the router's rule and this one are the same (understudy_common)
        ("a+b=", True),
        ("x" * 128, True),
        ("has space", False),
        ("x" * 129, False),
        ("tab\there", False),
    ],
)
def test_request_id_round_trip(
    service: Service, records: list[dict[str, Any]], given: str, echoed: bool
) -> None:
    response = service.post({"records": records[:1]}, headers={"x-request-id": given})
    request_id = response.headers["x-request-id"]
    assert response.json()["request_id"] == request_id
    if echoed:
        assert request_id == given
    else:  # unsafe ids are replaced, never echoed, and the replacement is logged
        assert request_id != given and len(request_id) == 32
        replaced = [e for e in service.events() if e.get("understudy.request_id.replaced")]
        assert replaced and replaced[-1]["http.request.id"] == request_id
        assert given not in replaced[-1]["message"]
    event = service.request_events()[-1]
    assert event["http.request.id"] == request_id


def test_request_id_is_generated_and_on_every_response(service: Service) -> None:
    ids = {service.client.get(path).headers["x-request-id"] for path in ("/healthz", "/nope")}
    assert len(ids) == 2 and all(len(i) == 32 for i in ids)
    assert service.client.get("/healthz").headers["x-model-version"] == "1.0.0"


def test_framework_errors_follow_the_contract_shape(service: Service) -> None:
    missing = service.client.get("/nope")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    wrong_method = service.client.get("/v1/predictions")
    assert (wrong_method.status_code, wrong_method.json()["error"]) == (405, "method_not_allowed")


def test_openapi_describes_the_request_with_the_models_fields(service: Service) -> None:
    document = service.client.get("/openapi.json").json()
    body = document["paths"]["/v1/predictions"]["post"]["requestBody"]
    records = body["content"]["application/json"]["schema"]["properties"]["records"]
    assert records["maxItems"] == 1000
    assert len(records["items"]["required"]) == 73
    assert records["items"]["properties"]["Lot_Area"]["type"] == "integer"


class TestMetrics:
    def test_counts_requests_records_predictions_and_errors(
        self, service: Service, records: list[dict[str, Any]]
    ) -> None:
        assert service.post({"records": records[:3]}).status_code == 200
        assert service.post({"records": records[:2]}).status_code == 200
        bad = [{**records[0], "Lot_Area": "x", "Typo": 1}]
        assert service.post({"records": bad}).status_code == 422
        metric = "understudy_model_api_requests_total"
        route = "/v1/predictions"
        assert service.value(metric, route=route, status_class="2xx") == 2
        assert service.value(metric, route=route, status_class="4xx") == 1
        assert service.value("understudy_model_api_prediction_dollars_count") == 5
        assert service.value("understudy_model_api_records_per_request_count") == 2
        assert service.value("understudy_model_api_records_per_request_sum") == 5
        assert (
            service.value("understudy_model_api_request_duration_seconds_count", route=route) == 3
        )
        errors = "understudy_model_api_validation_errors_total"
        assert service.value(errors, field="Lot_Area", code="wrong_type") == 1
        # a client-made field name never becomes a label value
        assert service.value(errors, field="_unknown", code="unknown_field") == 1
        assert not [lbl for lbl, _ in service.samples(errors) if lbl["field"] == "Typo"]

    def test_every_series_carries_model_and_version(
        self, service: Service, records: list[dict[str, Any]]
    ) -> None:
        service.post({"records": records[:1]})
        for name in (
            "understudy_model_api_requests_total",
            "understudy_model_api_request_duration_seconds_bucket",
            "understudy_model_api_prediction_dollars_bucket",
            "understudy_model_api_records_per_request_count",
        ):
            samples = service.samples(name)
            assert samples, name
            assert all(
                (lbl["model"], lbl["version"]) == ("house-prices", "1.0.0") for lbl, _ in samples
            )

    def test_model_info(self, service: Service) -> None:
        [(labels, value)] = service.samples("understudy_model_api_model_info")
        assert value == 1
        assert labels["name"] == "house-prices" and labels["version"] == "1.0.0"
        assert labels["algorithm"] == "linear"
        assert labels["data_fingerprint"].startswith("sha256:")

    def test_unseen_categories_are_counted_as_warnings(
        self, service: Service, records: list[dict[str, Any]]
    ) -> None:
        service.post({"records": [{**records[0], "Neighborhood": "Atlantis"}]})
        name = "understudy_model_api_validation_warnings_total"
        assert service.value(name, field="Neighborhood", code="unseen_category") == 1

    def test_apps_on_separate_registries_do_not_share_counts(
        self, service_factory: Callable[..., Any], records: list[dict[str, Any]]
    ) -> None:
        with service_factory("v1") as first, service_factory("v2") as second:
            first.post({"records": records[:1]})
            name = "understudy_model_api_requests_total"
            assert first.value(name, route="/v1/predictions") == 1
            assert second.value(name, route="/v1/predictions") == 0


class TestRequestLog:
    def test_one_event_per_prediction_request_without_its_inputs_by_default(
        self, service: Service, records: list[dict[str, Any]]
    ) -> None:
        response = service.post({"records": records[:2]}, headers={"x-request-id": "log-1"})
        service.client.get("/healthz")
        [event] = service.request_events()
        assert event["http.request.id"] == "log-1"
        assert event["service.name"] == "model-api"
        assert event["model.version"] == "1.0.0"
        assert event["records"] == 2
        assert event["predictions"] == response.json()["predictions"]
        assert "inputs" not in event  # inputs can be personal data: opt-in only
        assert event["event.duration"] > 0 and event["latency_ms"] > 0

    def test_inputs_are_logged_when_switched_on(
        self, service_factory: Callable[..., Any], records: list[dict[str, Any]]
    ) -> None:
        with service_factory("v1", log_inputs=True) as svc:
            svc.post({"records": records[:2]})
            [event] = svc.request_events()
        assert event["inputs"] == records[:2]

    def test_failed_requests_are_logged_with_their_errors(
        self, service_factory: Callable[..., Any], records: list[dict[str, Any]]
    ) -> None:
        bad = {**records[0], "Lot_Area": float("nan")}
        with service_factory("v1", log_inputs=True) as service:
            service.client.post(
                "/v1/predictions",
                content=json.dumps({"records": [bad]}),
                headers={"content-type": "application/json"},
            )
            [event] = service.request_events()
        assert event["http.response.status_code"] == 422
        assert event["error.code"] == "validation_failed"
        assert event["validation.errors"][0]["code"] == "not_finite"
        assert event["inputs"][0]["Lot_Area"] == "nan"  # JSON logs cannot hold NaN

    def test_inputs_stay_out_of_the_log_when_switched_off(
        self, service_factory: Callable[..., Any], records: list[dict[str, Any]]
    ) -> None:
        with service_factory("v1", log_inputs=False) as svc:
            svc.post({"records": records[:1]})
            [event] = svc.request_events()
            assert "inputs" not in event
            assert len(event["predictions"]) == 1


@pytest.mark.parametrize("freeze_gc", [False, True])
def test_a_server_process_freezes_what_start_up_left_alive(artifacts: Any, freeze_gc: bool) -> None:
    """``__main__`` asks for it: the ~170,000 objects alive once the model is loaded leave
    the collector's reach, so a full collection no longer walks them (~105 ms each,
    measured; bench/README.md). An app inside another process leaves its collector alone."""
    import gc

    app = create_app(
        Settings(artifact_dir=artifacts.v1), registry=new_registry(), freeze_gc=freeze_gc
    )
    try:
        with TestClient(app) as client:
            assert client.get("/readyz").status_code == 200
            frozen = gc.get_freeze_count()
            assert client.post("/v1/predictions", json={"records": []}).status_code == 422
    finally:
        gc.unfreeze()
    assert (frozen > 10_000) if freeze_gc else (frozen == 0)
