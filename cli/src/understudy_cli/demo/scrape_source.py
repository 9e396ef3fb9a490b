"""A MetricsSource for the local demo without Prometheus: it scrapes the router's
``/metrics`` once per analysis run and computes each built-in check the way its
PromQL in ``understudy_operator.core.checks`` does. ``increase(...[interval])``
becomes the increase since the newest kept scrape that is at least ``interval``
old (or the oldest kept one), so a check's own longer interval works here too.

Custom PromQL checks need Prometheus: here they are QueryFailed (inconclusive,
never a pass), and the message says so.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import httpx

from understudy_cli.demo.scrape import Filter, Snapshot, increase, quantile_from_buckets
from understudy_operator.core import (
    AGREEMENT_RATE,
    CANDIDATE_ERROR_RATE,
    LATENCY_P99_RATIO,
    PREDICTION_KS,
    SAMPLE_COUNT,
    Check,
    Measurement,
    NoData,
    QueryContext,
    QueryFailed,
    Value,
    parse_duration,
)

MIRROR = "understudy_router_mirror_total"
COMPARED = "understudy_router_compared_records_total"
LATENCY = "understudy_router_upstream_duration_seconds"
KS = "understudy_router_prediction_ks_statistic"
FAILURES = {"candidate_error", "candidate_timeout"}


class ScrapeSource:
    def __init__(self, router_url: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.router_url = router_url
        self.clock = clock
        # Scrapes of earlier runs, oldest first: the baselines of the increases.
        self.history: deque[Snapshot] = deque(maxlen=256)
        self.current: Snapshot | None = None
        self.error: str | None = None

    def begin_run(self) -> None:
        """Scrape once for this analysis run."""
        try:
            snapshot = Snapshot.scrape(self.router_url, taken_at=self.clock())
        except (httpx.HTTPError, ValueError) as exc:
            self.error = f"scraping {self.router_url}/metrics failed: {exc}"
            return
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

    def measure(self, check: Check, context: QueryContext) -> Measurement:
        if self.error is not None:
            return QueryFailed(self.error)
        if self.current is None:
            return QueryFailed("no scrape yet")
        if not check.builtin:
            return QueryFailed(
                f"custom check {check.name!r} needs Prometheus (PromQL); install the "
                "Debian package prometheus and run the demo again"
            )
        compute = BUILTINS.get(check.name)
        if compute is None:
            return QueryFailed(f"unknown built-in check {check.name!r}")
        return compute(context, self._baseline(self.current, context.interval), self.current)


# -- the built-ins: (context, baseline scrape or None, this run's scrape) -> measurement ----


def _delta(before: Snapshot | None, after: Snapshot, name: str, **match: Filter) -> float | None:
    return increase(before.total(name, **match) if before else None, after.total(name, **match))


def _error_rate(ctx: QueryContext, before: Snapshot | None, after: Snapshot) -> Measurement:
    labels = {"model": ctx.model, "candidate_version": ctx.candidate}
    mirrored = _delta(before, after, MIRROR, **labels, outcome=lambda o: o != "dropped")
    if not mirrored:
        return NoData("nothing was mirrored to the candidate in this interval")
    failed = _delta(before, after, MIRROR, **labels, outcome=lambda o: o in FAILURES) or 0.0
    return Value(failed / mirrored)


def _agreement(ctx: QueryContext, before: Snapshot | None, after: Snapshot) -> Measurement:
    labels = {"model": ctx.model, "candidate_version": ctx.candidate}
    compared = _delta(before, after, COMPARED, **labels)
    if not compared:
        return NoData("no records were compared in this interval")
    agreed = _delta(before, after, COMPARED, **labels, agree="true") or 0.0
    return Value(agreed / compared)


def _latency_ratio(ctx: QueryContext, before: Snapshot | None, after: Snapshot) -> Measurement:
    p99 = {}
    for role, version in (("candidate", ctx.candidate), ("live", ctx.stable)):
        labels = {"model": ctx.model, "role": role, "version": version}
        old = before.buckets(LATENCY, **labels) if before else {}
        value = quantile_from_buckets(0.99, old, after.buckets(LATENCY, **labels))
        if value is None:
            return NoData(f"no {role} latency observations in this interval")
        p99[role] = value
    if p99["live"] <= 0:
        return NoData("live p99 latency is 0")
    return Value(p99["candidate"] / p99["live"])


def _ks(ctx: QueryContext, before: Snapshot | None, after: Snapshot) -> Measurement:
    series = after.select(
        KS, model=ctx.model, live_version=ctx.stable, candidate_version=ctx.candidate
    )
    if not series:
        return NoData("the router has no KS statistic for this pair yet")
    return Value(max(s.value for s in series))


def _samples(ctx: QueryContext, before: Snapshot | None, after: Snapshot) -> Measurement:
    labels = {"model": ctx.model, "candidate_version": ctx.candidate}
    compared = after.total(COMPARED, **labels)
    failed = after.total(MIRROR, **labels, outcome=lambda o: o in FAILURES)
    if compared is None and failed is None:
        return NoData("no comparisons yet")
    return Value((compared or 0.0) + (failed or 0.0))


BUILTINS: dict[str, Callable[[QueryContext, Snapshot | None, Snapshot], Measurement]] = {
    CANDIDATE_ERROR_RATE: _error_rate,
    LATENCY_P99_RATIO: _latency_ratio,
    AGREEMENT_RATE: _agreement,
    PREDICTION_KS: _ks,
    SAMPLE_COUNT: _samples,
}
