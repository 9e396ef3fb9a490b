"""Model pods on the real API server (kwok): the pods the operator's Deployments make are
admitted in a namespace enforcing the restricted Pod Security Standard (the API server's
own PodSecurity admission checks every pod kwok's ReplicaSets create), a bad spec.template
is refused with a readable message (by the CRD, or by the API server on the Deployment and
then shown in the status), a PodDisruptionBudget goes with each model Deployment, and under
spec.autoscaling the real kube-controller-manager's HPA controller owns ``replicas``.

The operator runs as a local process with the ServiceAccount's RBAC; no data plane is
needed: the first version goes live without an analysis.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from kubernetes import client

from tests.support.cluster import K8sCluster
from tests.support.operator import OperatorFactory, OperatorProcess
from tests.support.prometheus import PrometheusServer
from tests.support.realnode import ok
from understudy_operator.core.spec import parse_spec
from understudy_operator.kube import GROUP, PLURAL, VERSION, resources
from understudy_operator.settings import OperatorSettings

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

NAME = "house-prices"
MODEL = {"name": "house-prices", "version": "1.0.0", "image": "model-api:1.0.0"}
RESTRICTED = "pod-security.kubernetes.io/enforce=restricted"
FIELD_MANAGER = "understudy-operator"
PRODUCTION_EXAMPLE = (
    Path(__file__).resolve().parents[2] / "k8s" / "examples" / "production-pods.yaml"
)
T = TypeVar("T")


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    *,
    timeout: float = 90,
    logs: Callable[[], str] = str,
) -> T:
    """``logs`` is read when the wait times out (what the operator did meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.25)  # polling interval
    raise AssertionError(f"timed out waiting for {what}\n{logs()[-6000:]}")


@pytest.fixture
def restricted(crd: K8sCluster) -> Iterator[str]:
    """A namespace enforcing the restricted Pod Security Standard."""
    name = f"psa-{uuid.uuid4().hex[:8]}"
    ok(crd.kubectl("create", "namespace", name))
    ok(
        crd.kubectl(
            "label",
            "namespace",
            name,
            RESTRICTED,
            "pod-security.kubernetes.io/enforce-version=latest",
        )
    )
    yield name
    crd.kubectl("delete", "namespace", name, "--wait=false")


class Site:
    """The rollout ``house-prices`` in one namespace, and the API to look at what it owns."""

    def __init__(self, cluster: K8sCluster, namespace: str, operator: OperatorProcess) -> None:
        self.cluster, self.namespace, self.operator = cluster, namespace, operator
        api = cluster.api_client()
        self.api = api
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    def apply(self, **spec: Any) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ModelRollout",
            "metadata": {"name": NAME, "namespace": self.namespace},
            "spec": {"model": MODEL, **spec},
        }
        ok(self.cluster.kubectl("apply", "-f", "-", input=json.dumps(body)))

    def status(self) -> dict[str, Any]:
        obj: Any = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, NAME
        )
        return dict(obj.get("status") or {})

    def wait_phase(self, *phases: str, timeout: float = 90) -> dict[str, Any]:
        return wait_for(
            f"phase in {phases}",
            lambda: s if (s := self.status()).get("phase") in phases else None,
            timeout=timeout,
            logs=self.operator.logs,
        )

    def deployment(self, role: str) -> dict[str, Any]:
        dep = self.apps.read_namespaced_deployment(f"{NAME}-{role}", self.namespace)
        return dict(self.api.sanitize_for_serialization(dep))

    def pods(self, role: str) -> list[dict[str, Any]]:
        found = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"rollouts.understudy.dev/role={role}"
        )
        return [self.api.sanitize_for_serialization(p) for p in found.items]

    def applies(self, action: str) -> int:
        return self.operator.logs().count(f"applied {action}(")


@pytest.fixture
def site_in(
    crd: K8sCluster, start_operator: OperatorFactory, prometheus: PrometheusServer
) -> Callable[[str], Site]:
    def make(namespace: str) -> Site:
        op = start_operator(namespace=namespace, prometheus_url=prometheus.url)
        return Site(crd, namespace, op)

    return make


