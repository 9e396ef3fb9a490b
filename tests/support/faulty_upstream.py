"""A deliberately fake prediction upstream that misbehaves on demand.

This is a test double, on purpose: the real model-api cannot be made slow, hung,
broken or wrong per request, and the router must survive all of that. It serves
the prediction route under a *fault prefix*, so one process offers every fault and
the router selects one just by its candidate URL::

    http://127.0.0.1:PORT/ok          200, one prediction per record (200000.0 each)
    http://127.0.0.1:PORT/slow-1.5    like ok, after 1.5 seconds
    http://127.0.0.1:PORT/hang        never answers (until the client gives up)
    http://127.0.0.1:PORT/error       500 with a JSON error body
    http://127.0.0.1:PORT/status-404  that status, JSON error body
    http://127.0.0.1:PORT/badjson     200 with a body that is not JSON
    http://127.0.0.1:PORT/random      200, a different random answer every request
    http://127.0.0.1:PORT/fewer       200, one prediction fewer than records asked
    http://127.0.0.1:PORT/more        200, one prediction more

``GET /received`` lists (fault, X-Request-ID) of every request seen, so tests can check
what the router sent. Run it with ``python -m tests.support.faulty_upstream``
(port from ``FAULTY_UPSTREAM_PORT``, host from ``FAULTY_UPSTREAM_HOST``).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_received: list[dict[str, Any]] = []
MAX_RECEIVED = 10_000


async def predictions(request: Request) -> Response:
    fault: str = request.path_params["fault"]
    name, _, arg = fault.partition("-")
    if len(_received) < MAX_RECEIVED:
        _received.append({"fault": fault, "request_id": request.headers.get("x-request-id")})
    body = await request.body()
    try:
        records = len(json.loads(body)["records"])
    except (ValueError, KeyError, TypeError):
        records = 1
    predictions = [200_000.0] * records
    if name == "slow":
        await asyncio.sleep(float(arg or 1))
    elif name == "hang":
        await asyncio.sleep(3600)
    elif name == "error":
        return JSONResponse({"error": "internal", "message": "injected fault"}, status_code=500)
    elif name == "status":
        return JSONResponse({"error": "injected", "message": fault}, status_code=int(arg))
    elif name == "badjson":
        return Response(b"{not json", media_type="application/json")
    elif name == "random":
        predictions = [random.uniform(10_000, 900_000) for _ in range(records)]
    elif name == "fewer":
        predictions = predictions[:-1]
    elif name == "more":
        predictions = [*predictions, 1.0]
    elif name != "ok":
        return JSONResponse({"error": "unknown_fault", "message": fault}, status_code=404)
    return JSONResponse(
        {"predictions": predictions, "model": {"name": "fake", "version": fault}},
        headers={"x-model-version": fault},
    )


async def received(request: Request) -> Response:
    return JSONResponse(_received)


async def readyz(request: Request) -> Response:
    return JSONResponse({"status": "ready"})


app = Starlette(
    routes=[
        Route("/{fault}/v1/predictions", predictions, methods=["POST"]),
        Route("/received", received),
        Route("/readyz", readyz),
    ]
)


def main() -> None:
    import uvicorn

    uvicorn.run(
        app,
        host=os.environ.get("FAULTY_UPSTREAM_HOST", "127.0.0.1"),
        port=int(os.environ["FAULTY_UPSTREAM_PORT"]),
        log_level="warning",
        # Hung requests would otherwise hold shutdown until SIGKILL.
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
