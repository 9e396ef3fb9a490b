"""The raw manifests (k8s/), without a cluster: they parse, are complete Kubernetes objects,
and agree with each other and with the processes they configure."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.layout import K8S, K8S_BASE, load_yaml_documents
from tests.support.promtool import promtool_check
from understudy_router.config import parse_config

MANIFESTS = sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")
KUSTOMIZATIONS = sorted(K8S.rglob("kustomization.yaml"))


def _base_objects() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(K8S_BASE.rglob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load_yaml_documents(path)
    ]


def _one(kind: str, name: str) -> dict[str, Any]:
    (obj,) = [o for o in _base_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(K8S)))
def test_manifest_is_kubernetes_objects(path: Path) -> None:
    docs = load_yaml_documents(path)
    assert docs, "empty manifest"
    for doc in docs:
        assert isinstance(doc, dict)
        assert doc.get("apiVersion") and doc.get("kind"), f"no apiVersion/kind in {doc}"
        assert doc.get("metadata", {}).get("name"), f"a {doc['kind']} without a name"


def test_there_are_kustomizations() -> None:
    assert K8S_BASE / "kustomization.yaml" in KUSTOMIZATIONS
    assert K8S / "kustomization.yaml" in KUSTOMIZATIONS


@pytest.mark.parametrize("path", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(K8S)))
def test_kustomization_lists_files_that_exist(path: Path) -> None:
    kustomization = yaml.safe_load(path.read_text())
    assert kustomization["kind"] == "Kustomization"
    for resource in kustomization.get("resources", []):
        assert (path.parent / resource).exists(), f"{resource} does not exist"
    for generator in kustomization.get("configMapGenerator", []):
        for entry in generator.get("files", []):
            assert (path.parent / entry.split("=")[-1]).is_file(), entry


def test_every_base_manifest_is_in_the_kustomization() -> None:
    listed = {
        (K8S_BASE / r).resolve()
        for r in yaml.safe_load((K8S_BASE / "kustomization.yaml").read_text())["resources"]
    }
    on_disk = {p.resolve() for p in K8S_BASE.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert on_disk - listed == set(), "manifests kubectl apply -k would leave out"


def test_base_objects_are_namespaced_in_understudy() -> None:
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    for obj in _base_objects():
        if obj["kind"] not in cluster_scoped:
            assert obj["metadata"].get("namespace") == "understudy", obj["metadata"]["name"]


def test_router_configmap_is_a_routing_config_the_router_accepts() -> None:
    configmap = _one("ConfigMap", "shadow-router")
    config = parse_config(configmap["data"]["router.json"])
    assert config.live is not None
    # the live URL is the model-api Service, on its port
    service = _one("Service", "house-prices-live")
    (port,) = service["spec"]["ports"]
    assert config.live.url == f"http://house-prices-live.understudy.svc:{port['port']}"


def test_router_reads_the_configmap_it_may_read() -> None:
    deployment = _one("Deployment", "shadow-router")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = _env(container)
    namespace, name = env["UNDERSTUDY_ROUTER_CONFIGMAP"].split("/")
    assert (namespace, name) == ("understudy", "shadow-router")
    role = _one("Role", "shadow-router")
    (rule,) = role["rules"]
    assert rule["resourceNames"] == [name]
    assert {"get", "list", "watch"} <= set(rule["verbs"])
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "shadow-router"


@pytest.mark.parametrize(
    ("deployment", "prefix", "service"),
    [
        ("house-prices-live", "UNDERSTUDY_MODEL_API_", "house-prices-live"),
        ("shadow-router", "UNDERSTUDY_ROUTER_", "shadow-router"),
    ],
)
def test_ports_line_up(deployment: str, prefix: str, service: str) -> None:
    pod = _one("Deployment", deployment)["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    (port,) = container["ports"]
    assert int(_env(container)[f"{prefix}PORT"]) == port["containerPort"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port["containerPort"])
    (svc_port,) = _one("Service", service)["spec"]["ports"]
    assert svc_port["targetPort"] == port["name"]
    selector = _one("Service", service)["spec"]["selector"]
    assert selector.items() <= pod["metadata"]["labels"].items()


def test_pods_run_as_non_root_without_privilege_escalation() -> None:
    for obj in _base_objects():
        if obj["kind"] not in {"Deployment", "DaemonSet", "Job"}:
            continue
        spec = obj["spec"]["template"]["spec"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            ctx = container.get("securityContext", {})
            assert ctx.get("allowPrivilegeEscalation") is False, container["name"]
            assert ctx.get("capabilities", {}).get("drop") == ["ALL"], container["name"]
        if obj["metadata"]["name"] != "fluent-bit":  # reads the node's root-owned logs
            assert spec["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]


def test_every_emptydir_has_a_size_limit() -> None:
    """Without a sizeLimit an emptyDir can fill the node's disk."""
    for obj in _base_objects():
        if obj["kind"] not in {"Deployment", "DaemonSet", "Job"}:
            continue
        for volume in obj["spec"]["template"]["spec"].get("volumes", []):
            if "emptyDir" in volume:
                assert (volume["emptyDir"] or {}).get("sizeLimit"), obj["metadata"]["name"]


