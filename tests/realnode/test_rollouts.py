"""The operator's main end-to-end cases on real pods: the chart installed with the kind
values (its ModelRollout puts 1.0.0 live), real traffic from a client pod inside the
cluster through the router Service, the analysis from the in-cluster Prometheus.

Test analysis: every 15 s (three scrapes at the kind values' 5 s) after a 10 s warmup,
100 samples, 3 passing runs to promote, 2 failures to roll back. Latency is a loose check:
two busy cores make it noise here (as in tests/operator/test_e2e.py).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.cluster import K8sCluster
from tests.support.realnode import (
    REAL_NODE_MARKS,
    helm_install,
    model_api_pods,
    new_namespace,
    ok,
    pod_ready,
    pods,
    prometheus_query,
    start_traffic,
    traffic_progress,
    wait_until,
)

pytestmark = [*REAL_NODE_MARKS]

RELEASE = "understudy"
ROLLOUT = "house-prices"
CONTAINERD = "/run/understudy/realnode/containerd/containerd.sock"
ANALYSIS = {
    "interval": "15s",
    "warmup": "10s",
    "minSamples": 100,
    "successfulRuns": 3,
    "failureLimit": 2,
    "inconclusiveLimit": 20,
    "checks": [
        {"name": "candidate-error-rate", "max": 0.01},
        {"name": "agreement-rate", "min": 0.6},  # v2 agrees with v1 on ~79%, bad on ~18%
        {"name": "prediction-ks", "max": 0.5},
        {"name": "latency-p99-ratio", "max": 20, "method": "threshold"},
    ],
}


class Release:
    """One helm release with its ModelRollout (1.0.0 live) and a client pod's traffic."""

    def __init__(self, cluster: K8sCluster, namespace: str) -> None:
        self.cluster, self.namespace = cluster, namespace
        self.router_url = f"http://{RELEASE}-router.{namespace}.svc.cluster.local"
        self.prometheus = f"{RELEASE}-prometheus"

    def rollout(self) -> dict[str, Any]:
        out = ok(self.cluster.kubectl("get", "mr", ROLLOUT, "-n", self.namespace, "-o", "json"))
        return dict(json.loads(out))

    def phase(self) -> str:
        return str(self.rollout().get("status", {}).get("phase", ""))

    def ready_pods(self, role: str) -> list[dict[str, Any]]:
        return [p for p in pods(self.cluster, self.namespace, model_api_pods(role)) if pod_ready(p)]

    def shadow(self, tag: str) -> None:
        patch = {"spec": {"model": {"version": tag, "image": f"understudy/model-api:{tag}"}}}
        ok(
            self.cluster.kubectl(
                "patch",
                "mr",
                ROLLOUT,
                "-n",
                self.namespace,
                "--type=merge",
                "-p",
                json.dumps(patch),
            )
        )
        # 1.0.0 went live as "Promoted": wait until the operator has taken the new version up
        wait_until(
            lambda: (
                self.rollout().get("status", {}).get("candidateVersion") == tag
                and self.phase() in ("Deploying", "Shadowing")
            ),
            timeout=120,
            what=f"{tag} deploying or shadowing",
            poll=1,
        )

    def wait_phase(self, *phases: str, timeout: float = 600) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            rollout = self.rollout()
            return rollout if rollout.get("status", {}).get("phase") in phases else None

        try:
            return dict(wait_until(reached, timeout=timeout, what=f"phase in {phases}", poll=2))
        except AssertionError:
            status = self.rollout().get("status")
            raise AssertionError(f"no phase in {phases}; status: {json.dumps(status)}") from None


