"""POST /v1/predictions: one handler, whoever routes the request to it.

``RouterApp`` (app.py) calls :func:`answer_prediction` straight from the ASGI call for
``POST /v1/predictions`` (the fast route: no FastAPI middleware stack, routing, dependency
resolution or ``Request`` object on the live path), and FastAPI's route calls the same
function with ``fast_route`` off. Both send what :func:`response_headers` makes of the
answer, so the two paths cannot drift apart (tests/shadow_router/test_fast_route.py sends
the same good and bad requests to both).
"""

from __future__ import annotations

import logging
import time

from understudy_common.asgi import Headers, Receive, body_chunks, header_map
from understudy_common.body import BodyError, read_body
from understudy_common.logging import log_event

from .service import Answer, ShadowRouter, error_answer

logger = logging.getLogger("understudy_router.request")

PREDICTIONS_PATH = "/v1/predictions"
REQUEST_DATASET = "shadow-router.request"


async def answer_prediction(
    router: ShadowRouter, *, request_id: str, headers: Headers, receive: Receive, limit: int
) -> Answer:
    """Read the body (decoded: gzip, so both models get the same plain body), route it,
    and log the request's one event."""
    started = time.perf_counter()
    header = header_map(headers)
    try:
        body = await read_body(body_chunks(receive), header, limit=limit)
    except BodyError as exc:
        answer = error_answer(exc.status, exc.code, exc.message)
    else:
        answer = await router.predict(
            body=body,
            content_type=header.get("content-type"),
            request_id=request_id,
            sticky=lambda name: header.get(name.lower()),
        )
    live = router.route.config.live
    log_event(
        logger,
        logging.INFO,
        {
            "event.dataset": REQUEST_DATASET,
            "http.request.method": "POST",
            "url.path": PREDICTIONS_PATH,
            "http.response.status_code": answer.status,
            "event.duration": int((time.perf_counter() - started) * 1e9),
            "understudy.live.version": live.version if live else None,
            # Whose answer the client got: "live", or "candidate" (a canary step).
            "understudy.answered_by": answer.answered_by,
            "understudy.answer.version": answer.headers.get("x-model-version"),
            "understudy.mirrored": answer.mirrored,
        },
        "POST /v1/predictions %d",
        answer.status,
    )
    return answer


def response_headers(answer: Answer) -> list[tuple[bytes, bytes]]:
    """The header pairs Starlette's ``Response(body, status, headers)`` sends for
    ``answer``: its headers lower-cased in order, then content-length."""
    pairs = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
    if b"content-length" not in {k for k, _ in pairs} and not (
        answer.status < 200 or answer.status in (204, 304)
    ):
        pairs.append((b"content-length", str(len(answer.body)).encode("latin-1")))
    return pairs
