"""The raw-ASGI ceiling of bench/model_api.py: a fixed answer under model-api's own uvicorn.

    UNDERSTUDY_MODEL_API_PORT=8000 python bench/asgi_ceiling.py

The app reads the whole request body and returns a small fixed JSON answer: no routing,
no middleware, no validation, no model. It is served by ``understudy_model_api.__main__``
itself with only ``create_app`` swapped, so uvicorn runs with exactly the options
model-api runs with on this branch (HTTP implementation, event loop, log config, access
log, server header; the ``UNDERSTUDY_MODEL_API_*`` settings), whatever they become.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]

# About the size of model-api's answer for one house.
ANSWER = b'{"predictions":[181000.0],"model":{"name":"house-prices","version":"ceiling"}}'
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(ANSWER)).encode()),
]


async def lifespan(
    receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    """ASGI lifespan with nothing to set up or tear down: both steps complete at once."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    more_body = True
    while more_body:  # the whole body, as a real endpoint must read it
        message = await receive()
        more_body = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


def serve(factory: Callable[[Any], Any]) -> int:
    """Run model-api's own entry point with ``factory(settings)`` as its app: the same
    uvicorn, options and settings model-api runs with (the bare target uses it too)."""
    from understudy_model_api import __main__ as entry

    # Fails loudly if model-api's entry point no longer builds its app through
    # create_app: the target would otherwise serve something else.
    if not callable(getattr(entry, "create_app", None)):
        raise SystemExit("understudy_model_api.__main__ has no create_app to replace")

    def create_app(settings: Any, **options: Any) -> Any:
        return factory(settings)

    setattr(entry, "create_app", create_app)  # noqa: B010 (mypy: not a FastAPI factory)
    return entry.main()


def main() -> int:
    return serve(lambda settings: app)


if __name__ == "__main__":
    sys.exit(main())
