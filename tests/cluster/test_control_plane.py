"""Smoke tests of the local control plane: real API server, controllers, helm."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.support.cluster import K8sCluster

pytestmark = pytest.mark.cluster

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def namespace(k8s_cluster: K8sCluster) -> Iterator[str]:
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    r = k8s_cluster.kubectl("create", "namespace", name)
    assert r.returncode == 0, r.stderr
    yield name
    k8s_cluster.kubectl("delete", "namespace", name, "--wait=false")


def test_version_matches_pin(k8s_cluster: K8sCluster) -> None:
    from kubernetes import client

    want = k8s_cluster.versions["K8S_VERSION"]
    with k8s_cluster.api_client() as api:
        info = client.VersionApi(api).get_code()
    if not k8s_cluster.owned and info.git_version != want:
        pytest.skip(f"reused cluster runs {info.git_version}; the pin applies to ours")
    assert info.git_version == want
    assert info.major == "1"
    assert info.minor == want.split(".")[1]
    # kubectl talks to the same server and is itself the pinned build
    r = k8s_cluster.kubectl("version", "-o", "json")
    assert r.returncode == 0, r.stderr
    versions = json.loads(r.stdout)
    assert versions["clientVersion"]["gitVersion"] == want
    assert versions["serverVersion"]["gitVersion"] == want


def test_deployment_becomes_available(k8s_cluster: K8sCluster, namespace: str) -> None:
    nodes = k8s_cluster.kubectl("get", "nodes", "-l", "type=kwok", "-o", "name")
    assert nodes.returncode == 0, nodes.stderr
    if not nodes.stdout.strip():
        assert not k8s_cluster.owned, "our kwok cluster has no fake nodes"
        pytest.skip("reused cluster has no kwok fake nodes (type=kwok)")

    r = k8s_cluster.kubectl("apply", "-n", namespace, "-f", str(FIXTURES / "deployment.yaml"))
    assert r.returncode == 0, r.stderr
    assert "deployment.apps/smoke created" in r.stdout

    r = k8s_cluster.kubectl(
        "wait",
        "-n",
        namespace,
        "deployment/smoke",
        "--for=condition=Available",
        "--timeout=120s",
    )
    assert r.returncode == 0, r.stderr
    assert "condition met" in r.stdout

    r = k8s_cluster.kubectl("get", "-n", namespace, "deployment/smoke", "-o", "json")
    status = json.loads(r.stdout)["status"]
    assert status["readyReplicas"] == 2
    assert status["availableReplicas"] == 2

    # the pods were scheduled by the real scheduler onto fake nodes and marked Running
    r = k8s_cluster.kubectl("get", "pods", "-n", namespace, "-l", "app=smoke", "-o", "json")
    pods = json.loads(r.stdout)["items"]
    assert len(pods) == 2
    assert all(p["status"]["phase"] == "Running" for p in pods)
    assert all(p["spec"]["nodeName"] for p in pods)


def test_crd_schema_rejects_invalid_resource(k8s_cluster: K8sCluster, namespace: str) -> None:
    crd = FIXTURES / "widget-crd.yaml"
    r = k8s_cluster.kubectl("apply", "-f", str(crd))
    assert r.returncode == 0, r.stderr
    try:
        r = k8s_cluster.kubectl(
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/widgets.test.understudy.dev",
        )
        assert r.returncode == 0, r.stderr

        good = (
            "apiVersion: test.understudy.dev/v1\nkind: Widget\n"
            "metadata: {name: good}\nspec: {size: 3, colour: red}\n"
        )
        r = k8s_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=good)
        assert r.returncode == 0, r.stderr
        assert "widget.test.understudy.dev/good created" in r.stdout

        bad = (
            "apiVersion: test.understudy.dev/v1\nkind: Widget\n"
            "metadata: {name: bad}\nspec: {size: 0, colour: purple}\n"
        )
        r = k8s_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=bad)
        assert r.returncode != 0
        # the API server's own OpenAPI validation messages
        assert 'The Widget "bad" is invalid' in r.stderr
        assert (
            "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"
            in r.stderr
        )
        assert 'spec.colour: Unsupported value: "purple"' in r.stderr

        # the same rejection straight from the API: 422 with the server's status message
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        body = {
            "apiVersion": "test.understudy.dev/v1",
            "kind": "Widget",
            "metadata": {"name": "bad2"},
            "spec": {"size": -5},
        }
        with k8s_cluster.api_client() as api, pytest.raises(ApiException) as exc:
            client.CustomObjectsApi(api).create_namespaced_custom_object(
                "test.understudy.dev", "v1", namespace, "widgets", body
            )
        assert exc.value.status == 422
        status = json.loads(str(exc.value.body))
        assert status["reason"] == "Invalid"
        assert status["message"] == (
            'Widget.test.understudy.dev "bad2" is invalid: spec.size: Invalid value: -5: '
            "spec.size in body should be greater than or equal to 1"
        )

        r = k8s_cluster.kubectl("get", "widgets", "-n", namespace, "-o", "name")
        assert r.stdout.split() == ["widget.test.understudy.dev/good"]
    finally:
        k8s_cluster.kubectl("delete", "-f", str(crd), "--wait=false")


def test_helm_template_and_install(k8s_cluster: K8sCluster, namespace: str) -> None:
    chart = FIXTURES / "tiny-chart"
    r = k8s_cluster.helm("template", "demo", str(chart), "--set", "greeting=hi there")
    assert r.returncode == 0, r.stderr
    assert "name: demo-tiny" in r.stdout
    assert 'greeting: "hi there"' in r.stdout

    r = k8s_cluster.helm(
        "install",
        "demo",
        str(chart),
        "-n",
        namespace,
        "--set",
        "greeting=bonjour",
        "--wait",
        "--timeout",
        "2m",
    )
    assert r.returncode == 0, r.stderr
    assert "STATUS: deployed" in r.stdout
    try:
        r = k8s_cluster.kubectl(
            "get", "configmap", "demo-tiny", "-n", namespace, "-o", "jsonpath={.data.greeting}"
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout == "bonjour"

        r = k8s_cluster.helm("list", "-n", namespace, "-o", "json")
        releases = json.loads(r.stdout)
        assert [(x["name"], x["status"], x["chart"]) for x in releases] == [
            ("demo", "deployed", "tiny-chart-0.1.0")
        ]
    finally:
        r = k8s_cluster.helm("uninstall", "demo", "-n", namespace, "--wait")
    assert r.returncode == 0, r.stderr
    r = k8s_cluster.kubectl("get", "configmap", "demo-tiny", "-n", namespace)
    assert r.returncode != 0
    assert "NotFound" in r.stderr
