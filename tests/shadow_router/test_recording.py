"""The mirror's own work never goes ahead of live work, and every mirrored pair is judged,
counted and logged exactly once (understudy_router.recording).

In process, on one event loop, with the upstreams faked at the client boundary (``post``):
what is under test is the order of the router's own steps, which no timing can show.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from tests.support.router import label_sets, metric
from understudy_common.compare import Tolerance
from understudy_common.logging import request_id_var
from understudy_common.metrics import new_registry, render
from understudy_router import recording
from understudy_router.comparison import ComparisonWindows
from understudy_router.http1 import HttpResponse
from understudy_router.metrics import RouterMetrics
from understudy_router.recording import CandidateAnswer, MirrorJob, MirrorRecorder
from understudy_router.service import ShadowRouter
from understudy_router.settings import RouterSettings
from understudy_router.upstreams import UpstreamClient, UpstreamTimeout

CONFIG = {
    "live": {"url": "http://127.0.0.1:9", "version": "1.0.0"},
    "candidate": {"url": "http://127.0.0.1:10", "version": "2.0.0"},
    "mirror_percent": 100,
}
LIVE_PRICE = 200_000.0


class Comparisons(logging.Handler):
    """The comparison log lines, each with the request id in force when it was written."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str | None, dict[str, Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((request_id_var.get(), dict(record.__dict__)))


@pytest.fixture
def comparisons() -> Iterator[Comparisons]:
    handler = Comparisons()
    logger = logging.getLogger("understudy_router.comparison")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def new_metrics() -> tuple[RouterMetrics, Any]:
    registry = new_registry()
    settings = RouterSettings()
    metrics = RouterMetrics(
        registry=registry,
        model="house-prices",
        prediction_edges=settings.prediction_edges,
        slice_edges=settings.slice_edges,
        slice_field_max_values=settings.slice_field_max_values,
    )
    return metrics, registry


def answer_body(*prices: float) -> bytes:
    return json.dumps({"predictions": list(prices), "model_version": "x"}).encode()


def test_live_work_ready_meanwhile_runs_before_each_slice_of_the_mirror_work(
    monkeypatch: pytest.MonkeyPatch, comparisons: Comparisons
) -> None:
    """A live event that is ready when the candidate's answer has been read (a ticker that
    is always ready) runs before the judging, before the counting and before the log line:
    no two slices of mirror work follow each other without a turn of the loop between."""
    metrics, registry = new_metrics()
    recorder = MirrorRecorder(metrics=metrics)
    events: list[str] = []

    def noting(step: str, work: Any) -> Any:
        def noted(*args: Any, **kwargs: Any) -> Any:
            events.append(step)
            return work(*args, **kwargs)

        return noted

    monkeypatch.setattr(recording, "judge", noting("judge", recording.judge))
    monkeypatch.setattr(recorder, "_count", noting("count", recorder._count))
    monkeypatch.setattr(recorder, "_log", noting("log", recorder._log))
    job = MirrorJob(
        request_id="r-1",
        body=b'{"records": [{}]}',
        content_type="application/json",
        live_version="1.0.0",
        live_predictions=(LIVE_PRICE,),
        candidate=UpstreamClient("http://127.0.0.1:10", max_connections=1),
        candidate_version="2.0.0",
        timeout=1.0,
        tolerance=Tolerance(),
    )

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        running = True

        def live() -> None:
            events.append("live")
            if running:
                loop.call_soon(live)

        loop.call_soon(live)
        compared = await recorder.record(
            job, CandidateAnswer(seconds=0.001, status=200, body=answer_body(1))
        )
        running = False
        assert compared == (1.0,)

    asyncio.run(scenario())
    mirror_work = [e for e in events if e != "live"]
    assert mirror_work == ["judge", "count", "log"]
    for step in mirror_work:
        assert events[events.index(step) - 1] == "live", events
    text = render(registry).decode()
    assert metric(text, "understudy_router_mirror_total", outcome="disagreed") == 1
    # A series appears when first counted, as before the children were cached: no zeros
    # for outcomes that never happened (a check's query would read 0 instead of no data).
    assert [s["outcome"] for s in label_sets(text, "understudy_router_mirror_total")] == [
        "disagreed"
    ]
    assert [s["agree"] for s in label_sets(text, "understudy_router_compared_records_total")] == [
        "false"
    ]
    assert len(comparisons.lines) == 1


class FakeUpstream:
    """Stands in for an UpstreamClient: answers ``post`` from ``answer(request id)``."""

    def __init__(self, answer: Any) -> None:
        self.url = "http://fake"
        self.asked: list[str] = []
        self._answer = answer
        self.holds = 0

    def hold(self) -> None:
        self.holds += 1

    def release(self) -> None:
        self.holds -= 1

    async def post(self, *, content: bytes, headers: dict[str, str], timeout: float) -> Any:
        request_id = headers["x-request-id"]
        self.asked.append(request_id)
        return await self._answer(request_id)


async def live_answer(request_id: str) -> HttpResponse:
    return HttpResponse(200, {"content-type": "application/json"}, answer_body(LIVE_PRICE))


