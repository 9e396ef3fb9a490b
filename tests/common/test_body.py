"""understudy_common.body: the size limit on the wire and after gzip, and bad encodings."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import AsyncIterator

import pytest

from understudy_common.body import BodyError, read_body

LIMIT = 10_000


async def _stream(data: bytes, chunk: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), chunk):
        yield data[i : i + chunk]


def read(data: bytes, headers: dict[str, str], *, chunk: int = 1000) -> bytes:
    return asyncio.run(read_body(_stream(data, chunk), headers, limit=LIMIT))


def refused(data: bytes, headers: dict[str, str], *, chunk: int = 1000) -> BodyError:
    with pytest.raises(BodyError) as info:
        read(data, headers, chunk=chunk)
    return info.value


@pytest.mark.parametrize("encoding", [None, "identity", " Identity "])
def test_a_plain_body_at_the_limit_is_read(encoding: str | None) -> None:
    headers = {} if encoding is None else {"content-encoding": encoding}
    assert read(b"x" * LIMIT, headers) == b"x" * LIMIT


def test_a_plain_body_over_the_limit_is_413_while_reading() -> None:
    error = refused(b"x" * (LIMIT + 1), {})
    assert (error.status, error.code) == (413, "body_too_large")
    assert str(error) == f"request body is larger than {LIMIT} bytes"


def test_a_declared_length_over_the_limit_is_413_before_reading() -> None:
    async def never() -> AsyncIterator[bytes]:
        raise AssertionError("the body was read")
        yield b""

    with pytest.raises(BodyError) as info:
        asyncio.run(read_body(never(), {"content-length": str(LIMIT + 1)}, limit=LIMIT))
    assert info.value.status == 413


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "GZIP"])
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_gzip_is_decoded(encoding: str, chunk: int) -> None:
    plain = b'{"records": [' + b"1," * 2000 + b"1]}"
    assert read(gzip.compress(plain), {"content-encoding": encoding}, chunk=chunk) == plain


def test_decoded_exactly_at_the_limit_is_read() -> None:
    plain = b"y" * LIMIT
    assert read(gzip.compress(plain), {"content-encoding": "gzip"}) == plain


def test_a_zip_bomb_is_refused_after_inflating_just_past_the_limit() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # 49 KB on the wire, 50 MB inflated
    assert len(bomb) < 100_000
    limit = len(bomb) + 1

    async def go() -> None:
        await read_body(_stream(bomb, 1 << 20), {"content-encoding": "gzip"}, limit=limit)

    with pytest.raises(BodyError) as info:
        asyncio.run(go())
    assert (info.value.status, info.value.code) == (413, "body_too_large")
    assert "decompressed" in str(info.value)


def test_gzip_over_the_limit_on_the_wire_is_413() -> None:
    noise = bytes(range(256)) * 100
    data = gzip.compress(noise, compresslevel=0)
    assert len(data) > LIMIT
    assert refused(data, {"content-encoding": "gzip"}).status == 413


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not gzip at all", "corrupt"),
        (gzip.compress(b"{}", mtime=0)[:-4], "truncated"),
        (gzip.compress(b"{}", mtime=0) + b"trailing", "after the end"),
    ],
)
def test_a_broken_gzip_body_is_400(data: bytes, message: str) -> None:
    error = refused(data, {"content-encoding": "gzip"})
    assert (error.status, error.code) == (400, "malformed_body")
    assert message in str(error)


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "gzip, br"])
def test_other_encodings_are_415_without_reading(encoding: str) -> None:
    error = refused(zlib.compress(b"{}"), {"content-encoding": encoding})
    assert (error.status, error.code) == (415, "unsupported_content_encoding")
    assert repr(encoding) in str(error)
