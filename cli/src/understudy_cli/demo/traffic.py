"""Traffic for a demo run: single-house requests built from the Ames holdout set,
sent to the router at a steady rate from a background thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import cycle
from typing import Any

import httpx


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
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.url = url.rstrip("/") + "/v1/predictions"
        self.records = list(records)
        self.rate, self.concurrency, self.batch_size = rate, concurrency, batch_size
        self.stats = TrafficStats()
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
        batches = cycle(
            [
                self.records[i : i + self.batch_size]
                for i in range(0, len(self.records), self.batch_size)
            ]
        )
        period = 1.0 / self.rate
        tasks: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(timeout=10.0) as client:
            next_at = time.monotonic()
            while not self._stop.is_set():
                await gate.acquire()
                task = asyncio.create_task(self._send(client, next(batches), gate))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                next_at += period
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if tasks:
                await asyncio.wait(tasks, timeout=10)

    async def _send(
        self, client: httpx.AsyncClient, batch: list[dict[str, Any]], gate: asyncio.Semaphore
    ) -> None:
        started = time.perf_counter()
        try:
            response = await client.post(self.url, json={"records": batch})
            self.stats.record(status=response.status_code, seconds=time.perf_counter() - started)
        except httpx.HTTPError as exc:
            self.stats.record(
                status=None, seconds=time.perf_counter() - started, error=type(exc).__name__
            )
        finally:
            gate.release()
