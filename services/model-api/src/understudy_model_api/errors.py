"""Every error the service returns: ``{"error": "<code>", "message": "<readable>", ...}``.

FastAPI's own error bodies (its 422 ``{"detail": [...]}``, 404, 405) are replaced
by handlers that answer in the same shape (docs/contracts.md).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response


def render_json(content: Any) -> bytes:
    """JSON that is always valid: ASCII escapes (a lone surrogate from a client's field
    name cannot break the encoding) and no NaN/Infinity (they are not JSON)."""
    return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode(
        "ascii"
    )


class JsonResponse(JSONResponse):
    """Every JSON answer of the service, rendered by :func:`render_json`."""

    def render(self, content: Any) -> bytes:
        return render_json(content)


class ApiError(Exception):
    """An answer other than 200, raised where the problem is found."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.extra}

    def response(self) -> JsonResponse:
        return JsonResponse(self.body(), status_code=self.status)


def not_ready() -> ApiError:
    return ApiError(503, "not_ready", "the model is not loaded yet")


# Error codes for the HTTP errors Starlette raises itself (unknown route, wrong method).
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return JsonResponse(
        {"error": code, "message": str(exc.detail)},
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _request_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
    )
    return ApiError(422, "invalid_request", problems or "invalid request").response()


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
