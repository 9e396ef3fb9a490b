"""Mirror jobs in a process of their own (``UNDERSTUDY_ROUTER_MIRROR_PROCESS``).

Why: with workers on the router's event loop (mirror.py) every mirror costs the loop
~300 µs of CPU - the candidate exchange, judging, counting, the comparison line - and
asyncio cannot preempt it, so a live request that becomes ready meanwhile waits
(bench/README.md, "the router's c=1 tail"). Here the loop only hands each job over (one
pickled frame on a socketpair) and later takes back one small "done" frame; everything
else runs in a child process (mirror_child.py), on the other core at one connection, or
between the live loop's requests (optionally at a lower CPU priority, ``nice``).

What stays the same, so that the switch changes where the work runs and nothing else:

- **The bound.** At most ``mirror_workers + mirror_queue_size`` jobs are out at once
  (counted here, on the live path); beyond that a mirror is refused and counted dropped,
  as with the in-loop queue. ``mirror_inflight`` / ``mirror_queue_depth`` and
  ``GET /v1/routing`` show the same split of that count.
- **The evidence.** The child judges, counts and logs each answer with the same
  :class:`~understudy_router.recording.MirrorRecorder`; its metric families are merged
  into the router's ``/metrics`` by family on every scrape (:meth:`families`). The KS
  windows and the candidate's feedback rows stay in the router: the done frame carries
  the compared predictions back (``ShadowRouter.compared``).
- **One stdout.** The child's lines go to the router's stdout, each under the lock the
  router's own lines take (``understudy_common.linelock``): whole lines, never mixed.
- **Losing nothing silently.** If the child dies, the jobs it held are counted dropped,
  an error is logged with its exit code, and a new child is started (at most one start
  per ``RESTART_INTERVAL_S``); mirrors offered meanwhile are dropped and counted. A child
  that is alive but stuck (its loop blocked, the process stopped) sends no heartbeat:
  after ``mirror_process_stall_seconds`` of silence it is killed and handled as dead.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import pickle
import socket
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from prometheus_client.core import Metric

from understudy_common.compare import Tolerance
from understudy_common.logging import share_lines

from .recording import MirrorJob
from .settings import RouterSettings
from .upstreams import UpstreamClient

logger = logging.getLogger(__name__)

# Frames both ways: a 4-byte big-endian length, then a pickle (both ends are this package).
_LENGTH = struct.Struct(">I")
# Message kinds, the first item of every message tuple.
INIT = 0  # router -> child: (INIT, RouterSettings)
JOB = 1  # router -> child: job_message()
# child -> router: (DONE, [(request_id, live_version, candidate_version, live values,
# candidate values if compared else None), ...]): sent in batches (mirror_child.DONE_FLUSH_S).
DONE = 2
METRICS = 3  # router -> child: (METRICS, seq); child -> router: (METRICS, seq, families)
BEAT = 4  # child -> router: (BEAT,) every HEARTBEAT_S, so that a stuck child is noticed

# Seconds between two heartbeats of the child (and two checks of its silence here).
HEARTBEAT_S = 1.0
# Longest a new child may take to send its first frame (it imports its modules first, slow
# on a busy node) before the silence limit, usually shorter, applies.
START_GRACE_S = 30.0
# Seconds between two starts of the child (a child that dies at once is not restarted hot).
RESTART_INTERVAL_S = 1.0
# Longest a /metrics scrape waits for the child's families (then serves the router's own).
METRICS_TIMEOUT_S = 5.0
# Longest the child gets to exit after the router closes its end, before it is killed.
STOP_TIMEOUT_S = 5.0

DoneCallback = Callable[[str, str, str, tuple[float, ...], tuple[float, ...]], None]


def frame(message: tuple[Any, ...]) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


class FrameReader:
    """Splits a byte stream into messages; ``feed`` returns the ones completed."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[Any, ...]]:
        buffer = self._buffer
        buffer += data
        messages: list[tuple[Any, ...]] = []
        at = 0
        while len(buffer) - at >= 4:
            (size,) = _LENGTH.unpack_from(buffer, at)
            end = at + 4 + size
            if len(buffer) < end:
                break
            messages.append(pickle.loads(memoryview(buffer)[at + 4 : end]))
            at = end
        del buffer[:at]
        return messages


# Where the candidate's URL is in a JOB message.
URL = 1


