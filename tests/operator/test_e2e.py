"""The operator end to end: a real API server (kwok), real Prometheus, real model-api and
router processes, and the operator as a local process with the ServiceAccount's RBAC.

Test settings: analysis every 2s after a 1s warmup, 30 samples, 3 passing runs to promote,
2 failures to roll back, 3 inconclusive runs to pause; the operator ticks every 0.5s.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from tests.support.cluster import K8sCluster
from tests.support.dataplane import DataPlane, ModelFleet
from tests.support.operator import FAST_LEASE, OperatorFactory, OperatorProcess
from tests.support.prometheus import PrometheusServer
from tests.support.rollout_api import NAME, POLL_S, Rollout
from tests.support.router import metric
from understudy_operator.kube import GROUP, VERSION

pytestmark = [pytest.mark.cluster, pytest.mark.integration]


CHECKS = [
    {"name": "candidate-error-rate", "max": 0.05},
    {"name": "agreement-rate", "min": 0.6},  # v2 agrees with v1 on ~79% of houses, bad ~18%
    {"name": "prediction-ks", "max": 0.5},
    # two busy cores and 2 s intervals: too few requests for a p99 bound, latency is noise
    # here; the old point rule keeps the check in the loop
    {"name": "latency-p99-ratio", "max": 20, "method": "threshold"},
    {
        "name": "router-traffic",  # a custom query: requests per second through the router
        "query": 'sum(rate(understudy_router_requests_total{model="{{ model }}"}[{{ interval }}]))',
        "min": 1,
    },
]
TEST_ANALYSIS = {
    "interval": "2s",
    "warmup": "1s",
    "minSamples": 30,
    "successfulRuns": 3,
    "failureLimit": 2,
    "inconclusiveLimit": 3,
    "checks": CHECKS,
}


@pytest.fixture
def rollout(crd: K8sCluster, namespace: str) -> Rollout:
    return Rollout(crd, namespace, analysis=TEST_ANALYSIS)


@pytest.fixture
def dataplane_factory(
    rollout: Rollout,
    fleet: ModelFleet,
    records: list[dict[str, Any]],
    tmp_path: Path,
) -> Iterator[Callable[[PrometheusServer], DataPlane]]:
    planes: list[DataPlane] = []

    def make(prometheus: PrometheusServer) -> DataPlane:
        plane = DataPlane(
            api=rollout.api,
            namespace=rollout.namespace,
            configmap=f"{NAME}-router",
            fleet=fleet,
            prometheus=prometheus,
            records=records,
            workdir=tmp_path,
        ).start()
        planes.append(plane)
        return plane

    yield make
    for plane in planes:
        plane.stop()


def seconds_to_decision(status: dict[str, Any]) -> float:
    """From the candidate shadowed (ready) to the phase the decision led to."""
    started = datetime.fromisoformat(status["analysis"]["startedAt"].replace("Z", "+00:00"))
    decided = datetime.fromisoformat(status["phaseSince"].replace("Z", "+00:00"))
    return (decided - started).total_seconds()


def live_on_v1(
    rollout: Rollout,
    start_operator: OperatorFactory,
    dataplane_factory: Callable[[PrometheusServer], DataPlane],
    prometheus: PrometheusServer,
    *,
    env: dict[str, str] | None = None,
) -> DataPlane:
    """v1 applied first goes live directly; the router serves it and traffic flows."""
    rollout.operator = start_operator(
        namespace=rollout.namespace, prometheus_url=prometheus.url, env=env
    )
    rollout.apply("1.0.0")
    status = rollout.wait_phase("Promoted")
    assert status["stableVersion"] == "1.0.0"
    assert rollout.deployed_version("live") == "1.0.0"
    plane = dataplane_factory(prometheus)
    rollout.wait("traffic through the router", lambda _: plane.requests_ok > 5)
    return plane


def test_good_candidate_is_promoted_and_the_candidate_removed(
    rollout: Rollout,
    start_operator: OperatorFactory,
    dataplane_factory: Callable[[PrometheusServer], DataPlane],
    prometheus: PrometheusServer,
) -> None:
    plane = live_on_v1(rollout, start_operator, dataplane_factory, prometheus)
    rollout.apply("2.0.0")
    rollout.wait_phase("Shadowing")
    assert rollout.deployed_version("candidate") == "2.0.0"
    rollout.wait("a passing run", lambda s: s.get("analysis", {}).get("successful", 0) >= 1)
    print(rollout.cluster.kubectl("get", "mr", "-n", rollout.namespace, "-o", "wide").stdout)
    status = rollout.wait_decision("2.0.0")
    assert status["phase"] == "Promoted", status["message"]
    assert status["stableVersion"] == "2.0.0"
    assert "candidateVersion" not in status
    took = seconds_to_decision(status)
    print(f"candidate ready -> promoted: {took:.1f}s")
    # Not before the schedule allows (warmup 1s + 3 runs 2s apart). No upper bound: how long
    # it takes is the machine's business (bench/, not tests); the waits above bound it.
    assert took >= 5
    assert status["analysis"]["consecutiveSuccessful"] >= 3
    assert status["message"].startswith("promoted 2.0.0: 3 consecutive passing runs")
    assert {c["name"]: c["verdict"] for c in status["analysis"]["checks"]} == dict.fromkeys(
        [c["name"] for c in CHECKS], "Pass"
    )
    assert rollout.deployed_version("live") == "2.0.0"
    assert rollout.deployment("candidate") is None
    live = rollout.deployment("live")
    assert live is not None
    assert live["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    rollout.wait("router config on 2.0.0", lambda _: plane.routed and not plane.routed["candidate"])
    assert plane.routed is not None and plane.routed["live"]["version"] == "2.0.0"
    assert len(rollout.wait_event("Promoted")) == 1
    assert rollout.events("ShadowStarted")
    table = rollout.cluster.kubectl("get", "mr", "-n", rollout.namespace).stdout
    print(table)  # docs/operator.md shows this table
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "PHASE", "STABLE", "CANDIDATE", "WEIGHT", "SAMPLES", "AGE"]
    assert row.split()[:3] == [NAME, "Promoted", "2.0.0"]


def test_bad_candidate_is_rolled_back_and_says_which_check_failed(
    rollout: Rollout,
    start_operator: OperatorFactory,
    dataplane_factory: Callable[[PrometheusServer], DataPlane],
    prometheus: PrometheusServer,
) -> None:
    plane = live_on_v1(rollout, start_operator, dataplane_factory, prometheus)
    live_before = rollout.deployment("live")
    assert live_before is not None
    rollout.apply("2.0.0-bad")
    status = rollout.wait_decision("2.0.0-bad")
    assert status["phase"] == "RolledBack", status["message"]
    assert status["stableVersion"] == "1.0.0"
    took = seconds_to_decision(status)
    print(f"candidate ready -> rolled back: {took:.1f}s")
    assert took >= 1  # not before warmup 1s + 2 failed runs 2s apart; no upper bound
    assert status["candidateVersion"] == "2.0.0-bad"
    assert "agreement-rate 0." in status["message"]
    assert "outside >= 0.6" in status["message"]
    failed = {c["name"]: c for c in status["analysis"]["checks"] if c["verdict"] == "Fail"}
    assert failed["agreement-rate"]["value"] < 0.6
    assert rollout.deployment("candidate") is None
    live_after = rollout.deployment("live")
    assert live_after is not None
    assert rollout.deployed_version("live") == "1.0.0"
    assert live_after["metadata"]["generation"] == live_before["metadata"]["generation"]
    rollout.wait(
        "router without candidate", lambda _: plane.routed and not plane.routed["candidate"]
    )
    assert rollout.wait_event("AnalysisFailed")


def test_prometheus_stopped_mid_analysis_pauses_and_never_promotes(
    rollout: Rollout,
    start_operator: OperatorFactory,
    dataplane_factory: Callable[[PrometheusServer], DataPlane],
    tmp_path: Path,
) -> None:
    with PrometheusServer(tmp_path / "own-prometheus") as own:
        live_on_v1(rollout, start_operator, dataplane_factory, own)
        # Many passes needed: the test stops Prometheus long before a promotion.
        rollout.apply("2.0.0", analysis={**TEST_ANALYSIS, "successfulRuns": 100})
        rollout.wait("a passing run", lambda s: s.get("analysis", {}).get("successful", 0) >= 1)
    status = rollout.wait_decision("2.0.0")
    assert status["phase"] == "Paused", status["message"]
    assert status["analysis"]["consecutiveInconclusive"] == 3
    assert "query failed" in status["message"] and "unreachable" in status["message"]
    assert status["stableVersion"] == "1.0.0"
    assert rollout.deployed_version("live") == "1.0.0"
    assert rollout.deployed_version("candidate") == "2.0.0"  # kept for a resume
    runs = status["analysis"]["runs"]
    # Paused means no more analysis: the counters stand still over two intervals.
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        assert rollout.status()["analysis"]["runs"] == runs
        time.sleep(POLL_S)  # polling interval


def test_manual_promotion_waits_for_the_approval_annotation(
    rollout: Rollout,
    start_operator: OperatorFactory,
    dataplane_factory: Callable[[PrometheusServer], DataPlane],
    prometheus: PrometheusServer,
) -> None:
    live_on_v1(rollout, start_operator, dataplane_factory, prometheus)
    rollout.apply("2.0.0", promotion="manual")
    status = rollout.wait_phase("AwaitingApproval", "RolledBack", "Paused")
    assert status["phase"] == "AwaitingApproval", status["message"]
    assert "rollouts.understudy.dev/approve=true" in status["message"]
    # Nothing happens without the approval, however many ticks pass.
    deadline = time.monotonic() + 4  # two analysis intervals
    while time.monotonic() < deadline:
        assert rollout.status()["phase"] == "AwaitingApproval"
        time.sleep(POLL_S)  # polling interval
    assert rollout.deployed_version("live") == "1.0.0"
    rollout.annotate(f"{GROUP}/approve", "true")
    status = rollout.wait_phase("Promoted")
    assert status["stableVersion"] == "2.0.0"
    assert "(approved)" in rollout.wait_event("Approved")[0]
    annotations = rollout.get()["metadata"].get("annotations") or {}
    assert f"{GROUP}/approve" not in annotations  # consumed


def test_operator_killed_mid_analysis_resumes_to_the_same_outcome_once(
    rollout: Rollout,
    start_operator: OperatorFactory,
    dataplane_factory: Callable[[PrometheusServer], DataPlane],
    prometheus: PrometheusServer,
) -> None:
    live_on_v1(rollout, start_operator, dataplane_factory, prometheus)
    rollout.apply("2.0.0", analysis={**TEST_ANALYSIS, "successfulRuns": 4})
    before = rollout.wait(
        "a passing run", lambda s: s if s.get("analysis", {}).get("successful", 0) >= 1 else None
    )
    assert rollout.operator is not None
    rollout.operator.kill()
    rollout.operator = start_operator(namespace=rollout.namespace, prometheus_url=prometheus.url)
    status = rollout.wait_decision("2.0.0")
    assert status["phase"] == "Promoted", status["message"]
    assert status["stableVersion"] == "2.0.0"
    assert status["analysis"]["runs"] >= before["analysis"]["runs"]  # continued, not restarted
    assert status["analysis"]["startedAt"] == before["analysis"]["startedAt"]
    assert len(rollout.wait_event("Promoted")) == 1
    assert len(rollout.events("ShadowStarted")) == 1
    live = rollout.deployment("live")
    assert live is not None
    assert live["metadata"]["generation"] == 2  # created at v1, rolled to v2 once


def lease_holder(rollout: Rollout) -> tuple[str, int]:
    """(holderIdentity, leaseTransitions) of the operators' Lease (k8s/operator/rbac.yaml)."""
    lease = client.CoordinationV1Api(rollout.api).read_namespaced_lease(
        "understudy-operator", "understudy"
    )
    return lease.spec.holder_identity or "", lease.spec.lease_transitions or 0


