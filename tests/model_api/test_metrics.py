"""ApiMetrics keeps its per-request children across requests, and a bind (a new model)
starts fresh ones: every observation lands under the model bound when it was made."""

from __future__ import annotations

from typing import Any

from understudy_common.metrics import new_registry
from understudy_model.artifact import load_artifact
from understudy_model_api.metrics import ApiMetrics


def _value(metrics: ApiMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_observations_follow_the_bound_model(artifacts: Any) -> None:
    first, second = load_artifact(artifacts.v1), load_artifact(artifacts.v2)
    metrics = ApiMetrics(new_registry())
    metrics.bind(first)
    for _ in range(2):
        metrics.observe_request(route="/v1/predictions", status=200, seconds=0.01)
        metrics.observe_predictions([150_000.0], records=1)
    metrics.observe_request(route="/v1/predictions", status=422, seconds=0.01)
    metrics.bind(second)
    metrics.observe_request(route="/v1/predictions", status=200, seconds=0.01)
    metrics.observe_predictions([150_000.0, 250_000.0], records=2)

    def labels(model: Any, **more: str) -> dict[str, str]:
        return {"model": model.name, "version": model.version, **more}

    requests = "understudy_model_api_requests_total"
    route = {"route": "/v1/predictions"}
    assert _value(metrics, requests, **labels(first, **route, status_class="2xx")) == 2
    assert _value(metrics, requests, **labels(first, **route, status_class="4xx")) == 1
    assert _value(metrics, requests, **labels(second, **route, status_class="2xx")) == 1
    duration = "understudy_model_api_request_duration_seconds_count"
    assert _value(metrics, duration, **labels(first, **route)) == 3
    assert _value(metrics, duration, **labels(second, **route)) == 1
    predictions = "understudy_model_api_prediction_dollars_count"
    assert _value(metrics, predictions, **labels(first)) == 2
    assert _value(metrics, predictions, **labels(second)) == 2
    records = "understudy_model_api_records_per_request_sum"
    assert _value(metrics, records, **labels(first)) == 2
    assert _value(metrics, records, **labels(second)) == 2


def test_no_prediction_series_before_a_prediction(artifacts: Any) -> None:
    """Children are made on first use, so /metrics shows no empty per-record histogram
    (a regressor never shows the probability one)."""
    metrics = ApiMetrics(new_registry())
    metrics.bind(load_artifact(artifacts.v1))
    metrics.observe_request(route="/v1/predictions", status=200, seconds=0.01)
    names = {s.name for family in metrics.registry.collect() for s in family.samples}
    assert not any(n.startswith("understudy_model_api_prediction_") for n in names)
    assert not any(n.startswith("understudy_model_api_records_per_request") for n in names)
