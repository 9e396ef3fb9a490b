"""The demo's label feed (understudy_cli.demo.labels) against a real router.

Real model-api processes (v1 live, v2 candidate) and a real router with its own SQLite
feedback store: the feed's labels are due only after their delay, go out in batches of
at most ``batch_size``, and the router's own counters (labels applied, labelled records,
paired records, realized absolute error) are exactly what the labels and the answered
predictions say. Bad answers are counted by reason, never raised.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.artifacts import Artifacts
from tests.support.feedback import wait_stored
from tests.support.processes import ServiceProcess, start_model_api
from tests.support.router import (
    Router,
    closed_port_url,
    routing_config,
    start_router,
    wait_for,
)
from understudy_cli.demo.labels import LabelFeed
from understudy_cli.demo.traffic import TrafficDriver
from understudy_model.data import TARGET, Split, holdout_records

pytestmark = pytest.mark.integration

APPLIED = "understudy_router_feedback_labels_total"
LABELLED = "understudy_router_labelled_records_total"
PAIRED = "understudy_router_paired_loss_records_total"


class Clock:
    """A hand-driven clock: the feed's delays without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def models(artifacts: Artifacts) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    with start_model_api(artifacts.v1) as live, start_model_api(artifacts.v2) as candidate:
        yield live, candidate


@pytest.fixture
def router(tmp_path: Path, models: tuple[ServiceProcess, ServiceProcess]) -> Iterator[Router]:
    live, candidate = models
    process, path = start_router(tmp_path, routing_config(live, (candidate.url, "2.0.0")))
    with process, httpx.Client(timeout=30) as client:
        yield Router(process=process, config_path=path, client=client)


@pytest.fixture(scope="module")
def houses(ames_split: Split) -> tuple[list[dict[str, object]], list[float]]:
    records = holdout_records(ames_split, limit=40)
    actuals = [float(v) for v in ames_split.holdout[TARGET].head(40)]
    return records, actuals


class CountingClient(httpx.Client):
    """An httpx client that keeps the number of labels in each POST /v1/feedback."""

    def __init__(self) -> None:
        super().__init__(timeout=30)
        self.batches: list[int] = []

    def post(self, url: httpx.URL | str, **kwargs: object) -> httpx.Response:  # type: ignore[override]
        body = kwargs.get("json")
        if isinstance(body, dict) and str(url).endswith("/v1/feedback"):
            self.batches.append(len(body["labels"]))
        return super().post(url, **kwargs)  # type: ignore[arg-type]


def _predict_all(router: Router, records: list[dict[str, object]]) -> list[float]:
    """One request per house, ids gt-000..; the live answers."""
    answers = []
    for i, record in enumerate(records):
        response = router.predict([record], request_id=f"gt-{i:03d}")
        assert response.status_code == 200, response.text
        assert response.headers["x-request-id"] == f"gt-{i:03d}"  # the router keeps our id
        answers.append(response.json()["predictions"][0])
    return answers


def test_labels_wait_for_their_delay_then_go_in_batches(router, houses):
    records, actuals = houses
    live_answers = _predict_all(router, records)
    wait_stored(router, 2 * len(records))  # live and candidate predictions of every house
    clock = Clock()
    feed = LabelFeed(url=router.url, delay=5.0, batch_size=15, clock=clock)
    for i, actual in enumerate(actuals):
        feed.add(request_id=f"gt-{i:03d}", record=0, actual=actual)
    with CountingClient() as client:
        clock.now += 4.9
        assert feed.send_due(client) == 0
        assert client.batches == []
        assert router.metric(APPLIED) == 0
        clock.now += 0.1
        assert feed.send_due(client) == len(actuals)
        assert client.batches == [15, 15, 10]
        assert feed.send_due(client) == 0  # each label once
        feed.read_realized(client)
    assert feed.stats.applied == len(actuals) and feed.stats.bad == 0
    assert router.metric(APPLIED, outcome="applied") == len(actuals)
    assert router.metric(LABELLED, role="live", version="1.0.0") == len(actuals)
    assert router.metric(LABELLED, role="candidate", version="2.0.0") == len(actuals)
    assert router.metric(PAIRED) == len(actuals)
    # The realized MAE the demo shows is the one of the answers and the true prices.
    mae = sum(abs(p - a) for p, a in zip(live_answers, actuals, strict=True)) / len(actuals)
    assert feed.realized is not None
    (live, candidate) = feed.realized.by_role
    assert (live.role, live.version, live.records) == ("live", "1.0.0", len(actuals))
    assert math.isclose(live.mae, mae, rel_tol=1e-9)
    assert candidate.version == "2.0.0" and candidate.records == len(actuals)
    (paired,) = feed.realized.paired
    assert paired.records == len(actuals) and math.isclose(paired.live_mae, mae, rel_tol=1e-9)
    assert paired.ratio == pytest.approx(paired.candidate_mae / mae)


