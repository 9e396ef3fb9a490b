"""Plain-ASGI helpers for the services' fast routes (a request answered before FastAPI's
middleware stack, routing and ``Request`` object: model-api's and the router's
``POST /v1/predictions``). Each reproduces what Starlette's ``Request`` gives the route
it replaces, so a fast route and its FastAPI twin read a request alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from typing import Any

Headers = Sequence[tuple[bytes, bytes]]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class ClientDisconnect(Exception):
    """The client went away before its whole body arrived (Starlette's ClientDisconnect)."""


def header_map(headers: Headers) -> dict[str, str]:
    """ASGI header pairs as ``{name: value}``, the first value of a repeated name (what
    Starlette's ``Headers.get`` answers), decoded as latin-1 like Starlette does. Names
    are lower-case in ASGI; look them up lower-case."""
    out: dict[str, str] = {}
    for name, value in headers:
        key = name.decode("latin-1")
        if key not in out:
            out[key] = value.decode("latin-1")
    return out


async def body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The body's chunks as ``Request.stream()`` yields them (a disconnect raises)."""
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()