def probe(operator: OperatorProcess) -> tuple[int, dict[str, Any]]:
    response = httpx.get(f"{operator.proc.url}/readyz", timeout=5)
    return response.status_code, response.json()


def acted(operator: OperatorProcess) -> bool:
    """Whether the operator logged a run or a phase change of a rollout (reconcile.py)."""
    return any("understudy.rollout" in record for record in operator.proc.json_logs())


def test_two_operators_the_leader_killed_mid_analysis_the_standby_finishes_once(
    rollout: Rollout,
    start_operator: OperatorFactory,
    dataplane_factory: Callable[[PrometheusServer], DataPlane],
    prometheus: PrometheusServer,
    fleet: ModelFleet,
) -> None:
    """Two replicas (kube/lease.py): only the Lease holder reconciles; SIGKILL it during the
    analysis and the standby takes the Lease and ends the rollout in exactly one outcome."""
    live_on_v1(rollout, start_operator, dataplane_factory, prometheus, env=FAST_LEASE)
    leader = rollout.operator
    assert leader is not None
    standby = start_operator(
        namespace=rollout.namespace,
        prometheus_url=prometheus.url,
        identity="standby",
        env=FAST_LEASE,
    )
    holder, transitions = lease_holder(rollout)
    assert holder not in ("", "standby")
    assert probe(leader) == (200, {"role": "leader", "watching": True})
    # The standby is Ready (helm --wait, PDBs) but says it is not the one acting.
    rollout.wait("the standby's probe", lambda _: probe(standby)[0] == 200)
    assert probe(standby)[1]["role"] == "standby"

    fleet.url("2.0.0")  # the candidate's process up before the analysis window starts
    rollout.apply("2.0.0", analysis={**TEST_ANALYSIS, "successfulRuns": 4})
    before = rollout.wait(
        "a passing run", lambda s: s if s.get("analysis", {}).get("successful", 0) >= 1 else None
    )
    assert before["phase"] == "Shadowing"
    # Everything so far was the leader's work: the standby has not touched a rollout.
    assert not acted(standby)
    assert "standby: waiting for Lease" in standby.logs()

    leader.kill()
    killed = time.monotonic()
    rollout.operator = standby
    rollout.wait("the standby to take the Lease", lambda _: lease_holder(rollout)[0] == "standby")
    print(f"leader killed -> standby holds the Lease: {time.monotonic() - killed:.1f}s")
    status = rollout.wait_decision("2.0.0")
    assert status["phase"] == "Promoted", status["message"]
    assert status["stableVersion"] == "2.0.0"
    # One analysis, continued by the new leader, not restarted, and one outcome.
    assert status["analysis"]["startedAt"] == before["analysis"]["startedAt"]
    assert status["analysis"]["runs"] > before["analysis"]["runs"]
    assert len(rollout.events("ShadowStarted")) == 1
    assert len(rollout.wait_event("Promoted")) == 1
    live = rollout.deployment("live")
    assert live is not None
    assert live["metadata"]["generation"] == 2  # created at v1, rolled to v2 once
    assert lease_holder(rollout) == ("standby", transitions + 1)
    assert probe(standby) == (200, {"role": "leader", "watching": True})
    assert acted(standby)  # it did reconcile once it led


