"""`helm uninstall --wait` with a live ModelRollout on real pods: the chart's pre-delete
hook deletes the rollouts while the operator still runs (kopf's finalizer is released), so
the uninstall completes and the namespace can go."""

from __future__ import annotations

import json

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
    wait_until,
)

pytestmark = [*REAL_NODE_MARKS]


def test_helm_uninstall_wait_completes_with_a_live_rollout(
    real_node: K8sCluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    namespace = new_namespace(real_node, "uninstall")
    helm_install(
        real_node,
        release="understudy",
        namespace=namespace,
        values_dir=tmp_path_factory.mktemp("values"),
        values={"rollout": {"create": True, "replicas": 1}},
    )
    wait_until(
        lambda: [p for p in pods(real_node, namespace, model_api_pods("live")) if pod_ready(p)],
        timeout=180,
        what="1.0.0 live",
    )
    rollout = json.loads(ok(real_node.kubectl("get", "mr", "-n", namespace, "-o", "json")))
    (item,) = rollout["items"]
    assert item["metadata"].get("finalizers"), "the operator holds a finalizer on the rollout"

    r = real_node.helm(
        "uninstall",
        "understudy",
        "--namespace",
        namespace,
        "--wait",
        "--timeout",
        "4m",
        timeout=400,
    )
    assert r.returncode == 0, r.stderr
    assert (
        json.loads(ok(real_node.kubectl("get", "mr", "-n", namespace, "-o", "json")))["items"] == []
    )
    ok(real_node.kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=180s"))
    gone = real_node.kubectl("get", "namespace", namespace)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
