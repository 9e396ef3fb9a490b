"""The model-api pods the operator builds: restricted-standard defaults, the one merge rule
of spec.template (kube/podtemplate.py), the reserved names, the PDB and the HPA."""

from __future__ import annotations

from typing import Any

import pytest

from understudy_operator.core.spec import SpecError, parse_spec
from understudy_operator.core.workload import RESERVED_ANNOTATIONS, RESERVED_ENV, reserved_label
from understudy_operator.kube import resources
from understudy_operator.kube.podtemplate import DEFAULT_RESOURCES
from understudy_operator.settings import OperatorSettings

REF = resources.RolloutRef(namespace="ml", name="house-prices", uid="u-1")
MODEL = {"name": "house-prices", "version": "2.0.0"}


def build(**spec: Any) -> dict[str, Any]:
    """The live Deployment the operator would apply for ``spec``."""
    return resources.deployment(
        ref=REF,
        role="live",
        spec=parse_spec({"model": MODEL, **spec}),
        version="2.0.0",
        image="model-api:2.0.0",
        settings=OperatorSettings(),
    )


def pod(**spec: Any) -> dict[str, Any]:
    out: dict[str, Any] = build(**spec)["spec"]["template"]
    return out


def container(**spec: Any) -> dict[str, Any]:
    out: dict[str, Any] = pod(**spec)["spec"]["containers"][0]
    return out


def test_the_defaults_meet_the_restricted_pod_security_standard() -> None:
    """Every control of the restricted profile (Kubernetes docs, Pod Security Standards)
    that a pod template can fail, checked on the default pod."""
    p = pod()["spec"]
    c = p["containers"][0]
    assert p["securityContext"]["runAsNonRoot"] is True
    # numeric, so the kubelet can check non-root without the image's /etc/passwd
    assert (
        isinstance(p["securityContext"]["runAsUser"], int) and p["securityContext"]["runAsUser"] > 0
    )
    assert isinstance(p["securityContext"]["runAsGroup"], int)
    assert p["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert "privileged" not in c["securityContext"]
    assert not {"hostNetwork", "hostPID", "hostIPC", "volumes"} & set(p)
    assert "hostPort" not in c["ports"][0]
    assert c["resources"] == DEFAULT_RESOURCES
    assert set(c["resources"]) == {"requests", "limits"}


@pytest.mark.parametrize(
    ("template", "path", "want"),
    [
        # labels and annotations: added to the operator's
        ({"labels": {"team": "pricing"}}, ("metadata", "labels", "team"), "pricing"),
        (
            {"labels": {"team": "pricing"}},
            ("metadata", "labels", "rollouts.understudy.dev/role"),
            "live",
        ),
        ({"annotations": {"a": "b"}}, ("metadata", "annotations", "a"), "b"),
        ({"annotations": {"a": "b"}}, ("metadata", "annotations", "prometheus.io/scrape"), "true"),
        # pod securityContext: key by key
        ({"securityContext": {"runAsUser": 2000}}, ("spec", "securityContext", "runAsUser"), 2000),
        (
            {"securityContext": {"runAsUser": 2000}},
            ("spec", "securityContext", "runAsNonRoot"),
            True,
        ),
        (
            {"securityContext": {"fsGroup": 3000}},
            ("spec", "securityContext", "seccompProfile"),
            {"type": "RuntimeDefault"},
        ),
        # a nested object is one key: replaced whole
        (
            {"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p"}}},
            ("spec", "securityContext", "seccompProfile"),
            {"type": "Localhost", "localhostProfile": "p"},
        ),
        # pod-level fields: set (no default to merge with)
        ({"nodeSelector": {"pool": "ml"}}, ("spec", "nodeSelector"), {"pool": "ml"}),
        (
            {"imagePullSecrets": [{"name": "regcred"}]},
            ("spec", "imagePullSecrets"),
            [{"name": "regcred"}],
        ),
        ({"serviceAccountName": "models"}, ("spec", "serviceAccountName"), "models"),
        ({"priorityClassName": "high"}, ("spec", "priorityClassName"), "high"),
        (
            {"tolerations": [{"key": "gpu", "operator": "Exists"}]},
            ("spec", "tolerations"),
            [{"key": "gpu", "operator": "Exists"}],
        ),
        ({"preStopSeconds": 20}, ("spec", "terminationGracePeriodSeconds"), 50),
    ],
)
def test_the_merge_rule(template: dict[str, Any], path: tuple[str, ...], want: Any) -> None:
    value: Any = pod(template=template)
    for key in path:
        value = value[key]
    assert value == want


