"""``create_app(settings, registry=None)``: the FastAPI app of one model-api process.

Nothing happens at import time; the artifact loads in the lifespan hook, so
``/readyz`` answers 503 until it has (and uvicorn does not listen before then).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from prometheus_client import CollectorRegistry
from starlette.types import Receive, Scope, Send

from understudy_common.gcfreeze import freeze_startup_objects
from understudy_common.metrics import process_registry
from understudy_model_api.drift import DriftMetrics
from understudy_model_api.errors import JsonResponse, install_error_handlers
from understudy_model_api.metrics import ApiMetrics
from understudy_model_api.middleware import RequestContextMiddleware
from understudy_model_api.openapi import request_body
from understudy_model_api.predictions import PREDICTIONS_PATH, PredictionHandler
from understudy_model_api.routes import router
from understudy_model_api.runtime import Runtime, load_runtime
from understudy_model_api.settings import Settings

logger = logging.getLogger(__name__)


class ModelApi(FastAPI):
    """FastAPI with the fast route in front: ``POST /v1/predictions`` goes to
    ``fast_route`` (a RequestContextMiddleware that answers it with PredictionHandler)
    before FastAPI's own middleware stack (ServerErrorMiddleware, its telemetry and body
    limit layers, ours, ExceptionMiddleware, the router): each is a coroutine and a send
    wrapper per request, and the fast route needs none of them (it has its own 500 catch-all
    and body limit). Every other request is FastAPI's."""

    fast_route: RequestContextMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast_route
        if fast is not None and fast.serves(scope):
            await fast(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings, registry: CollectorRegistry | None = None, *, freeze_gc: bool = False
) -> ModelApi:
    """``freeze_gc``: once loaded, freeze what lives in the process (``__main__`` does; an
    app inside someone else's process, a test's, leaves their garbage collector alone)."""
    # No registry given: the app is the process's, so it also exports the process's CPU.
    metrics = ApiMetrics(registry if registry is not None else process_registry())
    drift = DriftMetrics(metrics.registry, features=settings.drift_features)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            runtime = load_runtime(settings, metrics)
            drift.bind(runtime.model)  # DriftConfigError: an unknown feature stops the start
        except Exception:
            logger.exception("cannot serve the artifact in %s", settings.artifact_dir)
            raise
        await runtime.runner.start()
        if freeze_gc:
            freeze_startup_objects()
        app.state.runtime = runtime
        app.openapi_schema = None  # the request schema now lists the model's fields
        logger.info(
            "serving %s %s (%s, %s) from %s: predictor=%s%s batching=%s",
            runtime.model.name,
            runtime.model.version,
            runtime.model.algorithm,
            runtime.model.task.kind,
            settings.artifact_dir,
            runtime.predictor,
            f" ({runtime.predictor_reason})" if runtime.predictor_reason else "",
            settings.batching,
        )
        try:
            yield
        finally:
            app.state.runtime = None
            await runtime.runner.stop()
            logger.info("stopped serving %s %s", runtime.model.name, runtime.model.version)

    app = ModelApi(
        title="Understudy model-api",
        summary="Serves one versioned house-price model",
        version="1",
        lifespan=lifespan,
        default_response_class=JsonResponse,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.drift = drift
    app.state.runtime = None
    app.include_router(router)
    install_error_handlers(app)

    def model_version() -> str | None:
        runtime: Runtime | None = app.state.runtime
        return runtime.model.version if runtime is not None else None

    predictions = PredictionHandler(
        settings=settings, metrics=metrics, drift=drift, runtime=lambda: app.state.runtime
    )
    app.state.predictions = predictions  # FastAPI's route calls it too (routes.py)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, model_version=model_version)
    if settings.fast_route:
        app.fast_route = RequestContextMiddleware(
            app, metrics=metrics, model_version=model_version, predictions=predictions
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            runtime: Runtime | None = app.state.runtime
            schema = runtime.model.schema if runtime is not None else None
            document["paths"][PREDICTIONS_PATH]["post"]["requestBody"] = request_body(
                schema, max_records=settings.max_records
            )
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
