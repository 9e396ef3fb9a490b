"""The install against a real API server (kwok cluster: real kube-apiserver, controllers and
scheduler; fake nodes whose pods become Ready without running anything).

What this proves: the chart lints and renders with every ci/*-values.yaml, every object it
renders (and every raw manifest) is accepted by the API server, `helm install` brings every
Deployment and the DaemonSet to Available, RBAC lets each service account do what its
process does and no more, a bad values file is refused with a readable message, and
`helm uninstall` leaves nothing behind; the ServiceMonitors, PodMonitors and PrometheusRule
are accepted against the Prometheus Operator's published CRDs and select what the operator
creates; the NetworkPolicies select the operator's model pods and let only the router and
Prometheus in. What it cannot prove: that the containers work (no images run here), or that
a CNI enforces the NetworkPolicies (kwok has none).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.support.layout import ALERT_RULES, CHART, CHART_CI_VALUES, K8S, OPERATOR_CRD, REPO
from tests.support.promtool import promtool_check, promtool_check_with_rules

if TYPE_CHECKING:
    from tests.support.cluster import K8sCluster

pytestmark = pytest.mark.cluster

# kwok's fake nodes are labelled type=kwok and tainted kwok.x-k8s.io/node:NoSchedule.
KWOK_VALUES = {
    "global": {
        "nodeSelector": {"type": "kwok"},
        "tolerations": [
            {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
        ],
    }
}
COMPONENTS = ("operator", "router", "prometheus", "elasticsearch", "kibana")


def ok(result: Any) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return str(result.stdout)


def rendered(cluster: K8sCluster, *args: str) -> list[dict[str, Any]]:
    out = ok(cluster.helm("template", "it", str(CHART), *args))
    return [d for d in yaml.safe_load_all(out) if d]


def new_namespace(cluster: K8sCluster, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    ok(cluster.kubectl("create", "namespace", name))
    return name


def wait_until(check: Any, *, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while True:
        last = check()
        if last is True:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {last}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def kwok_values(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("values") / "kwok-values.yaml"
    path.write_text(yaml.safe_dump(KWOK_VALUES))
    return path


@pytest.fixture(scope="module")
def crd_installed(k8s_cluster: K8sCluster) -> Iterator[None]:
    """The operator's CRD and the Prometheus Operator's ServiceMonitor, PodMonitor and
    PrometheusRule CRDs (their published YAML, scripts/prometheus-operator-crds.sh), installed
    for real (a dry run cannot create a CRD and an object of it at once). Left in place: Helm
    never deletes CRDs either."""
    if not OPERATOR_CRD.is_file():
        pytest.fail(f"{OPERATOR_CRD.relative_to(REPO)} does not exist yet")
    k8s_cluster.install_crd(OPERATOR_CRD)
    fetched = subprocess.run(
        ["bash", str(REPO / "scripts" / "prometheus-operator-crds.sh")],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert fetched.returncode == 0, fetched.stderr
    crds = sorted(Path(fetched.stdout.strip()).glob("monitoring.coreos.com_*.yaml"))
    assert len(crds) == 3, crds
    for path in crds:
        k8s_cluster.install_crd(path)
    yield


# -- helm lint / template ------------------------------------------------------------------


@pytest.mark.parametrize("values", CHART_CI_VALUES, ids=lambda p: p.name)
def test_helm_lint_strict(k8s_cluster: K8sCluster, values: Path) -> None:
    out = ok(k8s_cluster.helm("lint", "--strict", str(CHART), "-f", str(values)))
    assert "1 chart(s) linted, 0 chart(s) failed" in out


@pytest.mark.parametrize("values", CHART_CI_VALUES, ids=lambda p: p.name)
def test_helm_template_renders_labelled_objects(k8s_cluster: K8sCluster, values: Path) -> None:
    docs = rendered(k8s_cluster, "-f", str(values), "--namespace", "ci")
    assert docs
    for doc in docs:
        assert doc["apiVersion"] and doc["kind"], doc
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/instance") == "it", doc["metadata"]["name"]
        assert len(doc["metadata"]["name"]) <= 63, doc["metadata"]["name"]
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ServiceAccount"} <= kinds


def test_rendered_prometheus_config_passes_promtool(
    k8s_cluster: K8sCluster, tmp_path: Path
) -> None:
    for values in CHART_CI_VALUES:
        docs = rendered(k8s_cluster, "-f", str(values))
        for doc in docs:
            if doc["kind"] == "ConfigMap" and "prometheus.yml" in doc.get("data", {}):
                promtool_check(doc["data"]["prometheus.yml"], tmp_path)
                # and with the alert rules file it mounts beside it, read and checked
                out = promtool_check_with_rules(
                    doc["data"]["prometheus.yml"], doc["data"], tmp_path
                )
                rules = yaml.safe_load(ALERT_RULES.read_text())["groups"]
                assert f"SUCCESS: {sum(len(g['rules']) for g in rules)} rules found" in out


def test_optional_components_follow_their_toggles(k8s_cluster: K8sCluster) -> None:
    def deployments(*args: str) -> set[str]:
        return {
            d["metadata"]["labels"]["app.kubernetes.io/component"]
            for d in rendered(k8s_cluster, *args)
            if d["kind"] in ("Deployment", "DaemonSet")
        }

    assert deployments() == {*COMPONENTS, "fluent-bit"}
    assert deployments("--set", "logging.enabled=false") == {"operator", "router", "prometheus"}
    assert deployments(
        "--set", "prometheus.enabled=false", "--set", "operator.prometheusUrl=http://p:9090"
    ) == {"operator", "router", "elasticsearch", "kibana", "fluent-bit"}
    assert "elasticsearch" not in deployments(
        "--set", "logging.elasticsearch.external.host=es.example.com"
    )
    rollouts = [
        d
        for d in rendered(k8s_cluster, "--set", "rollout.create=true")
        if d["kind"] == "ModelRollout"
    ]
    assert len(rollouts) == 1


def test_operator_needs_a_prometheus(k8s_cluster: K8sCluster) -> None:
    r = k8s_cluster.helm("template", "it", str(CHART), "--set", "prometheus.enabled=false")
    assert r.returncode != 0
    assert "operator.prometheusUrl is required" in r.stderr


def test_router_reads_the_configmap_the_rollout_names(k8s_cluster: K8sCluster) -> None:
    docs = rendered(k8s_cluster, "--set", "rollout.create=true", "--namespace", "ns1")
    (rollout,) = [d for d in docs if d["kind"] == "ModelRollout"]
    (router,) = [
        d
        for d in docs
        if d["kind"] == "Deployment"
        and d["metadata"]["labels"]["app.kubernetes.io/component"] == "router"
    ]
    env = {
        e["name"]: e.get("value")
        for e in router["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["UNDERSTUDY_ROUTER_CONFIGMAP"] == f"ns1/{rollout['spec']['router']['configMapName']}"
    assert env["UNDERSTUDY_ROUTER_MODEL_NAME"] == rollout["spec"]["model"]["name"]


@pytest.mark.parametrize("values", CHART_CI_VALUES, ids=lambda p: p.name)
def test_every_rendered_object_passes_server_side_validation(
    k8s_cluster: K8sCluster, crd_installed: None, values: Path
) -> None:
    """helm template | kubectl apply --dry-run=server: the API server's own schema checks
    (unknown fields are errors) on every object, for every CI values file."""
    namespace = new_namespace(k8s_cluster, "dry")
    extra = yaml.safe_load(values.read_text()) or {}
    made = []
    for ns in extra.get("operator", {}).get("watchNamespaces", []):
        if k8s_cluster.kubectl("get", "namespace", ns).returncode != 0:
            ok(k8s_cluster.kubectl("create", "namespace", ns))
            made.append(ns)
    try:
        manifest = ok(
            k8s_cluster.helm("template", "it", str(CHART), "-f", str(values), "-n", namespace)
        )
        out = ok(
            k8s_cluster.kubectl(
                "apply",
                "--dry-run=server",
                "--validate=strict",
                # every object names its namespace (the chart sets metadata.namespace)
                "-f",
                "-",
                input=manifest,
            )
        )
        docs = [d for d in yaml.safe_load_all(manifest) if d]
        assert out.count("(server dry run)") == len(docs)
    finally:
        for ns in [namespace, *made]:
            k8s_cluster.kubectl("delete", "namespace", ns, "--wait=false")


# -- monitors and alert rules for a Prometheus Operator ---------------------------------------

MONITORS = ("--set", "metrics.prometheusRule.enabled=true")


def _labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def _operator_made(namespace: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A model Deployment and Service exactly as the operator makes them."""
    from understudy_operator.core.spec import parse_spec
    from understudy_operator.kube import resources
    from understudy_operator.settings import OperatorSettings

    example = yaml.safe_load((K8S / "examples" / "automatic.yaml").read_text())
    ref = resources.RolloutRef(namespace=namespace, name=example["metadata"]["name"], uid="u")
    spec, settings = parse_spec(example["spec"]), OperatorSettings()
    deployment = resources.deployment(
        ref=ref, role="candidate", spec=spec, version="2.0.0", image="x", settings=settings
    )
    service = resources.service(ref=ref, role="candidate", spec=spec, port=settings.model_port)
    return deployment, service


