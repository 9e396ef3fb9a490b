"""The HTTP routes: predictions, model metadata, health, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from understudy_common.metrics import CONTENT_TYPE_LATEST, render
from understudy_model_api.errors import JsonResponse, not_ready
from understudy_model_api.metrics import ApiMetrics
from understudy_model_api.openapi import PREDICTION_RESPONSES
from understudy_model_api.predictions import (
    PREDICTIONS_PATH,
    Bookkeeping,
    PredictionHandler,
    run_bookkeeping,
)
from understudy_model_api.runtime import Runtime
from understudy_model_api.settings import Settings

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


@router.post(
    PREDICTIONS_PATH,
    summary="Predict sale prices in dollars for 1..max_records houses",
    responses=PREDICTION_RESPONSES,
    response_class=JsonResponse,
)
async def create_predictions(request: Request) -> Response:
    # Served here only with fast_route off: RequestContextMiddleware calls the same
    # handler directly otherwise (predictions.py). This route is still the OpenAPI
    # document's.
    handler: PredictionHandler = request.app.state.predictions
    status, body, bookkeeping = await handler(
        request_id=request.state.request_id,
        headers=request.scope["headers"],
        receive=request.receive,
    )
    return _Answer(body, status, bookkeeping)


class _Answer(Response):
    """The handler's answer; its bookkeeping runs once the answer is sent, or sending
    failed, as on the fast route (a Starlette background task would not run then)."""

    media_type = JsonResponse.media_type

    def __init__(self, body: bytes, status: int, bookkeeping: Bookkeeping) -> None:
        super().__init__(body, status_code=status)
        self._bookkeeping = bookkeeping

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            run_bookkeeping(self._bookkeeping)


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