def _set_unschedulable(rollout: Rollout, unschedulable: bool) -> None:
    """Cordon (or uncordon) every node: new pods stay Pending, running ones keep running."""
    for node in rollout.core.list_node().items:
        rollout.core.patch_node(node.metadata.name, {"spec": {"unschedulable": unschedulable}})


def test_operator_killed_mid_promotion_finishes_it_once(
    rollout: Rollout,
    start_operator: OperatorFactory,
    dataplane_factory: Callable[[PrometheusServer], DataPlane],
    prometheus: PrometheusServer,
) -> None:
    live_on_v1(rollout, start_operator, dataplane_factory, prometheus)
    rollout.apply("2.0.0")
    rollout.wait_phase("Shadowing")
    assert rollout.operator is not None
    try:
        # With no node to schedule on, the live Deployment's rolling update to 2.0.0 creates
        # a surge pod that stays Pending: the promotion is under way and cannot finish.
        _set_unschedulable(rollout, True)
        promoting = rollout.wait_phase("Promoting")
        assert promoting["candidateVersion"] == "2.0.0"
        assert rollout.deployed_version("live") == "2.0.0"  # the template was rolled
        live = rollout.deployment("live")
        assert live is not None and live["metadata"]["generation"] == 2
        # The ReplicaSet controller creates the surge pod asynchronously: wait for it.
        rollout.wait(
            "the surge pod to wait for a node",
            lambda _: (
                rollout.core.list_namespaced_pod(
                    rollout.namespace, field_selector="status.phase=Pending"
                ).items
            ),
            timeout=30,
        )
        rollout.operator.kill()
        assert rollout.status()["phase"] == "Promoting"
    finally:
        _set_unschedulable(rollout, False)
    rollout.operator = start_operator(namespace=rollout.namespace, prometheus_url=prometheus.url)
    status = rollout.wait_decision("2.0.0")
    assert status["phase"] == "Promoted", status["message"]
    assert status["stableVersion"] == "2.0.0"
    assert rollout.deployment("candidate") is None
    live = rollout.deployment("live")
    assert live is not None
    assert live["metadata"]["generation"] == 2  # rolled to 2.0.0 once, not again
    assert len(rollout.wait_event("Promoted")) == 1
    assert len(rollout.events("ShadowStarted")) == 1