def job_message(job: MirrorJob) -> tuple[Any, ...]:
    """The message of ``job``: its fields, the candidate client as its URL."""
    return (
        JOB,
        job.candidate.url,
        job.request_id,
        job.body,
        job.content_type,
        job.live_version,
        job.live_predictions,
        job.live_labels,
        job.candidate_version,
        job.timeout,
        # Two floats, not the dataclass: pickling an instance costs ~4x the whole tuple.
        (job.tolerance.relative, job.tolerance.absolute),
        job.slice_field,
    )


def job_from_message(message: tuple[Any, ...], candidate: UpstreamClient) -> MirrorJob:
    """The job of a JOB message, sent with ``candidate`` (the child's client of its URL)."""
    (_, _, request_id, body, content_type, live_version, live, labels, version, timeout,
     tolerance, slice_field) = message  # fmt: skip
    return MirrorJob(
        request_id=request_id,
        body=body,
        content_type=content_type,
        live_version=live_version,
        live_predictions=live,
        live_labels=labels,
        candidate=candidate,
        candidate_version=version,
        timeout=timeout,
        tolerance=_tolerance(*tolerance),
        slice_field=slice_field,
    )


@functools.lru_cache(maxsize=16)
def _tolerance(relative: float, absolute: float) -> Tolerance:
    return Tolerance(relative=relative, absolute=absolute)


