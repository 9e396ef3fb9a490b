"""The mirror process (UNDERSTUDY_ROUTER_MIRROR_PROCESS) changes where the mirror work
runs and nothing else: two real router processes, one with the work on its event loop and
one with it in a child process, get the same requests against the same real live (v1) and
candidate (v2) model-apis and must end with the same metrics, comparison lines and
feedback rows. And the child is the router's: killed or stuck, its jobs are counted
dropped and a new one starts; the router stopped, it is gone too. (The bound is the in-loop queue's:
test_bounded_mirror.py runs both.)"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from functools import partial
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import ServiceProcess
from tests.support.router import Router, metric, routing, routing_config, wait_for

pytestmark = pytest.mark.integration

CANDIDATE = "2.0.0"
# Metrics that measure time: equal only in their counts.
TIMED = "understudy_router_upstream_duration_seconds"
# ... and the feedback store's own timing, whose count is its batches (timing-dependent).
UNCOMPARED = "understudy_router_feedback_store_duration_seconds"
# The mirror process's own process_* families (CPU, memory): only the in-process router has it.
CHILD_PROCESS = "understudy_router_mirror_process_"
# Fields of a comparison line that differ between two runs of the same request.
RUN_FIELDS = {"@timestamp", "event.duration", "understudy.candidate.latency_seconds", "process.pid"}


def _drained(router: Router) -> bool:
    mirror = routing(router.client, router.url)["mirror"]
    return mirror["inflight"] + mirror["queue_depth"] == 0


def _lines_are(router: Router, n: int) -> bool:
    return len(_comparisons(router.process)) == n


def _stored_are(router: Router, n: int) -> bool:
    return router.metric("understudy_router_predictions_stored_total", outcome="stored") == n


def _evidence(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every understudy_router_* sample but the timed ones' buckets and sums, and the
    times series were created."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if not s.name.startswith("understudy_router_") or s.name.endswith("_created"):
                continue
            if s.name.startswith((UNCOMPARED, CHILD_PROCESS)):
                continue
            if s.name.startswith(TIMED) and not s.name.endswith("_count"):
                continue
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _comparisons(process: ServiceProcess) -> list[dict[str, Any]]:
    lines = [e for e in process.json_logs() if e.get("event.dataset") == "shadow-router.comparison"]
    return sorted(
        ({k: v for k, v in e.items() if k not in RUN_FIELDS} for e in lines),
        key=lambda e: e["http.request.id"],
    )


def _families(text: str) -> list[str]:
    return [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]


def test_the_same_traffic_leaves_the_same_evidence_in_loop_and_in_process(
    router_factory: Any,
    live_api: ServiceProcess,
    candidate_api: ServiceProcess,
    records: list[dict[str, object]],
) -> None:
    config = routing_config(live_api, (candidate_api.url, CANDIDATE), slice_field="Neighborhood")
    routers = {
        "loop": router_factory(config, mirror_process="false"),
        "process": router_factory(config),  # as shipped
    }
    n = 60
    for name, router in routers.items():
        for i in range(n):
            # One, two or three records a request: per-record counting is exercised.
            batch = [records[(i + k) % len(records)] for k in range(1 + i % 3)]
            response = router.predict(batch, request_id=f"req-{i:03d}")
            assert response.status_code == 200, (name, response.text)
        wait_for(partial(_drained, router), what=f"{name}: mirrors done")
        wait_for(partial(_lines_are, router, n), what=f"{name}: {n} comparison lines")
    # Both roles' feedback rows were stored, the candidate's from the child's done frames.
    for router in routers.values():
        wait_for(
            partial(_stored_are, router, 2 * sum(1 + i % 3 for i in range(n))),
            what="live and candidate rows stored",
        )
    in_loop, in_process = (r.metrics() for r in routers.values())

    # One family appears once in a scrape (the child's samples are joined, not appended).
    families = _families(in_process)
    assert len(families) == len(set(families))
    child_families = sorted(f for f in families if f.startswith(CHILD_PROCESS))
    assert sorted(_families(in_loop)) == sorted(set(families) - set(child_families))
    # Each process reports its own CPU: the router's as process_*, the child's apart.
    assert "understudy_router_mirror_process_cpu_seconds_total" in child_families
    assert "process_cpu_seconds_total" in families
    assert metric(in_process, "understudy_router_mirror_process_cpu_seconds_total") > 0
    loop_evidence, process_evidence = _evidence(in_loop), _evidence(in_process)
    assert (
        metric(in_process, "understudy_router_mirror_total", outcome="agreed")
        + metric(in_process, "understudy_router_mirror_total", outcome="disagreed")
        == n
    )
    assert metric(in_process, "understudy_router_window_predictions", role="candidate") == sum(
        1 + i % 3 for i in range(n)
    )
    # Counts are equal; float sums only to rounding, since they add up in the order the
    # concurrent mirrors finish, which differs between the two runs.
    assert process_evidence.keys() == loop_evidence.keys()
    assert process_evidence == pytest.approx(loop_evidence, rel=1e-9, abs=1e-12)
    # The comparison lines: written by the child, the same fields and values.
    assert _comparisons(routers["process"].process) == _comparisons(routers["loop"].process)
    labels = [{"request_id": "req-004", "labels": [100_000.0, 200_000.0]}]
    answers = [r.feedback(labels).json() for r in routers.values()]
    assert answers[0] == answers[1], answers


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone as far as work goes.
    stat = open(f"/proc/{pid}/stat").read()  # noqa: SIM115
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _hung_router(
    router_factory: Any, live_api: ServiceProcess, faulty: ServiceProcess, **settings: str
) -> Router:
    """A router whose candidate never answers: the jobs handed over stay out."""
    router: Router = router_factory(
        routing_config(live_api, (f"{faulty.url}/hang", "hung"), candidate_seconds=120),
        **settings,
    )
    return router


def _replaced(router: Router, first: int, what: str) -> int:
    """The pid of the mirror process that replaced ``first``."""
    pid: int = wait_for(
        lambda: (p := routing(router.client, router.url)["mirror"]["process"]) != first and p,
        what=what,
    )
    return pid


def _line_locks(pid: int) -> set[int]:
    """The inodes of the log-line locks (understudy_common.linelock) process ``pid`` holds."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # an fd closed meanwhile
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("/memfd:understudy-log-lines"):
                found.add(os.stat(f"/proc/{pid}/fd/{fd}").st_ino)
    return found


