"""The router's small HTTP/1.1 client against scripted raw-socket servers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from understudy_router.http1 import Http1Pool, ProtocolError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return head, await reader.readexactly(length)


async def serve(handler: Handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/prefix"


def test_keep_alive_reuses_one_connection_and_sends_one_request_shape() -> None:
    async def scenario() -> None:
        connections = 0
        heads: list[bytes] = []

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            while not reader.at_eof():
                try:
                    head, body = await read_request(reader)
                except asyncio.IncompleteReadError:
                    break
                heads.append(head)
                writer.write(
                    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
            writer.close()

        server, url = await serve(handler)
        pool = Http1Pool(url, max_idle=4)
        for i in range(3):
            response = await pool.post(
                "/v1/predictions", body=b'{"n": %d}' % i, headers={"x-request-id": f"r{i}"}
            )
            assert response.status == 201
            assert response.content == b'{"n": %d}' % i
            assert response.headers["content-type"] == "application/json"
        await pool.aclose()
        server.close()
        assert connections == 1
        assert heads[0].startswith(b"POST /prefix/v1/predictions HTTP/1.1\r\n")
        assert b"x-request-id: r0" in heads[0] and b"host: 127.0.0.1:" in heads[0]

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("answer", "content"),
    [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n",
            b"abcdef",
        ),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-eof", b"until-eof"),
        (b"HTTP/1.0 500 Oops\r\nContent-Length: 2\r\n\r\nno", b"no"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
    ],
)
def test_body_framings(answer: bytes, content: bytes) -> None:
    async def scenario() -> bytes:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            writer.write(answer)
            await writer.drain()
            writer.close()

        server, url = await serve(handler)
        pool = Http1Pool(url, max_idle=1)
        response = await pool.post("/x", body=b"{}", headers={})
        server.close()
        return response.content

    assert asyncio.run(scenario()) == content


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent",
    ],
)
def test_garbage_is_a_protocol_error(answer: bytes) -> None:
    async def scenario() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            writer.write(answer)
            await writer.drain()
            writer.close()

        server, url = await serve(handler)
        pool = Http1Pool(url, max_idle=1)
        with pytest.raises(ProtocolError):
            await pool.post("/x", body=b"{}", headers={})
        server.close()

    asyncio.run(scenario())


def test_a_kept_alive_connection_closed_by_the_server_is_retried_once() -> None:
    async def scenario() -> int:
        served = 0

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal served
            await read_request(reader)
            served += 1
            # Claims keep-alive, then closes: the next request on it must go elsewhere.
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            writer.close()

        server, url = await serve(handler)
        pool = Http1Pool(url, max_idle=1)
        for _ in range(3):
            assert (await pool.post("/x", body=b"{}", headers={})).content == b"ok"
        server.close()
        return served

    assert asyncio.run(scenario()) == 3


def test_refused_connection_and_header_injection() -> None:
    async def scenario() -> None:
        server, url = await serve(lambda r, w: asyncio.sleep(0))
        server.close()
        await server.wait_closed()
        pool = Http1Pool(url, max_idle=1)
        with pytest.raises(OSError):
            await pool.post("/x", body=b"{}", headers={})
        with pytest.raises(ValueError):
            await pool.post("/x", body=b"{}", headers={"x-request-id": "a\r\nevil: 1"})

    asyncio.run(scenario())