def test_fluent_bit_buffers_are_bounded_and_lose_nothing_on_an_outage() -> None:
    """The same settings as the chart's (docs/install.md, "Logs")."""
    conf = (K8S_BASE / "fluent-bit" / "fluent-bit.conf").read_text()
    for setting in (
        r"storage\.max_chunks_up\s+\d+",
        r"storage\.total_limit_size\s+\d+[KMG]",
        r"Retry_Limit\s+no_limits",
        r"storage\.type\s+filesystem",
    ):
        assert re.search(rf"^\s*{setting}$", conf, re.M), setting
    prometheus = _one("Deployment", "prometheus")["spec"]["template"]["spec"]["containers"][0]
    assert not [a for a in prometheus["args"] if "lifecycle" in a]


def test_fluent_bit_ships_to_the_elasticsearch_service() -> None:
    conf = (K8S_BASE / "fluent-bit" / "fluent-bit.conf").read_text()
    host = re.search(r"^\s*Host\s+(\S+)", conf, re.M)
    port = re.search(r"^\s*Port\s+(\d+)", conf, re.M)
    assert host and port
    (svc_port,) = _one("Service", "elasticsearch")["spec"]["ports"]
    assert host.group(1) == "elasticsearch.understudy.svc"
    assert int(port.group(1)) == svc_port["port"]
    # the index the Kibana data view searches
    assert re.search(r"^\s*Logstash_Prefix\s+understudy-logs$", conf, re.M)


def test_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    promtool_check(_one("ConfigMap", "prometheus")["data"]["prometheus.yml"], tmp_path)


# -- base is what the operator would run for k8s/examples/automatic.yaml --------------------


def _operator_view() -> tuple[Any, Any, Any, Any]:
    from understudy_operator.core.spec import parse_spec
    from understudy_operator.kube import resources
    from understudy_operator.settings import OperatorSettings

    example = yaml.safe_load((K8S / "examples" / "automatic.yaml").read_text())
    ref = resources.RolloutRef(
        namespace=example["metadata"]["namespace"], name=example["metadata"]["name"], uid="u"
    )
    return resources, ref, parse_spec(example["spec"]), OperatorSettings()


def test_base_model_api_is_what_the_operator_runs_for_the_example() -> None:
    resources, ref, spec, settings = _operator_view()
    want = resources.deployment(
        ref=ref,
        role="live",
        spec=spec,
        version=spec.model.version,
        image=spec.model.image,
        settings=settings,
    )
    have = _one("Deployment", want["metadata"]["name"])
    # selector is immutable: the operator could not adopt a Deployment with another one
    assert have["spec"]["selector"] == want["spec"]["selector"]
    want_pod, have_pod = want["spec"]["template"], have["spec"]["template"]
    # all but managed-by, which becomes the operator's when it adopts the Deployment
    want_labels = want_pod["metadata"]["labels"].items() - {
        ("app.kubernetes.io/managed-by", "understudy-operator")
    }
    assert want_labels <= have_pod["metadata"]["labels"].items()
    (want_c,), (have_c,) = want_pod["spec"]["containers"], have_pod["spec"]["containers"]
    assert have_c["image"] == want_c["image"]
    assert have_c["ports"] == want_c["ports"]
    assert _env(want_c).items() <= _env(have_c).items()

    want_svc = resources.service(ref=ref, role="live", spec=spec, port=settings.model_port)
    have_svc = _one("Service", want_svc["metadata"]["name"])
    assert have_svc["spec"]["selector"] == want_svc["spec"]["selector"]
    assert have_svc["spec"]["ports"] == want_svc["spec"]["ports"]


def test_base_routing_is_what_the_operator_writes_for_the_example() -> None:
    resources, ref, spec, settings = _operator_view()
    name = resources.router_configmap_name(ref=ref, spec=spec, settings=settings)
    want = resources.router_config(
        ref=ref,
        spec=spec,
        settings=settings,
        live_version=spec.model.version,
        candidate_version=None,
    )
    have = _one("ConfigMap", name)["data"]["router.json"]
    assert parse_config(have) == parse_config(json.dumps(want))


def test_base_model_pods_drain_like_the_operators() -> None:
    resources, ref, spec, settings = _operator_view()
    deployment = resources.deployment(
        ref=ref, role="live", spec=spec, version=spec.model.version, image="x", settings=settings
    )
    want = deployment["spec"]["template"]["spec"]
    have_pod = _one("Deployment", deployment["metadata"]["name"])["spec"]["template"]["spec"]
    assert have_pod["containers"][0]["lifecycle"] == want["containers"][0]["lifecycle"]
    assert have_pod["terminationGracePeriodSeconds"] == want["terminationGracePeriodSeconds"]
    assert want["terminationGracePeriodSeconds"] > resources.PRE_STOP_SECONDS + 25
