"""Upgrading the ModelRollout CRD with the chart, on a real API server (docs/install.md,
"Upgrading").

Helm installs the files in a chart's ``crds/`` folder only when the CRD is missing and never
upgrades or deletes them. The documented step is ``kubectl apply --server-side
--force-conflicts -f helm/understudy/crds/`` before ``helm upgrade``. This test installs
the chart, makes a copy of it whose CRD has one new optional field, and shows both halves:
``helm upgrade`` alone leaves the field unknown (the API server refuses it), the documented
step serves it, and ``helm uninstall`` keeps the CRD. The original CRD is applied back at the
end, so the session's other tests see the CRD of the repository.
"""

from __future__ import annotations

import copy
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.support.layout import CHART, OPERATOR_CRD, REPO

if TYPE_CHECKING:
    from tests.support.cluster import K8sCluster

pytestmark = pytest.mark.cluster

CRD_NAME = "modelrollouts.rollouts.understudy.dev"
NEW_FIELD = "upgradeProbe"  # exists only in this test's copy of the chart
# Only the operator and the router: nothing the upgrade is not about.
VALUES = {
    "operator": {
        "prometheusUrl": "http://prometheus.example:9090",
        "uninstallHook": {"enabled": False},  # its Job would wait for a running operator
    },
    "prometheus": {"enabled": False},
    "logging": {"enabled": False},
}


def ok(result: Any) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return str(result.stdout)


def apply_crds(cluster: K8sCluster, crds: Path) -> None:
    """The documented upgrade step, then wait until the API server serves the new schema."""
    ok(cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crds)))
    ok(cluster.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s"))


def chart_with_new_field(tmp: Path) -> Path:
    """A copy of the chart whose CRD has one more optional field in spec."""
    chart = tmp / "understudy"
    shutil.copytree(CHART, chart)
    crd_path = chart / "crds" / "modelrollouts.yaml"
    crd = yaml.safe_load(crd_path.read_text())
    for version in crd["spec"]["versions"]:
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
        spec["properties"][NEW_FIELD] = {"type": "string", "description": "test-only field"}
    crd_path.write_text(yaml.safe_dump(crd, sort_keys=False))
    return chart


def dry_run_rollout(cluster: K8sCluster, namespace: str) -> Any:
    """Create a ModelRollout using the new field as a server-side dry run (strict field
    validation: an unknown field is an error, not silently dropped)."""
    rollout = copy.deepcopy(yaml.safe_load((REPO / "k8s/examples/automatic.yaml").read_text()))
    rollout["metadata"]["namespace"] = namespace
    rollout["spec"][NEW_FIELD] = "served"
    return cluster.kubectl(
        "create",
        "--dry-run=server",
        "--validate=strict",
        "-o",
        "json",
        "-f",
        "-",
        input=json.dumps(rollout),
    )


@pytest.fixture
def namespace(k8s_cluster: K8sCluster) -> Iterator[str]:
    name = f"crd-up-{uuid.uuid4().hex[:6]}"
    ok(k8s_cluster.kubectl("create", "namespace", name))
    yield name
    k8s_cluster.kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture
def original_crd_restored(k8s_cluster: K8sCluster) -> Iterator[None]:
    yield
    apply_crds(k8s_cluster, OPERATOR_CRD)


def test_a_release_upgrade_across_a_crd_change_serves_the_new_field(
    k8s_cluster: K8sCluster, namespace: str, original_crd_restored: None, tmp_path: Path
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(VALUES))
    release = "crd-upgrade"
    helm = ("-n", namespace, "-f", str(values))
    # The CRD as this repository has it (another test may have installed it already: then
    # Helm skips it, as it would on a cluster that has it).
    apply_crds(k8s_cluster, OPERATOR_CRD)
    ok(k8s_cluster.helm("install", release, str(CHART), *helm))
    refused = dry_run_rollout(k8s_cluster, namespace)
    assert refused.returncode != 0
    assert f'unknown field "spec.{NEW_FIELD}"' in refused.stderr

    new_chart = chart_with_new_field(tmp_path)
    # helm upgrade alone: Helm never upgrades crds/, the field stays unknown.
    ok(k8s_cluster.helm("upgrade", release, str(new_chart), *helm))
    still_refused = dry_run_rollout(k8s_cluster, namespace)
    assert f'unknown field "spec.{NEW_FIELD}"' in still_refused.stderr

    # The documented step, then the upgrade: the field is served.
    apply_crds(k8s_cluster, new_chart / "crds")
    ok(k8s_cluster.helm("upgrade", release, str(new_chart), *helm))
    served = json.loads(ok(dry_run_rollout(k8s_cluster, namespace)))
    assert served["spec"][NEW_FIELD] == "served"
    history = json.loads(ok(k8s_cluster.helm("history", release, "-n", namespace, "-o", "json")))
    assert [h["revision"] for h in history] == [1, 2, 3]

    # Uninstalling keeps the CRD (every ModelRollout would go with it), new field and all.
    ok(k8s_cluster.helm("uninstall", release, "-n", namespace))
    crd = json.loads(ok(k8s_cluster.kubectl("get", "crd", CRD_NAME, "-o", "json")))
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert NEW_FIELD in spec["properties"]