@pytest.fixture
def release(real_node: K8sCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    namespace = new_namespace(real_node, "rollout")
    helm_install(
        real_node,
        release=RELEASE,
        namespace=namespace,
        values_dir=tmp_path_factory.mktemp("values"),
        values={"rollout": {"create": True, "replicas": 1, "analysis": ANALYSIS}},
    )
    r = Release(real_node, namespace)
    wait_until(
        lambda: r.ready_pods("live") and r.phase() == "Promoted",
        timeout=180,
        what="1.0.0 live and Ready",
    )
    yield r
    real_node.kubectl("delete", "pod", "traffic", "-n", namespace, "--wait=false")
    done = real_node.helm(
        "uninstall", RELEASE, "--namespace", namespace, "--wait", "--timeout", "3m"
    )
    assert done.returncode == 0, done.stderr
    real_node.kubectl("delete", "namespace", namespace, "--wait=false")


def _traffic(r: Release, *, requests: int = 200_000, max_seconds: float = 540) -> str:
    return start_traffic(
        r.cluster,
        namespace=r.namespace,
        url=r.router_url,
        requests=requests,
        max_seconds=max_seconds,
    )


def _client_saw(r: Release) -> dict[str, Any]:
    """What the client pod has seen so far (its latest progress line), then stop it."""
    seen = traffic_progress(r.cluster, r.namespace, "traffic")
    r.cluster.kubectl("delete", "pod", "traffic", "-n", r.namespace, "--wait=false")
    return seen


def _live_outcomes(r: Release) -> dict[str, float]:
    rows = prometheus_query(
        r.cluster, r.namespace, r.prometheus, "sum by (outcome) (understudy_router_requests_total)"
    )
    return {row["metric"]["outcome"]: float(row["value"][1]) for row in rows}


def test_good_candidate_is_promoted_with_in_cluster_traffic(release: Release) -> None:
    _traffic(release)
    release.shadow("2.0.0")
    rollout = release.wait_phase("Promoted", "RolledBack", "Paused", "Failed")
    status = rollout["status"]
    assert status["phase"] == "Promoted", json.dumps(status)
    assert status["stableVersion"] == "2.0.0"
    assert status["analysis"]["successful"] >= 3
    assert status["analysis"]["samples"] >= 100
    assert "2.0.0" in status["message"], status["message"]
    # 2.0.0 serves live, the candidate Deployment is gone
    wait_until(
        lambda: not pods(release.cluster, release.namespace, model_api_pods("candidate")),
        timeout=120,
        what="the candidate pods removed",
    )
    live = release.ready_pods("live")
    assert live and all(
        p["metadata"]["labels"].get("understudy.dev/version") in (None, "2.0.0") for p in live
    )
    outcomes = _live_outcomes(release)
    assert outcomes.get("live_ok", 0) > 100, outcomes
    seen = _client_saw(release)
    assert set(seen["progress"]) == {"200"}, seen


def test_bad_candidate_is_rolled_back_and_says_which_check_failed(release: Release) -> None:
    _traffic(release)
    release.shadow("2.0.0-bad")
    rollout = release.wait_phase("Promoted", "RolledBack", "Paused", "Failed")
    status = rollout["status"]
    assert status["phase"] == "RolledBack", json.dumps(status)
    assert status["stableVersion"] == "1.0.0"
    assert status["analysis"]["failed"] >= 2
    failed = {c["name"] for c in status["analysis"]["checks"] if c["verdict"] == "Fail"}
    assert "agreement-rate" in failed, status["analysis"]["checks"]
    assert "agreement-rate" in status["message"], status["message"]
    assert release.ready_pods("live")


def _kill_container(pod: dict[str, Any]) -> None:
    """SIGKILL the model-api container through the node's containerd (as an OOM kill or a
    crash would end it); the kubelet must restart it."""
    cid = pod["status"]["containerStatuses"][0]["containerID"].removeprefix("containerd://")
    subprocess.run(
        ["ctr", "--address", CONTAINERD, "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", cid],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _kill_and_wait_for_restart(r: Release, role: str) -> None:
    (pod,) = r.ready_pods(role)
    _kill_container(pod)
    wait_until(
        lambda: _restarts(r, role) >= 1 and r.ready_pods(role),
        timeout=180,
        what=f"the kubelet to restart the {role} model-api",
    )


def _restarts(r: Release, role: str) -> int:
    found = pods(r.cluster, r.namespace, model_api_pods(role))
    return sum(
        s.get("restartCount", 0) for p in found for s in p["status"].get("containerStatuses", [])
    )


def test_killed_model_api_containers_restart_and_the_analysis_counts_the_errors(
    release: Release,
) -> None:
    _traffic(release)
    release.shadow("2.0.0")
    # Past warmup and minSamples: the first run has passed, so the next one's window (which
    # holds the candidate's errors) is judged, not waved through as too early.
    wait_until(
        lambda: (
            release.phase() == "Shadowing"
            and release.rollout()["status"].get("analysis", {}).get("successful", 0) >= 1
        ),
        timeout=300,
        what="a first passing analysis run",
    )
    _kill_and_wait_for_restart(release, "candidate")
    _kill_and_wait_for_restart(release, "live")

    def candidate_errors() -> float:
        rows = prometheus_query(
            release.cluster,
            release.namespace,
            release.prometheus,
            'sum(understudy_router_mirror_total{outcome=~"candidate_error|candidate_timeout"})',
        )
        return float(rows[0]["value"][1]) if rows else 0.0

    errors = wait_until(
        candidate_errors, timeout=60, what="the candidate's errors in Prometheus", poll=2
    )
    assert errors > 0
    rollout = release.wait_phase("Promoted", "RolledBack", "Paused", "Failed")
    analysis = rollout["status"]["analysis"]
    # The window with the candidate's errors is a failed run, never a pass; a promotion
    # needs passing runs after it.
    assert analysis["failed"] >= 1, json.dumps(rollout["status"])
    assert rollout["status"]["phase"] in ("Promoted", "RolledBack"), json.dumps(rollout["status"])
    # Clients only ever saw answers or the router's documented failures while live was down
    # (services/shadow-router/README.md: 502 upstream_error, 503 upstream_unavailable,
    # 504 upstream_timeout).
    seen = _client_saw(release)
    assert set(seen["progress"]) <= {"200", "502", "503", "504"}, seen
    assert seen["progress"]["200"] > 10 * sum(
        n for code, n in seen["progress"].items() if code != "200"
    ), seen
    assert not seen["errors"], seen
    outcomes = _live_outcomes(release)
    assert set(outcomes) <= {"live_ok", "live_error"}, outcomes
    assert outcomes["live_ok"] > 0
