"""``python -m understudy_router.mirror_child FD``: the router's mirror process.

Started by :class:`~understudy_router.mirror_process.MirrorProcess` with one end of a
socketpair as ``FD``. It sends each job to the candidate, judges, counts and logs the
answer exactly as the in-loop workers do (recording.py, the same code), and answers every
job with one done frame. It exits when the router closes its end - so also when the
router dies - abandoning its jobs, as the in-loop workers are cancelled on shutdown.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from typing import Any

from understudy_common.gcfreeze import freeze_startup_objects
from understudy_common.linelock import LineLock
from understudy_common.logging import configure_logging
from understudy_common.metrics import process_registry

from .metrics import RouterMetrics
from .mirror import MirrorQueue
from .mirror_process import (
    BEAT,
    DONE,
    HEARTBEAT_S,
    INIT,
    JOB,
    METRICS,
    URL,
    FrameReader,
    frame,
    job_from_message,
)
from .recording import MirrorJob, MirrorRecorder, exchange
from .settings import RouterSettings
from .upstreams import UpstreamClient, UpstreamPool

# Longest a finished job waits to be reported: one done frame carries all that finished
# meanwhile, so the router's loop wakes for them once (the bound is counted that much late).
DONE_FLUSH_S = 0.002


class Child:
    def __init__(self, settings: RouterSettings, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        # Its own process_* families, named apart from the router's (joined in one scrape).
        self._registry = process_registry(namespace="understudy_router_mirror")
        # Only the families the mirror work writes get samples here; the router merges them.
        metrics = RouterMetrics.for_settings(self._registry, settings)
        self._recorder = MirrorRecorder(metrics=metrics)
        self._pool = UpstreamPool(max_connections=settings.live_max_connections)
        self._url: str | None = None
        self._beating: asyncio.Task[None] | None = None
        # Done jobs not reported yet (sent together, DONE_FLUSH_S after the first).
        self._finished: list[tuple[object, ...]] = []
        # The router bounds what it hands over by the same two numbers: never refused here.
        self._queue: MirrorQueue[MirrorJob] = MirrorQueue(
            workers=settings.mirror_workers,
            queue_size=settings.mirror_queue_size,
            handle=self._handle,
        )

    def _client(self, url: str) -> UpstreamClient:
        if url != self._url:
            # A new candidate: the old client closes once its queued jobs are done.
            self._pool.keep_only((url,))
            self._url = url
        return self._pool.get(url)

    def take(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == JOB:
            job = job_from_message(message, self._client(message[URL]))
            job.candidate.hold()  # the same hold/release as the in-loop queue's
            if not self._queue.offer(job):  # cannot happen while the router keeps the bound
                job.candidate.release()
                self._recorder.count_dropped(job.candidate_version)
                self._done(job, None)
        elif kind == METRICS:
            # Done jobs first: the router adds them to its KS windows before it renders the
            # scrape, so its windows hold every pair these counters count (one scrape, one
            # moment, as with the work on its own loop).
            self._flush()
            self._writer.write(frame((METRICS, message[1], list(self._registry.collect()))))

    async def _handle(self, job: MirrorJob) -> None:
        compared = None
        try:
            compared = await self._recorder.record(job, await exchange(job))
        finally:
            self._done(job, compared)

    def _done(self, job: MirrorJob, compared: tuple[float, ...] | None) -> None:
        done = (job.request_id, job.live_version, job.candidate_version, job.live_predictions)
        self._finished.append((*done, compared))
        if len(self._finished) == 1:
            asyncio.get_running_loop().call_later(DONE_FLUSH_S, self._flush)

    def _flush(self) -> None:
        finished, self._finished = self._finished, []
        if finished and not self._writer.is_closing():  # closing: the router is gone
            self._writer.write(frame((DONE, finished)))

    def start(self) -> None:
        self._queue.start()
        self._beating = asyncio.create_task(self._beat(), name="mirror-heartbeat")

    async def _beat(self) -> None:
        # From this loop: if it is blocked, the router hears nothing and kills this process.
        beat = frame((BEAT,))
        while not self._writer.is_closing():
            self._writer.write(beat)
            await asyncio.sleep(HEARTBEAT_S)

    async def stop(self) -> None:
        if self._beating is not None:
            self._beating.cancel()
            await asyncio.gather(self._beating, return_exceptions=True)
        await self._queue.stop()
        await self._pool.aclose()


async def serve(fd: int, line_lock: LineLock | None = None) -> None:
    reader, writer = await asyncio.open_connection(sock=socket.socket(fileno=fd))
    frames = FrameReader()
    child: Child | None = None
    try:
        while data := await reader.read(1 << 16):
            for message in frames.feed(data):
                if child is not None:
                    child.take(message)
                    continue
                assert message[0] == INIT, f"first message must be INIT, got {message[0]}"
                settings: RouterSettings = message[1]
                # the router's stdout: each line under the lock the router writes under too
                configure_logging(
                    service="shadow-router",
                    level=settings.log_level.upper(),
                    line_lock=line_lock,
                )
                # Optionally below the live loop (settings.mirror_process_nice says when).
                if settings.mirror_process_nice:
                    os.nice(settings.mirror_process_nice)
                child = Child(settings, writer)
                child.start()
                freeze_startup_objects()  # as the router does (understudy_common.gcfreeze)
    finally:
        if child is not None:
            await child.stop()
        writer.close()


def main() -> None:
    # The router decides when the child ends (it closes the socket): a Ctrl-C in a terminal
    # reaches the whole process group, and the child must outlive the router's own shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    lock = LineLock(int(sys.argv[2])) if len(sys.argv) > 2 else None  # the router's lock
    asyncio.run(serve(int(sys.argv[1]), lock))


if __name__ == "__main__":
    main()
