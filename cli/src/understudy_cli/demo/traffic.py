"""Traffic for a demo run: single-house requests built from the Ames holdout set,
sent to the router at a steady rate from a background thread.

``rate=MAX_RATE`` (``--rate max``) sends as fast as the candidate keeps up: before each
request the driver reads the router's ``/v1/routing`` and waits while the mirror queue
holds anything, with at most ``min(concurrency, queue_size)`` requests out at once — so
the queue never exceeds its size and the router drops no mirror for lack of room (one
router, as in a local run). A fast live path is then held back to what the candidate
can take; with nothing mirrored (no candidate, a canary step) it is only bounded by the
concurrency.

Each request carries its own ``X-Request-ID`` (``<run prefix>-<sequence>``); the router
keeps a valid client id and answers with it (``understudy_common.request_id``). With
``actuals`` (the true sale price of each record) and a ``label_sink``, every answered
request hands (the id the router answered with, record index in the request, actual) to
the sink — the demo's label feed, which later sends them to ``POST /v1/feedback``.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import cycle
from typing import Any, Protocol

import httpx

from understudy_common.request_id import REQUEST_ID_HEADER

# --rate max: paced by the router's mirror queue instead of a clock.
MAX_RATE = math.inf
# How often a paced driver re-reads a full queue.
PACE_POLL_S = 0.005


class LabelSink(Protocol):
    def add(self, *, request_id: str, record: int, actual: float) -> None: ...


@dataclass
class TrafficStats:
    sent: int = 0
    ok: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def record(self, *, status: int | None, seconds: float, error: str | None = None) -> None:
        self.sent += 1
        if status == 200:
            self.ok += 1
            self.latencies.append(seconds)
            if len(self.latencies) > 20_000:  # keep memory flat on long runs
                del self.latencies[:10_000]
        else:
            self.failed += 1
            key = error or f"http_{status}"
            self.errors[key] = self.errors.get(key, 0) + 1


class TrafficDriver:
    """Sends ``rate`` requests per second, at most ``concurrency`` at a time."""

    def __init__(
        self,
        *,
        url: str,
        records: Sequence[dict[str, Any]],
        rate: float,
        concurrency: int = 8,
        batch_size: int = 1,
        actuals: Sequence[float] | None = None,
        label_sink: LabelSink | None = None,
        id_prefix: str | None = None,
        once: bool = False,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if label_sink is not None and (actuals is None or len(actuals) != len(records)):
            raise ValueError("a label sink needs one actual per record")
        self.base_url = url.rstrip("/")
        self.url = self.base_url + "/v1/predictions"
        self.records = list(records)
        self.actuals = list(actuals) if actuals is not None else None
        self.label_sink = label_sink
        # Unique per run: a router's store keeps the first predictions of an id it saw twice.
        self.id_prefix = id_prefix or uuid.uuid4().hex[:12]
        self._sequence = 0
        self.rate, self.concurrency, self.batch_size = rate, concurrency, batch_size
        self.stats = TrafficStats()
        # Paced (rate MAX_RATE): times a request waited for the mirror queue to empty.
        self.paced_waits = 0
        # Send each record once, then stop (``done`` is set); else loop until stopped.
        self.once = once
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._run()), name="traffic", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    async def _run(self) -> None:
        gate = asyncio.Semaphore(self.concurrency)
        ranges = [
            range(i, min(i + self.batch_size, len(self.records)))
            for i in range(0, len(self.records), self.batch_size)
        ]
        batches = iter(ranges) if self.once else cycle(ranges)
        paced = math.isinf(self.rate)
        period = 0.0 if paced else 1.0 / self.rate
        tasks: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(timeout=10.0) as client:
            if paced:  # never more out at once than the queue can hold
                size = (await self._mirror_queue(client))[1]
                gate = asyncio.Semaphore(max(1, min(self.concurrency, size)))
            next_at = time.monotonic()
            while not self._stop.is_set():
                batch = next(batches, None)
                if batch is None:  # once: every record sent
                    break
                await gate.acquire()
                if paced:
                    await self._until_mirror_queue_empty(client)
                task = asyncio.create_task(self._send(client, batch, gate))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                next_at += period
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if tasks:
                await asyncio.wait(tasks, timeout=10)
        self.done.set()

    async def _mirror_queue(self, client: httpx.AsyncClient) -> tuple[int, int]:
        """(jobs waiting, queue size) of the router's mirror (``GET /v1/routing``)."""
        try:
            response = await client.get(self.base_url + "/v1/routing")
            mirror = response.json()["mirror"]
            return int(mirror["queue_depth"]), int(mirror["queue_size"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return 0, self.concurrency  # not readable (yet): the send's own error says why

    async def _until_mirror_queue_empty(self, client: httpx.AsyncClient) -> None:
        waited = False
        while not self._stop.is_set() and (await self._mirror_queue(client))[0] > 0:
            waited = True
            await asyncio.sleep(PACE_POLL_S)
        self.paced_waits += waited

    def next_request_id(self) -> str:
        self._sequence += 1
        return f"{self.id_prefix}-{self._sequence:07d}"

    async def _send(self, client: httpx.AsyncClient, batch: range, gate: asyncio.Semaphore) -> None:
        started = time.perf_counter()
        request_id = self.next_request_id()
        header = REQUEST_ID_HEADER.decode()
        try:
            response = await client.post(
                self.url,
                json={"records": [self.records[i] for i in batch]},
                headers={header: request_id},
            )
            self.stats.record(status=response.status_code, seconds=time.perf_counter() - started)
            if response.status_code == 200 and self.label_sink is not None:
                assert self.actuals is not None
                answered = response.headers.get(header, request_id)
                for record, index in enumerate(batch):
                    self.label_sink.add(
                        request_id=answered, record=record, actual=self.actuals[index]
                    )
        except httpx.HTTPError as exc:
            self.stats.record(
                status=None, seconds=time.perf_counter() - started, error=type(exc).__name__
            )
        finally:
            gate.release()
