"""The HTTP routes: predictions, model metadata, health, readiness and metrics."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from starlette.responses import Response

from understudy_common.metrics import CONTENT_TYPE_LATEST, render
from understudy_model.task import Task
from understudy_model.validation import FieldIssue, validate_records
from understudy_model_api.errors import ApiError, JsonResponse, not_ready
from understudy_model_api.metrics import ApiMetrics
from understudy_model_api.openapi import PREDICTION_RESPONSES
from understudy_model_api.payload import check_content_type, parse_json, read_body, records_of
from understudy_model_api.runtime import Runtime
from understudy_model_api.settings import Settings

logger = logging.getLogger("understudy_model_api.request")

PREDICTIONS_PATH = "/v1/predictions"
REQUEST_DATASET = "model-api.request"
# Issues written into one log event at most (a 1,000-record request can have tens
# of thousands); the event also carries the total count.
MAX_LOGGED_ISSUES = 50

router = APIRouter()


def _runtime(request: Request) -> Runtime:
    runtime: Runtime | None = request.app.state.runtime
    if runtime is None:
        raise not_ready()
    return runtime


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


def _issues(issues: list[FieldIssue]) -> list[dict[str, Any]]:
    return [issue.to_dict() for issue in issues]


def _loggable(value: Any) -> Any:
    """``value`` with non-finite floats replaced by their names ("nan", "inf")."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, list):
        return [_loggable(v) for v in value]
    if isinstance(value, dict):
        return {k: _loggable(v) for k, v in value.items()}
    return value


def _log_request(
    *,
    request_id: str,
    runtime: Runtime | None,
    status: int,
    started: float,
    records: list[Any] | None,
    log_inputs: bool,
    predictions: list[Any] | None = None,
    error: ApiError | None = None,
    warnings: int = 0,
) -> None:
    seconds = time.perf_counter() - started
    event: dict[str, Any] = {
        "event.dataset": REQUEST_DATASET,
        "event.duration": int(seconds * 1e9),  # ECS: nanoseconds
        "event.outcome": "success" if status == 200 else "failure",
        "http.response.status_code": status,
        "model.name": runtime.model.name if runtime else None,
        "model.version": runtime.model.version if runtime else None,
        "records": len(records) if records is not None else None,
        "latency_ms": round(seconds * 1000, 3),
        "warnings": warnings,
    }
    if predictions is not None:
        event["predictions"] = predictions
    if error is not None:
        event["error.code"] = error.code
        event["error.message"] = error.message
        issues = error.extra.get("errors")
        if issues:
            event["validation.errors"] = issues[:MAX_LOGGED_ISSUES]
            event["validation.error_count"] = len(issues)
    if log_inputs and records is not None:
        # Valid records are finite by construction; rejected ones may hold NaN or
        # infinity, which JSON logs cannot carry as numbers.
        event["inputs"] = records if error is None else _loggable(records)
    logger.info(
        "prediction request %s: %s records -> %s",
        request_id,
        event["records"],
        status,
        extra=event,
    )


def answers_of(task: Task, predictions: np.ndarray) -> tuple[list[Any], list[float]]:
    """The ``predictions`` of the answer, and the one number per record the metrics
    observe. Regression: the numbers themselves. Classification (docs/contracts.md):
    ``{"label": ..., "probabilities": {class: p, ...}}`` per record, and the positive
    class's probability."""
    if not task.is_classification:
        values = predictions.tolist()
        return values, values
    labels, probabilities = task.split_classes(predictions)
    answers = [
        {"label": label, "probabilities": dict(zip(task.classes, row, strict=True))}
        for label, row in zip(labels, probabilities.tolist(), strict=True)
    ]
    return answers, probabilities[:, task.positive_index].tolist()