@pytest.mark.parametrize(
    ("spec", "messages"),
    [
        (  # schema: patterns, enums, required fields
            {
                "model": {"name": "Houses!", "task": "ranking"},
                "analysis": {"interval": "soon", "minSamples": -1},
                "promotion": "sometimes",
            },
            [
                'spec.model.name: Invalid value: "Houses!"',
                'spec.model.task: Unsupported value: "ranking"',
                "spec.model.version: Required value",
                'spec.analysis.interval: Invalid value: "soon"',
                "spec.analysis.minSamples: Invalid value: -1",
                'spec.promotion: Unsupported value: "sometimes"',
            ],
        ),
        (  # CEL rules across fields
            {
                "model": {"name": "house-prices", "version": "2.0.0"},
                "analysis": {
                    "interval": "0s",
                    "checks": [
                        {"name": "agreement-rate"},
                        {"name": "accuracy", "min": 0.9},
                        {"name": "prediction-ks", "min": 0.5, "max": 0.1},
                    ],
                },
                "approvedVersion": "2.0.0",
            },
            [
                "spec.analysis.checks[0]: Invalid value: a check needs min, max or both",
                "spec.analysis.checks[1].name: Invalid value: name must be a built-in check",
                "spec.analysis.checks[2]: Invalid value: min must not be greater than max",
                "spec.analysis.interval: Invalid value: interval must be longer than 0",
                "spec.approvedVersion: Invalid value: approvedVersion is only used with "
                "promotion: manual",
            ],
        ),
    ],
    ids=["schema", "cel"],
)
def test_an_invalid_rollout_is_rejected_by_the_api_server(
    rollout: Rollout, spec: dict[str, Any], messages: list[str]
) -> None:
    bad = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelRollout",
        "metadata": {"name": "broken", "namespace": rollout.namespace},
        "spec": spec,
    }
    result = rollout.cluster.kubectl("apply", "-f", "-", input=json.dumps(bad))
    assert result.returncode != 0
    for message in messages:
        assert message in result.stderr
    missing = rollout.cluster.kubectl("get", "mr", "broken", "-n", rollout.namespace)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


