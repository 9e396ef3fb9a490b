"""Per-request context as pure ASGI middleware (cheaper than BaseHTTPMiddleware).

For every HTTP request: take the ``X-Request-ID`` (or make one), set it in the
logging context so every log line carries it, echo it and ``X-Model-Version`` on
the response, and count the request in the metrics. Given ``predictions``, it answers
``POST /v1/predictions`` itself by calling that handler (predictions.py): the fast route,
which ``ModelApi`` (app.py) enters before FastAPI's middleware stack, routing, dependency
resolution and exception middleware (what they cost: bench/README.md, "Where the time
goes"). A bug anywhere below is
logged with its stack trace and answered with a JSON 500 that still carries
the request id: the catch-all that tests prove no input reaches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from understudy_common.logging import request_context
from understudy_common.request_id import REQUEST_ID_HEADER, request_id_from
from understudy_model_api.errors import ApiError
from understudy_model_api.metrics import ApiMetrics
from understudy_model_api.predictions import (
    PREDICTIONS_PATH,
    Bookkeeping,
    PredictionHandler,
    run_bookkeeping,
)

logger = logging.getLogger(__name__)

UNMATCHED_ROUTE = "unmatched"


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: ApiMetrics,
        model_version: Callable[[], str | None],
        predictions: PredictionHandler | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.model_version = model_version
        self.predictions = predictions

    def serves(self, scope: Scope) -> bool:
        """True for the requests this middleware answers itself (the fast route)."""
        return (
            self.predictions is not None
            and scope["type"] == "http"
            and scope["path"] == PREDICTIONS_PATH
            and scope["method"] == "POST"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(scope.get("headers", ()))
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        response_started = False
        route: str | None = None  # None: FastAPI's router names it (scope["route"])
        in_flight = self.metrics.request_started()
        bookkeeping: Bookkeeping | None = None  # the fast route's, once its answer is sent

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((REQUEST_ID_HEADER, request_id.encode("ascii")))
                version = self.model_version()
                if version is not None:
                    headers.append((b"x-model-version", version.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        with request_context(request_id):
            try:
                if self.serves(scope):
                    route = PREDICTIONS_PATH
                    assert self.predictions is not None
                    answer, body, bookkeeping = await self.predictions(
                        request_id=request_id, headers=scope["headers"], receive=receive
                    )
                    await self._send(answer, body, send_with_headers)
                else:
                    await self.app(scope, receive, send_with_headers)
            except Exception:
                logger.exception("unhandled error in %s %s", scope["method"], scope["path"])
                if response_started:
                    raise
                error = ApiError(500, "internal_error", "internal error; see the service log")
                await error.response()(scope, receive, send_with_headers)
            finally:
                in_flight.dec()
                if route is None:
                    route = getattr(scope.get("route"), "path", UNMATCHED_ROUTE)
                self.metrics.observe_request(
                    route=route,
                    status=status,
                    seconds=time.perf_counter() - started,
                )
                # Even when sending failed (the client gone): the request is logged.
                if bookkeeping is not None:
                    run_bookkeeping(bookkeeping)

    @staticmethod
    async def _send(status: int, body: bytes, send: Send) -> None:
        """The fast route's answer, with the headers Starlette's Response would send
        (content-length, then content-type)."""
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-length", str(len(body)).encode("latin-1")),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
