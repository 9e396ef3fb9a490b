"""The chart's hardening values, rendered by the real helm and checked by the real API server
(kwok cluster, tests/support/cluster.py): Prometheus without its admin endpoints and with a
size-bounded TSDB; emptyDir size limits; the values schema (tags as strings, global open,
rollout.analysis checked against the CRD) and the model image through the image helper.
The log pipeline's values: test_chart_logging.py.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.support.chart import POD_KINDS, env_of, ok, one, pod_spec, render
from tests.support.layout import CHART, CHART_CI_VALUES, OPERATOR_CRD

if TYPE_CHECKING:
    from tests.support.cluster import K8sCluster

pytestmark = pytest.mark.cluster

# -- Prometheus -----------------------------------------------------------------------------


def _prometheus(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(docs, "Deployment", "prometheus")


def test_prometheus_has_no_lifecycle_api_and_a_size_bound(k8s_cluster: K8sCluster) -> None:
    for values in CHART_CI_VALUES:
        docs = render(k8s_cluster, "-f", str(values))
        if not [
            d for d in docs if d["kind"] == "Deployment" and "prometheus" in d["metadata"]["name"]
        ]:
            continue
        (container,) = pod_spec(_prometheus(docs))["containers"]
        args = container["args"]
        assert not [a for a in args if "lifecycle" in a], (values.name, args)
        assert "--storage.tsdb.retention.time=7d" in args
        assert "--storage.tsdb.retention.size=1536MB" in args
    docs = render(
        k8s_cluster, "--set", "prometheus.retention.time=30d", "--set", "prometheus.retention.size="
    )
    (container,) = pod_spec(_prometheus(docs))["containers"]
    assert "--storage.tsdb.retention.time=30d" in container["args"]
    assert not [a for a in container["args"] if "retention.size" in a]


def test_a_prometheus_config_change_rolls_the_pod(k8s_cluster: K8sCluster) -> None:
    """Without /-/reload the pod must restart on a new config: its checksum annotation
    changes with the scrape config and with the alert rules, and with nothing else."""

    def checksum(*args: str) -> str:
        annotations = _prometheus(render(k8s_cluster, *args))["spec"]["template"]["metadata"]
        return str(annotations["annotations"]["checksum/config"])

    base = checksum()
    assert checksum("--set", "prometheus.scrape.interval=30s") != base
    assert checksum("--set", "prometheus.alertRules.enabled=false") != base
    assert checksum("--set", "router.replicas=3") == base


def test_prometheus_retention_size_must_use_prometheus_units(k8s_cluster: K8sCluster) -> None:
    r = k8s_cluster.helm("template", "it", str(CHART), "--set", "prometheus.retention.size=2Gi")
    assert r.returncode != 0
    assert "/prometheus/retention/size" in r.stderr


# -- emptyDir size limits -------------------------------------------------------------------


@pytest.mark.parametrize("values", CHART_CI_VALUES, ids=lambda p: p.name)
def test_every_emptydir_has_a_size_limit(k8s_cluster: K8sCluster, values: Path) -> None:
    """An emptyDir without sizeLimit can fill the node's disk; with one the kubelet evicts
    only the pod that outgrew it."""
    docs = render(k8s_cluster, "-f", str(values), "--set", "prometheus.persistence.enabled=false")
    seen = 0
    for doc in docs:
        if doc["kind"] not in POD_KINDS:
            continue
        for volume in pod_spec(doc).get("volumes", []):
            if "emptyDir" in volume:
                seen += 1
                limit = (volume["emptyDir"] or {}).get("sizeLimit")
                assert limit, f"{doc['kind']} {doc['metadata']['name']}: {volume['name']}"
    assert seen >= 2  # the operator's and the router's scratch dirs at least


# -- values.schema.json through helm ----------------------------------------------------------


def test_a_numeric_image_tag_is_refused_readably(k8s_cluster: K8sCluster, tmp_path: Path) -> None:
    """YAML reads `tag: 1.10` as the number 1.1: a silent wrong image. Helm refuses it."""
    values = tmp_path / "values.yaml"
    values.write_text("router:\n  image:\n    tag: 1.10\n")
    r = k8s_cluster.helm("template", "it", str(CHART), "-f", str(values))
    assert r.returncode != 0
    assert "at '/router/image/tag': got number, want string" in r.stderr
    values.write_text('router:\n  image:\n    tag: "1.10"\n')
    (router,) = pod_spec(one(render(k8s_cluster, "-f", str(values)), "Deployment", "router"))[
        "containers"
    ]
    assert router["image"] == "understudy/shadow-router:1.10"


def test_global_takes_a_parent_charts_values(k8s_cluster: K8sCluster) -> None:
    docs = render(k8s_cluster, "--set", "global.storageClass=fast", "--set", "global.parent.x=1")
    assert docs


@pytest.mark.parametrize(
    ("setting", "where"),
    [
        ("rollout.analysis.minSample=200", "'minSample' not allowed"),
        ("rollout.analysis.interval=often", "/rollout/analysis/interval"),
        ("rollout.analysis.successfulRuns=0", "/rollout/analysis/successfulRuns"),
    ],
)
def test_an_analysis_the_crd_refuses_is_refused_by_helm(
    k8s_cluster: K8sCluster, setting: str, where: str
) -> None:
    r = k8s_cluster.helm(
        "template", "it", str(CHART), "--set", "rollout.create=true", "--set", setting
    )
    assert r.returncode != 0
    assert where in r.stderr, r.stderr


def test_what_only_the_crds_cel_rules_catch_the_api_server_refuses(
    k8s_cluster: K8sCluster, tmp_path: Path
) -> None:
    """CEL rules do not translate to JSON Schema: min > max passes helm and is refused,
    readably, when the ModelRollout reaches the API server (the CRD installed for real)."""
    k8s_cluster.install_crd(OPERATOR_CRD)
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "rollout": {
                    "create": True,
                    "analysis": {"checks": [{"name": "bias", "min": 0.1, "max": -0.1}]},
                }
            }
        )
    )
    namespace = f"cel-{uuid.uuid4().hex[:6]}"
    ok(k8s_cluster.kubectl("create", "namespace", namespace))
    try:
        manifest = ok(
            k8s_cluster.helm(
                "template",
                "it",
                str(CHART),
                "-n",
                namespace,
                "-f",
                str(values),
                "--show-only",
                "templates/rollout/modelrollout.yaml",
            )
        )
        r = k8s_cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=manifest)
        assert r.returncode != 0
        assert "min must not be greater than max" in r.stderr, r.stderr
    finally:
        k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false")


@pytest.mark.parametrize(
    ("args", "image"),
    [
        ((), "understudy/model-api:1.0.0"),
        (("--set-string", "rollout.model.version=2.0.0"), "understudy/model-api:2.0.0"),
        (
            ("--set", "global.imageRegistry=mirror.example.com"),
            "mirror.example.com/understudy/model-api:1.0.0",
        ),
        (
            (
                "--set",
                "global.imageRegistry=mirror.example.com",
                "--set",
                "rollout.model.image.registry=models.example.com",
            ),
            "models.example.com/understudy/model-api:1.0.0",
        ),
        (("--set-string", "rollout.model.image.tag=1.0.0-gpu"), "understudy/model-api:1.0.0-gpu"),
        (
            ("--set", "rollout.model.image.digest=sha256:" + "a" * 64),
            "understudy/model-api:1.0.0@sha256:" + "a" * 64,
        ),
    ],
)
def test_the_model_image_goes_through_the_image_helper(
    k8s_cluster: K8sCluster, args: tuple[str, ...], image: str
) -> None:
    docs = render(k8s_cluster, "--set", "rollout.create=true", *args)
    (rollout,) = [d for d in docs if d["kind"] == "ModelRollout"]
    assert rollout["spec"]["model"]["image"] == image


@pytest.mark.parametrize(
    ("args", "secrets"),
    [
        ((), None),
        (
            ("--set", "global.imagePullSecrets={regcred,mirror}"),
            [{"name": "regcred"}, {"name": "mirror"}],
        ),
        # the rollout's own list wins over the global one
        (
            (
                *("--set", "global.imagePullSecrets={regcred}"),
                *("--set", "rollout.template.imagePullSecrets[0].name=own"),
            ),
            [{"name": "own"}],
        ),
    ],
)
def test_model_pods_pull_with_the_global_pull_secrets(
    k8s_cluster: K8sCluster, args: tuple[str, ...], secrets: list[dict[str, str]] | None
) -> None:
    """The operator's model pods get global.imagePullSecrets through spec.template."""
    docs = render(k8s_cluster, "--set", "rollout.create=true", *args)
    (rollout,) = [d for d in docs if d["kind"] == "ModelRollout"]
    assert (rollout["spec"].get("template") or {}).get("imagePullSecrets") == secrets


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_a_classifiers_router_buckets_probabilities(k8s_cluster: K8sCluster, task: str) -> None:
    """rollout.model.task reaches the ModelRollout, and a classifier's router histograms run
    over probabilities (the same edges `understudy shadow` gives its router)."""
    docs = render(
        k8s_cluster, "--set", "rollout.create=true", "--set", f"rollout.model.task={task}"
    )
    (rollout,) = [d for d in docs if d["kind"] == "ModelRollout"]
    assert rollout["spec"]["model"]["task"] == task
    (container,) = pod_spec(one(docs, "Deployment", "router"))["containers"]
    env = env_of(container)
    if task == "classification":
        assert (
            env["UNDERSTUDY_ROUTER_PREDICTION_BUCKETS_LOW"],
            env["UNDERSTUDY_ROUTER_PREDICTION_BUCKETS_HIGH"],
        ) == ("0.001", "1")
    else:
        assert "UNDERSTUDY_ROUTER_PREDICTION_BUCKETS_LOW" not in env


def test_an_unknown_task_is_refused_readably(k8s_cluster: K8sCluster) -> None:
    result = k8s_cluster.helm("template", "it", str(CHART), "--set", "rollout.model.task=ranking")
    assert result.returncode != 0 and "/rollout/model/task" in result.stderr, result.stderr


MODEL = "understudy/model-api:{version}"


@pytest.mark.parametrize(
    ("args", "template"),
    [
        ((), MODEL),
        (("--set", "global.imageRegistry=mirror.example.com"), f"mirror.example.com/{MODEL}"),
        (("--set", "rollout.model.image.digest=sha256:" + "b" * 64), MODEL),
        (("--set", "operator.modelImage=own/model:{version}"), "own/model:{version}"),
    ],
)
def test_the_operators_default_model_image_comes_from_the_same_helper(
    k8s_cluster: K8sCluster, args: tuple[str, ...], template: str
) -> None:
    """A ModelRollout without spec.model.image gets the chart's registry too (a digest pins
    one version only, so it is not part of the template)."""
    (container,) = pod_spec(one(render(k8s_cluster, *args), "Deployment", "operator"))["containers"]
    assert env_of(container)["UNDERSTUDY_OPERATOR_MODEL_IMAGE"] == template
