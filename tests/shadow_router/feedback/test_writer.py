"""The background writer and the realized-error metrics, in process with a stand-in store
(the real backends are in test_store_contract.py)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence

import pytest

from tests.support.router import metric
from understudy_common.metrics import new_registry, render
from understudy_router.feedback.metrics import FeedbackMetrics
from understudy_router.feedback.store import Joined, Prediction, StoreUnavailable
from understudy_router.feedback.writer import PredictionWriter

BODY = b'{"predictions": [100.0, 200.0], "model": {"version": "1.0.0"}}'


class FakeStore:
    """Records batches; fails while ``down``."""

    def __init__(self) -> None:
        self.batches: list[list[Prediction]] = []
        self.down = False

    def store(self, predictions: Sequence[Prediction]) -> list[Joined]:
        if self.down:
            raise StoreUnavailable("connection refused")
        self.batches.append(list(predictions))
        return []


def make(
    store: FakeStore, *, queue_size: int = 100, batch_size: int = 10
) -> tuple[PredictionWriter, object]:
    registry = new_registry()
    metrics = FeedbackMetrics(registry=registry, model="m")
    writer = PredictionWriter(
        store=store,  # type: ignore[arg-type]
        metrics=metrics,
        queue_size=queue_size,
        batch_size=batch_size,
        interval=0.01,
        on_joins=lambda joins: None,
    )
    return writer, registry


def stored(registry: object, outcome: str) -> float:
    return metric(
        render(registry).decode(), "understudy_router_predictions_stored_total", outcome=outcome
    )  # type: ignore[arg-type]


def test_entries_become_rows_in_batches_and_are_counted() -> None:
    store = FakeStore()
    writer, registry = make(store, batch_size=3)

    async def run() -> None:
        writer.start()
        for i in range(7):
            assert writer.offer_live(request_id=f"r{i}", version="1.0.0", body=BODY)
        writer.offer_candidate(request_id="r0", version="2.0.0", predictions=(110.0, 190.0))
        await writer.stop()

    asyncio.run(run())
    rows = [row for batch in store.batches for row in batch]
    assert len(rows) == 16
    assert max(len({r.request_id for r in b}) for b in store.batches) <= 3
    assert [(r.record, r.prediction) for r in rows if r.request_id == "r1"] == [
        (0, 100.0),
        (1, 200.0),
    ]
    assert {r.role for r in rows if r.request_id == "r0"} == {"live", "candidate"}
    assert stored(registry, "stored") == 16


class SlowStore(FakeStore):
    """Takes ``seconds`` per write (a store across a network), the GIL released."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def store(self, predictions: Sequence[Prediction]) -> list[Joined]:
        time.sleep(self.seconds)
        return super().store(predictions)


def test_under_steady_load_a_slow_store_gets_one_batch_per_interval() -> None:
    """Requests that arrive while a batch is written wait for the next interval's batch:
    the writer does not chase them with a tiny batch after every write (it did, and kept
    its thread and the event loop busy with hand-overs: bench/router_loop_lag.py)."""
    store = SlowStore(0.005)
    writer = PredictionWriter(
        store=store,  # type: ignore[arg-type]
        metrics=FeedbackMetrics(registry=new_registry(), model="m"),
        queue_size=100_000,
        batch_size=10_000,
        interval=0.1,
        on_joins=lambda joins: None,
    )

    async def run() -> float:
        writer.start()
        started = time.monotonic()
        # about 1,000 requests a second: a few arrive during every 5 ms write
        for i in range(1_000):
            writer.offer_live(request_id=f"r{i}", version="1.0.0", body=BODY)
            await asyncio.sleep(0.001)
        offering = time.monotonic() - started
        await writer.stop()
        return offering

    offering = asyncio.run(run())
    rows = sum(len(batch) for batch in store.batches)
    assert rows == 2_000  # every request's two records, none lost
    # At most one batch per interval (each waits for the interval, then the write), plus the
    # first and the final flush; chasing the arrivals wrote one batch per 5 ms write instead
    # (over 200 in a run of 1.3 s).
    assert len(store.batches) <= offering / 0.1 + 2, (offering, [len(b) for b in store.batches])


def test_a_full_queue_refuses_without_waiting_and_counts_rows() -> None:
    store = FakeStore()
    writer, registry = make(store, queue_size=2)

    async def run() -> list[bool]:
        return [writer.offer_live(request_id=f"r{i}", version="1", body=BODY) for i in range(4)]

    assert asyncio.run(run()) == [True, True, False, False]
    assert stored(registry, "queue_full") == 4


def test_a_failing_store_counts_the_batch_not_stored_and_goes_on() -> None:
    store = FakeStore()
    writer, registry = make(store)

    async def run() -> None:
        store.down = True
        writer.offer_live(request_id="a", version="1", body=BODY)
        await writer.flush()
        store.down = False
        writer.offer_live(request_id="b", version="1", body=BODY)
        await writer.flush()

    asyncio.run(run())
    assert stored(registry, "store_error") == 2
    assert stored(registry, "stored") == 2


@pytest.mark.parametrize(
    ("live", "candidate", "actual", "d"),
    [(100.0, 130.0, 110.0, 10.0), (100.0, 105.0, 110.0, -5.0), (90.0, 130.0, 110.0, 0.0)],
)
def test_paired_loss_counters(live: float, candidate: float, actual: float, d: float) -> None:
    registry = new_registry()
    metrics = FeedbackMetrics(registry=registry, model="m")

    def p(role: str, value: float, version: str) -> Prediction:
        return Prediction("r", 0, role, version, "m", value, 0.0)

    metrics.observe_join(
        Joined("r", 0, actual, p("live", live, "1"), p("candidate", candidate, "2"))
    )
    text = render(registry).decode()
    key = {"live_version": "1", "candidate_version": "2"}
    assert metric(text, "understudy_router_paired_loss_diff_positive_total", **key) == max(d, 0)
    assert metric(text, "understudy_router_paired_loss_diff_negative_total", **key) == max(-d, 0)
    assert math.isclose(
        metric(text, "understudy_router_paired_loss_diff_squares_total", **key), d * d
    )
    assert metric(text, "understudy_router_paired_abs_error_total", **key, role="live") == abs(
        live - actual
    )
    assert (
        metric(
            text,
            "understudy_router_realized_abs_error_dollars_count",
            role="candidate",
            version="2",
        )
        == 1
    )
