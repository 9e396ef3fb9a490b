"""One mirror job: the exchange with the candidate (:func:`exchange`), then judge, count, log.

This runs in the mirror workers: in the router's mirror process by default
(mirror_process.py, mirror_child.py), else on the one event loop the live requests also
use. It is the largest part of the router's own mirror work: ~70 µs per answer measured
in process (judging ~9 µs, the metrics ~35 µs, the JSON comparison line ~25 µs;
bench/README.md). On the live loop asyncio cannot preempt it, so a live request whose
upstream answer (or whose next client request) arrives meanwhile would wait for all of
it. Hence two rules, which cost nothing in the mirror process:

- **Live first.** :meth:`MirrorRecorder.record` yields to the loop before each of its three
  slices (judge, count, log). Whatever became ready while the candidate's answer was being
  read — a live answer, a new client request — runs before the slice, and a live event
  waits behind one slice at most, never behind the whole record.
- **Less work per answer.** Each metric child (a series) is looked up once, on first use,
  not per answer (prometheus_client's ``labels()`` costs ~2.5 µs a call; there were five
  per answer). On first use, as before: a series appears in /metrics exactly when it did.

Every answer is still judged, counted and logged exactly once, in that order
(tests/shadow_router/test_recording.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Histogram

from understudy_common.compare import Tolerance
from understudy_common.logging import log_event, request_context

from .comparison import (
    CANDIDATE_ERROR,
    CANDIDATE_TIMEOUT,
    DROPPED,
    Predictions,
    Verdict,
    judge,
    signed_rel_diff,
)
from .metrics import CANDIDATE, RouterMetrics
from .slices import field_values
from .upstreams import UpstreamClient, UpstreamTimeout, UpstreamUnreachable

comparison_logger = logging.getLogger("understudy_router.comparison")


@dataclass(frozen=True, slots=True)
class MirrorJob:
    request_id: str
    body: bytes
    content_type: str | None
    live_version: str
    live_predictions: tuple[float, ...]
    candidate: UpstreamClient
    candidate_version: str
    timeout: float
    tolerance: Tolerance
    # The input field that slices the paired evidence (routing config), or None.
    slice_field: str | None = None
    # A classifier's live labels (live_predictions: its positive-class probabilities).
    live_labels: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class CandidateAnswer:
    """The candidate's HTTP answer to a mirror, or why there is none (``verdict``)."""

    seconds: float
    status: int | None = None
    body: bytes = b""
    # Set when the exchange failed (timeout, refused): no answer to judge.
    verdict: Verdict | None = None


async def exchange(job: MirrorJob) -> CandidateAnswer:
    """Send ``job`` to the candidate; its answer, or why there is none. Releases the
    candidate client the job holds (:meth:`UpstreamClient.hold`)."""
    headers = {"x-request-id": job.request_id}
    if job.content_type is not None:
        headers["content-type"] = job.content_type
    started = time.perf_counter()
    try:
        response = await job.candidate.post(content=job.body, headers=headers, timeout=job.timeout)
        return CandidateAnswer(
            seconds=time.perf_counter() - started, status=response.status, body=response.content
        )
    except UpstreamTimeout as exc:
        failed = Verdict(CANDIDATE_TIMEOUT, reason=str(exc))
        return CandidateAnswer(seconds=time.perf_counter() - started, verdict=failed)
    except UpstreamUnreachable as exc:
        failed = Verdict(CANDIDATE_ERROR, reason=str(exc))
        return CandidateAnswer(seconds=time.perf_counter() - started, verdict=failed)
    finally:
        job.candidate.release()


async def yield_to_live() -> None:
    """One trip through the event loop: callbacks already ready (a live answer read, a new
    request) run before the caller's next slice of mirror work."""
    await asyncio.sleep(0)


