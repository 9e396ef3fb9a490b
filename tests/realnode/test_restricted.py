"""A rollout in a namespace that enforces the restricted Pod Security Standard, on real pods:
the chart installed there (its ModelRollout puts 1.0.0 live), 2.0.0 shadowed with in-cluster
traffic and promoted. Every model pod the operator creates passes the API server's
PodSecurity admission and then really starts on the kubelet as the image's non-root user.

The operator is the working tree's (``tree_operator_values``), not the session image's.
Analysis as in test_rollouts.py, with fewer samples: the point is the pods, not the checks.
"""

from __future__ import annotations

import json
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
    start_traffic,
    tree_operator_values,
    wait_until,
)

pytestmark = [*REAL_NODE_MARKS]

RELEASE = "understudy"
ROLLOUT = "house-prices"
ANALYSIS = {
    "interval": "15s",
    "warmup": "10s",
    "minSamples": 60,
    "successfulRuns": 2,
    "failureLimit": 2,
    "inconclusiveLimit": 20,
    "checks": [
        {"name": "candidate-error-rate", "max": 0.05},
        {"name": "agreement-rate", "min": 0.6},
        {"name": "latency-p99-ratio", "max": 20, "method": "threshold"},
    ],
}


@pytest.fixture
def restricted(real_node: K8sCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    namespace = new_namespace(real_node, "restricted")
    ok(
        real_node.kubectl(
            "label",
            "namespace",
            namespace,
            "pod-security.kubernetes.io/enforce=restricted",
            "pod-security.kubernetes.io/enforce-version=latest",
        )
    )
    helm_install(
        real_node,
        release=RELEASE,
        namespace=namespace,
        values_dir=tmp_path_factory.mktemp("values"),
        values={
            **tree_operator_values(real_node.env),
            "rollout": {"create": True, "replicas": 1, "analysis": ANALYSIS},
        },
    )
    yield namespace
    real_node.kubectl("delete", "pod", "traffic", "-n", namespace, "--wait=false")
    done = real_node.helm(
        "uninstall", RELEASE, "--namespace", namespace, "--wait", "--timeout", "3m"
    )
    assert done.returncode == 0, done.stderr
    real_node.kubectl("delete", "namespace", namespace, "--wait=false")


def _rollout(cluster: K8sCluster, namespace: str) -> dict[str, Any]:
    out = ok(cluster.kubectl("get", "mr", ROLLOUT, "-n", namespace, "-o", "json"))
    return dict(json.loads(out))


def _phase_in(cluster: K8sCluster, namespace: str, *phases: str) -> dict[str, Any] | None:
    rollout = _rollout(cluster, namespace)
    return rollout if rollout.get("status", {}).get("phase") in phases else None


def test_a_rollout_in_a_restricted_namespace_is_promoted_on_real_pods(
    real_node: K8sCluster, restricted: str
) -> None:
    cluster, ns = real_node, restricted
    wait_until(lambda: _phase_in(cluster, ns, "Promoted"), timeout=180, what="1.0.0 live", poll=2)
    start_traffic(
        cluster,
        namespace=ns,
        url=f"http://{RELEASE}-router.{ns}.svc.cluster.local",
        requests=200_000,
        max_seconds=540,
    )
    patch = {"spec": {"model": {"version": "2.0.0", "image": "understudy/model-api:2.0.0"}}}
    ok(cluster.kubectl("patch", "mr", ROLLOUT, "-n", ns, "--type=merge", "-p", json.dumps(patch)))
    wait_until(
        lambda: _rollout(cluster, ns).get("status", {}).get("candidateVersion") == "2.0.0",
        timeout=120,
        what="2.0.0 taken up",
        poll=2,
    )
    rollout = wait_until(
        lambda: _phase_in(cluster, ns, "Promoted", "RolledBack", "Paused", "Failed"),
        timeout=600,
        what="a decision on 2.0.0",
        poll=2,
    )
    status = rollout["status"]
    assert status["phase"] == "Promoted", json.dumps(status)
    assert status["stableVersion"] == "2.0.0"
    # The live pods of 2.0.0 were created (by the promotion's rolling update) under enforce.
    wait_until(
        lambda: not pods(cluster, ns, model_api_pods("candidate")),
        timeout=120,
        what="the candidate pods removed",
    )
    live = [p for p in pods(cluster, ns, model_api_pods("live")) if pod_ready(p)]
    assert live and all(
        p["metadata"]["labels"]["rollouts.understudy.dev/version"] == "2.0.0" for p in live
    )
    pod = live[0]
    assert pod["spec"]["securityContext"]["runAsUser"] == 10001
    assert pod["spec"]["containers"][0]["resources"]["requests"]["memory"] == "256Mi"
    # No pod of the namespace was ever refused: no FailedCreate for PodSecurity.
    events = ok(cluster.kubectl("get", "events", "-n", ns, "-o", "json"))
    refused = [
        e["message"]
        for e in json.loads(events)["items"]
        if e.get("reason") == "FailedCreate" and "PodSecurity" in e.get("message", "")
    ]
    assert refused == []
    budget = json.loads(
        ok(cluster.kubectl("get", "pdb", f"{ROLLOUT}-live", "-n", ns, "-o", "json"))
    )
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["status"]["currentHealthy"] >= 1
    # the candidate's budget went with the candidate
    gone = cluster.kubectl("get", "pdb", f"{ROLLOUT}-candidate", "-n", ns)
    assert gone.returncode != 0 and "NotFound" in gone.stderr, gone.stdout
