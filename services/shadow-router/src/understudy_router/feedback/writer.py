"""Writes predictions to the store off the live path: a bounded queue, one batch writer.

The request path only calls :meth:`PredictionWriter.offer`, which appends to a deque and
never waits or parses: the live answer's body is turned into rows by the writer task. A
full queue refuses the entry (counted ``queue_full``); a failing store loses the batch
(counted ``store_error``, a rate-limited warning) and the writer goes on. The live answer
is never affected either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..comparison import predictions_of
from .metrics import QUEUE_FULL, SHUTDOWN, STORE_ERROR, STORED, FeedbackMetrics
from .store import CANDIDATE, LIVE, Joined, Prediction, PredictionStore, StoreError

logger = logging.getLogger("understudy_router.feedback")

# At most one warning about unstored predictions per this many seconds (the rest counted).
WARN_EVERY_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Pending:
    """One request's predictions by one role, as the request path hands them over."""

    request_id: str
    role: str
    version: str
    at: float
    # Live: the raw answer body (parsed by the writer); candidate: the parsed predictions.
    body: bytes = b""
    predictions: tuple[float, ...] | None = None

    def rows(self, model: str) -> list[Prediction]:
        if self.predictions is not None:
            values: tuple[float, ...] | None = self.predictions
        else:
            parsed = predictions_of(self.body)
            values = parsed.values if parsed is not None else None
        return [
            Prediction(
                request_id=self.request_id,
                record=i,
                role=self.role,
                version=self.version,
                model=model,
                prediction=v,
                created_at=self.at,
            )
            for i, v in enumerate(values or ())
        ]


class RateLimitedWarning:
    """A warning at most every ``every`` seconds, saying how many were held back."""

    def __init__(self, *, every: float = WARN_EVERY_SECONDS) -> None:
        self._every = every
        self._last = -float("inf")
        self._held = 0

    def warn(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last < self._every:
            self._held += 1
            return
        held, self._held, self._last = self._held, 0, now
        logger.warning(message + " (%d similar warnings held back)", *args, held)


class PredictionWriter:
    """Bounded queue of :class:`Pending` entries, drained in batches by one task."""

    def __init__(
        self,
        *,
        store: PredictionStore,
        metrics: FeedbackMetrics,
        queue_size: int,
        batch_size: int,
        interval: float,
        on_joins: Callable[[list[Joined]], None],
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._interval = interval
        self._on_joins = on_joins
        self._pending: deque[Pending] = deque()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._warning = RateLimitedWarning()
        metrics.queue_depth.labels(metrics.model).set_function(lambda: len(self._pending))

    @property
    def depth(self) -> int:
        return len(self._pending)

    def offer_live(self, *, request_id: str, version: str, body: bytes) -> bool:
        return self._offer(Pending(request_id, LIVE, version, time.time(), body=body))

    def offer_candidate(
        self, *, request_id: str, version: str, predictions: tuple[float, ...]
    ) -> bool:
        return self._offer(
            Pending(request_id, CANDIDATE, version, time.time(), predictions=predictions)
        )

    def _offer(self, entry: Pending) -> bool:
        if len(self._pending) >= self._queue_size:
            self._not_stored(QUEUE_FULL, len(entry.rows(self._metrics.model)))
            self._warning.warn(
                "feedback queue full (%d requests): predictions of %s not stored",
                self._queue_size,
                entry.request_id,
            )
            return False
        self._pending.append(entry)
        self._ready.set()
        return True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="feedback-writer")

    async def stop(self, *, flush_timeout: float = 5.0) -> None:
        """Stop the writer, then write what is still queued (bounded by ``flush_timeout``)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drain(), flush_timeout)
        rows = len(self._rows(self._pending))
        if rows:
            self._not_stored(SHUTDOWN, rows)
            logger.warning("router stopping: %d predictions not stored", rows)
        self._pending.clear()

    async def flush(self) -> None:
        """Write everything queued now (tests and shutdown)."""
        await self._drain()

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            # Let a batch gather for at most one interval (latency to the store, not to clients).
            if len(self._pending) < self._batch_size:
                await asyncio.sleep(self._interval)
            self._ready.clear()
            # Only what is queued now: what arrives during these writes waits for the next
            # batch. Draining until empty wrote a tiny batch after every write under steady
            # load (a few requests arrive during each), so the thread never rested and the
            # loop's timers ran late (bench/router_loop_lag.py).
            await self._drain(limit=len(self._pending))

    async def _drain(self, *, limit: int | None = None) -> None:
        """Write queued entries, at most ``limit`` of them (None: until the queue is empty)."""
        left = math.inf if limit is None else limit
        while self._pending and left > 0:
            # Taking entries is all the event loop does; parsing and writing run in a thread.
            n = int(min(len(self._pending), self._batch_size, left))
            entries = [self._pending.popleft() for _ in range(n)]
            left -= n
            await self._write(entries)

    def _rows(self, entries: Sequence[Pending]) -> list[Prediction]:
        model = self._metrics.model
        return [row for entry in entries for row in entry.rows(model)]

    def _store_entries(
        self, entries: Sequence[Pending]
    ) -> tuple[int, list[Joined], Exception | None]:
        """In a worker thread: parse the entries, write the rows (count, late joins, error)."""
        rows = self._rows(entries)
        if not rows:
            return 0, [], None
        try:
            return len(rows), self._store.store(rows), None
        except StoreError as exc:
            return len(rows), [], exc

    async def _write(self, entries: Sequence[Pending]) -> None:
        m = self._metrics
        started = time.perf_counter()
        count, joins, error = await asyncio.to_thread(self._store_entries, entries)
        if error is not None:
            m.store_up.labels(m.model).set(0)
            self._not_stored(STORE_ERROR, count)
            self._warning.warn("feedback store failed: %d predictions not stored: %s", count, error)
            return
        if not count:
            return
        m.store_duration.labels(m.model, "store").observe(time.perf_counter() - started)
        m.store_up.labels(m.model).set(1)
        m.predictions_stored.labels(m.model, STORED).inc(count)
        if joins:
            self._on_joins(joins)

    def _not_stored(self, outcome: str, rows: int) -> None:
        if rows:
            self._metrics.predictions_stored.labels(self._metrics.model, outcome).inc(rows)
