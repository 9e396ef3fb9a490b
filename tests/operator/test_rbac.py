"""The operator's RBAC (k8s/operator/rbac.yaml) in the real API server: each verb the
operator uses is allowed, a sample of others is denied. (The end-to-end tests also run the
operator with this ServiceAccount's token, so a missing verb fails them too.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cluster import K8sCluster
from tests.support.operator import SERVICE_ACCOUNT

pytestmark = pytest.mark.cluster

ALLOWED = [
    ("get", "modelrollouts.rollouts.understudy.dev"),
    ("list", "modelrollouts.rollouts.understudy.dev"),
    ("watch", "modelrollouts.rollouts.understudy.dev"),
    ("patch", "modelrollouts.rollouts.understudy.dev"),
    ("patch", "modelrollouts.rollouts.understudy.dev/status"),
    ("get", "deployments.apps"),
    ("create", "deployments.apps"),
    ("patch", "deployments.apps"),
    ("delete", "deployments.apps"),
    ("create", "services"),
    ("patch", "services"),
    ("delete", "services"),
    ("create", "configmaps"),
    ("patch", "configmaps"),
    ("create", "poddisruptionbudgets.policy"),
    ("patch", "poddisruptionbudgets.policy"),
    ("delete", "poddisruptionbudgets.policy"),
    ("create", "horizontalpodautoscalers.autoscaling"),
    ("patch", "horizontalpodautoscalers.autoscaling"),
    ("delete", "horizontalpodautoscalers.autoscaling"),
    ("create", "events"),
]
DENIED = [
    ("get", "secrets"),
    ("list", "secrets"),
    ("create", "modelrollouts.rollouts.understudy.dev"),
    ("delete", "modelrollouts.rollouts.understudy.dev"),
    ("update", "modelrollouts.rollouts.understudy.dev/status"),
    ("get", "configmaps"),
    ("delete", "configmaps"),
    ("update", "deployments.apps"),
    ("list", "pods"),
    ("create", "pods"),
    ("create", "clusterroles.rbac.authorization.k8s.io"),
    ("delete", "namespaces"),
]


def can_i(cluster: K8sCluster, verb: str, resource: str) -> str:
    subresource = []
    if "/" in resource:
        resource, sub = resource.split("/")
        subresource = [f"--subresource={sub}"]
    result = cluster.kubectl(
        "auth", "can-i", verb, resource, *subresource, "-n", "default", f"--as={SERVICE_ACCOUNT}"
    )
    return result.stdout.strip()


@pytest.mark.parametrize(("verb", "resource"), ALLOWED, ids=[f"{v} {r}" for v, r in ALLOWED])
def test_the_operator_may_do_what_it_does(
    operator_kubeconfig: Path, crd: K8sCluster, verb: str, resource: str
) -> None:
    assert can_i(crd, verb, resource) == "yes"


@pytest.mark.parametrize(("verb", "resource"), DENIED, ids=[f"{v} {r}" for v, r in DENIED])
def test_the_operator_may_not_do_anything_else(
    operator_kubeconfig: Path, crd: K8sCluster, verb: str, resource: str
) -> None:
    assert can_i(crd, verb, resource) == "no"
