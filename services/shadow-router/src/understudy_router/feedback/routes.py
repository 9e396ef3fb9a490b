"""The HTTP edge of the feedback feature: ``POST /v1/feedback``."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from understudy_common.body import BodyError, read_body

from .payload import FeedbackError, parse_labels
from .service import Feedback

JSON_TYPES = ("application/json", "application/problem+json")


def add_feedback_route(
    app: FastAPI, *, feedback: Feedback | None, max_labels: int, max_body_bytes: int
) -> None:
    """``POST /v1/feedback``; with the feature off (``feedback is None``) it answers 404."""

    @app.post("/v1/feedback")
    async def post_feedback(request: Request) -> Response:
        try:
            if feedback is None:
                raise FeedbackError(
                    404,
                    "feedback_disabled",
                    "this router stores no predictions (UNDERSTUDY_ROUTER_FEEDBACK_STORE=none)",
                )
            content_type = request.headers.get("content-type", "application/json")
            if content_type.split(";")[0].strip().lower() not in JSON_TYPES:
                raise FeedbackError(
                    415, "unsupported_media_type", "send the labels as application/json"
                )
            try:
                body = await read_body(request.stream(), request.headers, limit=max_body_bytes)
            except BodyError as exc:
                raise FeedbackError(exc.status, exc.code, exc.message) from None
            labels = parse_labels(body, max_labels=max_labels)
            return JSONResponse(await feedback.apply(labels))
        except FeedbackError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