@pytest.mark.parametrize("kind", ["ServiceMonitor", "PodMonitor"])
def test_monitors_select_the_router_the_operator_and_the_operators_model_pods(
    k8s_cluster: K8sCluster, kind: str
) -> None:
    """Each monitor's selector and port name what it scrapes: the chart's router and operator,
    and the Deployment and Service the operator creates (its own manifest code)."""
    flag = "serviceMonitor" if kind == "ServiceMonitor" else "podMonitor"
    docs = rendered(k8s_cluster, "--set", f"metrics.{flag}.enabled=true", "-n", "ns1")
    monitors = {
        d["metadata"]["name"].removeprefix("it-understudy-"): d for d in docs if d["kind"] == kind
    }
    assert set(monitors) == {"router", "operator", "models"}
    deployments = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for d in docs
        if d["kind"] == "Deployment"
    }
    services = [d for d in docs if d["kind"] == "Service"]
    model_deployment, model_service = _operator_made("ns1")
    for name, monitor in monitors.items():
        spec = monitor["spec"]
        selector = spec["selector"]["matchLabels"]
        assert spec["namespaceSelector"] == {"matchNames": ["ns1"]}, name
        (endpoint,) = spec["endpoints" if kind == "ServiceMonitor" else "podMetricsEndpoints"]
        assert endpoint["relabelings"] == [
            {
                "sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_component"],
                "targetLabel": "component",
            }
        ]
        if kind == "ServiceMonitor":
            candidates = [model_service] if name == "models" else services
            chosen = [s for s in candidates if _labels_match(selector, s["metadata"]["labels"])]
            assert len(chosen) == 1, (name, [s["metadata"]["name"] for s in chosen])
            assert endpoint["port"] in {p["name"] for p in chosen[0]["spec"]["ports"]}, name
        else:
            pod = (model_deployment if name == "models" else deployments[name])["spec"]["template"]
            assert _labels_match(selector, pod["metadata"]["labels"]), name
            ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
            assert endpoint["port"] in ports, name
    # the router's ServiceMonitor must not also pick the operator's metrics Service up
    router_selector = monitors["router"]["spec"]["selector"]["matchLabels"]
    assert router_selector["app.kubernetes.io/component"] == "router"