# -- canary steps after the shadow ---------------------------------------------------------

# Test settings for the steps: each a fresh analysis of 2 passing runs 2s apart on the
# candidate's own answers (its error rate and p99 latency against live's), the shadow's
# custom check (router traffic) too. Threshold rule: at 10% of ~60 requests/s a
# confidence bound on a 0 error rate would need far longer than a test should take.
STEP_ANALYSIS = {
    "successfulRuns": 2,
    "minSamples": 5,
    "warmup": "0s",
    "checks": [
        {"name": "candidate-error-rate", "max": 0.05, "method": "threshold"},
        {"name": "latency-p99-ratio", "max": 20, "method": "threshold"},
        CHECKS[-1],
    ],
}
CANARY = {
    "steps": [
        {"setWeight": 10, "analysis": STEP_ANALYSIS},
        {"setWeight": 50, "analysis": STEP_ANALYSIS},
    ]
}


def _router_count(plane: DataPlane, **labels: str) -> float:
    assert plane.router is not None
    text = httpx.get(f"{plane.router.url}/metrics", timeout=5).text
    return metric(text, "understudy_router_requests_total", **labels)


def test_canary_steps_after_the_shadow_promote_and_survive_an_operator_restart(
    rollout: Rollout,
    start_operator: OperatorFactory,
    dataplane_factory: Callable[[PrometheusServer], DataPlane],
    prometheus: PrometheusServer,
    fleet: ModelFleet,
) -> None:
    for version in ("1.0.0", "2.0.0"):  # started before the clock of any wait runs
        fleet.url(version)
    plane = live_on_v1(rollout, start_operator, dataplane_factory, prometheus)
    rollout.apply("2.0.0", canary=CANARY)
    first = rollout.wait(
        "canary step 1 at 10%",
        lambda s: s if s.get("phase") == "Canary" and s["canary"]["step"] == 0 else None,
    )
    assert first["canary"]["weight"] == 10
    assert first["stableVersion"] == "1.0.0" and first["candidateVersion"] == "2.0.0"
    rollout.wait("router at weight 10", lambda _: plane.routed and plane.routed.get("weight") == 10)
    assert plane.routed is not None and plane.routed["sticky_header"] == "X-Understudy-Key"
    row = rollout.cluster.kubectl("get", "mr", "-n", rollout.namespace).stdout.splitlines()[1]
    print(row)
    assert row.split()[1:5] == ["Canary", "1.0.0", "2.0.0", "10"]  # the WEIGHT column
    # The candidate answers real requests: the router counts them under answered_by.
    rollout.wait(
        "answers from the candidate", lambda _: _router_count(plane, answered_by="candidate") > 5
    )

    # Killed mid-step: the new operator continues the persisted step, not the shadow.
    assert rollout.operator is not None
    rollout.operator.kill()
    stopped = rollout.status()
    rollout.operator = start_operator(namespace=rollout.namespace, prometheus_url=prometheus.url)
    second = rollout.wait(
        "canary step 2 at 50%",
        lambda s: s if s.get("canary", {}).get("step") == 1 else None,
    )
    assert second["canary"]["weight"] == 50
    if stopped["canary"]["step"] == 0:  # posted just after the status write seen above
        assert len(rollout.wait_event("CanaryStepPassed")) == 1
    rollout.wait("router at weight 50", lambda _: plane.routed and plane.routed.get("weight") == 50)

    status = rollout.wait_decision("2.0.0")
    assert status["phase"] == "Promoted", status["message"]
    assert status["stableVersion"] == "2.0.0"
    assert "canary" not in status
    assert rollout.deployed_version("live") == "2.0.0"
    assert rollout.deployment("candidate") is None
    rollout.wait("router on 2.0.0 alone", lambda _: plane.routed and not plane.routed["candidate"])
    assert plane.routed is not None and "weight" not in plane.routed
    # Each step began once (none repeated by the restart), and the shadow ran once.
    assert len(rollout.events("ShadowStarted")) == 1
    assert len(rollout.events("CanaryStarted")) == 1
    assert len(rollout.events("CanaryStepPassed")) == 1
    assert len(rollout.wait_event("Promoted")) == 1  # posted just after the decision's write
    checks = {c["name"]: c for c in status["analysis"]["checks"]}
    assert checks["candidate-error-rate"]["verdict"] == "Pass"
    assert checks["candidate-error-rate"]["value"] == 0