class _Link(asyncio.Protocol):
    """The router's end of the socketpair: frames in as they arrive, no reader task (a
    task switch per done frame is CPU the live loop would spend)."""

    def __init__(self, take: Callable[[tuple[Any, ...]], None]) -> None:
        self._take = take
        self._frames = FrameReader()
        self._transport: asyncio.BaseTransport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            messages = self._frames.feed(data)
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            logger.error("mirror process sent a broken frame: %s", exc)
            assert self._transport is not None
            self._transport.close()
            return
        for message in messages:
            self._take(message)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class MirrorProcess:
    """The router's side: hands jobs to the child, counts them out and back."""

    def __init__(self, *, settings: RouterSettings, on_done: DoneCallback) -> None:
        self._settings = settings
        self._on_done = on_done
        self._workers = settings.mirror_workers
        self._limit = settings.mirror_workers + settings.mirror_queue_size
        # Jobs handed over and not done yet, by candidate version (counted dropped if lost).
        self._out: Counter[str] = Counter()
        # sum(self._out.values()), kept as one number: offer() reads it on the live path.
        self._outstanding = 0
        # Job frames offered in this turn of the loop, sent together at its end.
        self._unsent: list[bytes] = []
        self._process: asyncio.subprocess.Process | None = None
        self._transport: asyncio.Transport | None = None
        self._watching: asyncio.Task[None] | None = None
        self._restarting: asyncio.Task[None] | None = None
        self._started_at = -RESTART_INTERVAL_S
        # When the child was last heard from (any frame), on the loop's clock, and whether
        # this child has been heard at all (until then START_GRACE_S applies).
        self._heard = 0.0
        self._heard_once = False
        self._stall_after = settings.mirror_process_stall_seconds
        self._watchdog: asyncio.Task[None] | None = None
        self._stopping = False
        self._seq = 0
        self._scrapes: dict[int, asyncio.Future[list[Metric]]] = {}
        # Called with (candidate version, count) for jobs a dead child took with it.
        self.on_lost: Callable[[str, int], None] = lambda version, count: None

    # -- the views the in-loop queue also has ------------------------------------------------

    @property
    def inflight(self) -> int:
        return min(self._outstanding, self._workers)

    @property
    def depth(self) -> int:
        return max(0, self._outstanding - self._workers)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._spawn()
        except OSError:
            # The live path does not need the child: serve, drop mirrors, keep trying.
            logger.exception("could not start the mirror process; mirrors are dropped")
            self._restarting = asyncio.create_task(self._restart(), name="mirror-process-restart")

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._restarting, self._watching, self._watchdog):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self._close()

    async def _spawn(self) -> None:
        self._started_at = time.monotonic()
        ours, theirs = socket.socketpair()
        # The child writes to our stdout: every line of both under one lock (linelock.py).
        lock = share_lines()
        shared = (theirs.fileno(),) if lock is None else (theirs.fileno(), lock.fd)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "understudy_router.mirror_child",
                *map(str, shared),
                pass_fds=shared,
                stdin=asyncio.subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        loop = asyncio.get_running_loop()
        transport, link = await loop.create_connection(lambda: _Link(self._take), sock=ours)
        transport.write(frame((INIT, self._settings)))
        self._process, self._transport = process, transport
        self._heard, self._heard_once = loop.time(), False
        self._watching = asyncio.create_task(self._watch(link), name="mirror-process-watch")
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._guard(), name="mirror-process-watchdog")
        logger.info("mirror process %d started", process.pid)

    async def _close(self) -> None:
        transport, process = self._transport, self._process
        self._transport = None
        if transport is not None:
            transport.close()  # the child's EOF: it abandons its jobs and exits
        if process is not None:
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()

    # -- the live path ------------------------------------------------------------------------

    def offer(self, job: MirrorJob) -> bool:
        """Hand ``job`` over if fewer than the bound are out; never blocks. False: refused."""
        if self._transport is None or self._outstanding >= self._limit:
            return False
        # Written once the loop is past this request (its answer sent first), with any
        # other job offered meanwhile: one send per loop turn, not on the live path.
        if not self._unsent:
            asyncio.get_running_loop().call_soon(self._send)
        self._unsent.append(frame(job_message(job)))
        self._outstanding += 1
        self._out[job.candidate_version] += 1
        return True

    def _send(self) -> None:
        unsent, self._unsent = self._unsent, []
        if self._transport is not None:
            self._transport.write(b"".join(unsent))
        # else the child died meanwhile: _lost counted these jobs dropped with the rest

    # -- answers from the child --------------------------------------------------------------

    def _take(self, message: tuple[Any, ...]) -> None:
        self._heard, self._heard_once = asyncio.get_running_loop().time(), True
        if message[0] == DONE:
            on_done, out = self._on_done, self._out
            for request_id, live_version, candidate_version, live, candidate in message[1]:
                self._outstanding -= 1
                out[candidate_version] -= 1
                if candidate is not None:
                    on_done(request_id, live_version, candidate_version, live, candidate)
        elif message[0] == METRICS:
            scrape = self._scrapes.pop(message[1], None)
            if scrape is not None and not scrape.done():
                scrape.set_result(message[2])

    async def _watch(self, link: _Link) -> None:
        await link.closed
        if not self._stopping:
            await self._lost()

    async def _guard(self) -> None:
        """Kill a child that has been silent for ``mirror_process_stall_seconds``: its
        socket is then closed and :meth:`_watch` counts its jobs and starts another."""
        loop = asyncio.get_running_loop()
        while not self._stopping:
            await asyncio.sleep(HEARTBEAT_S)
            process = self._process
            if self._transport is None or process is None or process.returncode is not None:
                continue  # not running: _lost / _restart are at it
            silent = loop.time() - self._heard
            limit = self._stall_after if self._heard_once else max(self._stall_after, START_GRACE_S)
            if silent > limit:
                logger.error(
                    "mirror process %d sent nothing for %.1fs (limit %gs): killing it",
                    process.pid,
                    silent,
                    limit,
                )
                process.kill()
                self._heard = loop.time()  # one kill per stall, not one per check

    async def _lost(self) -> None:
        """The child is gone: count its jobs dropped, then start another."""
        await self._close()
        process = self._process
        code = process.returncode if process is not None else None
        lost = sum(self._out.values())
        for version, count in self._out.items():
            if count:
                self.on_lost(version, count)
        self._out.clear()
        self._outstanding = 0
        self._unsent.clear()  # counted with the rest
        for scrape in self._scrapes.values():
            if not scrape.done():
                scrape.set_result([])  # a scrape waiting now serves the router's own
        self._scrapes.clear()
        logger.error(
            "mirror process exited with code %s; %d mirror jobs lost (counted dropped); "
            "starting another",
            code,
            lost,
        )
        self._restarting = asyncio.create_task(self._restart(), name="mirror-process-restart")

    async def _restart(self) -> None:
        """Start a child again, at most once per RESTART_INTERVAL_S, until one starts."""
        while not self._stopping:
            wait = self._started_at + RESTART_INTERVAL_S - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                await self._spawn()
                return
            except OSError:
                logger.exception("could not start the mirror process; mirrors are dropped")

    # -- metrics --------------------------------------------------------------------------

    async def families(self) -> list[Metric]:
        """The child's metric families now; none if it is not there or does not answer."""
        transport = self._transport
        if transport is None:
            return []
        self._seq += 1
        scrape: asyncio.Future[list[Metric]] = asyncio.get_running_loop().create_future()
        self._scrapes[self._seq] = scrape
        transport.write(frame((METRICS, self._seq)))
        seq = self._seq
        try:
            return await asyncio.wait_for(scrape, METRICS_TIMEOUT_S)
        except TimeoutError:
            logger.warning("mirror process sent no metrics within %gs", METRICS_TIMEOUT_S)
            return []
        finally:
            self._scrapes.pop(seq, None)