def test_the_operators_pods_are_admitted_in_a_restricted_namespace(
    restricted: str, site_in: Callable[[str], Site]
) -> None:
    site = site_in(restricted)
    site.apply(
        template={"labels": {"team": "pricing"}, "env": [{"name": "LOG_LEVEL", "value": "info"}]}
    )
    status = site.wait_phase("Promoted")
    assert status["stableVersion"] == "1.0.0"
    (pod,) = site.pods("live")  # admitted: PodSecurity would have refused to create it
    assert pod["metadata"]["labels"]["team"] == "pricing"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["containers"][0]["resources"]["limits"]["memory"] == "1Gi"
    pdb = json.loads(
        ok(site.cluster.kubectl("get", "pdb", f"{NAME}-live", "-n", restricted, "-o", "json"))
    )
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["metadata"]["ownerReferences"][0]["kind"] == "ModelRollout"


def test_a_template_change_reaches_the_live_pods_of_a_promoted_rollout(
    namespace: str, site_in: Callable[[str], Site]
) -> None:
    site = site_in(namespace)
    site.apply()
    site.wait_phase("Promoted")
    before = site.deployment("live")["metadata"]["generation"]
    site.apply(template={"labels": {"team": "pricing"}}, disruptionBudget={"minAvailable": 1})
    wait_for(
        "the label on the live pod template",
        lambda: site.deployment("live")["spec"]["template"]["metadata"]["labels"].get("team"),
        logs=site.operator.logs,
    )
    # The operator logs the change after its API call returns, and its log is read by a
    # thread: the count is sampled once the line is in, or a late line reads as a re-apply.
    wait_for(
        "the operator's line for the changed pods",
        lambda: "applied changed pods" in site.operator.logs(),
        logs=site.operator.logs,
    )
    applied = site.applies("deploy_live") + site.operator.logs().count("applied changed pods")
    pdb = json.loads(
        ok(site.cluster.kubectl("get", "pdb", f"{NAME}-live", "-n", namespace, "-o", "json"))
    )
    assert pdb["spec"] == {**pdb["spec"], "minAvailable": 1} and "maxUnavailable" not in pdb["spec"]
    # applied once, not on every tick: the generation and the count stand still
    time.sleep(3)  # six ticks of the operator (0.5 s)
    assert site.deployment("live")["metadata"]["generation"] == before + 1
    assert site.applies("deploy_live") + site.operator.logs().count("applied changed pods") == (
        applied
    )
    assert site.status()["phase"] == "Promoted"


def _pod_of(spec: dict[str, Any], namespace: str) -> dict[str, Any]:
    """A Pod with the pod template the operator builds for ``spec``."""
    deployment = resources.deployment(
        ref=resources.RolloutRef(namespace=namespace, name=NAME, uid="u"),
        role="live",
        spec=parse_spec({"model": MODEL, **spec}),
        version="1.0.0",
        image="model-api:1.0.0",
        settings=OperatorSettings(),
    )
    template = deployment["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe", "namespace": namespace, **template["metadata"]},
        "spec": template["spec"],
    }


def test_the_production_example_is_accepted_and_its_pods_admitted(
    restricted: str, crd: K8sCluster
) -> None:
    """k8s/examples/production-pods.yaml: the CRD takes it, and the pod the operator builds
    from it passes the API server's validation and the restricted admission."""
    example = yaml.safe_load(PRODUCTION_EXAMPLE.read_text())
    example["metadata"]["namespace"] = restricted
    taken = crd.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(example))
    assert taken.returncode == 0, taken.stderr
    pod = _pod_of({k: v for k, v in example["spec"].items() if k != "model"}, restricted)
    admitted = crd.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod))
    assert admitted.returncode == 0, admitted.stderr
    assert "Warning" not in admitted.stderr, admitted.stderr


