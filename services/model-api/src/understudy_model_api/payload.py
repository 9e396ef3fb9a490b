"""Reading a prediction request: content type, size limit, JSON, the ``records`` envelope.

Each check raises :class:`ApiError` with the contract's status and code.

NaN and Infinity: Python's json module accepts the literals ``NaN``, ``Infinity``
and ``-Infinity`` (and reads 1e999 as infinity). We parse them rather than fail
the whole body with a 400, so that validation reports them as ``not_finite``
(422) with the record and field, like any other bad value. Integers too large
for a float become infinity the same way (they would otherwise crash float()).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from understudy_common import body, jsonio
from understudy_model_api.errors import ApiError

# An integer literal with more digits than this cannot be a finite float64.
_MAX_FLOAT_DIGITS = 309


def _parse_int(literal: str) -> int | float:
    if len(literal.lstrip("-")) > _MAX_FLOAT_DIGITS:
        return float("-inf") if literal.startswith("-") else float("inf")
    return int(literal)


def check_content_type(headers: Mapping[str, str]) -> None:
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type must be application/json, got {media_type or 'none'!r}",
        )


async def read_body(
    stream: AsyncIterator[bytes], headers: Mapping[str, str], *, limit: int
) -> bytes:
    """The decoded body under ``limit`` (understudy_common.body: size, gzip, 413/415/400)."""
    try:
        return await body.read_body(stream, headers, limit=limit)
    except body.BodyError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


def parse_json(body: bytes) -> Any:
    if not body:
        raise ApiError(400, "malformed_json", "request body is empty; expected a JSON object")
    try:
        # json's value or error for every body, read by orjson where that is the same
        # (jsonio.py). The hook matters only where json reads: orjson reads no literal
        # that long (it refuses numbers beyond a float and leaves 19-digit runs to json).
        return jsonio.loads(body, parse_int=_parse_int)
    except RecursionError:
        raise ApiError(400, "malformed_json", "request body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise ApiError(400, "malformed_json", f"request body is not valid JSON: {exc}") from None


def records_of(document: Any, *, max_records: int) -> list[Any]:
    """The ``records`` list of ``{"records": [...]}`` with 1..max_records entries."""
    if not isinstance(document, dict):
        raise ApiError(422, "invalid_request", 'expected a JSON object {"records": [...]}')
    extra = sorted(str(k) for k in document if k != "records")
    if extra:
        raise ApiError(
            422, "invalid_request", f"unknown top-level field(s): {', '.join(extra)[:200]}"
        )
    if "records" not in document:
        raise ApiError(422, "invalid_request", 'missing "records": expected {"records": [...]}')
    records = document["records"]
    if not isinstance(records, list):
        raise ApiError(422, "invalid_request", '"records" must be a list of record objects')
    if not 1 <= len(records) <= max_records:
        raise ApiError(
            422,
            "invalid_request",
            f'"records" must hold 1 to {max_records} records, got {len(records)}',
        )
    return records