def test_the_traffic_drivers_labels_arrive_after_the_delay_and_all_apply(router, houses):
    records, actuals = houses
    feed = LabelFeed(url=router.url, delay=1.5, interval=0.1)
    traffic = TrafficDriver(
        url=router.url, records=records, rate=20, actuals=actuals, label_sink=feed
    )
    feed.start()
    traffic.start()
    time.sleep(2.0)
    traffic.stop()
    stopped = time.monotonic()
    answered = traffic.stats.ok
    assert answered >= 20 and traffic.stats.failed == 0
    # Some labels of the last 1.5 s are not due yet: fewer applied than answered...
    assert router.metric(APPLIED, outcome="applied") < answered
    # ...until their delay has passed; then every one of them, once.
    wait_for(
        lambda: router.metric(APPLIED, outcome="applied") == answered,
        timeout=15,
        what=f"{answered} applied labels",
    )
    assert time.monotonic() - stopped >= 1.0
    feed.stop()
    assert feed.stats.queued == answered and feed.stats.applied == answered
    assert feed.stats.failed == {} and feed.stats.given_up == 0
    assert router.metric(LABELLED, role="live", version="1.0.0") == answered
    # The driver cycles over the houses: record index 0 of each request, its own price.
    ids = {e["http.request.id"] for e in router.process.json_logs() if "understudy.actual" in e}
    assert len(ids) == answered and all(i.startswith(traffic.id_prefix) for i in ids)


def test_bad_answers_are_counted_by_reason_and_never_raised(router, houses, tmp_path):
    records, actuals = houses
    _predict_all(router, records[:3])
    wait_stored(router, 6)
    clock = Clock()
    feed = LabelFeed(url=router.url, delay=0, retries=1, clock=clock)
    feed.add(request_id="gt-000", record=0, actual=actuals[0])
    feed.add(request_id="gt-001", record=0, actual=actuals[1])
    feed.add(request_id="gt-001", record=0, actual=actuals[1] + 1)  # another value: conflict
    feed.add(request_id="gt-002", record=3, actual=actuals[2])  # no such record
    feed.add(request_id="never-sent", record=0, actual=1.0)  # unknown, retried once
    with httpx.Client(timeout=30) as client:
        feed.send_due(client)
        clock.now += 1.0  # the retry's wait
        feed.send_due(client)
    assert feed.stats.outcomes == {
        "applied": 2,
        "conflict": 1,
        "record_out_of_range": 1,
        "unknown_request": 1,
    }
    assert (feed.stats.retried, feed.stats.given_up) == (1, 1)
    # A whole batch refused (a negative price breaks the request rule: 422 for all).
    feed.add(request_id="gt-000", record=0, actual=-5.0)
    feed.add(request_id="gt-001", record=0, actual=actuals[1])
    with httpx.Client(timeout=30) as client:
        feed.send_due(client)
    assert feed.stats.failed == {"http_422 invalid_labels": 2}
    assert feed.stats.bad == 5
    assert router.metric(APPLIED, outcome="applied") == 2


def test_a_router_without_feedback_or_no_router_at_all_is_counted(tmp_path, models):
    live, _ = models
    process, _ = start_router(tmp_path, routing_config(live, None), feedback_store="none")
    clock = Clock()
    with process, httpx.Client(timeout=30) as client:
        off = LabelFeed(url=process.url, delay=0, clock=clock)
        off.add(request_id="a", record=0, actual=1.0)
        off.send_due(client)
        assert off.stats.failed == {"http_404 feedback_disabled": 1}
        gone = LabelFeed(url=closed_port_url(), delay=0, retries=2, clock=clock)
        gone.add(request_id="a", record=0, actual=1.0)
        for _ in range(3):  # the first try and two retries
            gone.send_due(client)
            clock.now += 1.0
        assert gone.stats.failed == {"ConnectError": 1}
        assert (gone.stats.retried, gone.stats.given_up) == (2, 1)
        gone.read_realized(client)  # no /metrics either: nothing, no exception
        assert gone.realized is None
