"""A minimal keep-alive HTTP/1.1 client for the upstream calls on the request path.

Why not httpx: measured on the benchmark machine, ``httpx.AsyncClient`` managed ~120
sequential requests/s against a model-api that serves ~1,000/s, while plain asyncio
streams managed ~860/s (bench/README.md). The router's upstream calls need very little
HTTP: POST a JSON body, read a response with Content-Length (or chunked), reuse the
connection. That is all this module does; anything unexpected is a
:class:`ProtocolError`, which the router reports as an upstream failure.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

# Largest response head (status line + headers) accepted from an upstream.
MAX_HEAD_BYTES = 64 * 1024
# Largest response body accepted from an upstream.
MAX_BODY_BYTES = 64 * 1024 * 1024


class ProtocolError(Exception):
    """The upstream's answer is not HTTP/1.x as we can read it."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    # Header names lower-cased; a repeated header keeps its last value.
    headers: dict[str, str]
    content: bytes


_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Http1Pool:
    """Keep-alive connections to one origin; one request per connection at a time."""

    def __init__(self, url: str, *, max_idle: int) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self._host = parts.hostname
        self._tls = parts.scheme == "https"
        self._port = parts.port or (443 if self._tls else 80)
        self._authority = parts.netloc.rpartition("@")[2].encode("ascii")
        self._prefix = parts.path.rstrip("/")
        self._max_idle = max_idle
        self._idle: list[_Conn] = []
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def post(self, path: str, *, body: bytes, headers: dict[str, str]) -> HttpResponse:
        """POST ``body``; on a kept-alive connection the server closed meanwhile, retry once."""
        if self._closed:
            raise ProtocolError("client is closed")
        request = self._request(path, body, headers)
        while self._idle:
            conn = self._idle.pop()
            if conn[1].is_closing() or conn[0].at_eof():
                conn[1].close()
                continue
            try:
                return await self._exchange(conn, request)
            except _StaleConnection:
                continue  # nothing was answered on it: safe to send again
        conn = await self._connect()
        try:
            return await self._exchange(conn, request)
        except _StaleConnection as exc:
            raise ConnectionResetError("connection closed before any answer") from exc

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()

    def _request(self, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        lines = [
            b"POST " + (self._prefix + path).encode("ascii") + b" HTTP/1.1",
            b"host: " + self._authority,
            b"content-length: " + str(len(body)).encode(),
        ]
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError(f"header {name!r} contains a line break")
            lines.append(f"{name}: {value}".encode("latin-1"))
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    async def _connect(self) -> _Conn:
        if self._tls:
            return await asyncio.open_connection(
                self._host, self._port, ssl=ssl.create_default_context(), limit=MAX_HEAD_BYTES
            )
        return await asyncio.open_connection(self._host, self._port, limit=MAX_HEAD_BYTES)

    async def _exchange(self, conn: _Conn, request: bytes) -> HttpResponse:
        reader, writer = conn
        reuse = False
        try:
            try:
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if not exc.partial:
                    raise _StaleConnection from exc
                raise ProtocolError("connection closed inside the response head") from exc
            except (ConnectionResetError, BrokenPipeError) as exc:
                raise _StaleConnection from exc
            except asyncio.LimitOverrunError as exc:
                raise ProtocolError("response head too large") from exc
            status, headers, keep_alive = _parse_head(head)
            content = await _read_body(reader, status, headers)
            reuse = keep_alive and not self._closed
            return HttpResponse(status=status, headers=headers, content=content)
        except asyncio.IncompleteReadError as exc:
            raise ProtocolError("connection closed inside the response body") from exc
        finally:
            # Any failure or cancellation (timeout) leaves the stream in an unknown state.
            if reuse and len(self._idle) < self._max_idle:
                self._idle.append(conn)
            else:
                writer.close()


class _StaleConnection(Exception):
    """The connection closed before the first response byte (a dead keep-alive)."""


# What bytes.strip() strips: ASCII whitespace only (str.strip() would also take the
# latin-1 no-break space 0xA0 off a value).
_WS = " \t\n\r\x0b\x0c"


def _parse_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    # One latin-1 decode of the whole head (every byte maps to one character, so lines
    # and values are what decoding each would give); a decode per name and value cost
    # 14 calls per answer.
    lines = head[:-4].decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/1."):
        raise ProtocolError(f"bad status line {lines[0][:80].encode('latin-1')!r}")
    try:
        status = int(status_line[1])
    except ValueError:
        raise ProtocolError(f"bad status line {lines[0][:80].encode('latin-1')!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"bad header line {line[:80].encode('latin-1')!r}")
        headers[name.strip(_WS).lower()] = value.strip(_WS)
    connection = headers.get("connection", "").lower()
    keep_alive = (
        "close" not in connection if status_line[0] == "HTTP/1.1" else "keep-alive" in connection
    )
    if "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", ""):
        keep_alive = False  # body runs to EOF (or there is none)
    return status, headers, keep_alive


async def _read_body(reader: asyncio.StreamReader, status: int, headers: dict[str, str]) -> bytes:
    if status < 200 or status in (204, 304):
        if 100 <= status < 200:
            raise ProtocolError(f"unexpected interim response {status}")
        return b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader)
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            raise ProtocolError(f"bad content-length {length!r}")
        return await reader.readexactly(int(length))
    body = await reader.read(MAX_BODY_BYTES + 1)
    chunks = [body]
    while body:
        body = await reader.read(MAX_BODY_BYTES + 1)
        chunks.append(body)
    content = b"".join(chunks)
    if len(content) > MAX_BODY_BYTES:
        raise ProtocolError("response body too large")
    return content


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {size_line[:40]!r}") from None
        if size == 0:
            # Trailers, if any, end with an empty line.
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(chunks)
        total += size
        if total > MAX_BODY_BYTES:
            raise ProtocolError("response body too large")
        chunks.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ProtocolError("chunk not followed by CRLF")
