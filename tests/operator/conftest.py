"""Fixtures of the operator's cluster tests: the CRD, the operator's identity, processes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.artifacts import Artifacts
from tests.support.cluster import K8sCluster
from tests.support.dataplane import ModelFleet
from tests.support.operator import OperatorFactory, OperatorProcess
from tests.support.processes import BUSY_START_TIMEOUT_S, start_service
from tests.support.prometheus import PrometheusServer
from understudy_model.data import Split, holdout_records

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "k8s" / "crd" / "modelrollouts.yaml"
# The operator acts in each test's own namespace: the cluster-wide overlay's RBAC.
CLUSTER_WIDE = REPO / "k8s" / "overlays" / "cluster-wide"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


def kubectl_ok(cluster: K8sCluster, *args: str, input: str | None = None) -> str:
    result = cluster.kubectl(*args, input=input)
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result.stdout


@pytest.fixture(scope="session")
def crd(k8s_cluster: K8sCluster) -> K8sCluster:
    kubectl_ok(k8s_cluster, "apply", "-f", str(CRD))
    kubectl_ok(
        k8s_cluster,
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/modelrollouts.rollouts.understudy.dev",
    )
    return k8s_cluster


@pytest.fixture(scope="session")
def operator_kubeconfig(crd: K8sCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeconfig that authenticates as the operator's ServiceAccount (the RBAC of
    k8s/overlays/cluster-wide: each test has its own namespace), so the end-to-end tests
    prove the rules grant every verb the operator uses."""
    cluster = crd
    namespace = cluster.kubectl("create", "namespace", "understudy")
    assert namespace.returncode == 0 or "AlreadyExists" in namespace.stderr, namespace.stderr
    rendered = yaml.safe_load_all(kubectl_ok(cluster, "kustomize", str(CLUSTER_WIDE)))
    rbac = [d for d in rendered if d and d["kind"] in RBAC_KINDS]
    kubectl_ok(cluster, "apply", "-f", "-", input=yaml.safe_dump_all(rbac))
    token = kubectl_ok(
        cluster, "create", "token", "understudy-operator", "-n", "understudy", "--duration=2h"
    ).strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    ctx = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])["context"]
    cl = next(c for c in admin["clusters"] if c["name"] == ctx["cluster"])
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kwok", "cluster": cl["cluster"]}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "kwok", "user": "operator"}}],
        "current-context": "operator",
    }
    path = tmp_path_factory.mktemp("operator-identity") / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def namespace(crd: K8sCluster) -> Iterator[str]:
    name = f"op-{uuid.uuid4().hex[:8]}"
    kubectl_ok(crd, "create", "namespace", name)
    yield name
    crd.kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture(scope="session")
def fleet(artifacts: Artifacts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelFleet]:
    from understudy_model.faults import write_flaky

    # v2 failing on the houses whose Lot_Area is a multiple of 7 (a canary step catches it).
    flaky = write_flaky(
        artifacts.v2, tmp_path_factory.mktemp("flaky") / "v2-flaky", version="2.0.1-flaky", every=7
    )
    f = ModelFleet(
        {
            "1.0.0": artifacts.v1,
            "2.0.0": artifacts.v2,
            "2.0.0-bad": artifacts.bad,
            "2.0.1-flaky": flaky,
        }
    )
    yield f
    f.stop()


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with PrometheusServer(tmp_path_factory.mktemp("prometheus-e2e")) as prom:
        yield prom


@pytest.fixture(scope="session")
def records(ames_split: Split) -> list[dict[str, Any]]:
    return holdout_records(ames_split, limit=200)


@pytest.fixture
def start_operator(operator_kubeconfig: Path) -> Iterator[OperatorFactory]:
    """Start ``python -m understudy_operator`` as a local process watching one namespace."""
    started: list[OperatorProcess] = []

    def start(
        *,
        namespace: str,
        prometheus_url: str,
        tick: float = 0.5,
        identity: str = "",
        env: dict[str, str] | None = None,
    ) -> OperatorProcess:
        proc = start_service(
            "understudy_operator",
            env={
                "KUBECONFIG": str(operator_kubeconfig),
                "UNDERSTUDY_OPERATOR_PROMETHEUS_URL": prometheus_url,
                "UNDERSTUDY_OPERATOR_PROMETHEUS_TIMEOUT_SECONDS": "2",
                "UNDERSTUDY_OPERATOR_TICK_SECONDS": str(tick),
                "UNDERSTUDY_OPERATOR_NAMESPACES": json.dumps([namespace]),
                "UNDERSTUDY_OPERATOR_METRICS_PORT": "0",
                "UNDERSTUDY_OPERATOR_METRICS_HOST": "127.0.0.1",
                "UNDERSTUDY_OPERATOR_RETRY_DELAY_SECONDS": "0.5",
                # The raw manifests' Lease (k8s/operator/rbac.yaml)
                "UNDERSTUDY_OPERATOR_LEASE_NAMESPACE": "understudy",
                "UNDERSTUDY_OPERATOR_IDENTITY": identity,
                **(env or {}),
            },
            port_env="UNDERSTUDY_OPERATOR_HEALTH_PORT",
            ready_path="/healthz",
            timeout=BUSY_START_TIMEOUT_S,
        )
        op = OperatorProcess(proc)
        started.append(op)
        return op

    yield start
    for op in started:
        op.proc.stop()
