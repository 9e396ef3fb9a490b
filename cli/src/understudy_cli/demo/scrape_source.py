"""A MetricsSource for the local demo without Prometheus: it scrapes the router's
``/metrics`` once per analysis run and answers each built-in check's evidence queries
(core/evidence.py) from the scrapes, as Prometheus would from the same counters.

An evidence query is "the increase of the matching series over a window, summed by some
labels": here, the series of this run's scrape that the query's matchers accept (the one
matching rule, ``EvidenceQuery.matches``), minus the same series in an earlier scrape —
the newest one at least the window old (``interval``); for the analysis window, the newest
one taken at or before the analysis started, or none (the candidate's series were born when
its analysis started, so their values are the increase; a live-side series then counts its
whole life, which in the demo — one rollout per router — is the same); ``total`` windows
take the values as they are. A series that went down (a restarted router)
counts from zero, as PromQL's ``increase`` does.

With ``also`` (the model-api processes of the moment, ``LocalWorkloads.model_api_urls``)
each run's snapshot holds their series too — the input-drift checks' evidence — as
Prometheus would scrape them beside the router's. A process that stopped since (a
promotion, a rollback) is left out; its series disappear like a stopped pod's.

Custom PromQL checks need Prometheus: here they are QueryFailed (inconclusive, never a
pass), and the message says so.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence

import httpx

from understudy_cli.demo.scrape import Snapshot
from understudy_operator.core import (
    Check,
    Evidence,
    EvidenceQuery,
    Measurement,
    QueryContext,
    QueryFailed,
    Vector,
    Window,
    parse_duration,
)


class ScrapeSource:
    def __init__(
        self,
        router_url: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        also: Callable[[], Sequence[str]] = lambda: (),
    ) -> None:
        self.router_url = router_url
        self.also = also
        self.clock = clock
        # Scrapes of earlier runs, oldest first: the baselines of the increases.
        self.history: deque[Snapshot] = deque(maxlen=256)
        self.current: Snapshot | None = None
        self.error: str | None = None

    def begin_run(self) -> None:
        """Scrape once for this analysis run."""
        taken_at = self.clock()
        try:
            snapshot = Snapshot.scrape(self.router_url, taken_at=taken_at)
        except (httpx.HTTPError, ValueError) as exc:
            self.error = f"scraping {self.router_url}/metrics failed: {exc}"
            return
        for url in self.also():
            try:
                extra = Snapshot.scrape(url, taken_at=taken_at)
            except (httpx.HTTPError, ValueError):
                continue  # stopped between the listing and the scrape: as if gone
            snapshot = Snapshot([*snapshot.samples, *extra.samples], taken_at)
        self.error = None
        if self.current is not None:
            self.history.append(self.current)
        self.current = snapshot

    def _baseline(self, current: Snapshot, interval: str) -> Snapshot | None:
        """The newest earlier scrape at least ``interval`` old, else the oldest one."""
        try:
            seconds = parse_duration(interval)
        except ValueError:
            seconds = 0.0
        # 10% slack: runs come every interval, give or take a timer tick.
        cutoff = current.taken_at - seconds * 0.9
        chosen = self.history[0] if self.history else None
        for snapshot in self.history:
            if snapshot.taken_at <= cutoff:
                chosen = snapshot
        return chosen

    def _since(self, current: Snapshot, window: str) -> Snapshot | None:
        """The newest earlier scrape taken at or before the window's start (PromQL's value
        ``window`` ago); None when every scrape is younger: the totals then (the
        candidate's series were born with its analysis)."""
        try:
            start = current.taken_at - parse_duration(window)
        except ValueError:
            return None
        chosen = None
        for snapshot in self.history:
            if snapshot.taken_at <= start:
                chosen = snapshot
        return chosen

    def measure(self, check: Check, context: QueryContext) -> Measurement:
        return QueryFailed(
            f"custom check {check.name!r} needs Prometheus (PromQL); install the "
            "Debian package prometheus and run the demo again"
        )

    def fetch(self, query: EvidenceQuery, context: QueryContext) -> Evidence:
        if self.error is not None:
            return QueryFailed(self.error)
        if self.current is None:
            return QueryFailed("no scrape yet")
        if query.window is Window.INTERVAL:
            before = self._baseline(self.current, context.interval)
        elif query.window is Window.ANALYSIS:
            before = self._since(self.current, context.analysis_window)
        else:
            before = None
        return Vector(increases(query, context, before, self.current))


def increases(
    query: EvidenceQuery, context: QueryContext, before: Snapshot | None, after: Snapshot
) -> dict[tuple[str, ...], float]:
    """Per ``by`` key: Σ over matching series of (after − before), a series that went down
    counting from zero (PromQL's reset rule)."""
    earlier = {}
    if before is not None:
        earlier = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for s in before.samples
            if query.matches(s.name, s.labels, context)
        }
    out: dict[tuple[str, ...], float] = {}
    for s in after.samples:
        if not query.matches(s.name, s.labels, context):
            continue
        old = earlier.get((s.name, tuple(sorted(s.labels.items()))), 0.0)
        delta = s.value - old if s.value >= old else s.value
        key = query.key(s.labels)
        out[key] = out.get(key, 0.0) + delta
    return out