async def candidate_answer(request_id: str) -> HttpResponse:
    """Agrees, disagrees, fails with a 500 and times out, by the request's number."""
    kind = int(request_id.rpartition("-")[2]) % 4
    if kind == 3:
        raise UpstreamTimeout("did not answer")
    if kind == 2:
        return HttpResponse(500, {}, b'{"error": "internal"}')
    price = LIVE_PRICE if kind == 0 else 2 * LIVE_PRICE
    return HttpResponse(200, {"content-type": "application/json"}, answer_body(price))


def shadow_router(
    candidate: FakeUpstream, **settings: Any
) -> tuple[ShadowRouter, FakeUpstream, Any]:
    metrics, registry = new_metrics()
    router = ShadowRouter(
        # The mirror work on this loop: the fake candidate lives in this process (the
        # mirror process is test_mirror_process.py's, against real model-apis).
        settings=RouterSettings(feedback_store="none", mirror_process=False, **settings),
        metrics=metrics,
        windows=ComparisonWindows(size=1000),
    )
    router.offer_document(json.dumps(CONFIG), source="env")
    live = FakeUpstream(live_answer)
    router.route = replace(router.route, live=live, candidate=candidate)  # type: ignore[arg-type]
    return router, live, registry


async def settle(done: Any, turns: int = 10_000) -> None:
    for _ in range(turns):
        if done():
            return
        await asyncio.sleep(0)
    raise AssertionError("mirror work did not finish")


def test_every_mirrored_pair_is_judged_counted_and_logged_once_after_its_live_answer(
    comparisons: Comparisons,
) -> None:
    candidate = FakeUpstream(candidate_answer)
    router, live, registry = shadow_router(candidate)
    n = 40

    async def scenario() -> None:
        await router.start()
        for i in range(n):
            answer = await router.predict(
                body=b'{"records": [{}]}', content_type="application/json", request_id=f"r-{i}"
            )
            assert answer.status == 200 and answer.mirrored
            # The live answer is in the caller's hands before the candidate is even asked.
            assert f"r-{i}" not in candidate.asked
        await settle(lambda: len(comparisons.lines) == n)
        await router.stop()

    asyncio.run(scenario())
    text = render(registry).decode()
    outcomes = {
        outcome: metric(text, "understudy_router_mirror_total", outcome=outcome)
        for outcome in ("agreed", "disagreed", "candidate_error", "candidate_timeout", "dropped")
    }
    assert outcomes == {
        "agreed": n / 4,
        "disagreed": n / 4,
        "candidate_error": n / 4,
        "candidate_timeout": n / 4,
        "dropped": 0,
    }
    assert metric(text, "understudy_router_compared_records_total", agree="true") == n / 4
    assert metric(text, "understudy_router_compared_records_total", agree="false") == n / 4
    assert metric(text, "understudy_router_abs_diff_dollars_count") == n / 2
    assert metric(text, "understudy_router_prediction_value_count", role="candidate") == n / 2
    assert metric(text, "understudy_router_paired_records_total", slice_by="all") == n / 2
    candidate_latency = metric(
        text, "understudy_router_upstream_duration_seconds_count", role="candidate"
    )
    assert candidate_latency == n
    assert live.asked == [f"r-{i}" for i in range(n)]
    assert sorted(candidate.asked) == sorted(live.asked)
    ids = [str(request_id) for request_id, _ in comparisons.lines]
    assert sorted(ids) == sorted(f"r-{i}" for i in range(n))  # each exactly once
    by_id = {request_id: fields for request_id, fields in comparisons.lines}
    assert by_id["r-0"]["understudy.outcome"] == "agreed"
    assert by_id["r-1"]["understudy.abs_diff"] == [LIVE_PRICE]
    assert by_id["r-2"]["understudy.candidate.status"] == 500
    assert by_id["r-3"]["error.message"] == "did not answer"
    assert by_id["r-3"]["understudy.candidate.status"] is None
    assert candidate.holds == 0


def test_a_mirror_refused_for_want_of_room_is_counted_dropped_and_never_logged(
    comparisons: Comparisons,
) -> None:
    gate = asyncio.Event()

    async def hung(request_id: str) -> HttpResponse:
        await gate.wait()
        return HttpResponse(200, {}, answer_body(LIVE_PRICE))

    candidate = FakeUpstream(hung)
    router, _, registry = shadow_router(candidate, mirror_workers=1, mirror_queue_size=0)

    async def scenario() -> None:
        await router.start()
        mirrored = []
        for i in range(3):
            answer = await router.predict(
                body=b'{"records": [{}]}', content_type="application/json", request_id=f"r-{i}"
            )
            mirrored.append(answer.mirrored)
            await settle(lambda: len(candidate.asked) == 1)
        assert mirrored == [True, False, False]
        gate.set()
        await settle(lambda: len(comparisons.lines) == 1)
        await router.stop()

    asyncio.run(scenario())
    text = render(registry).decode()
    assert metric(text, "understudy_router_mirror_total", outcome="dropped") == 2
    assert metric(text, "understudy_router_mirror_total", outcome="agreed") == 1
    assert [request_id for request_id, _ in comparisons.lines] == ["r-0"]
