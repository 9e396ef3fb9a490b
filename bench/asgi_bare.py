"""The bare target of bench/model_api.py: the least work a correct answer needs, under
model-api's own uvicorn.

    UNDERSTUDY_MODEL_API_ARTIFACT_DIR=artifacts/v2 UNDERSTUDY_MODEL_API_PORT=8000 \\
        python bench/asgi_bare.py

A raw ASGI app, like the ceiling (bench/asgi_ceiling.py), that does what every answer of
model-api must: read the body, parse it (model-api's own ``parse_json``, orjson where it
agrees with ``json``), take its records, validate them against the artifact's schema and
predict them with the fast predictor, then render the answer with model-api's
``render_json``. Nothing else: no routing, no request id, no metrics, no drift counting,
no log event, no batching queue, no content-type check. A 422 for invalid records, a 400
for a body that is not JSON, so it cannot answer a bad body as a good one.

Its throughput over the ceiling's, in the same run, bounds what model-api can reach on
this stack while it validates and predicts: no amount of work taken off the rest (the
contract's log event, metrics, request id) can bring model-api above it.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgi_ceiling import lifespan, serve

Message = MutableMapping[str, Any]
App = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]

JSON_HEADERS = [(b"content-type", b"application/json")]


def bare_app(settings: Any) -> App:
    """The app for ``settings`` (model-api's Settings: the artifact, the record limit)."""
    from understudy_model.artifact import load_artifact
    from understudy_model.fast import compile_fast_predictor
    from understudy_model.validation import validate_records
    from understudy_model_api.errors import ApiError, render_json
    from understudy_model_api.payload import parse_json, records_of

    model = load_artifact(settings.artifact_dir)
    fast = compile_fast_predictor(model)
    schema, max_records = model.schema, settings.max_records
    identity = {"name": model.name, "version": model.version}

    def answer(body: bytes) -> tuple[int, bytes]:
        try:
            records = records_of(parse_json(body), max_records=max_records)
        except ApiError as error:
            return error.status, render_json(error.body())
        result = validate_records(records, schema)
        if not result.ok:
            issues = [issue.to_dict() for issue in result.errors]
            return 422, render_json({"error": "validation_failed", "errors": issues})
        values = fast.predict_rows(result.rows).tolist()
        return 200, render_json({"predictions": values, "model": identity})

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
        chunks = []
        more_body = True
        while more_body:
            message = await receive()
            chunks.append(message.get("body", b""))
            more_body = message.get("more_body", False)
        if scope["method"] == "GET":  # /readyz, for the benchmark's wait_ready
            status, content = 200, b'{"status":"ready"}'
        else:
            status, content = answer(b"".join(chunks))
        headers = [*JSON_HEADERS, (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    return app


def main() -> int:
    return serve(bare_app)


if __name__ == "__main__":
    sys.exit(main())