class MirrorRecorder:
    """Judges, counts and logs the candidate's answers; one per router (or mirror process).

    What needs the router's own state - the KS windows and the candidate's feedback rows -
    is the caller's, from what :meth:`record` returns (``ShadowRouter.compared``)."""

    def __init__(self, *, metrics: RouterMetrics) -> None:
        self._metrics = metrics
        # Children by (metric name, label values): a handful per candidate version, like
        # the series themselves, which prometheus_client never forgets either.
        self._counters: dict[tuple[object, ...], Counter] = {}
        self._histograms: dict[tuple[object, ...], Histogram] = {}

    def _counter(self, metric: Counter, *labels: str) -> Counter:
        key = (id(metric), *labels)
        child = self._counters.get(key)
        if child is None:
            child = self._counters[key] = metric.labels(self._metrics.model, *labels)
        return child

    def _histogram(self, metric: Histogram, *labels: str) -> Histogram:
        key = (id(metric), *labels)
        child = self._histograms.get(key)
        if child is None:
            child = self._histograms[key] = metric.labels(self._metrics.model, *labels)
        return child

    def count_dropped(self, version: str, count: int = 1) -> None:
        """Mirrors refused for want of room (on the live path: one cached increment), or
        lost with a mirror process that died."""
        self._counter(self._metrics.mirror, version, DROPPED).inc(count)

    async def record(self, job: MirrorJob, answer: CandidateAnswer) -> tuple[float, ...] | None:
        """Judge ``answer``, count it and log it, in slices that let live work go first.
        The candidate's predictions when they were compared with live's, else None."""
        await yield_to_live()
        verdict = answer.verdict or judge(
            live=Predictions(job.live_predictions, job.live_labels),
            status=answer.status or 0,
            body=answer.body,
            tolerance=job.tolerance,
        )
        await yield_to_live()
        self._count(job, verdict, answer.seconds)
        await yield_to_live()
        self._log(job, verdict, answer)
        comparison = verdict.comparison
        return None if comparison is None else tuple(r.candidate for r in comparison.records)

    def _count(self, job: MirrorJob, verdict: Verdict, seconds: float) -> None:
        m, model, version = self._metrics, self._metrics.model, job.candidate_version
        m.observe_upstream(role=CANDIDATE, version=version, seconds=seconds)
        self._counter(m.mirror, version, verdict.outcome).inc()
        comparison = verdict.comparison
        if comparison is None:
            return
        agreed = comparison.agreed
        if agreed:
            self._counter(m.compared_records, version, "true").inc(agreed)
        if comparison.count - agreed:
            self._counter(m.compared_records, version, "false").inc(comparison.count - agreed)
        abs_diff = self._histogram(m.abs_diff, version)
        rel_diff = self._histogram(m.rel_diff, version)
        for record in comparison.records:
            abs_diff.observe(record.abs_diff)
            rel_diff.observe(record.rel_diff)
        candidate = tuple(r.candidate for r in comparison.records)
        m.predictions.observe_many((model, "live", job.live_version), job.live_predictions)
        m.predictions.observe_many((model, CANDIDATE, version), candidate)
        diffs = (signed_rel_diff(r.live, r.candidate) for r in comparison.records)
        m.signed_rel_diff.observe_many(
            (model, job.live_version, version), (math.nan if d is None else d for d in diffs)
        )
        # Per slice; the request body is parsed here, off the live path, and only if asked.
        field = job.slice_field
        m.paired.observe(
            live_version=job.live_version,
            candidate_version=version,
            records=comparison.records,
            field=field,
            values=field_values(job.body, field, comparison.count) if field else (),
        )

    def _log(self, job: MirrorJob, verdict: Verdict, answer: CandidateAnswer) -> None:
        seconds = answer.seconds
        fields: dict[str, Any] = {
            "event.dataset": "shadow-router.comparison",
            "event.duration": int(seconds * 1e9),
            "understudy.outcome": verdict.outcome,
            "understudy.live.version": job.live_version,
            "understudy.candidate.version": job.candidate_version,
            "understudy.candidate.status": answer.status,
            "understudy.candidate.latency_seconds": round(seconds, 6),
            "understudy.live.predictions": list(job.live_predictions),
            "understudy.candidate.predictions": (
                list(verdict.candidate_predictions) if verdict.candidate_predictions else None
            ),
        }
        if job.live_labels is not None:
            fields["understudy.live.labels"] = list(job.live_labels)
            fields["understudy.candidate.labels"] = (
                list(verdict.candidate_labels) if verdict.candidate_labels else None
            )
        comparison = verdict.comparison
        if comparison is not None:
            fields["understudy.abs_diff"] = [r.abs_diff for r in comparison.records]
            fields["understudy.rel_diff"] = [_finite(r.rel_diff) for r in comparison.records]
            fields["understudy.agree"] = [r.agree for r in comparison.records]
            fields["understudy.agreement_rate"] = comparison.agreement_rate
        if verdict.reason:
            fields["error.message"] = verdict.reason
        with request_context(job.request_id):
            # log_event: the line logger.info(..., extra=fields) writes, without a LogRecord.
            log_event(
                comparison_logger,
                logging.INFO,
                fields,
                "compared %s %s with %s: %s",
                job.live_version,
                "prediction" if len(job.live_predictions) == 1 else "predictions",
                job.candidate_version,
                verdict.outcome,
            )


def _finite(value: float) -> float | None:
    # JSON has no Infinity: a relative difference to a live 0 is logged as null.
    return value if math.isfinite(value) else None
