"""Bounded background mirroring: a fixed pool of workers fed by a bounded queue.

The request path only ever calls :meth:`MirrorQueue.offer`, which never waits: a
job is accepted if a worker is free or the queue has room, otherwise it is refused
(the caller counts it as ``dropped``). So however slow or hung the candidate is,
at most ``workers`` requests are in flight and ``queue_size`` jobs wait - memory
stays flat and the client never waits for the candidate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from .recording import MirrorJob

logger = logging.getLogger(__name__)

Job = TypeVar("Job")


class MirrorQueue(Generic[Job]):
    """A bounded queue of jobs, each handled by one of ``workers`` asyncio tasks."""

    def __init__(
        self, *, workers: int, queue_size: int, handle: Callable[[Job], Awaitable[None]]
    ) -> None:
        if workers < 1 or queue_size < 0:
            raise ValueError("need workers >= 1 and queue_size >= 0")
        self._workers = workers
        self._queue_size = queue_size
        self._handle = handle
        # Unbounded by asyncio; offer() enforces the bound (asyncio's maxsize=0 means infinite).
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._idle = workers
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def inflight(self) -> int:
        """Jobs being handled now."""
        return self._workers - self._idle

    @property
    def depth(self) -> int:
        """Jobs waiting for a worker."""
        return self._queue.qsize()

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._work(), name=f"mirror-worker-{i}")
                for i in range(self._workers)
            ]

    def offer(self, job: Job) -> bool:
        """Queue ``job`` if there is room; never blocks. False: refused (count it dropped)."""
        # Jobs already queued will each be taken by an idle worker first; the rest wait.
        if self._queue.qsize() >= self._queue_size + self._idle:
            return False
        self._queue.put_nowait(job)
        return True

    async def stop(self) -> None:
        """Cancel the workers; jobs still queued or in flight are abandoned."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            self._idle -= 1
            try:
                await self._handle(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A bug in handling one job must not kill the worker (the pool would shrink).
                logger.exception("mirror job failed")
            finally:
                self._idle += 1


class LoopMirror:
    """Mirror jobs handled on the router's own event loop (``mirror_process`` off): the
    face :class:`~understudy_router.mirror_process.MirrorProcess` also has, so the router
    does not care where its mirrors run."""

    # No process of its own, no metric families apart from the router's.
    pid: int | None = None

    def __init__(
        self, *, workers: int, queue_size: int, handle: Callable[[MirrorJob], Awaitable[None]]
    ) -> None:
        self._queue: MirrorQueue[MirrorJob] = MirrorQueue(
            workers=workers, queue_size=queue_size, handle=handle
        )

    @property
    def inflight(self) -> int:
        return self._queue.inflight

    @property
    def depth(self) -> int:
        return self._queue.depth

    async def start(self) -> None:
        self._queue.start()

    async def stop(self) -> None:
        await self._queue.stop()

    def offer(self, job: MirrorJob) -> bool:
        job.candidate.hold()  # keep the client open while the job waits in the queue
        if self._queue.offer(job):
            return True
        job.candidate.release()
        return False

    async def families(self) -> list[Metric]:
        return []
