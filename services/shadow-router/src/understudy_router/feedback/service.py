"""The feedback feature's process-side work: record predictions, apply labels, retention.

:class:`Feedback` is what the router core and the HTTP edge talk to. Every store call runs
in a worker thread; the request path only ever calls :meth:`record_live` and
:meth:`record_candidate`, which queue and return.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from understudy_common.logging import request_context

from .metrics import FeedbackMetrics, errors_of
from .payload import FeedbackError
from .store import (
    APPLIED,
    CANDIDATE,
    LIVE,
    Joined,
    Label,
    LabelResult,
    PredictionStore,
    StoreError,
)
from .writer import PredictionWriter

logger = logging.getLogger("understudy_router.feedback")

# The per-label HTTP status in the result list of POST /v1/feedback.
LABEL_STATUS = {
    "applied": 200,
    "duplicate": 200,
    "conflict": 409,
    "unknown_request": 404,
    "record_out_of_range": 422,
}
LABEL_MESSAGES = {
    "applied": "applied",
    "duplicate": "already labelled with this value; counted once",
    "conflict": "already labelled with a different value ({existing:g}); not changed",
    "unknown_request": "no stored prediction for this request id (never stored, or expired)",
    "record_out_of_range": "the request is known but has no record with this index",
}


class Feedback:
    """Ground truth for one router: the store, the writer, the metrics and retention."""

    def __init__(
        self,
        *,
        store: PredictionStore,
        metrics: FeedbackMetrics,
        queue_size: int,
        batch_size: int,
        batch_interval: float,
        retention_seconds: float,
        retention_rows: int,
        retention_interval: float,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.writer = PredictionWriter(
            store=store,
            metrics=metrics,
            queue_size=queue_size,
            batch_size=batch_size,
            interval=batch_interval,
            on_joins=self._late_joins,
        )
        self._retention_seconds = retention_seconds
        self._retention_rows = retention_rows
        self._retention_interval = retention_interval
        self._retention_task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.writer.start()
        if self._retention_task is None:
            self._retention_task = asyncio.create_task(self._retention_loop(), name="retention")

    async def stop(self) -> None:
        if self._retention_task is not None:
            self._retention_task.cancel()
            await asyncio.gather(self._retention_task, return_exceptions=True)
            self._retention_task = None
        await self.writer.stop()
        await asyncio.to_thread(self.store.close)

    # -- the request path (never waits) ----------------------------------------------------

    def record_live(self, *, request_id: str, version: str, body: bytes) -> None:
        self.writer.offer_live(request_id=request_id, version=version, body=body)

    def record_candidate(
        self, *, request_id: str, version: str, predictions: tuple[float, ...]
    ) -> None:
        self.writer.offer_candidate(request_id=request_id, version=version, predictions=predictions)

    # -- labels ----------------------------------------------------------------------------

    async def apply(self, labels: Sequence[Label]) -> dict[str, Any]:
        """Apply a validated batch; the answer body of POST /v1/feedback."""
        m = self.metrics
        started = time.perf_counter()
        try:
            results = await asyncio.to_thread(self.store.apply_labels, labels, now=time.time())
        except StoreError as exc:
            m.store_up.labels(m.model).set(0)
            logger.warning("feedback store failed: %d labels not applied: %s", len(labels), exc)
            raise FeedbackError(
                503, "store_unavailable", f"the feedback store failed; nothing applied: {exc}"
            ) from None
        m.store_duration.labels(m.model, "apply_labels").observe(time.perf_counter() - started)
        m.store_up.labels(m.model).set(1)
        outcomes: Counter[str] = Counter()
        answers = []
        for result in results:
            outcomes[result.outcome] += 1
            m.labels.labels(m.model, result.outcome).inc()
            if result.outcome == APPLIED and result.joined is not None:
                m.observe_join(result.joined)
                _log_join(result.joined, stage="label")
            answers.append(_answer(result))
        return {"results": answers, "summary": dict(outcomes)}

    def _late_joins(self, joins: list[Joined]) -> None:
        """Candidates stored after their record's label: count the candidate side now."""
        for joined in joins:
            self.metrics.observe_join(joined, roles=(CANDIDATE,))
            _log_join(joined, stage="candidate_late")

    # -- retention -------------------------------------------------------------------------

    async def enforce_retention(self) -> None:
        m = self.metrics
        started = time.perf_counter()
        try:
            result = await asyncio.to_thread(
                self.store.enforce_retention,
                max_age_seconds=self._retention_seconds,
                max_rows=self._retention_rows,
                now=time.time(),
            )
        except StoreError as exc:
            m.store_up.labels(m.model).set(0)
            m.retention_runs.labels(m.model, "error").inc()
            logger.warning("feedback retention failed: %s", exc)
            return
        m.store_duration.labels(m.model, "retention").observe(time.perf_counter() - started)
        m.store_up.labels(m.model).set(1)
        m.retention_runs.labels(m.model, "ok").inc()
        m.retention_deleted.labels(m.model, "predictions").inc(result.predictions_deleted)
        m.retention_deleted.labels(m.model, "labels").inc(result.labels_deleted)
        m.store_rows.labels(m.model).set(result.predictions_left)
        if result.predictions_deleted or result.labels_deleted:
            logger.info(
                "feedback retention deleted %d predictions and %d labels; %d predictions kept",
                result.predictions_deleted,
                result.labels_deleted,
                result.predictions_left,
            )

    async def _retention_loop(self) -> None:
        while True:
            await self.enforce_retention()
            await asyncio.sleep(self._retention_interval)


def _answer(result: LabelResult) -> dict[str, Any]:
    outcome = result.outcome
    return {
        "request_id": result.label.request_id,
        "record": result.label.record,
        "status": LABEL_STATUS[outcome],
        "outcome": outcome,
        "message": LABEL_MESSAGES[outcome].format(existing=result.existing or 0.0),
    }


def _log_join(joined: Joined, *, stage: str) -> None:
    errors = errors_of(joined)
    fields: dict[str, Any] = {
        "event.dataset": "shadow-router.feedback",
        "understudy.feedback.stage": stage,
        "understudy.record": joined.record,
        "understudy.actual": joined.actual,
    }
    for role, p in ((LIVE, joined.live), (CANDIDATE, joined.candidate)):
        if p is not None:
            fields[f"understudy.{role}.version"] = p.version
            fields[f"understudy.{role}.prediction"] = p.prediction
            fields[f"understudy.{role}.error"] = errors[role]
            fields[f"understudy.{role}.abs_error"] = abs(errors[role])
    with request_context(joined.request_id):
        logger.info(
            "label %g for record %d joined (%s): live error %s, candidate error %s",
            joined.actual,
            joined.record,
            stage,
            _fmt(errors.get(LIVE)),
            _fmt(errors.get(CANDIDATE)),
            extra=fields,
        )


def _fmt(error: float | None) -> str:
    return "n/a" if error is None else f"{error:+.0f}"