def test_model_monitors_follow_the_operators_namespaces(k8s_cluster: K8sCluster) -> None:
    def models(*args: str) -> dict[str, Any]:
        docs = rendered(k8s_cluster, "--set", "metrics.podMonitor.enabled=true", *args)
        (monitor,) = [
            d
            for d in docs
            if d["kind"] == "PodMonitor" and d["metadata"]["name"] == "it-understudy-models"
        ]
        return dict(monitor["spec"]["namespaceSelector"])

    assert models("--set", "operator.watchNamespaces={a,b}") == {"matchNames": ["a", "b"]}
    assert models("--set", "operator.clusterWide=true") == {"any": True}


def test_service_and_pod_monitors_together_are_refused(k8s_cluster: K8sCluster) -> None:
    r = k8s_cluster.helm(
        "template",
        "it",
        str(CHART),
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "metrics.podMonitor.enabled=true",
    )
    assert r.returncode != 0
    assert "enable one of metrics.serviceMonitor and metrics.podMonitor" in r.stderr


def test_alert_rules_are_one_source_rendered_two_ways(k8s_cluster: K8sCluster) -> None:
    """The PrometheusRule and the bundled Prometheus' rules file hold files/alert-rules.yaml."""
    source = yaml.safe_load(ALERT_RULES.read_text())
    docs = rendered(k8s_cluster, *MONITORS)
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    assert rule["spec"] == source
    (config,) = [
        d for d in docs if d["kind"] == "ConfigMap" and "prometheus.yml" in d.get("data", {})
    ]
    assert config["data"]["alert-rules.yml"].strip() == ALERT_RULES.read_text().strip()
    prometheus_yml = yaml.safe_load(config["data"]["prometheus.yml"])
    assert prometheus_yml["rule_files"] == ["/etc/prometheus/alert-rules.yml"]
    off = rendered(k8s_cluster, "--set", "prometheus.alertRules.enabled=false")
    (config,) = [d for d in off if d["kind"] == "ConfigMap" and "prometheus.yml" in d["data"]]
    assert "alert-rules.yml" not in config["data"]
    assert "rule_files" not in yaml.safe_load(config["data"]["prometheus.yml"])
    assert not [d for d in off if d["kind"] == "PrometheusRule"]


