"""`helm install` on a real node: the chart with the kind values, images built from the
repository's Dockerfiles, pods that really run (containerd + runc), cluster DNS and
Services (CoreDNS, kube-proxy).

What runs here that kwok cannot show: each image starts as its non-root user with a
read-only root filesystem and passes its probes; the router finds the model-api pods by
their Service names; Prometheus scrapes the router; `helm test` passes. The log pipeline
(Elasticsearch, Kibana, Fluent Bit) is off: those images cannot be made on this machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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
    prometheus_query,
    service_get,
    start_traffic,
    traffic_summary,
    wait_until,
)

pytestmark = [*REAL_NODE_MARKS]

RELEASE = "understudy"
# Prints the user id and the errno of writing to / (30: EROFS, a read-only root).
PROBE_WRITE = (
    "import os\ntry:\n open('/probe','w')\nexcept OSError as e:\n print(os.getuid(), e.errno)"
)


class Install:
    def __init__(self, cluster: K8sCluster, namespace: str) -> None:
        self.cluster, self.namespace = cluster, namespace
        self.router = f"{RELEASE}-router"
        self.prometheus = f"{RELEASE}-prometheus"


@pytest.fixture(scope="module")
def install(real_node: K8sCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    namespace = new_namespace(real_node, "install")
    helm_install(
        real_node,
        release=RELEASE,
        namespace=namespace,
        values_dir=tmp_path_factory.mktemp("values"),
    )
    # The chart's ModelRollout (1.0.0) goes live: the operator makes its Deployment.
    wait_until(
        lambda: [p for p in pods(real_node, namespace, model_api_pods("live")) if pod_ready(p)],
        timeout=180,
        what="the live model-api pod Ready",
    )
    yield Install(real_node, namespace)
    real_node.helm("uninstall", RELEASE, "--namespace", namespace, "--wait", "--timeout", "3m")
    real_node.kubectl("delete", "namespace", namespace, "--wait=false")


def test_every_pod_is_ready_on_the_real_node(install: Install) -> None:
    def all_ready() -> list[dict[str, Any]] | None:
        found = pods(install.cluster, install.namespace)
        return found if found and all(pod_ready(p) for p in found) else None

    found = wait_until(all_ready, timeout=180, what="every pod Ready")
    assert {p["spec"]["nodeName"] for p in found} == {"realnode"}
    names = " ".join(p["metadata"]["name"] for p in found)
    for component in ("operator", "router", "prometheus", "live"):
        assert component in names, names


def test_each_understudy_container_runs_as_non_root_on_a_read_only_root(install: Install) -> None:
    for pod in pods(install.cluster, install.namespace):
        for container in pod["spec"]["containers"]:
            if "understudy/" not in container["image"]:
                continue
            uid = ok(
                install.cluster.kubectl(
                    "exec",
                    "-n",
                    install.namespace,
                    pod["metadata"]["name"],
                    "-c",
                    container["name"],
                    "--",
                    "python",
                    "-c",
                    PROBE_WRITE,
                )
            )
            user, errno = uid.split()
            assert user != "0", f"{pod['metadata']['name']} runs as root"
            assert errno == "30", f"{pod['metadata']['name']}: root filesystem is writable"  # EROFS


def test_helm_test_passes(install: Install) -> None:
    out = ok(
        install.cluster.helm("test", RELEASE, "--namespace", install.namespace, "--timeout", "3m")
    )
    assert "Phase:          Succeeded" in out or "Succeeded" in out, out


def test_the_live_model_reports_the_baked_version(install: Install) -> None:
    model = service_get(install.cluster, install.namespace, f"http:{install.router}:80", "v1/model")
    assert "1.0.0" in str(model), model


def test_a_prediction_through_the_router_service_answers_from_the_live_model(
    install: Install,
) -> None:
    url = f"http://{install.router}.{install.namespace}.svc.cluster.local"
    pod = start_traffic(
        install.cluster,
        namespace=install.namespace,
        url=url,
        requests=20,
        max_seconds=120,
        workers=1,
        name="one-client",
    )
    summary = traffic_summary(install.cluster, install.namespace, pod, timeout=180)
    assert summary["status"] == {"200": 20}, summary
    assert summary["versions"] == {"1.0.0": 20}, summary


def test_prometheus_scrapes_the_router(install: Install) -> None:
    def router_up() -> list[Any] | None:
        result = prometheus_query(
            install.cluster,
            install.namespace,
            install.prometheus,
            "up == 1 and on(instance) understudy_router_requests_total",
        )
        return result or None

    wait_until(router_up, timeout=120, what="Prometheus to scrape the router", poll=2)
    count = prometheus_query(
        install.cluster,
        install.namespace,
        install.prometheus,
        "sum(understudy_router_requests_total)",
    )
    assert count and float(count[0]["value"][1]) >= 1
