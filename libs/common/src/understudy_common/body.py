"""Reading a request body under a size limit, the one way every service does it.

The limit holds for the bytes on the wire *and* for the decoded body: a
``Content-Encoding: gzip`` body is inflated incrementally and refused as soon as its
output passes the limit, so a few kilobytes of zip bomb never become gigabytes in memory.
Any other encoding is refused with 415 rather than read as if it were plain JSON.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

# What clients may send; "identity" is the same as no header at all.
GZIP_ENCODINGS = frozenset({"gzip", "x-gzip"})
# Inflate at most this much per step, so the check runs between steps.
_STEP = 64 * 1024


@dataclass
class BodyError(Exception):
    """The body cannot be read; ``status`` and ``code`` are the HTTP answer's."""

    status: int
    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def _too_large(limit: int, *, decoded: bool) -> BodyError:
    what = "decompressed request body" if decoded else "request body"
    return BodyError(413, "body_too_large", f"{what} is larger than {limit} bytes")


def content_encoding(headers: Mapping[str, str]) -> str:
    """The body's encoding, lower-case; "" when it is sent as is."""
    value = headers.get("content-encoding", "").strip().lower()
    return "" if value == "identity" else value


def check_encoding(headers: Mapping[str, str]) -> None:
    """Refuse an encoding we cannot decode before reading a byte of the body."""
    encoding = content_encoding(headers)
    if encoding and encoding not in GZIP_ENCODINGS:
        raise BodyError(
            415,
            "unsupported_content_encoding",
            f"Content-Encoding {encoding!r} is not supported; send gzip or no encoding",
        )


async def read_body(
    stream: AsyncIterator[bytes], headers: Mapping[str, str], *, limit: int
) -> bytes:
    """The decoded body, refusing more than ``limit`` bytes as they arrive.

    A declared Content-Length over the limit is refused before reading; a body without one
    (chunked) or longer than declared is cut off as soon as it passes the limit.
    """
    check_encoding(headers)
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, decoded=False)
    gzip = content_encoding(headers) in GZIP_ENCODINGS
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
    chunks: list[bytes] = []
    size = 0  # bytes on the wire
    decoded = 0  # bytes after decoding
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, decoded=False)
        if inflater is None:
            chunks.append(chunk)
            continue
        data = chunk
        while True:  # until this chunk is used up and no output is pending
            try:
                out = inflater.decompress(data, _STEP)
            except zlib.error as exc:
                raise BodyError(400, "malformed_body", f"the gzip body is corrupt: {exc}") from None
            decoded += len(out)
            if decoded > limit:
                raise _too_large(limit, decoded=True)
            chunks.append(out)
            data = inflater.unconsumed_tail
            if not data and len(out) < _STEP:
                break
    if inflater is not None:
        if not inflater.eof:
            raise BodyError(400, "malformed_body", "the gzip body is truncated")
        if inflater.unused_data:
            raise BodyError(400, "malformed_body", "data after the end of the gzip body")
    return b"".join(chunks)
