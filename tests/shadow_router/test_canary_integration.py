"""Canary steps in the router between real processes: v1 live and v2 candidate model-api
(uvicorn, 127.0.0.1); the fault-injecting upstream (tests/support/faulty_upstream.py, a
fake on purpose: the real model-api cannot be made to fail or hang on demand) for what a
client gets when the candidate fails on a request it answers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.processes import ServiceProcess
from tests.support.router import metric, routing_config, wait_for
from understudy_router.canary import answered_by_candidate

pytestmark = pytest.mark.integration

CANDIDATE = "2.0.0"


def canary(config: dict[str, Any], weight: float, **extra: Any) -> dict[str, Any]:
    return {**config, "weight": weight, **extra}


def test_the_weight_sends_those_requests_to_the_candidate_and_mirrors_the_rest(
    router_factory: Any,
    live_api: ServiceProcess,
    candidate_api: ServiceProcess,
    records: list[dict[str, object]],
) -> None:
    router = router_factory(canary(routing_config(live_api, (candidate_api.url, CANDIDATE)), 30))
    ids = [f"canary-{i}" for i in range(120)]
    answered = {rid: router.predict(records[i : i + 1], rid) for i, rid in enumerate(ids)}
    expected = {rid: CANDIDATE if answered_by_candidate(rid, 30) else "1.0.0" for rid in ids}
    assert all(r.status_code == 200 for r in answered.values())
    assert {rid: r.headers["x-model-version"] for rid, r in answered.items()} == expected
    on_candidate = sum(v == CANDIDATE for v in expected.values())
    assert 0 < on_candidate < len(ids)
    # The candidate's answer is the candidate's (the model block of v2's body).
    some = next(rid for rid in ids if expected[rid] == CANDIDATE)
    assert answered[some].json()["model"]["version"] == CANDIDATE

    # A retry with the same request id lands on the same model.
    for i, rid in enumerate(ids[:20]):
        assert router.predict(records[i : i + 1], rid).headers["x-model-version"] == expected[rid]

    on_live = len(ids) + 20 - on_candidate - sum(expected[rid] == CANDIDATE for rid in ids[:20])

    def compared() -> str | None:
        text = router.metrics()
        n = metric(text, "understudy_router_compared_records_total", candidate_version=CANDIDATE)
        return text if n == on_live else None

    # Live-answered requests are mirrored (mirror_percent 100); candidate-answered are not.
    text = wait_for(compared, what="every live-answered request to be compared")
    candidate_answers = on_candidate + sum(expected[rid] == CANDIDATE for rid in ids[:20])
    requests = "understudy_router_requests_total"
    assert metric(text, requests, answered_by="candidate", outcome="candidate_ok") == (
        candidate_answers
    )
    assert metric(text, requests, answered_by="live", outcome="live_ok") == on_live
    duration = "understudy_router_upstream_duration_seconds_count"
    assert metric(text, duration, role="candidate", answered_by="candidate") == candidate_answers
    assert metric(text, duration, role="candidate", answered_by="live") == on_live
    assert 'weight="30"' in text

    logs = [
        e for e in router.process.json_logs() if e.get("event.dataset") == "shadow-router.request"
    ]
    by_id = {e["http.request.id"]: e for e in logs}
    assert {rid: by_id[rid]["understudy.answered_by"] for rid in ids} == {
        rid: "candidate" if v == CANDIDATE else "live" for rid, v in expected.items()
    }
    assert by_id[some]["understudy.mirrored"] is False
    assert by_id[some]["understudy.answer.version"] == CANDIDATE


def test_the_sticky_header_keeps_one_client_on_one_model(
    router_factory: Any,
    live_api: ServiceProcess,
    candidate_api: ServiceProcess,
    records: list[dict[str, object]],
) -> None:
    config = routing_config(live_api, (candidate_api.url, CANDIDATE))
    router = router_factory(canary(config, 50, sticky_header="X-Client"))
    clients = [f"client-{i}" for i in range(12)]
    for client in clients:
        versions = {
            router.client.post(
                f"{router.url}/v1/predictions",
                json={"records": records[:1]},
                headers={"X-Client": client, "X-Request-ID": f"{client}-{n}"},
            ).headers["x-model-version"]
            for n in range(6)
        }
        # Six request ids, one model: the header's value decides, not the id.
        assert versions == {CANDIDATE if answered_by_candidate(client, 50) else "1.0.0"}


@pytest.mark.parametrize(
    ("fault", "status", "outcome"),
    [("error", 500, "candidate_error"), ("hang", 504, "candidate_timeout")],
)
def test_a_failing_candidate_answer_reaches_the_client_as_it_is(
    router_factory: Any,
    live_api: ServiceProcess,
    faulty: ServiceProcess,
    records: list[dict[str, object]],
    fault: str,
    status: int,
    outcome: str,
) -> None:
    config = routing_config(live_api, (f"{faulty.url}/{fault}", "9.9.9"), candidate_seconds=0.3)
    router = router_factory(canary(config, 100))
    answers = [router.predict(records[:1], f"{fault}-{i}") for i in range(3)]
    # No fallback to live: the client sees the candidate's failure (docs/contracts.md).
    assert [a.status_code for a in answers] == [status] * 3
    assert all(a.headers["x-model-version"] == "9.9.9" for a in answers)
    if fault == "error":
        assert answers[0].json() == {"error": "internal", "message": "injected fault"}
    else:
        assert answers[0].json()["error"] == "upstream_timeout"
    text = router.metrics()
    assert (
        metric(text, "understudy_router_requests_total", answered_by="candidate", outcome=outcome)
        == 3
    )
    assert metric(text, "understudy_router_requests_total", answered_by="live") == 0
