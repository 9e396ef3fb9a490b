"""Candidate faults: the client still gets exactly the live answer, fast; each fault is counted.

The live model is a real model-api (v1); the candidate is the fault-injecting fake
(faulty_upstream.py) or a closed port, selected per test by the candidate URL.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.processes import ServiceProcess
from tests.support.router import (
    Router,
    closed_port_url,
    metric,
    routing_config,
    start_router,
    wait_for,
)

pytestmark = pytest.mark.integration

REQUESTS_PER_FAULT = 6
ANSWERED = {"agreed", "disagreed"}


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory, live_api: ServiceProcess) -> Iterator[Router]:
    process, path = start_router(tmp_path_factory.mktemp("faults"), routing_config(live_api, None))
    with process, httpx.Client(timeout=30) as client:
        yield Router(process=process, config_path=path, client=client)


@pytest.mark.parametrize(
    ("fault", "candidate_seconds", "outcomes"),
    [
        ("ok", 2.0, ANSWERED),
        ("slow-0.3", 2.0, ANSWERED),
        ("slow-2", 0.3, {"candidate_timeout"}),
        ("hang", 0.3, {"candidate_timeout"}),
        ("down", 2.0, {"candidate_error"}),
        ("error", 2.0, {"candidate_error"}),
        ("status-404", 2.0, {"candidate_error"}),
        ("badjson", 2.0, {"candidate_error"}),
        ("random", 2.0, ANSWERED),
        ("fewer", 2.0, {"candidate_error"}),
        ("more", 2.0, {"candidate_error"}),
    ],
)
def test_candidate_fault_is_counted_and_never_reaches_the_client(
    router: Router,
    live_api: ServiceProcess,
    faulty: ServiceProcess,
    records: list[dict[str, object]],
    fault: str,
    candidate_seconds: float,
    outcomes: set[str],
) -> None:
    version = f"fault-{fault}"
    url = closed_port_url() if fault == "down" else f"{faulty.url}/{fault}"
    router.apply(routing_config(live_api, (url, version), candidate_seconds=candidate_seconds))
    request_ids = [f"{fault}-{i}-{time.time_ns()}" for i in range(REQUESTS_PER_FAULT)]
    for i, rid in enumerate(request_ids):
        batch = records[i * 2 : i * 2 + 2]
        via_router = router.predict(batch, rid)
        expected = httpx.post(
            f"{live_api.url}/v1/predictions",
            json={"records": batch},
            headers={"X-Request-ID": rid},
        )
        assert via_router.status_code == 200
        assert via_router.content == expected.content

    def all_decided() -> str | None:
        text = router.metrics()
        done = metric(text, "understudy_router_mirror_total", candidate_version=version)
        return text if done == REQUESTS_PER_FAULT else None

    text = wait_for(all_decided, timeout=15, what=f"{fault}: every mirror to be decided")
    counted = {
        outcome: metric(
            text, "understudy_router_mirror_total", candidate_version=version, outcome=outcome
        )
        for outcome in ("agreed", "disagreed", "candidate_error", "candidate_timeout", "dropped")
    }
    assert sum(counted[o] for o in outcomes) == REQUESTS_PER_FAULT, counted
    if fault == "random":
        assert counted["disagreed"] >= 1
    if fault != "down":
        received = {r["request_id"] for r in httpx.get(f"{faulty.url}/received").json()}
        assert set(request_ids) <= received  # mirrored with the client's request id
    if outcomes != ANSWERED:
        # Nothing to compare: no per-record samples for this candidate.
        assert (
            metric(text, "understudy_router_compared_records_total", candidate_version=version) == 0
        )
    assert "Traceback" not in router.process.logs()


def test_a_slow_candidate_does_not_slow_the_live_path(
    router: Router,
    live_api: ServiceProcess,
    faulty: ServiceProcess,
    records: list[dict[str, object]],
) -> None:
    def median_latency(tag: str) -> float:
        times = []
        for i in range(40):
            started = time.perf_counter()
            response = router.predict(records[i : i + 1], f"{tag}-{i}")
            times.append(time.perf_counter() - started)
            assert response.status_code == 200
        return statistics.median(times)

    router.apply(routing_config(live_api, None))
    median_latency("warm")
    off = median_latency("off")
    router.apply(
        routing_config(live_api, (f"{faulty.url}/slow-2", "fault-slow-2s"), candidate_seconds=5)
    )
    on = median_latency("on")
    text = router.metrics()
    assert metric(text, "understudy_router_mirror_inflight") >= 1  # the candidate is busy
    assert on < off + 0.050, (
        f"median with a slow candidate {on * 1000:.1f} ms, without {off * 1000:.1f} ms"
    )