def test_pod_security_admission_is_really_enforcing_here(restricted: str, crd: K8sCluster) -> None:
    """The control of the test above: the same admission refuses a template that gives up a
    restricted control, so an admitted pod means the defaults meet the standard."""
    fine = crd.kubectl(
        "create", "--dry-run=server", "-f", "-", input=json.dumps(_pod_of({}, restricted))
    )
    assert fine.returncode == 0, fine.stderr
    weak = _pod_of(
        {"template": {"containerSecurityContext": {"allowPrivilegeEscalation": True}}}, restricted
    )
    refused = crd.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(weak))
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false' in (
        refused.stderr
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"template": {"labels": {"rollouts.understudy.dev/role": "x"}}},
            "spec.template.labels: Invalid value: label keys under "
            "rollouts.understudy.dev/ and understudy.dev/",
        ),
        (
            {"template": {"annotations": {"prometheus.io/port": "1"}}},
            "prometheus.io/scrape, port and path are set by the operator",
        ),
        (
            {"template": {"env": [{"name": "UNDERSTUDY_MODEL_API_PORT", "value": "1"}]}},
            "spec.template.env: Invalid value: UNDERSTUDY_MODEL_API_HOST and "
            "UNDERSTUDY_MODEL_API_PORT are set by the operator",
        ),
        ({"template": {"ports": [{"containerPort": 9}]}}, 'unknown field "spec.template.ports"'),
        (
            {"template": {"readinessProbe": {}}},
            'unknown field "spec.template.readinessProbe"',
        ),
        (
            {"template": {"tolerations": [{"operator": "Sometimes"}]}},
            'spec.template.tolerations[0].operator: Unsupported value: "Sometimes"',
        ),
        (
            {"template": {"resources": {"limits": {"memory": "lots"}}}},
            "spec.template.resources.limits.memory: Invalid value",
        ),
        (
            {"disruptionBudget": {"maxUnavailable": 1, "minAvailable": 1}},
            "give maxUnavailable or minAvailable, not both",
        ),
        (
            {"autoscaling": {"minReplicas": 4, "maxReplicas": 2}},
            "minReplicas must not be greater than maxReplicas",
        ),
    ],
    ids=[
        "label",
        "annotation",
        "env",
        "ports",
        "probe",
        "toleration",
        "quantity",
        "budget",
        "autoscaling",
    ],
)
def test_a_bad_template_is_refused_by_the_api_server(
    crd: K8sCluster, namespace: str, spec: dict[str, Any], message: str
) -> None:
    bad = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelRollout",
        "metadata": {"name": "broken", "namespace": namespace},
        "spec": {"model": MODEL, **spec},
    }
    result = crd.kubectl("apply", "-f", "-", input=json.dumps(bad))
    assert result.returncode != 0
    assert message in result.stderr


def test_a_template_only_the_deployment_can_check_fails_the_rollout_readably(
    namespace: str, site_in: Callable[[str], Site]
) -> None:
    """An affinity is kept as given by the CRD (x-kubernetes-preserve-unknown-fields); the
    API server checks it on the Deployment, and the status carries its message."""
    site = site_in(namespace)
    term = {"matchExpressions": [{"key": "pool", "operator": "Sometimes"}]}
    site.apply(
        template={
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
                }
            }
        }
    )
    status = site.wait_phase("Failed")
    assert (
        "the API server rejected Deployment house-prices-live built from spec.template"
        in (status["message"])
    )
    assert 'Invalid value: "Sometimes": not a valid selector operator' in status["message"]
    # a typo inside a kept object is an error too, not silently dropped
    site.apply(template={"affinity": {"nodeAfinity": {}}})
    status = wait_for(
        "the typo reported",
        lambda: s if "nodeAfinity" in (s := site.status()).get("message", "") else None,
        logs=site.operator.logs,
    )
    assert (
        ".spec.template.spec.affinity.nodeAfinity: field not declared in schema"
        in status["message"]
    )
    site.apply(template={})
    assert site.wait_phase("Promoted")["stableVersion"] == "1.0.0"