@pytest.mark.parametrize("flag", ["serviceMonitor", "podMonitor"])
def test_the_api_server_accepts_the_monitors_and_rules(
    k8s_cluster: K8sCluster, crd_installed: None, flag: str
) -> None:
    """Applied for real (not only a dry run) against the Prometheus Operator's published CRDs,
    with a watched namespace of its own; then read back."""
    namespace = new_namespace(k8s_cluster, "mon")
    try:
        manifest = ok(
            k8s_cluster.helm(
                "template",
                "it",
                str(CHART),
                "-n",
                namespace,
                "--set",
                f"metrics.{flag}.enabled=true",
                "--set",
                f"metrics.{flag}.interval=30s",
                "--set",
                f"metrics.{flag}.labels.release=kube-prometheus-stack",
                *MONITORS,
                "--show-only",
                f"templates/monitoring/{flag.lower()}.yaml",
                "--show-only",
                "templates/monitoring/prometheusrule.yaml",
            )
        )
        ok(
            k8s_cluster.kubectl(
                "apply", "--server-side", "--validate=strict", "-f", "-", input=manifest
            )
        )
        kinds = "servicemonitors" if flag == "serviceMonitor" else "podmonitors"
        got = json.loads(
            ok(
                k8s_cluster.kubectl(
                    "get", f"{kinds},prometheusrules", "-n", namespace, "-o", "json"
                )
            )
        )["items"]
        names = sorted((d["kind"], d["metadata"]["name"]) for d in got)
        kind = "ServiceMonitor" if flag == "serviceMonitor" else "PodMonitor"
        assert names == sorted(
            [
                (kind, "it-understudy-models"),
                (kind, "it-understudy-operator"),
                (kind, "it-understudy-router"),
                ("PrometheusRule", "it-understudy-alerts"),
            ]
        )
        for d in got:
            assert d["metadata"]["labels"].get("release") == (
                None if d["kind"] == "PrometheusRule" else "kube-prometheus-stack"
            )
        (rule,) = [d for d in got if d["kind"] == "PrometheusRule"]
        assert rule["spec"] == yaml.safe_load(ALERT_RULES.read_text())
    finally:
        k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false")


# -- NetworkPolicies --------------------------------------------------------------------------


def _policies(cluster: K8sCluster, *args: str) -> dict[tuple[str, str], dict[str, Any]]:
    docs = rendered(cluster, "-n", "rel", *args)
    return {
        (d["metadata"]["namespace"], d["metadata"]["name"]): d
        for d in docs
        if d["kind"] == "NetworkPolicy"
    }


