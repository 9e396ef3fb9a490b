"""ModelRollouts in Kubernetes' view/edit/admin roles (k8s/crd/aggregate-roles.yaml and the
chart's copy), on a real API server: its ClusterRole aggregation controller folds them in,
and ``kubectl auth can-i --as`` a user bound to each role answers accordingly."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.support.layout import CHART, K8S

if TYPE_CHECKING:
    from tests.support.cluster import K8sCluster

pytestmark = pytest.mark.cluster

MR = "modelrollouts.rollouts.understudy.dev"
# (user bound to the built-in role, verb, resource, can-i's answer)
EXPECTED = [
    ("viewer", "get", MR, "yes"),
    ("viewer", "list", MR, "yes"),
    ("viewer", "watch", MR, "yes"),
    ("viewer", "patch", MR, "no"),
    ("viewer", "create", MR, "no"),
    ("viewer", "delete", MR, "no"),
    ("editor", "create", MR, "yes"),
    ("editor", "patch", MR, "yes"),
    ("editor", "delete", MR, "yes"),
    ("editor", "get", MR, "yes"),
    ("editor", "update", f"{MR}/status", "no"),
    ("editor", "patch", f"{MR}/status", "no"),
    ("admin", "deletecollection", MR, "yes"),
    ("admin", "update", MR, "yes"),
    ("admin", "patch", f"{MR}/status", "no"),
]
ROLES = {"viewer": "view", "editor": "edit", "admin": "admin"}


def ok(result: Any) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return str(result.stdout)


def can_i(cluster: K8sCluster, user: str, verb: str, resource: str, namespace: str) -> str:
    plain, _, sub = resource.partition("/")
    args = ["auth", "can-i", verb, plain, "-n", namespace, f"--as={user}"]
    if sub:
        args.append(f"--subresource={sub}")
    return str(cluster.kubectl(*args).stdout.strip())


def rules_by_label(documents: list[Any]) -> dict[str, list[Any]]:
    """The rules of each aggregated ClusterRole, keyed by its aggregate-to-* labels."""
    out = {}
    for doc in documents:
        if doc and doc["kind"] == "ClusterRole":
            labels = sorted(k for k in doc["metadata"]["labels"] if "aggregate-to-" in k)
            out[",".join(labels)] = doc["rules"]
    return out


@pytest.fixture(scope="module")
def bound_namespace(k8s_cluster: K8sCluster) -> Iterator[str]:
    """k8s/crd applied (the CRD and the aggregated roles); a namespace where each user is
    bound to one of the built-in roles."""
    ok(k8s_cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(K8S / "crd")))
    namespace = f"agg-{uuid.uuid4().hex[:6]}"
    ok(k8s_cluster.kubectl("create", "namespace", namespace))
    for user, role in ROLES.items():
        ok(
            k8s_cluster.kubectl(
                "create",
                "rolebinding",
                user,
                f"--clusterrole={role}",
                f"--user={user}",
                "-n",
                namespace,
            )
        )
    # The aggregation controller folds the new rules into view/edit/admin asynchronously.
    deadline = time.monotonic() + 60
    while not all(can_i(k8s_cluster, user, "get", MR, namespace) == "yes" for user in ROLES):
        assert time.monotonic() < deadline, "view/edit/admin never got the ModelRollout rules"
        time.sleep(0.5)  # polling interval
    yield namespace
    k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false")


@pytest.mark.parametrize(
    ("user", "verb", "resource", "answer"), EXPECTED, ids=[" ".join(e[:3]) for e in EXPECTED]
)
def test_the_default_roles_include_modelrollouts(
    k8s_cluster: K8sCluster,
    bound_namespace: str,
    user: str,
    verb: str,
    resource: str,
    answer: str,
) -> None:
    assert can_i(k8s_cluster, user, verb, resource, bound_namespace) == answer


def test_the_chart_renders_the_raw_aggregated_roles(k8s_cluster: K8sCluster) -> None:
    chart = yaml.safe_load_all(
        ok(
            k8s_cluster.helm(
                "template", "it", str(CHART), "-s", "templates/operator/aggregate-roles.yaml"
            )
        )
    )
    raw = yaml.safe_load_all((K8S / "crd" / "aggregate-roles.yaml").read_text())
    assert rules_by_label(list(chart)) == rules_by_label(list(raw))
    off = k8s_cluster.helm(
        "template",
        "it",
        str(CHART),
        "-s",
        "templates/operator/aggregate-roles.yaml",
        "--set",
        "aggregateRoles.enabled=false",
    )
    assert off.returncode != 0 and "could not find template" in off.stderr
