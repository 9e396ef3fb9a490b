"""Where predictions run: one call per request, or dynamic micro-batching.

Per-call overhead dominates a prediction (a pandas frame, input checks), so
requests that arrive together are predicted together: each request's rows go
into a queue; one worker takes everything queued when it is free (optionally
waiting up to ``max_wait_s`` for more, as BentoML's adaptive batching and
Triton's dynamic batching do), predicts it in one call and hands each request
its slice. With ``max_wait_s=0`` a lone request waits for nothing, and batches
form by themselves under load while the worker is busy.

Batching never changes a number: both predictors compute each row on its own
(tests/model_api/test_batching.py checks batched == unbatched exactly).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

logger = logging.getLogger(__name__)

PredictFn = Callable[[Sequence[dict[str, Any]]], np.ndarray]
Executor = Literal["inline", "thread"]


class Runner(Protocol):
    """What the prediction route awaits; both runners below implement it."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def predict(
        self, rows: Sequence[dict[str, Any]], *, alone: bool = False
    ) -> np.ndarray: ...


class _Executor:
    """Run a predict call inline (on the event loop) or in one dedicated thread."""

    def __init__(self, kind: Executor) -> None:
        self.kind = kind
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        if self.kind == "thread" and self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    async def run(self, predict: PredictFn, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        if self._pool is None:
            return predict(rows)
        return await asyncio.get_running_loop().run_in_executor(self._pool, predict, rows)


class DirectRunner:
    """One predict call per request (the naive baseline, and batching switched off)."""

    def __init__(
        self,
        predict: PredictFn,
        *,
        executor: Executor = "inline",
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._predict = predict
        self._executor = _Executor(executor)
        self._on_batch = on_batch

    async def start(self) -> None:
        self._executor.start()

    async def stop(self) -> None:
        self._executor.stop()

    async def predict(self, rows: Sequence[dict[str, Any]], *, alone: bool = False) -> np.ndarray:
        if self._on_batch is not None:
            self._on_batch(len(rows))
        return await self._executor.run(self._predict, rows)


@dataclass
class _Job:
    rows: Sequence[dict[str, Any]]
    enqueued: float
    future: asyncio.Future[np.ndarray] = field(repr=False)


class MicroBatcher:
    """Queue concurrent requests and predict them in one call."""

    def __init__(
        self,
        predict: PredictFn,
        *,
        max_batch_records: int,
        max_wait_s: float,
        executor: Executor = "inline",
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch_records < 1 or max_wait_s < 0:
            raise ValueError("max_batch_records must be >= 1 and max_wait_s >= 0")
        self._predict = predict
        self.max_batch_records = max_batch_records
        self.max_wait_s = max_wait_s
        self._executor = _Executor(executor)
        self._on_batch = on_batch
        self._jobs: deque[_Job] = deque()
        self._queued_records = 0
        self._arrived = asyncio.Event()  # a job was queued
        self._full = asyncio.Event()  # a whole batch is queued
        self._worker: asyncio.Task[None] | None = None
        self._stopping = False
        # A lone request may skip the queue: nothing waits for more, nothing runs beside.
        self._shortcut = max_wait_s == 0 and executor == "inline"

    async def start(self) -> None:
        self._executor.start()
        self._worker = asyncio.create_task(self._work(), name="micro-batcher")

    async def stop(self) -> None:
        """Finish every queued job, then stop (uvicorn has already drained requests)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            self._stopping = True
            self._arrived.set()
            await worker  # returns once the queue is empty
        self._executor.stop()

    async def predict(self, rows: Sequence[dict[str, Any]], *, alone: bool = False) -> np.ndarray:
        """The predictions of ``rows``.

        ``alone``: no other request had started when the caller asked. With no wait and the
        predictor inline (the defaults) the rows are then predicted in the caller's task,
        skipping the queue's two hand-offs (to the worker task and back), after one turn of
        the loop: requests already read but not started yet (their tasks are ready, and
        under load there are many) start in that turn, see this one in flight and queue;
        if any did, this one queues with them and they are batched as before. Without that
        turn every request under load would find itself alone and none would batch
        (bench/README.md, "JSON through orjson, and the bookkeeping after the answer")."""
        if self._worker is None or self._stopping:
            raise RuntimeError("MicroBatcher.predict called before start() or after stop()")
        if alone and self._shortcut and not self._jobs:
            await asyncio.sleep(0)
            if not self._jobs:
                return self._predict_here(rows)
        loop = asyncio.get_running_loop()
        job = _Job(rows=rows, enqueued=loop.time(), future=loop.create_future())
        self._jobs.append(job)
        self._queued_records += len(rows)
        self._arrived.set()
        if self._queued_records >= self.max_batch_records:
            self._full.set()
        return await job.future

    def _predict_here(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        """A lone request's rows, predicted in its own task (see :meth:`predict`)."""
        if self._on_batch is not None:
            self._on_batch(len(rows))
        try:
            return self._predict(rows)
        except Exception:  # logged as the worker logs it; the caller gets the error
            logger.exception("batched prediction of %s records failed", len(rows))
            raise

    def _take_batch(self) -> list[_Job]:
        """Queued jobs up to max_batch_records in arrival order (always at least one)."""
        batch = [self._jobs.popleft()]
        records = len(batch[0].rows)
        while self._jobs and records + len(self._jobs[0].rows) <= self.max_batch_records:
            job = self._jobs.popleft()
            batch.append(job)
            records += len(job.rows)
        self._queued_records -= records
        if self._queued_records < self.max_batch_records:
            self._full.clear()
        return batch

    async def _wait_for_more(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self._jobs[0].enqueued + self.max_wait_s - loop.time()
        if delay > 0 and self._queued_records < self.max_batch_records:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), delay)

    async def _work(self) -> None:
        while True:
            if not self._jobs:
                if self._stopping:
                    return
                self._arrived.clear()
                await self._arrived.wait()
                continue
            if self.max_wait_s > 0:
                await self._wait_for_more()
            batch = self._take_batch()
            await self._run(batch)

    async def _run(self, batch: list[_Job]) -> None:
        live = [job for job in batch if not job.future.done()]  # a client may have gone
        if not live:
            return
        rows = [row for job in live for row in job.rows]
        if self._on_batch is not None:
            self._on_batch(len(rows))
        try:
            predictions = await self._executor.run(self._predict, rows)
        except Exception as exc:  # every waiting request gets the error, the worker lives on
            logger.exception("batched prediction of %s records failed", len(rows))
            for job in live:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        start = 0
        for job in live:
            end = start + len(job.rows)
            if not job.future.done():
                job.future.set_result(predictions[start:end])
            start = end
