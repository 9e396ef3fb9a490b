"""POST /v1/predictions: one handler, whoever routes the request to it.

The handler returns the answer and, apart, the request's bookkeeping that does not shape
the answer: the prediction metrics, drift counting and the request's log event. Both
callers run it once the answer is sent, so at one connection the client has its answer
while the service writes the line (~45 µs of a one-record request with its inputs logged:
bench/README.md, "JSON through orjson, and the bookkeeping after the answer").

``RequestContextMiddleware`` calls it directly for ``POST /v1/predictions`` (the fast
route: no FastAPI routing, dependency resolution, ``Request`` object or exception
middleware on the hot path), and FastAPI's route (routes.py) calls the same function
(the OpenAPI document's route, and the one that serves with ``fast_route`` off). Both
answer with the bytes this module renders, so the two paths cannot drift apart
(tests/model_api/test_fast_route.py sends the same good and bad requests to both).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from starlette.types import Receive

from understudy_common.asgi import Headers, body_chunks, header_map
from understudy_common.logging import log_event
from understudy_model.task import Task
from understudy_model.validation import FieldIssue, validate_records
from understudy_model_api.drift import DriftMetrics
from understudy_model_api.errors import ApiError, not_ready, render_json
from understudy_model_api.metrics import ApiMetrics
from understudy_model_api.payload import check_content_type, parse_json, read_body, records_of
from understudy_model_api.runtime import Runtime
from understudy_model_api.settings import Settings

logger = logging.getLogger("understudy_model_api.request")
_errors = logging.getLogger(__name__)

PREDICTIONS_PATH = "/v1/predictions"
REQUEST_DATASET = "model-api.request"
# Issues written into one log event at most (a 1,000-record request can have tens
# of thousands); the event also carries the total count.
MAX_LOGGED_ISSUES = 50


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


def _not_finite(predictions: np.ndarray) -> ApiError | None:
    if np.isfinite(predictions).all():  # the usual answer, in one call
        return None
    bad = np.flatnonzero(~np.isfinite(predictions.reshape(len(predictions), -1)).all(axis=1))
    if not bad.size:
        return None
    return ApiError(
        422,
        "validation_failed",
        "the model's prediction is not a finite number for some records: "
        "their inputs are too far outside the training data",
        errors=[
            FieldIssue(int(i), None, "prediction_not_finite", "prediction overflowed").to_dict()
            for i in bad
        ],
    )


# What a request still has to do once its answer is sent (see the module's docstring).
Bookkeeping = Callable[[], None]


def run_bookkeeping(bookkeeping: Bookkeeping) -> None:
    """Run a request's bookkeeping once its answer is sent or could not be: both routes
    call this. A failure is logged, never raised: the client has its answer already."""
    try:
        bookkeeping()
    except Exception:
        _errors.exception("bookkeeping of %s failed", PREDICTIONS_PATH)


class PredictionHandler:
    """Answers one prediction request: ``(status, JSON body, bookkeeping)``. The caller
    sends the answer, then calls ``bookkeeping()`` once: it counts and logs the request's
    one event."""

    def __init__(
        self,
        *,
        settings: Settings,
        metrics: ApiMetrics,
        drift: DriftMetrics,
        runtime: Callable[[], Runtime | None],
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.drift = drift
        self.runtime = runtime
        # Prediction requests in this handler now: at 1 no batch can form (batching.py).
        self._active = 0

    async def __call__(
        self, *, request_id: str, headers: Headers, receive: Receive
    ) -> tuple[int, bytes, Bookkeeping]:
        self._active += 1
        try:
            return await self._answer(request_id, headers, receive)
        finally:
            self._active -= 1

    async def _answer(
        self, request_id: str, headers: Headers, receive: Receive
    ) -> tuple[int, bytes, Bookkeeping]:
        started = time.perf_counter()
        settings, metrics = self.settings, self.metrics
        runtime = self.runtime()
        records: list[Any] | None = None
        try:
            if runtime is None:
                raise not_ready()
            header = header_map(headers)
            check_content_type(header)
            body = await read_body(body_chunks(receive), header, limit=settings.max_body_bytes)
            records = records_of(parse_json(body), max_records=settings.max_records)
            result = validate_records(records, runtime.model.schema)
            if result.errors or result.warnings:
                metrics.count_issues(errors=result.errors, warnings=result.warnings)
            if not result.ok:
                raise ApiError(
                    422,
                    "validation_failed",
                    f"{len(result.errors)} problem(s) in {len(records)} record(s)",
                    errors=_issues(result.errors),
                )
            predictions = np.asarray(
                await runtime.predict(result.rows, alone=self._active == 1), dtype=np.float64
            )
            error = _not_finite(predictions)
            if error is not None:
                raise error
        except ApiError as error:
            body = render_json(error.body())
            seconds = time.perf_counter() - started
            return (
                error.status,
                body,
                functools.partial(
                    self._log, request_id, runtime, error.status, seconds, records, error=error
                ),
            )
        task = runtime.model.task
        answers, summary = answers_of(task, predictions)
        document: dict[str, Any] = {
            "predictions": answers,
            "model": {"name": runtime.model.name, "version": runtime.model.version},
            "request_id": request_id,
            "warnings": _issues(result.warnings),
        }
        if task.is_classification:  # the class the router's histograms follow
            document["positive_class"] = task.positive_class
        body = render_json(document)
        seconds = time.perf_counter() - started
        rows, warnings = result.rows, len(result.warnings)

        def bookkeeping() -> None:
            if task.is_classification:
                metrics.observe_probabilities(summary, records=len(answers))
            else:
                metrics.observe_predictions(summary, records=len(answers))
            # A classifier's drift reference holds its positive-class probabilities (pack.py).
            self.drift.count(rows, summary)
            self._log(
                request_id,
                runtime,
                200,
                seconds,
                records,
                predictions=answers,
                warnings=warnings,
            )

        return 200, body, bookkeeping

    def _log(
        self,
        request_id: str,
        runtime: Runtime | None,
        status: int,
        seconds: float,
        records: list[Any] | None,
        *,
        predictions: list[Any] | None = None,
        error: ApiError | None = None,
        warnings: int = 0,
    ) -> None:
        """The request's one event; ``seconds``: from its start to its answer rendered."""
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
        if self.settings.log_inputs and records is not None:
            # Valid records are finite by construction; rejected ones may hold NaN or
            # infinity, which JSON logs cannot carry as numbers.
            event["inputs"] = records if error is None else _loggable(records)
        log_event(
            logger,
            logging.INFO,
            event,
            "prediction request %s: %s records -> %s",
            request_id,
            event["records"],
            status,
        )
