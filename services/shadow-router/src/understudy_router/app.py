"""The HTTP edge: FastAPI routes around :class:`ShadowRouter`, built by :func:`create_app`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Gauge
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from understudy_common.asgi import ClientDisconnect
from understudy_common.gcfreeze import freeze_startup_objects
from understudy_common.logging import request_context, request_id_var
from understudy_common.metrics import CONTENT_TYPE_LATEST, metric_name, process_registry, render
from understudy_common.request_id import REQUEST_ID_HEADER, request_id_from

from .comparison import ComparisonWindows
from .config_sources import ConfigMapSource, FileSource, core_v1_api
from .feedback.routes import add_feedback_route
from .feedback.setup import feedback_from_settings
from .metrics import RouterMetrics, WindowCollector
from .predictions import PREDICTIONS_PATH, answer_prediction, response_headers
from .service import Answer, ShadowRouter, error_answer
from .settings import RouterSettings

logger = logging.getLogger("understudy_router.request")


class RequestIdMiddleware:
    """Takes X-Request-ID from the request or makes one, and echoes it on every response.

    A plain ASGI middleware (not BaseHTTPMiddleware): it adds microseconds, not a task.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope["headers"])
        scope.setdefault("state", {})["request_id"] = request_id
        raw_id = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != REQUEST_ID_HEADER]
                headers.append((REQUEST_ID_HEADER, raw_id))
                message["headers"] = headers
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class FastPredictionRoute:
    """``POST /v1/predictions`` as plain ASGI: what RequestIdMiddleware and FastAPI's route
    do for it, without FastAPI's middleware stack, routing and ``Request`` (the live path's
    share of them: bench/README.md, "the router's own CPU"). A bug below is logged with its
    stack trace and answered with a JSON 500 that carries the request id."""

    def __init__(self, router: ShadowRouter, *, limit: int) -> None:
        self.router = router
        self.limit = limit

    @staticmethod
    def serves(scope: Scope) -> bool:
        return (
            scope["type"] == "http"
            and scope["path"] == PREDICTIONS_PATH
            and scope["method"] == "POST"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = request_id_from(scope["headers"])
        scope.setdefault("state", {})["request_id"] = request_id
        with request_context(request_id):
            try:
                answer = await answer_prediction(
                    self.router,
                    request_id=request_id,
                    headers=scope["headers"],
                    receive=receive,
                    limit=self.limit,
                )
            except ClientDisconnect:
                logger.info("client went away before its request body arrived; not answered")
                return
            except Exception:
                logger.exception("unhandled error in POST %s", PREDICTIONS_PATH)
                answer = error_answer(500, "internal_error", "internal error; see the router log")
            headers = response_headers(answer)
            headers.append((REQUEST_ID_HEADER, request_id.encode()))
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
            await send({"type": "http.response.body", "body": answer.body})


class RouterApp(FastAPI):
    """FastAPI with the fast route in front (settings.fast_route): ``POST /v1/predictions``
    goes to ``fast_route`` before FastAPI's own stack; every other request is FastAPI's."""

    fast_route: FastPredictionRoute | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast_route
        if fast is not None and fast.serves(scope):
            await fast(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _response(answer: Answer) -> Response:
    return Response(content=answer.body, status_code=answer.status, headers=answer.headers)


def create_app(
    settings: RouterSettings, registry: CollectorRegistry | None = None, *, freeze_gc: bool = False
) -> FastAPI:
    """Build the router app; upstream clients, workers and config watchers start in lifespan.
    ``freeze_gc``: once started, freeze what lives in the process (``__main__`` does;
    understudy_common.gcfreeze says why)."""
    # No registry given: the app is the process's, so it also exports the process's CPU.
    registry = registry if registry is not None else process_registry()
    metrics = RouterMetrics.for_settings(registry, settings)
    windows = ComparisonWindows(size=settings.window_size)
    registry.register(WindowCollector(windows=windows, model=settings.model_name))
    feedback = feedback_from_settings(settings, registry=registry)
    router = ShadowRouter(settings=settings, metrics=metrics, windows=windows, feedback=feedback)
    # Routing state apart from readiness (a router with no live model is still serving).
    Gauge(
        metric_name("router", "routing_configured"),
        "1 when a live model is configured (predictions are routed), 0 while they get 503.",
        ["model"],
        registry=registry,
    ).labels(settings.model_name).set_function(lambda: float(router.configured))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await router.start()
        if feedback is not None:
            feedback.start()
        if settings.config_json is not None and not router.offer_document(
            settings.config_json, source="env"
        ):
            raise RuntimeError(f"UNDERSTUDY_ROUTER_CONFIG_JSON is invalid: {router.last_rejection}")
        tasks: list[asyncio.Task[None]] = []
        configmap: ConfigMapSource | None = None
        if settings.config_file is not None:
            file_source = FileSource(
                path=settings.config_file,
                interval=settings.config_poll_seconds,
                on_document=router.offer_document,
            )
            file_source.check()
            tasks.append(asyncio.create_task(file_source.run(), name="config-file-poll"))
        ref = settings.configmap_ref
        if ref is not None:
            kubeconfig = settings.kubeconfig
            configmap = ConfigMapSource(
                namespace=ref[0],
                name=ref[1],
                key=settings.configmap_key,
                on_document=router.offer_document,
                api_factory=lambda: core_v1_api(kubeconfig),
                on_listed=lambda: setattr(router, "pending_source", None),
            )
            # Not ready before the first list: a new replica of a rolling update must not
            # take traffic before it knows the live model.
            router.pending_source = configmap.source
            configmap.start(asyncio.get_running_loop())
        if freeze_gc:
            freeze_startup_objects()
        try:
            yield
        finally:
            if configmap is not None:
                await asyncio.to_thread(configmap.stop)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await router.stop()
            if feedback is not None:
                await feedback.stop()

    app = RouterApp(
        title="Understudy shadow router",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.router = router
    app.state.feedback = feedback
    add_feedback_route(
        app,
        feedback=feedback,
        max_labels=settings.feedback_max_labels,
        max_body_bytes=settings.max_body_bytes,
    )
    app.state.registry = registry

    @app.post(PREDICTIONS_PATH)
    async def predictions(request: Request) -> Response:
        # Served here only with fast_route off: RouterApp answers it before FastAPI
        # otherwise, through the same handler (predictions.py).
        answer = await answer_prediction(
            router,
            request_id=request.scope["state"]["request_id"],
            headers=request.scope["headers"],
            receive=request.receive,
            limit=settings.max_body_bytes,
        )
        return _response(answer)

    @app.get("/v1/model")
    async def model(request: Request) -> Response:
        """The live model's metadata, as the live model-api answers it."""
        request_id: str = request.scope["state"]["request_id"]
        return _response(await router.live_model(request_id=request_id))

    @app.get("/v1/routing")
    async def routing() -> dict[str, Any]:
        return router.routing_view()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        # Serving once its config source has been read, live model or not: readiness gates
        # `helm install --wait` and rollouts; routing state is /v1/routing and a gauge.
        if router.ready:
            return JSONResponse({"status": "ready", "routing_configured": router.configured})
        return JSONResponse(
            {
                "status": "not_ready",
                "message": f"routing config source {router.pending_source} not read yet",
            },
            status_code=503,
        )

    @app.get("/metrics")
    async def metrics_route() -> Response:
        # With a mirror process, its families (the mirror work's) merged in by family.
        extra = await router.mirror_families()
        return Response(render(registry, extra), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(RequestIdMiddleware)
    if settings.fast_route:
        app.fast_route = FastPredictionRoute(router, limit=settings.max_body_bytes)
    return app
