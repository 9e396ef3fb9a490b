"""The operator's RBAC (k8s/operator/rbac.yaml, as k8s/overlays/cluster-wide binds it:
the tests' namespaces vary) in the real API server: each verb the operator uses is
allowed, a sample of others is denied; the Lease only in its own namespace. (The
end-to-end tests also run the operator with this ServiceAccount's token, so a missing
verb fails them too.)"""

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
    ("get", "secrets"),  # a notification's webhook URL (spec.notifications)
]
DENIED = [
    ("list", "secrets"),
    ("watch", "secrets"),
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


# Leader election: the one Lease in the operator's own namespace, nothing else
# (verb, kubectl's TYPE[/NAME], namespace, kubectl auth can-i's answer).
LEASES = [
    ("create", "leases.coordination.k8s.io", "understudy", "yes"),
    ("get", "leases.coordination.k8s.io/understudy-operator", "understudy", "yes"),
    ("update", "leases.coordination.k8s.io/understudy-operator", "understudy", "yes"),
    ("update", "leases.coordination.k8s.io/kube-scheduler", "understudy", "no"),
    ("delete", "leases.coordination.k8s.io/understudy-operator", "understudy", "no"),
    ("list", "leases.coordination.k8s.io", "understudy", "no"),
    ("create", "leases.coordination.k8s.io", "default", "no"),
    ("update", "leases.coordination.k8s.io/understudy-operator", "default", "no"),
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


@pytest.mark.parametrize(
    ("verb", "target", "namespace", "answer"), LEASES, ids=[" ".join(r[:3]) for r in LEASES]
)
def test_the_operator_may_hold_only_its_own_lease(
    operator_kubeconfig: Path, crd: K8sCluster, verb: str, target: str, namespace: str, answer: str
) -> None:
    result = crd.kubectl("auth", "can-i", verb, target, "-n", namespace, f"--as={SERVICE_ACCOUNT}")
    assert result.stdout.strip() == answer, result.stderr