def _pod_labels(docs: list[dict[str, Any]], component: str) -> dict[str, str]:
    (workload,) = [
        d
        for d in docs
        if d["kind"] in ("Deployment", "DaemonSet")
        and d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    return dict(workload["spec"]["template"]["metadata"]["labels"])


def test_model_pods_accept_only_the_router_and_prometheus(k8s_cluster: K8sCluster) -> None:
    docs = rendered(k8s_cluster, "-n", "rel")
    (policy,) = [
        d for d in docs if d["kind"] == "NetworkPolicy" and "models" in d["metadata"]["name"]
    ]
    assert policy["metadata"]["namespace"] == "rel"
    deployment, _ = _operator_made("rel")
    pod = deployment["spec"]["template"]
    spec = policy["spec"]
    assert _labels_match(spec["podSelector"]["matchLabels"], pod["metadata"]["labels"])
    assert spec["policyTypes"] == ["Ingress"]
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert "http" in {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    allowed = []
    for peer in rule["from"]:
        assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "rel"}}
        allowed += [
            c
            for c in ("router", "prometheus", "operator", "kibana", "fluent-bit")
            if _labels_match(peer["podSelector"]["matchLabels"], _pod_labels(docs, c))
        ]
    assert sorted(allowed) == ["prometheus", "router"]


def test_elasticsearch_accepts_only_fluent_bit_and_kibana(k8s_cluster: K8sCluster) -> None:
    docs = rendered(k8s_cluster, "-n", "rel")
    (policy,) = [
        d for d in docs if d["kind"] == "NetworkPolicy" and "elasticsearch" in d["metadata"]["name"]
    ]
    spec = policy["spec"]
    assert _labels_match(spec["podSelector"]["matchLabels"], _pod_labels(docs, "elasticsearch"))
    (rule,) = spec["ingress"]
    allowed = [
        c
        for peer in rule["from"]
        for c in ("router", "prometheus", "operator", "kibana", "fluent-bit")
        if _labels_match(peer["podSelector"]["matchLabels"], _pod_labels(docs, c))
    ]
    assert sorted(allowed) == ["fluent-bit", "kibana"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]


MONITORING_PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mon"}}}


def test_network_policies_are_on_where_the_chart_knows_every_client(
    k8s_cluster: K8sCluster, tmp_path: Path
) -> None:
    default = _policies(k8s_cluster)
    assert set(default) == {("rel", "it-understudy-models"), ("rel", "it-understudy-elasticsearch")}
    watched = _policies(k8s_cluster, "--set", "operator.watchNamespaces={a,b}")
    assert {ns for ns, name in watched if name.endswith("models")} == {"a", "b"}
    # someone else's Prometheus scrapes the models: without its address, no model policy
    external = (
        "--set",
        "prometheus.enabled=false",
        "--set",
        "operator.prometheusUrl=http://p:9090",
    )
    assert ("rel", "it-understudy-models") not in _policies(k8s_cluster, *external)
    values = tmp_path / "peer-values.yaml"
    values.write_text(yaml.safe_dump({"networkPolicy": {"prometheusFrom": [MONITORING_PEER]}}))
    with_peer = _policies(k8s_cluster, *external, "-f", str(values))
    peers = with_peer[("rel", "it-understudy-models")]["spec"]["ingress"][0]["from"]
    assert peers[-1] == MONITORING_PEER and len(peers) == 2  # the router and that Prometheus
    assert not any(
        n.endswith("models")
        for _, n in _policies(k8s_cluster, "--set", "operator.clusterWide=true")
    )
    assert _policies(k8s_cluster, "--set", "networkPolicy.enabled=false") == {}
    assert set(_policies(k8s_cluster, "--set", "logging.elasticsearch.external.host=es")) == {
        ("rel", "it-understudy-models")
    }


# -- values that break the schema ------------------------------------------------------------