def _cordon(site: Site, on: bool) -> None:
    """Cordon (or uncordon) every node: new pods stay Pending, so a candidate stays unready
    and the operator applies its Deployment again on every tick."""
    names = ok(site.cluster.kubectl("get", "nodes", "-o", "name")).split()
    for name in names:
        ok(site.cluster.kubectl("patch", name, "-p", json.dumps({"spec": {"unschedulable": on}})))


@pytest.mark.parametrize("autoscaled", [True, False], ids=["hpa", "fixed-replicas"])
def test_under_autoscaling_the_operator_leaves_replicas_to_the_hpa(
    namespace: str, site_in: Callable[[str], Site], autoscaled: bool
) -> None:
    """The real HPA controller (kube-controller-manager) raises a Deployment below
    minReplicas without needing any metric; the operator's repeated server-side applies of
    that Deployment must not take it back. Without autoscaling (the control) they must."""
    site = site_in(namespace)
    scaling = {"autoscaling": {"minReplicas": 2, "maxReplicas": 4}} if autoscaled else {}
    site.apply(**scaling)
    site.wait_phase("Promoted")
    try:
        _cordon(site, True)
        site.apply(model={**MODEL, "version": "2.0.0", "image": "model-api:2.0.0"}, **scaling)
        site.wait_phase("Deploying")
        if autoscaled:
            wait_for(
                "the HPA controller to scale the candidate to minReplicas",
                lambda: site.deployment("candidate")["spec"]["replicas"] == 2,
                timeout=120,
                logs=site.operator.logs,
            )
        else:  # as an HPA (or a person) would, with its own field manager
            ok(
                site.cluster.kubectl(
                    "scale", "deployment", f"{NAME}-candidate", "-n", namespace, "--replicas=2"
                )
            )
        applied = site.applies("deploy_candidate")
        wait_for(
            "three more applies of the candidate",
            lambda: site.applies("deploy_candidate") >= applied + 3,
            logs=site.operator.logs,
        )
        candidate = site.deployment("candidate")
        if autoscaled:
            assert candidate["spec"]["replicas"] == 2
            assert FIELD_MANAGER not in resources.replicas_managers(candidate)
            assert site.deployment("live")["spec"]["replicas"] == 2
        else:
            assert candidate["spec"]["replicas"] == 1  # the operator took it back
            assert resources.replicas_managers(candidate) == {FIELD_MANAGER}
    finally:
        _cordon(site, False)
    if autoscaled:
        # The candidate comes up at the HPA's count; shadowing (and its reconciles) keep it.
        site.wait_phase("Shadowing")
        assert site.deployment("candidate")["spec"]["replicas"] == 2
        assert site.deployment("live")["spec"]["replicas"] == 2


def test_switching_to_autoscaling_keeps_the_running_replicas(
    namespace: str, site_in: Callable[[str], Site]
) -> None:
    """Dropping ``replicas`` from the operator's apply must not reset it to 1 before the HPA
    acts (server-side apply's rule for a field its only owner stops applying); here the HPA
    has no CPU metric and 3 is inside 1..5, so nothing else changes it."""
    site = site_in(namespace)
    site.apply(replicas=3)
    site.wait_phase("Promoted")
    assert site.deployment("live")["spec"]["replicas"] == 3
    site.apply(replicas=3, autoscaling={"minReplicas": 1, "maxReplicas": 5})
    hpas = client.AutoscalingV2Api(site.api)
    wait_for(
        "the live HPA",
        lambda: hpas.list_namespaced_horizontal_pod_autoscaler(namespace).items,
        logs=site.operator.logs,
    )
    live = site.deployment("live")
    assert FIELD_MANAGER not in resources.replicas_managers(live)
    assert live["spec"]["replicas"] == 3
    time.sleep(3)  # six operator ticks: still 3
    assert site.deployment("live")["spec"]["replicas"] == 3