def test_a_candidate_failing_only_on_its_own_answers_is_rolled_back_at_the_first_step(
    rollout: Rollout,
    start_operator: OperatorFactory,
    dataplane_factory: Callable[[PrometheusServer], DataPlane],
    prometheus: PrometheusServer,
    fleet: ModelFleet,
) -> None:
    """v2 raising on a fifth of the houses (understudy_model.faults.Flaky): the shadow judges
    similarity only (its failed mirrors have no answer to compare) and passes it; the first
    step counts the failures of the answers it gives clients."""
    for version in ("1.0.0", "2.0.1-flaky"):  # started before the clock of any wait runs
        fleet.url(version)
    plane = live_on_v1(rollout, start_operator, dataplane_factory, prometheus)
    similarity = {**TEST_ANALYSIS, "checks": CHECKS[1:]}  # no candidate-error-rate
    step = {"setWeight": 10, "analysis": {**STEP_ANALYSIS, "failureLimit": 1}}
    rollout.apply("2.0.1-flaky", analysis=similarity, canary={"steps": [step, {"setWeight": 50}]})
    rollout.wait("the shadow passed", lambda s: s.get("phase") == "Canary")
    status = rollout.wait_decision("2.0.1-flaky")
    assert status["phase"] == "RolledBack", status["message"]
    assert status["canary"] == {
        "step": 0,
        "weight": 0,
        "stepStartedAt": status["canary"]["stepStartedAt"],
    }
    assert "rolled back 2.0.1-flaky at canary step 1 (10%)" in status["message"]
    assert "candidate-error-rate" in status["message"]
    # Weight 0 in the same reconcile: the ConfigMap already routes nothing to the candidate
    # when the status says RolledBack (actions are applied before the status is written).
    cm = rollout.core.read_namespaced_config_map(f"{NAME}-router", rollout.namespace)
    routed = json.loads(cm.data["router.json"])
    assert routed["candidate"] is None and "weight" not in routed
    # The router itself follows within one interval (2s); the candidate answers no more.
    assert plane.router is not None
    deadline = time.monotonic() + 2
    while True:
        routing = httpx.get(f"{plane.router.url}/v1/routing", timeout=2).json()
        if routing["candidate_version"] is None or time.monotonic() > deadline:
            break
        time.sleep(0.05)  # polling interval
    assert routing["candidate_version"] is None and routing["weight"] == 0
    time.sleep(0.5)  # requests in flight at the switch finish
    answered = _router_count(plane, answered_by="candidate")
    assert answered > 0
    failed = _router_count(plane, answered_by="candidate", outcome="candidate_error")
    assert failed > 0
    time.sleep(1)
    assert _router_count(plane, answered_by="candidate") == answered
    assert rollout.deployment("candidate") is None
    assert rollout.deployed_version("live") == "1.0.0"