def _child_answers(router: Router) -> bool:
    """The mirror process is up and answering: its own families are in the scrape."""
    return "understudy_router_mirror_process_cpu_seconds_total" in router.metrics()


def test_a_killed_mirror_process_loses_its_jobs_counted_and_is_replaced(
    router_factory: Any,
    live_api: ServiceProcess,
    faulty: ServiceProcess,
    candidate_api: ServiceProcess,
    records: list[dict[str, object]],
) -> None:
    # A candidate that never answers: the jobs handed over are still out when it dies.
    router = _hung_router(
        router_factory, live_api, faulty, mirror_workers="2", mirror_queue_size="3"
    )
    first = routing(router.client, router.url)["mirror"]["process"]
    assert isinstance(first, int) and _pid_alive(first)
    # The router and its child write their JSON lines to one stdout under one lock.
    lock = _line_locks(router.process.pid)
    assert len(lock) == 1 and _line_locks(first) == lock
    for i in range(4):
        assert router.predict(records[:1], request_id=f"hang-{i}").status_code == 200
    wait_for(lambda: routing(router.client, router.url)["mirror"]["inflight"] == 2, what="2 out")

    os.kill(first, signal.SIGKILL)
    second = _replaced(router, first, "a new mirror process")
    assert _pid_alive(second)
    assert _line_locks(second) == lock  # the replacement shares the same one
    text = router.metrics()
    # The four it held were counted dropped; nothing is out any more.
    assert metric(text, "understudy_router_mirror_total", outcome="dropped") == 4
    assert metric(text, "understudy_router_mirror_inflight") == 0
    assert "mirror process exited with code -9; 4 mirror jobs lost" in router.process.logs()

    # The new child works: a candidate that answers is compared again.
    router.apply(routing_config(live_api, (candidate_api.url, CANDIDATE)))
    for i in range(5):
        response = router.predict(records[:1], request_id=f"after-{i}")
        assert response.status_code == 200
    wait_for(
        lambda: router.metric("understudy_router_mirror_total", candidate_version=CANDIDATE) == 5,
        what="5 mirrors judged by the new child",
    )
    assert router.metric("understudy_router_mirror_total", outcome="dropped") == 4


def test_a_stuck_mirror_process_is_killed_after_its_silence_and_replaced(
    router_factory: Any,
    live_api: ServiceProcess,
    faulty: ServiceProcess,
    records: list[dict[str, object]],
) -> None:
    # Alive but stuck: a stopped process keeps its socket open, so only the missing
    # heartbeats show it. The jobs it holds wait on a candidate that never answers.
    router = _hung_router(router_factory, live_api, faulty, mirror_process_stall_seconds="2")
    first = routing(router.client, router.url)["mirror"]["process"]
    # Heard from once: from now on the silence limit, not the start-up grace, applies.
    wait_for(partial(_child_answers, router), what="the first mirror process answering")
    for i in range(3):
        assert router.predict(records[:1], request_id=f"stuck-{i}").status_code == 200
    wait_for(lambda: routing(router.client, router.url)["mirror"]["inflight"] == 3, what="3 out")
    os.kill(first, signal.SIGSTOP)
    try:
        second = _replaced(router, first, "the stuck mirror process replaced")
    finally:
        if _pid_alive(first):
            os.kill(first, signal.SIGKILL)
    assert _pid_alive(second) and not _pid_alive(first)
    logs = router.process.logs()
    assert f"mirror process {first} sent nothing for" in logs
    assert "mirror process exited with code -9; 3 mirror jobs lost" in logs
    assert router.metric("understudy_router_mirror_total", outcome="dropped") == 3
    # The new child's heartbeats keep it alive past the limit while its loop is free.
    wait_for(partial(_child_answers, router), what="the new mirror process answering")
    time.sleep(3)
    assert routing(router.client, router.url)["mirror"]["process"] == second


def test_the_mirror_process_ends_with_the_router(
    router_factory: Any, live_api: ServiceProcess, candidate_api: ServiceProcess
) -> None:
    router = router_factory(
        routing_config(live_api, (candidate_api.url, CANDIDATE)), mirror_process="true"
    )
    child = routing(router.client, router.url)["mirror"]["process"]
    assert _pid_alive(child)
    # uvicorn re-raises the SIGTERM it handled once it has shut down.
    assert router.process.stop() in (0, -signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pid_alive(child)
    # Started and stopped, nothing lost and nothing logged as an error.
    events = [
        json.loads(line) for line in router.process.logs().splitlines() if line.startswith("{")
    ]
    assert not [e for e in events if e.get("log.level") == "error"], events
