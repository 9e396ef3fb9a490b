"""The raw install's two scopes, on a real API server: ``k8s/`` (default) lets the operator
act in its own namespace only; ``k8s/overlays/cluster-wide`` in every namespace.

Each case renders the kustomization into a fresh namespace with a name prefix (a
kustomization of its own around a copy of ``k8s/``: kustomize refuses absolute paths), so
the cluster-scoped objects of the two cases and of other tests never collide; only the
RBAC objects are applied (no pods run here). ``kubectl auth can-i --as`` the operator's
ServiceAccount answers.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.support.layout import K8S, OPERATOR_CRD

if TYPE_CHECKING:
    from tests.support.cluster import K8sCluster

pytestmark = pytest.mark.cluster

RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
SCOPES = {"k8s": "", "k8s/overlays/cluster-wide": "overlays/cluster-wide"}


def ok(result: Any) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return str(result.stdout)


def operator_namespaces(documents: list[dict[str, Any]]) -> list[str]:
    """UNDERSTUDY_OPERATOR_NAMESPACES of the operator Deployment."""
    (deployment,) = [
        d
        for d in documents
        if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("understudy-operator")
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (value,) = [
        e["value"] for e in container["env"] if e["name"] == "UNDERSTUDY_OPERATOR_NAMESPACES"
    ]
    namespaces: list[str] = json.loads(value)
    return namespaces


@pytest.mark.parametrize("scope", list(SCOPES), ids=list(SCOPES))
def test_the_raw_install_acts_where_its_scope_says(
    k8s_cluster: K8sCluster, scope: str, tmp_path: Path
) -> None:
    plain = [
        d
        for d in yaml.safe_load_all(ok(k8s_cluster.kubectl("kustomize", str(K8S / SCOPES[scope]))))
        if d
    ]
    cluster_wide = scope != "k8s"
    # The operator watches what its RBAC allows: its own namespace, or every one ("[]").
    assert operator_namespaces(plain) == ([] if cluster_wide else ["understudy"])

    # `kubectl auth can-i` on a resource the API server does not serve says "no": the CRD
    # first (another test may have removed it, and this one may run alone).
    k8s_cluster.install_crd(OPERATOR_CRD)
    namespace = f"scope-{uuid.uuid4().hex[:6]}"
    shutil.copytree(K8S, tmp_path / "k8s")
    (tmp_path / "case").mkdir()
    (tmp_path / "case" / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "namespace": namespace,
                "namePrefix": f"{namespace}-",
                "resources": [f"../k8s/{SCOPES[scope]}".rstrip("/")],
            }
        )
    )
    built = yaml.safe_load_all(ok(k8s_cluster.kubectl("kustomize", str(tmp_path / "case"))))
    rbac = [d for d in built if d and d["kind"] in RBAC_KINDS]
    ok(k8s_cluster.kubectl("create", "namespace", namespace))
    try:
        ok(k8s_cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(rbac)))
        who = f"system:serviceaccount:{namespace}:{namespace}-understudy-operator"

        def can(verb: str, resource: str, where: str) -> bool:
            r = k8s_cluster.kubectl("auth", "can-i", verb, resource, "-n", where, f"--as={who}")
            return r.stdout.strip() == "yes"

        assert can("watch", "modelrollouts.rollouts.understudy.dev", namespace)
        assert can("patch", "deployments.apps", namespace)
        assert can("patch", "deployments.apps", "default") is cluster_wide
        assert can("create", "services", "kube-system") is cluster_wide
        # A notification's webhook Secret is read by name; Secrets are never listed.
        assert can("get", "secrets", namespace)
        assert not can("list", "secrets", namespace)
    finally:
        for d in rbac:
            if d["kind"].startswith("Cluster"):
                k8s_cluster.kubectl("delete", d["kind"].lower(), d["metadata"]["name"])
        k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false")