def test_values_violating_the_schema_are_refused_readably(
    k8s_cluster: K8sCluster, tmp_path: Path
) -> None:
    bad = tmp_path / "bad-values.yaml"
    bad.write_text(
        "router:\n  replicas: two\nrollout:\n  promotion: auto\nprometheus:\n  enabeld: true\n"
    )
    namespace = new_namespace(k8s_cluster, "bad")
    try:
        r = k8s_cluster.helm("install", "bad", str(CHART), "-n", namespace, "-f", str(bad))
        assert r.returncode != 0
        message = r.stderr
        assert "values don't meet the specifications of the schema" in message
        assert "/router/replicas" in message
        assert "/rollout/promotion" in message and "'automatic', 'manual'" in message
        assert "'enabeld' not allowed" in message
        assert "bad" not in ok(k8s_cluster.helm("list", "-n", namespace, "-q")).split()
    finally:
        k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false")


# -- install, test, upgrade, uninstall ----------------------------------------------------------


def install_kwok_release(
    k8s_cluster: K8sCluster, name: str, namespace: str, kwok_values: Path
) -> None:
    """``helm install --wait`` of the chart with the kwok values and a ModelRollout."""
    ok(
        k8s_cluster.helm(
            "install",
            name,
            str(CHART),
            "-n",
            namespace,
            "-f",
            str(kwok_values),
            "--set",
            "rollout.create=true",
            "--wait",
            "--timeout",
            "5m",
        )
    )


@pytest.fixture(scope="module")
def release(
    k8s_cluster: K8sCluster, crd_installed: None, kwok_values: Path
) -> Iterator[tuple[str, str]]:
    namespace = new_namespace(k8s_cluster, "inst")
    name = "understudy"
    install_kwok_release(k8s_cluster, name, namespace, kwok_values)
    yield namespace, name
    k8s_cluster.helm("uninstall", name, "-n", namespace, "--wait")
    k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false")


def test_install_makes_every_workload_available(
    k8s_cluster: K8sCluster, release: tuple[str, str]
) -> None:
    namespace, name = release
    status = json.loads(ok(k8s_cluster.helm("status", name, "-n", namespace, "-o", "json")))
    assert status["info"]["status"] == "deployed"
    ok(
        k8s_cluster.kubectl(
            "wait",
            "-n",
            namespace,
            "deployment",
            "-l",
            f"app.kubernetes.io/instance={name}",
            "--for=condition=Available",
            "--timeout=120s",
        )
    )
    deployments = json.loads(
        ok(k8s_cluster.kubectl("get", "deployments", "-n", namespace, "-o", "json"))
    )["items"]
    by_component = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in deployments}
    assert set(by_component) == set(COMPONENTS)
    for component, deployment in by_component.items():
        want = deployment["spec"]["replicas"]
        assert deployment["status"].get("availableReplicas") == want, component
    (daemonset,) = json.loads(
        ok(k8s_cluster.kubectl("get", "daemonsets", "-n", namespace, "-o", "json"))
    )["items"]
    assert daemonset["status"]["desiredNumberScheduled"] >= 1
    assert daemonset["status"]["numberReady"] == daemonset["status"]["desiredNumberScheduled"]


def test_install_creates_the_initial_model_rollout(
    k8s_cluster: K8sCluster, release: tuple[str, str]
) -> None:
    namespace, _ = release
    rollout = json.loads(
        ok(
            k8s_cluster.kubectl(
                "get", "modelrollout", "house-prices", "-n", namespace, "-o", "json"
            )
        )
    )
    assert rollout["spec"]["model"] == {
        "name": "house-prices",
        "version": "1.0.0",
        "image": "understudy/model-api:1.0.0",
        "task": "regression",
    }


