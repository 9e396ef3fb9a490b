"""Pooled HTTP clients for the model-api upstreams, swapped on reload without breaking requests.

One keep-alive connection pool (:class:`~understudy_router.http1.Http1Pool`) per upstream
base URL. A config
change that drops a URL *retires* its client: the client is closed only when the
last request using it - or the last queued mirror job holding it - has finished.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from .http1 import Http1Pool, HttpResponse, ProtocolError

logger = logging.getLogger(__name__)

PREDICTIONS_PATH = "/v1/predictions"


class UpstreamTimeout(Exception):
    """The upstream did not answer in time."""


class UpstreamUnreachable(Exception):
    """The upstream refused the connection, dropped it, or broke the HTTP protocol."""


class UpstreamClient:
    """A connection pool to one upstream, reference-counted so it can retire safely."""

    def __init__(self, url: str, *, max_connections: int) -> None:
        self.url = url
        # No redirects, no proxies: the router talks to exactly the configured URL.
        self._client = Http1Pool(url, max_idle=max_connections)
        self._holds = 0
        self._retired = False
        self._closing: asyncio.Task[None] | None = None

    @property
    def closed(self) -> bool:
        return self._client.closed

    def hold(self) -> None:
        """Keep the client open until the matching :meth:`release` (e.g. for a queued job)."""
        self._holds += 1

    def release(self) -> None:
        self._holds -= 1
        if self._retired and self._holds == 0:
            self._close_soon()

    def retire(self) -> None:
        """No new users; close as soon as the current ones are done."""
        self._retired = True
        if self._holds == 0:
            self._close_soon()

    async def aclose(self) -> None:
        await self._client.aclose()

    def _close_soon(self) -> None:
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._client.aclose())

    async def post(
        self, *, content: bytes, headers: dict[str, str], timeout: float
    ) -> HttpResponse:
        """POST to the predictions route; the whole exchange is bounded by ``timeout``."""
        self.hold()
        try:
            async with asyncio.timeout(timeout):
                return await self._client.post(PREDICTIONS_PATH, body=content, headers=headers)
        except TimeoutError as exc:  # before OSError: TimeoutError is one
            raise UpstreamTimeout(f"{self.url} did not answer within {timeout:g}s") from exc
        except (ProtocolError, OSError, asyncio.IncompleteReadError) as exc:
            raise UpstreamUnreachable(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        finally:
            self.release()


class UpstreamPool:
    """The clients of the URLs in the current config, one per URL."""

    def __init__(self, *, max_connections: int) -> None:
        self._max_connections = max_connections
        self._clients: dict[str, UpstreamClient] = {}

    def get(self, url: str) -> UpstreamClient:
        client = self._clients.get(url)
        if client is None:
            client = self._clients[url] = UpstreamClient(url, max_connections=self._max_connections)
        return client

    def keep_only(self, urls: Iterable[str]) -> None:
        """Retire the clients of every URL not in ``urls``."""
        wanted = set(urls)
        for url in list(self._clients):
            if url not in wanted:
                self._clients.pop(url).retire()
                logger.info("retired upstream client %s", url)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
