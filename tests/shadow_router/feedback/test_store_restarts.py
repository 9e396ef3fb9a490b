"""Real routers on a real store through restarts, shared PostgreSQL and a store outage."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.feedback import STORED, label_outcomes, wait_stored
from tests.support.postgres import PostgresServer, temporary_postgres
from tests.support.processes import ServiceProcess
from tests.support.router import Router, routing_config, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test's own, to stop and start (the session's one stays up)."""
    with temporary_postgres() as server:
        yield server


def labels_for(request_ids: list[str], records: int) -> list[dict[str, Any]]:
    return [
        {"request_id": rid, "record": r, "actual": 100_000.0 + r}
        for rid in request_ids
        for r in range(records)
    ]


def send(router: Router, records: list[dict[str, object]], ids: list[str]) -> None:
    for rid in ids:
        response = router.predict(records, rid)
        assert response.status_code == 200, response.text


def test_a_restarted_router_loses_no_stored_prediction(
    router_factory: Any,
    live_api: ServiceProcess,
    records: list[dict[str, object]],
    store_url: str,
) -> None:
    # A long batch interval: predictions still queued at SIGTERM are written by the final flush.
    first = router_factory(
        routing_config(live_api, None),
        feedback_store=store_url,
        feedback_batch_interval_seconds="30",
        feedback_batch_size="1000",
    )
    ids = [f"restart-{i}" for i in range(20)]
    send(first, records[:2], ids)
    assert first.metric(STORED, outcome="stored") == 0  # all still queued
    first.process.stop()  # SIGTERM: uvicorn shuts the app down, then re-raises the signal
    assert "Application shutdown complete" in first.process.logs()
    assert "not stored" not in first.process.logs()
    second = router_factory(routing_config(live_api, None), feedback_store=store_url)
    response = second.feedback(labels_for(ids, 2))
    assert label_outcomes(response) == ["applied"] * 40


def test_a_killed_router_keeps_what_it_had_stored(
    router_factory: Any,
    live_api: ServiceProcess,
    records: list[dict[str, object]],
    store_url: str,
) -> None:
    first = router_factory(routing_config(live_api, None), feedback_store=store_url)
    ids = [f"killed-{i}" for i in range(10)]
    send(first, records[:1], ids)
    wait_stored(first, 10)
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait()
    second = router_factory(routing_config(live_api, None), feedback_store=store_url)
    assert label_outcomes(second.feedback(labels_for(ids, 1))) == ["applied"] * 10


def test_two_replicas_share_postgresql_and_labels_may_reach_either(
    router_factory: Any,
    live_api: ServiceProcess,
    candidate_api: ServiceProcess,
    records: list[dict[str, object]],
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.new_database()
    config = routing_config(live_api, (candidate_api.url, "2.0.0"))
    a = router_factory(config, feedback_store=url)
    b = router_factory(config, feedback_store=url)
    ids_a = [f"rep-a-{i}" for i in range(5)]
    ids_b = [f"rep-b-{i}" for i in range(5)]
    send(a, records[:2], ids_a)
    send(b, records[:2], ids_b)
    wait_stored(a, 20)  # 5 requests x 2 records x (live + candidate)
    wait_stored(b, 20)
    # each replica gets the labels of the other's requests
    assert label_outcomes(b.feedback(labels_for(ids_a, 2))) == ["applied"] * 10
    assert label_outcomes(a.feedback(labels_for(ids_b, 2))) == ["applied"] * 10
    # sent again, to the replica that saw the requests: counted once
    assert label_outcomes(a.feedback(labels_for(ids_a, 2))) == ["duplicate"] * 10

    def total(name: str, **labels: str) -> float:
        return a.metric(name, **labels) + b.metric(name, **labels)

    assert total("understudy_router_labelled_records_total", role="live") == 20
    assert total("understudy_router_labelled_records_total", role="candidate") == 20
    assert total("understudy_router_paired_loss_records_total") == 20
    assert b.metric("understudy_router_paired_loss_records_total") == 10


def test_postgresql_restarted_mid_run_loses_no_stored_prediction(
    router_factory: Any,
    live_api: ServiceProcess,
    records: list[dict[str, object]],
    own_postgres: PostgresServer,
) -> None:
    router = router_factory(
        routing_config(live_api, None), feedback_store=own_postgres.new_database()
    )
    before = [f"pgr-before-{i}" for i in range(10)]
    send(router, records[:1], before)
    wait_stored(router, 10)
    own_postgres.restart()
    after = [f"pgr-after-{i}" for i in range(10)]
    send(router, records[:1], after)
    wait_stored(router, 20)
    assert router.metric(STORED, outcome="store_error") == 0
    response = router.feedback(labels_for(before + after, 1))
    assert label_outcomes(response) == ["applied"] * 20


def test_store_down_leaves_the_live_path_alone_and_is_counted(
    router_factory: Any,
    live_api: ServiceProcess,
    records: list[dict[str, object]],
    own_postgres: PostgresServer,
) -> None:
    router = router_factory(
        routing_config(live_api, None),
        feedback_store=own_postgres.new_database(),
        feedback_batch_interval_seconds="0.05",
    )
    send(router, records[:1], ["down-warm"])
    wait_stored(router, 1)
    own_postgres.stop()
    down = [f"down-{i}" for i in range(10)]
    send(router, records[:1], down)  # every answer is 200, from live
    wait_for(
        lambda: router.metric(STORED, outcome="store_error") >= 10,
        what="predictions counted as not stored",
    )
    assert router.metric("understudy_router_feedback_store_up") == 0
    refused = router.feedback(labels_for(["down-warm"], 1))
    assert refused.status_code == 503
    assert refused.json()["error"] == "store_unavailable"
    warnings = [
        e
        for e in router.process.json_logs()
        if e.get("log.level") == "warning" and "not stored" in e.get("message", "")
    ]
    assert 1 <= len(warnings) <= 2  # rate-limited: one per 10 s (plus at most one more)
    own_postgres.start()
    send(router, records[:1], ["down-back"])
    wait_stored(router, 2)
    assert router.metric("understudy_router_feedback_store_up") == 1
    outcomes = label_outcomes(router.feedback(labels_for(["down-warm", "down-back", down[0]], 1)))
    assert outcomes == ["applied", "applied", "unknown_request"]


def test_the_live_path_does_not_wait_for_a_full_queue(
    router_factory: Any, live_api: ServiceProcess, records: list[dict[str, object]]
) -> None:
    router = router_factory(
        routing_config(live_api, None),
        feedback_queue_size="3",
        feedback_batch_interval_seconds="30",
        feedback_batch_size="1000",
    )
    send(router, records[:2], [f"full-{i}" for i in range(5)])
    assert router.metric(STORED, outcome="queue_full") == 4  # 2 requests x 2 records
    assert router.metric("understudy_router_feedback_queue_depth") == 3
    with httpx.Client() as client:
        assert client.get(f"{router.url}/readyz").status_code == 200