def test_container_security_context_merges_key_by_key() -> None:
    c = container(template={"containerSecurityContext": {"readOnlyRootFilesystem": False}})
    assert c["securityContext"] == {
        "readOnlyRootFilesystem": False,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    c = container(template={"containerSecurityContext": {"capabilities": {"add": ["NET_RAW"]}}})
    assert c["securityContext"]["capabilities"] == {"add": ["NET_RAW"]}  # nested: whole


def test_resources_replace_the_default_whole() -> None:
    c = container(template={"resources": {"requests": {"cpu": "2"}}})
    assert c["resources"] == {"requests": {"cpu": "2"}}


def test_env_is_appended_after_the_operators() -> None:
    c = container(template={"env": [{"name": "LOG_LEVEL", "value": "debug"}]})
    assert [e["name"] for e in c["env"]] == [
        "UNDERSTUDY_MODEL_API_HOST",
        "UNDERSTUDY_MODEL_API_PORT",
        "LOG_LEVEL",
    ]


def test_the_operators_own_parts_survive_any_template() -> None:
    everything = {
        "labels": {"team": "x"},
        "annotations": {"a": "b"},
        "securityContext": {"runAsUser": 5},
        "containerSecurityContext": {"privileged": False},
        "resources": {},
        "env": [{"name": "A", "value": "1"}],
        "affinity": {},
        "topologySpreadConstraints": [],
    }
    default, custom = build(), build(template=everything)
    assert custom["spec"]["selector"] == default["spec"]["selector"]
    (dc,), (cc,) = (
        default["spec"]["template"]["spec"]["containers"],
        custom["spec"]["template"]["spec"]["containers"],
    )
    for key in ("name", "image", "ports", "readinessProbe", "livenessProbe", "lifecycle"):
        assert cc[key] == dc[key], key
    assert (
        default["spec"]["template"]["metadata"]["labels"].items()
        <= custom["spec"]["template"]["metadata"]["labels"].items()
    )


def test_pre_stop_zero_means_no_pause() -> None:
    assert "lifecycle" not in container(template={"preStopSeconds": 0})


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"labels": {"rollouts.understudy.dev/role": "x"}}, "belong to the operator"),
        ({"labels": {"understudy.dev/scrape": "false"}}, "belong to the operator"),
        ({"labels": {"app.kubernetes.io/name": "x"}}, "belong to the operator"),
        ({"annotations": {"prometheus.io/port": "9"}}, "are set by the operator"),
        ({"env": [{"name": "UNDERSTUDY_MODEL_API_PORT", "value": "1"}]}, "set by the operator"),
        ({"env": [{"value": "1"}]}, "env[0]: needs a name"),
        ({"ports": [{"containerPort": 9}]}, "unknown field(s) ports"),
        ({"readinessProbe": {}}, "unknown field(s) readinessProbe"),
        ({"labels": {"a": 1}}, "must be a map of strings to strings"),
        ({"tolerations": {"key": "a"}}, "tolerations: must be a list"),
        ({"securityContext": "root"}, "securityContext: must be an object"),
        ({"preStopSeconds": 301}, "preStopSeconds: must be <= 300"),
    ],
)
def test_a_template_that_takes_the_operators_parts_is_refused(
    template: dict[str, Any], message: str
) -> None:
    with pytest.raises(SpecError, match=r"spec\.template") as err:
        parse_spec({"model": MODEL, "template": template})
    assert message in str(err.value)