@router.post(
    PREDICTIONS_PATH,
    summary="Predict sale prices in dollars for 1..max_records houses",
    responses=PREDICTION_RESPONSES,
    response_class=JsonResponse,
)
async def create_predictions(request: Request) -> Response:
    started = time.perf_counter()
    settings = _settings(request)
    metrics = _metrics(request)
    request_id: str = request.state.request_id
    runtime: Runtime | None = request.app.state.runtime
    records: list[Any] | None = None
    try:
        runtime = _runtime(request)
        check_content_type(request)
        body = await read_body(request, limit=settings.max_body_bytes)
        records = records_of(parse_json(body), max_records=settings.max_records)
        result = validate_records(records, runtime.model.schema)
        metrics.count_issues(errors=result.errors, warnings=result.warnings)
        if not result.ok:
            raise ApiError(
                422,
                "validation_failed",
                f"{len(result.errors)} problem(s) in {len(records)} record(s)",
                errors=_issues(result.errors),
            )
        predictions = np.asarray(await runtime.predict(result.rows), dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(predictions.reshape(len(predictions), -1)).all(axis=1))
        if bad.size:
            raise ApiError(
                422,
                "validation_failed",
                "the model's prediction is not a finite number for some records: "
                "their inputs are too far outside the training data",
                errors=[
                    FieldIssue(
                        int(i), None, "prediction_not_finite", "prediction overflowed"
                    ).to_dict()
                    for i in bad
                ],
            )
    except ApiError as error:
        _log_request(
            request_id=request_id,
            runtime=runtime,
            status=error.status,
            started=started,
            records=records,
            log_inputs=settings.log_inputs,
            error=error,
        )
        return error.response()
    answers, summary = answers_of(runtime.model.task, predictions)
    if runtime.model.task.is_classification:
        metrics.observe_probabilities(summary, records=len(predictions))
    else:
        metrics.observe_predictions(summary, records=len(predictions))
    # A classifier's drift reference holds its positive-class probabilities (pack.py).
    request.app.state.drift.count(result.rows, np.asarray(summary, dtype=np.float64))
    _log_request(
        request_id=request_id,
        runtime=runtime,
        status=200,
        started=started,
        records=records,
        log_inputs=settings.log_inputs,
        predictions=answers,
        warnings=len(result.warnings),
    )
    document: dict[str, Any] = {
        "predictions": answers,
        "model": {"name": runtime.model.name, "version": runtime.model.version},
        "request_id": request_id,
        "warnings": _issues(result.warnings),
    }
    if runtime.model.task.is_classification:  # the class the router's histograms follow
        document["positive_class"] = runtime.model.task.positive_class
    return JsonResponse(document)


@router.get("/v1/model", summary="The served model: version, holdout metrics, feature schema")
async def model_metadata(request: Request) -> JsonResponse:
    runtime = _runtime(request)
    settings = _settings(request)
    metadata = runtime.model.metadata
    return JsonResponse(
        {
            "name": runtime.model.name,
            "version": runtime.model.version,
            "algorithm": runtime.model.algorithm,
            "trained_at": metadata.get("trained_at"),
            "data": metadata.get("data"),
            "metrics": metadata.get("metrics"),
            "feature_schema": metadata.get("feature_schema"),
            "task": runtime.model.task.to_dict(),
            "libraries": metadata.get("libraries"),
            "artifact": metadata.get("artifact"),
            "serving": {
                "predictor": runtime.predictor,
                "predictor_reason": runtime.predictor_reason,
                "batching": settings.batching,
                "max_records": settings.max_records,
                "max_body_bytes": settings.max_body_bytes,
            },
        }
    )


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> JsonResponse:
    return JsonResponse({"status": "ok"})


@router.get("/readyz", summary="Readiness: 200 once the model is loaded, 503 before")
async def readyz(request: Request) -> JsonResponse:
    runtime = _runtime(request)
    return JsonResponse(
        {"status": "ready", "model": runtime.model.name, "version": runtime.model.version}
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics_endpoint(request: Request) -> Response:
    return Response(render(_metrics(request).registry), media_type=CONTENT_TYPE_LATEST)
