"""The chart's operator in HA (helm template with the pinned helm): two replicas that roll,
a readiness probe, the Lease Role naming the Lease the operator is told to hold, a PDB; a
single replica without leader election; and the values it refuses, with their reasons."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.support.layout import CHART

if TYPE_CHECKING:
    from tests.support.cluster import K8sCluster

pytestmark = pytest.mark.cluster

OPERATOR = "it-understudy-operator"


def render(cluster: K8sCluster, *sets: str) -> dict[tuple[str, str], Any]:
    args = [a for s in sets for a in ("--set", s)]
    result = cluster.helm("template", "it", str(CHART), *args)
    assert result.returncode == 0, result.stderr
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(result.stdout) if d}


def env_of(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_two_replicas_with_leader_election_by_default(k8s_cluster: K8sCluster) -> None:
    objects = render(k8s_cluster)
    deployment = objects[("Deployment", OPERATOR)]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    env = env_of(deployment)
    assert env["UNDERSTUDY_OPERATOR_LEADER_ELECTION"] == "true"
    assert env["UNDERSTUDY_OPERATOR_IDENTITY"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["UNDERSTUDY_OPERATOR_LEASE_NAMESPACE"] == {
        "fieldRef": {"fieldPath": "metadata.namespace"}
    }
    role = objects[("Role", f"{OPERATOR}-leader-election")]
    named = [r for r in role["rules"] if r.get("resourceNames")]
    assert named == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [env["UNDERSTUDY_OPERATOR_LEASE_NAME"]],
            "verbs": ["get", "update"],
        }
    ]
    binding = objects[("RoleBinding", f"{OPERATOR}-leader-election")]
    assert (
        binding["subjects"][0]["name"]
        == deployment["spec"]["template"]["spec"]["serviceAccountName"]
    )
    pdb = objects[("PodDisruptionBudget", OPERATOR)]
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_one_replica_without_leader_election(k8s_cluster: K8sCluster) -> None:
    objects = render(k8s_cluster, "operator.replicas=1", "operator.leaderElection.enabled=false")
    deployment = objects[("Deployment", OPERATOR)]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert env_of(deployment)["UNDERSTUDY_OPERATOR_LEADER_ELECTION"] == "false"
    assert ("Role", f"{OPERATOR}-leader-election") not in objects
    assert ("PodDisruptionBudget", OPERATOR) not in objects


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (
            ["operator.leaderElection.enabled=false"],
            "operator.replicas > 1 needs operator.leaderElection.enabled",
        ),
        (
            ["operator.leaderElection.renewDeadlineSeconds=20"],
            "retrySeconds < renewDeadlineSeconds < durationSeconds",
        ),
        (["operator.replicas=0"], "/operator/replicas"),
    ],
    ids=["two-without-election", "unsafe-timing", "no-replicas"],
)
def test_unsafe_operator_values_are_refused(
    k8s_cluster: K8sCluster, sets: list[str], message: str
) -> None:
    args = [a for s in sets for a in ("--set", s)]
    result = k8s_cluster.helm("template", "it", str(CHART), *args)
    assert result.returncode != 0
    assert message in result.stderr