def test_every_name_the_operator_sets_is_reserved() -> None:
    """Parity: what core/workload.py reserves covers what kube/resources.py sets, so a new
    operator label cannot be silently overridden by a template."""
    p = pod()
    assert all(reserved_label(k) for k in p["metadata"]["labels"])
    assert set(p["metadata"]["annotations"]) <= RESERVED_ANNOTATIONS
    assert {e["name"] for e in p["spec"]["containers"][0]["env"]} <= RESERVED_ENV
    assert not reserved_label("app.kubernetes.io/part-of")  # free for the user


# -- PodDisruptionBudget ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("budget", "want"),
    [
        (None, {"maxUnavailable": 1}),
        ({"maxUnavailable": "50%"}, {"maxUnavailable": "50%"}),
        ({"minAvailable": 2}, {"minAvailable": 2}),
    ],
)
def test_a_disruption_budget_per_model_deployment(
    budget: dict[str, Any] | None, want: dict[str, Any]
) -> None:
    spec = parse_spec({"model": MODEL, **({"disruptionBudget": budget} if budget else {})})
    pdb = resources.disruption_budget(ref=REF, role="candidate", spec=spec)
    assert pdb["spec"] == {
        "selector": {"matchLabels": resources.selector(REF, "candidate")},
        **want,
    }
    assert pdb["metadata"]["name"] == "house-prices-candidate"
    assert pdb["metadata"]["ownerReferences"][0]["uid"] == "u-1"


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ({"maxUnavailable": 1, "minAvailable": 1}, "not both"),
        ({"maxUnavailable": "150%"}, "must be an integer >= 0 or a percentage"),
        ({"minAvailable": -1}, "must be an integer >= 0 or a percentage"),
    ],
)
def test_a_bad_disruption_budget_is_refused(budget: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=r"spec\.disruptionBudget") as err:
        parse_spec({"model": MODEL, "disruptionBudget": budget})
    assert message in str(err.value)


# -- autoscaling -----------------------------------------------------------------------------


def test_without_autoscaling_the_operator_sets_replicas_and_makes_no_hpa() -> None:
    spec = parse_spec({"model": MODEL, "replicas": 3})
    assert build(replicas=3)["spec"]["replicas"] == 3
    assert resources.autoscaler(ref=REF, role="live", spec=spec) is None


def test_under_autoscaling_replicas_belong_to_the_hpa() -> None:
    scaling = {"minReplicas": 2, "maxReplicas": 5}
    assert "replicas" not in build(replicas=3, autoscaling=scaling)["spec"]
    spec = parse_spec({"model": MODEL, "autoscaling": scaling})
    hpa = resources.autoscaler(ref=REF, role="live", spec=spec)
    assert hpa is not None
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "house-prices-live",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80


def test_autoscaling_on_a_custom_metric() -> None:
    metric = {
        "type": "Pods",
        "pods": {
            "metric": {"name": "understudy_model_requests_per_second"},
            "target": {"type": "AverageValue", "averageValue": "20"},
        },
    }
    spec = parse_spec({"model": MODEL, "autoscaling": {"maxReplicas": 4, "metrics": [metric]}})
    hpa = resources.autoscaler(ref=REF, role="live", spec=spec)
    assert hpa is not None and hpa["spec"]["metrics"] == [metric]


@pytest.mark.parametrize(
    ("scaling", "message"),
    [
        ({"minReplicas": 2}, "maxReplicas: is required"),
        ({"minReplicas": 5, "maxReplicas": 2}, "minReplicas 5 is greater than maxReplicas 2"),
        (
            {"maxReplicas": 2, "targetCPUUtilizationPercentage": 50, "metrics": [{"type": "Pods"}]},
            "not both",
        ),
        ({"maxReplicas": 0}, "maxReplicas: must be >= 1"),
    ],
)
def test_bad_autoscaling_is_refused(scaling: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=r"spec\.autoscaling") as err:
        parse_spec({"model": MODEL, "autoscaling": scaling})
    assert message in str(err.value)
