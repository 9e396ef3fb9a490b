"""The ConfigMap source against a real Kubernetes API server (kwok cluster:
tests/support/cluster.py).

The router runs as a local process with a kubeconfig; the operator's part (writing the
ConfigMap) is played by kubectl.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.processes import ServiceProcess, start_service
from tests.support.router import metric, routing, routing_config, wait_for

if TYPE_CHECKING:
    from tests.support.cluster import K8sCluster

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

NAME = "house-prices-router"


def put_configmap(cluster: K8sCluster, namespace: str, document: str) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": NAME, "namespace": namespace},
        "data": {"router.json": document},
    }
    r = cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    assert r.returncode == 0, r.stderr


@pytest.fixture
def namespace(k8s_cluster: K8sCluster) -> Iterator[str]:
    name = f"router-{uuid.uuid4().hex[:8]}"
    r = k8s_cluster.kubectl("create", "namespace", name)
    assert r.returncode == 0, r.stderr
    yield name
    k8s_cluster.kubectl("delete", "namespace", name, "--wait=false")


def test_router_follows_the_operators_configmap(
    k8s_cluster: K8sCluster,
    namespace: str,
    live_api: ServiceProcess,
    candidate_api: ServiceProcess,
    faulty: ServiceProcess,
    records: list[dict[str, object]],
) -> None:
    first = routing_config(live_api, (candidate_api.url, "2.0.0"))
    put_configmap(k8s_cluster, namespace, json.dumps(first))
    env = {
        "UNDERSTUDY_ROUTER_CONFIGMAP": f"{namespace}/{NAME}",
        "UNDERSTUDY_ROUTER_KUBECONFIG": str(k8s_cluster.kubeconfig),
    }
    # /readyz turns 200 only once the ConfigMap was read from the API server.
    with start_service("understudy_router", env=env) as router, httpx.Client() as client:
        view = routing(client, router.url)
        assert view["source"] == f"configmap:{namespace}/{NAME}"
        assert view["config"]["candidate"]["version"] == "2.0.0"
        response = client.post(f"{router.url}/v1/predictions", json={"records": records[:2]})
        assert response.status_code == 200
        assert response.headers["x-model-version"] == "1.0.0"

        # The operator switches the candidate: picked up through the watch, no restart.
        second: dict[str, Any] = routing_config(
            live_api, (f"{faulty.url}/ok", "3.0.0"), mirror_percent=50
        )
        put_configmap(k8s_cluster, namespace, json.dumps(second))
        view = wait_for(
            lambda: (v := routing(client, router.url))["generation"] == 2 and v,
            what="the router to apply the changed ConfigMap",
        )
        assert view["config"]["candidate"]["version"] == "3.0.0"
        assert view["config"]["mirror_percent"] == 50

        # A broken document is rejected; the last good config stays in force.
        put_configmap(k8s_cluster, namespace, '{"live": {"url": "nope"}}')

        def rejected() -> str | None:
            text = client.get(f"{router.url}/metrics").text
            return (
                text
                if metric(
                    text,
                    "understudy_router_config_reloads_total",
                    source="configmap",
                    outcome="rejected",
                )
                == 1
                else None
            )

        text = wait_for(rejected, what="the broken ConfigMap to be rejected")
        assert 'candidate_version="3.0.0"' in text
        assert routing(client, router.url)["generation"] == 2
        assert (
            client.post(f"{router.url}/v1/predictions", json={"records": records[:1]}).status_code
            == 200
        )
        assert "rejected routing config from configmap:" in router.logs()


def test_router_is_ready_before_any_rollout_and_routes_once_the_configmap_appears(
    k8s_cluster: K8sCluster,
    namespace: str,
    live_api: ServiceProcess,
    records: list[dict[str, object]],
) -> None:
    """What `helm install --wait` sees on default values: no ModelRollout, no ConfigMap."""
    env = {
        "UNDERSTUDY_ROUTER_CONFIGMAP": f"{namespace}/{NAME}",
        "UNDERSTUDY_ROUTER_KUBECONFIG": str(k8s_cluster.kubeconfig),
    }
    with start_service("understudy_router", env=env) as router, httpx.Client() as client:
        assert client.get(f"{router.url}/readyz").json()["routing_configured"] is False
        view = routing(client, router.url)
        assert view["configured"] is False and view["waiting_for"] is None
        assert (
            metric(client.get(f"{router.url}/metrics").text, "understudy_router_routing_configured")
            == 0
        )
        refused = client.post(f"{router.url}/v1/predictions", json={"records": records[:1]})
        assert refused.status_code == 503
        assert refused.json()["error"] == "upstream_unavailable"

        put_configmap(k8s_cluster, namespace, json.dumps(routing_config(live_api, None)))
        view = wait_for(
            lambda: (v := routing(client, router.url))["configured"] and v,
            what="the router to pick the new ConfigMap up",
        )
        assert view["live_version"] == "1.0.0" and view["mirroring"] is False
        assert view["last_reload"]["outcome"] == "applied"
        assert (
            metric(client.get(f"{router.url}/metrics").text, "understudy_router_routing_configured")
            == 1
        )
        answered = client.post(f"{router.url}/v1/predictions", json={"records": records[:1]})
        assert answered.status_code == 200