def test_router_may_watch_its_configmap_and_nothing_else(
    k8s_cluster: K8sCluster, release: tuple[str, str]
) -> None:
    namespace, name = release
    who = f"system:serviceaccount:{namespace}:{name}-router"
    mine = "metadata.name=house-prices-router"
    # the router's list + watch, exactly as it makes them (a field selector on the name)
    ok(
        k8s_cluster.kubectl(
            "get", "configmaps", "-n", namespace, "--field-selector", mine, "--as", who
        )
    )
    for forbidden in (
        ("get", "configmaps", "-n", namespace),
        ("get", "configmaps", "-n", namespace, "--field-selector", "metadata.name=other"),
        ("get", "secrets", "-n", namespace),
        ("create", "configmap", "house-prices-router", "-n", namespace),
    ):
        r = k8s_cluster.kubectl(*forbidden, "--as", who)
        assert r.returncode != 0 and "forbidden" in r.stderr.lower(), forbidden


def test_operator_may_do_what_the_raw_manifests_grant_in_its_namespace_only(
    k8s_cluster: K8sCluster, release: tuple[str, str]
) -> None:
    namespace, name = release
    who = f"system:serviceaccount:{namespace}:{name}-operator"

    def can(*args: str) -> bool:
        r = k8s_cluster.kubectl("auth", "can-i", *args, "--as", who)
        return r.stdout.strip() == "yes"

    (cluster_role,) = [
        d
        for d in yaml.safe_load_all((K8S / "operator" / "rbac.yaml").read_text())
        if d and d["kind"] == "Role" and d["metadata"]["name"] == "understudy-operator"
    ]
    for rule in cluster_role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                plain, _, sub = resource.partition("/")
                target = f"{plain}.{group}" if group else plain
                target = f"{target}/{sub}" if sub else target
                for verb in rule["verbs"]:
                    assert can(verb, target, "-n", namespace), f"cannot {verb} {target}"
                    # Roles in the watched namespaces only, not a ClusterRole
                    assert not can(verb, target, "-n", "default"), f"may {verb} {target} anywhere"
    # Secrets: read by name (a notification's webhook URL), never listed.
    assert not can("list", "secrets", "-n", namespace)
    assert not can("list", "deployments.apps", "-n", namespace), "more than the raw rules"


def test_helm_test_pod_asks_the_router_readyz(
    k8s_cluster: K8sCluster, release: tuple[str, str]
) -> None:
    """`helm test` creates its pod; kwok never runs it, so only its spec is checked here."""
    namespace, name = release
    k8s_cluster.helm("test", name, "-n", namespace, "--timeout", "5s")
    pod = json.loads(
        ok(k8s_cluster.kubectl("get", "pod", f"{name}-test-router", "-n", namespace, "-o", "json"))
    )
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    base = f"http://{name}-router.{namespace}.svc:80"
    assert container["command"][-2:] == [f"{base}/readyz", f"{base}/v1/routing"]
    assert "--fail-with-body" in container["command"]
    k8s_cluster.kubectl("delete", "pod", f"{name}-test-router", "-n", namespace, "--wait=false")


def test_upgrade_to_a_new_version_changes_only_the_rollout_spec(
    k8s_cluster: K8sCluster, release: tuple[str, str], kwok_values: Path
) -> None:
    namespace, name = release

    def router_generation() -> str:
        return ok(
            k8s_cluster.kubectl(
                "get",
                "deployment",
                f"{name}-router",
                "-n",
                namespace,
                "-o",
                "jsonpath={.metadata.generation}",
            )
        )

    before = router_generation()
    ok(
        k8s_cluster.helm(
            "upgrade",
            name,
            str(CHART),
            "-n",
            namespace,
            "--reuse-values",
            "--set",
            "rollout.model.version=2.0.0",
            "--wait",
        )
    )
    version = ok(
        k8s_cluster.kubectl(
            "get",
            "modelrollout",
            "house-prices",
            "-n",
            namespace,
            "-o",
            "jsonpath={.spec.model.version}",
        )
    )
    assert version == "2.0.0"
    assert router_generation() == before, "a model version change must not restart the router"


