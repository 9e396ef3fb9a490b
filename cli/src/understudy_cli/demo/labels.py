"""The demo's label feed: each house's true sale price, released ``delay`` seconds after
its prediction request was answered, to the router's ``POST /v1/feedback`` in batches
(docs/contracts.md, "Ground truth") — as a real system's labels arrive later than its
predictions.

The traffic driver hands over (request id the router answered with, record index, actual
price) for every answered request; a background thread sends those that are due, at most
``batch_size`` per POST, every ``interval`` seconds. Nothing here can stop the demo: a
bad answer (a 4xx/5xx batch, a connection error) is counted by reason and shown; a label
whose request the router has not stored yet (``unknown_request``: its writer flushes
every 0.2 s) or a batch refused with 503 is sent again, up to ``retries`` times.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from understudy_cli.demo.realized import Realized, realized_from
from understudy_cli.demo.scrape import Snapshot

# The router's default FEEDBACK_MAX_LABELS is 1,000; half of it keeps a batch well inside.
DEFAULT_BATCH_SIZE = 500
RETRY_AFTER_SECONDS = 1.0


@dataclass
class PendingLabel:
    request_id: str
    record: int
    actual: float
    due: float  # clock time from which it may be sent
    attempts: int = 0

    def body(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "record": self.record, "actual": self.actual}


@dataclass
class LabelStats:
    """What happened to the labels; every count is of labels, not batches."""

    queued: int = 0
    sent: int = 0
    # Per-label outcomes the router answered (applied, duplicate, conflict, ...).
    outcomes: dict[str, int] = field(default_factory=dict)
    # Labels in batches that failed as a whole, by reason ("http_422 invalid_labels",
    # "ConnectError"), and those given up after the last retry.
    failed: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    given_up: int = 0

    @property
    def applied(self) -> int:
        return self.outcomes.get("applied", 0)

    @property
    def bad(self) -> int:
        """Labels that got no usable answer, or one other than applied/duplicate."""
        refused = sum(
            n for outcome, n in self.outcomes.items() if outcome not in {"applied", "duplicate"}
        )
        return refused + sum(self.failed.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "queued": self.queued,
            "sent": self.sent,
            "outcomes": dict(self.outcomes),
            "failed": dict(self.failed),
            "retried": self.retried,
            "given_up": self.given_up,
        }


class LabelFeed:
    """Releases labels ``delay`` seconds after :meth:`add`, in batches, from a thread."""

    def __init__(
        self,
        *,
        url: str,
        delay: float,
        batch_size: int = DEFAULT_BATCH_SIZE,
        interval: float = 0.5,
        retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 10.0,
    ) -> None:
        if delay < 0:
            raise ValueError("delay must not be negative")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.base_url = url.rstrip("/")
        self.url = self.base_url + "/v1/feedback"
        self.delay, self.batch_size, self.interval = delay, batch_size, interval
        self.retries, self.clock, self.timeout = retries, clock, timeout
        self.stats = LabelStats()
        # The router's realized-error metrics after the last pass (None before the first).
        self.realized: Realized | None = None
        self._pending: deque[PendingLabel] = deque()
        self._retry: list[PendingLabel] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the traffic driver's side ------------------------------------------------------

    def add(self, *, request_id: str, record: int, actual: float) -> None:
        """A prediction was answered: its label becomes due ``delay`` seconds from now."""
        label = PendingLabel(request_id, record, float(actual), self.clock() + self.delay)
        with self._lock:
            self._pending.append(label)
            self.stats.queued += 1

    # -- the sending side ----------------------------------------------------------------

    def due(self) -> list[PendingLabel]:
        """Take every label whose time has come (the oldest first)."""
        now = self.clock()
        out: list[PendingLabel] = []
        with self._lock:
            keep: list[PendingLabel] = []
            for label in self._retry:
                (out if label.due <= now else keep).append(label)
            self._retry = keep
            while self._pending and self._pending[0].due <= now:
                out.append(self._pending.popleft())
        return out

    def send_due(self, client: httpx.Client) -> int:
        """One pass: send every due label in batches; the number of labels sent."""
        labels = self.due()
        for start in range(0, len(labels), self.batch_size):
            self._send(client, labels[start : start + self.batch_size])
        return len(labels)

    def _send(self, client: httpx.Client, batch: list[PendingLabel]) -> None:
        self.stats.sent += len(batch)
        try:
            response = client.post(self.url, json={"labels": [label.body() for label in batch]})
        except httpx.HTTPError as exc:
            self._failed(batch, type(exc).__name__, retry=True)
            return
        body = _json(response)
        results = body.get("results") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(results, list):
            code = body.get("error") if isinstance(body, dict) else None
            reason = f"http_{response.status_code}" + (f" {code}" if code else "")
            self._failed(batch, reason, retry=response.status_code == 503)
            return
        for label, result in zip(batch, results, strict=False):
            outcome = str(result.get("outcome")) if isinstance(result, dict) else "malformed"
            if outcome == "unknown_request" and self._again(label):
                continue  # not stored yet: the router's writer flushes every 0.2 s
            self._count(self.stats.outcomes, outcome)
        if len(results) < len(batch):
            self._failed(batch[len(results) :], "short answer", retry=False)

    def _failed(self, batch: list[PendingLabel], reason: str, *, retry: bool) -> None:
        for label in batch:
            if retry and self._again(label):
                continue
            self._count(self.stats.failed, reason)

    def _count(self, counts: dict[str, int], key: str) -> None:
        with self._lock:  # the display copies the counts from another thread
            counts[key] = counts.get(key, 0) + 1

    def snapshot(self) -> LabelStats:
        """A copy of the stats, safe to read while the feed runs."""
        with self._lock:
            s = self.stats
            return LabelStats(
                queued=s.queued,
                sent=s.sent,
                outcomes=dict(s.outcomes),
                failed=dict(s.failed),
                retried=s.retried,
                given_up=s.given_up,
            )

    def _again(self, label: PendingLabel) -> bool:
        """Queue ``label`` for another try; False when it has had its last one."""
        label.attempts += 1
        if label.attempts > self.retries:
            self.stats.given_up += 1
            return False
        label.due = self.clock() + RETRY_AFTER_SECONDS
        with self._lock:
            self._retry.append(label)
        self.stats.retried += 1
        return True

    def read_realized(self, client: httpx.Client) -> None:
        """Refresh :attr:`realized` from the router's /metrics (kept as it was on failure)."""
        try:
            response = client.get(self.base_url + "/metrics")
            response.raise_for_status()
            self.realized = realized_from(Snapshot.parse(response.text, taken_at=self.clock()))
        except (httpx.HTTPError, ValueError):
            pass

    # -- the thread ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="labels", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sending; labels not yet due stay unsent (they have not "arrived")."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.wait(self.interval):
                self.send_due(client)
                self.read_realized(client)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