def test_uninstall_leaves_nothing_behind(
    k8s_cluster: K8sCluster, crd_installed: None, kwok_values: Path
) -> None:
    namespace = new_namespace(k8s_cluster, "uninst")
    name = "gone"
    selector = f"app.kubernetes.io/instance={name}"
    namespaced = ",".join(
        [
            "deployments",
            "daemonsets",
            "jobs",
            "pods",
            "services",
            "configmaps",
            "serviceaccounts",
            "roles",
            "rolebindings",
            "poddisruptionbudgets",
            "networkpolicies",
            "modelrollouts",
        ]
    )
    try:
        install_kwok_release(k8s_cluster, name, namespace, kwok_values)
        assert ok(
            k8s_cluster.kubectl("get", namespaced, "-n", namespace, "-l", selector, "-o", "name")
        )
        assert ok(
            k8s_cluster.kubectl(
                "get", "clusterroles,clusterrolebindings", "-l", selector, "-o", "name"
            )
        )
        ok(k8s_cluster.helm("uninstall", name, "-n", namespace, "--wait", "--timeout", "2m"))

        def nothing_left() -> bool | str:
            left = ok(
                k8s_cluster.kubectl(
                    "get", namespaced, "-n", namespace, "-l", selector, "-o", "name"
                )
            )
            left += ok(
                k8s_cluster.kubectl(
                    "get", "clusterroles,clusterrolebindings", "-l", selector, "-o", "name"
                )
            )
            return left.strip() == "" or left

        wait_until(nothing_left, timeout=90, what="uninstalled objects to go")
        assert name not in ok(k8s_cluster.helm("list", "-n", namespace, "-q")).split()
        # Helm never deletes CRDs (other releases' ModelRollouts would go with them).
        crd = yaml.safe_load(OPERATOR_CRD.read_text())["metadata"]["name"]
        ok(k8s_cluster.kubectl("get", "crd", crd))
    finally:
        k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false")


# -- raw manifests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def understudy_namespace(k8s_cluster: K8sCluster) -> Iterator[str]:
    """The raw manifests' namespace, created for real: a dry run cannot create a namespace
    and the objects in it at once."""

    def state() -> str:
        r = k8s_cluster.kubectl("get", "namespace", "understudy", "-o", "jsonpath={.status.phase}")
        return r.stdout.strip() if r.returncode == 0 else "Absent"

    wait_until(lambda: state() != "Terminating" or "terminating", what="namespace understudy")
    existed = state() == "Active"
    if not existed:
        ok(k8s_cluster.kubectl("apply", "-f", str(K8S / "base" / "namespace.yaml")))
    yield "understudy"
    if not existed:
        k8s_cluster.kubectl("delete", "namespace", "understudy", "--wait=false")


@pytest.mark.parametrize(
    "path",
    [K8S / "base", K8S, K8S / "overlays" / "cluster-wide"],
    ids=["k8s/base", "k8s", "k8s/overlays/cluster-wide"],
)
def test_raw_manifests_pass_server_side_dry_run(
    k8s_cluster: K8sCluster, crd_installed: None, understudy_namespace: str, path: Path
) -> None:
    out = ok(
        k8s_cluster.kubectl(
            "apply", "--server-side", "--dry-run=server", "--validate=strict", "-k", str(path)
        )
    )
    built = [d for d in yaml.safe_load_all(ok(k8s_cluster.kubectl("kustomize", str(path)))) if d]
    assert out.count("(server dry run)") == len(built)
    kinds = {d["kind"] for d in built}
    assert {"Deployment", "DaemonSet", "Service", "ConfigMap", "Job"} <= kinds
    assert all(
        d["metadata"].get("namespace") == understudy_namespace
        for d in built
        if d["kind"]
        not in {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
    )


@pytest.mark.parametrize(
    "path",
    sorted(p.parent for p in K8S.rglob("kustomization.yaml")),
    ids=lambda p: str(p.relative_to(K8S.parent)),
)
def test_every_kustomization_builds(k8s_cluster: K8sCluster, path: Path) -> None:
    """`kubectl apply -k <dir>` as the docs say, for every folder that has a kustomization
    (kustomize refuses files outside a folder, which a file list cannot show)."""
    built = [d for d in yaml.safe_load_all(ok(k8s_cluster.kubectl("kustomize", str(path)))) if d]
    assert built
    assert all("kind" in d and "apiVersion" in d for d in built)
