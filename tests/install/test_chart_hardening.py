"""The chart's hardening values, rendered by the real helm and checked by the real API server
(kwok cluster, tests/support/cluster.py): Prometheus without its admin endpoints and with a
size-bounded TSDB; Fluent Bit's bounded buffers, lossless retries and own namespace; the ILM
policy on the log indices; emptyDir size limits; Kibana's credentials and CA; the values
schema (tags as strings, global open, rollout.analysis checked against the CRD) and the
model image through the image helper.

What this cannot prove: that Fluent Bit, Kibana and Elasticsearch 8 behave as configured
(none of them can run here, docs/install.md says so); their settings are checked against
the documented names, and the API server checks every object they live in.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.support.layout import CHART, CHART_CI_VALUES, OPERATOR_CRD

if TYPE_CHECKING:
    from tests.support.cluster import K8sCluster

pytestmark = pytest.mark.cluster

POD_KINDS = {"Deployment", "DaemonSet", "StatefulSet", "Job", "Pod"}


def ok(result: Any) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return str(result.stdout)


def render(cluster: K8sCluster, *args: str) -> list[dict[str, Any]]:
    out = ok(cluster.helm("template", "it", str(CHART), "-n", "rel", *args))
    return [d for d in yaml.safe_load_all(out) if d]


def one(docs: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    (doc,) = [
        d
        for d in docs
        if d["kind"] == kind
        and d["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    return doc


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "Pod":
        return dict(doc["spec"])
    return dict(doc["spec"]["template"]["spec"])


def fluent_bit_sections(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, str]]]:
    """fluent-bit.conf as (section, {key: value}) in order (Fluent Bit's classic format)."""
    conf = one(docs, "ConfigMap", "fluent-bit")["data"]["fluent-bit.conf"]
    sections: list[tuple[str, dict[str, str]]] = []
    for line in conf.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if m := re.fullmatch(r"\[(\w+)\]", line):
            sections.append((m.group(1), {}))
        else:
            key, _, value = line.partition(" ")
            sections[-1][1][key] = value.strip()
    return sections


def section(docs: list[dict[str, Any]], name: str) -> dict[str, str]:
    found = [s for n, s in fluent_bit_sections(docs) if n == name]
    assert len(found) == 1, name
    return found[0]


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


# -- Fluent Bit ------------------------------------------------------------------------------


def test_fluent_bit_buffers_are_bounded_and_retries_lose_nothing(k8s_cluster: K8sCluster) -> None:
    docs = render(k8s_cluster)
    service = section(docs, "SERVICE")
    assert service["storage.max_chunks_up"] == "16"
    assert service["storage.backlog.mem_limit"] == "8M"
    assert service["scheduler.cap"] == "60"
    inputs = [s for n, s in fluent_bit_sections(docs) if n == "INPUT"]
    assert inputs and all(s["storage.type"] == "filesystem" for s in inputs)
    output = section(docs, "OUTPUT")
    assert output["Retry_Limit"] == "no_limits"
    assert output["storage.total_limit_size"] == "512M"
    # memory under a backlog: maxChunksUp chunks of ~2MB stay below the container's limit
    (container,) = pod_spec(one(docs, "DaemonSet", "fluent-bit"))["containers"]
    limit = container["resources"]["limits"]["memory"]
    # ~2MB per chunk held in memory, at most half the limit
    assert limit.endswith("Mi") and int(limit[:-2]) / 2 > 16 * 2

    custom = render(
        k8s_cluster,
        "--set-string",
        "logging.fluentBit.retryLimit=10",
        "--set",
        "logging.fluentBit.storage.totalLimitSize=2G",
        "--set",
        "logging.fluentBit.storage.maxChunksUp=8",
    )
    assert section(custom, "OUTPUT")["Retry_Limit"] == "10"
    assert section(custom, "OUTPUT")["storage.total_limit_size"] == "2G"
    assert section(custom, "SERVICE")["storage.max_chunks_up"] == "8"
    for bad, where in (
        ("logging.fluentBit.retryLimit=0", "/logging/fluentBit/retryLimit"),
        ("logging.fluentBit.storage.totalLimitSize=lots", "/logging/fluentBit/storage"),
    ):
        r = k8s_cluster.helm("template", "it", str(CHART), "--set-string", bad)
        assert r.returncode != 0 and where in r.stderr, (bad, r.stderr)


def _warnings(cluster: K8sCluster, manifest: str) -> list[str]:
    r = cluster.kubectl("apply", "--dry-run=server", "--validate=strict", "-f", "-", input=manifest)
    ok(r)
    return [line for line in r.stderr.splitlines() if "PodSecurity" in line]


def test_fluent_bit_in_its_own_privileged_namespace_leaves_the_release_restricted(
    k8s_cluster: K8sCluster,
) -> None:
    """The API server's Pod Security admission (warn mode, a dry run) finds the host paths of
    Fluent Bit in the release namespace; with logging.fluentBit.namespace it finds nothing
    there, and the Fluent Bit namespace (privileged) admits them."""
    suffix = uuid.uuid4().hex[:6]
    release, logs = f"rel-{suffix}", f"logs-{suffix}"
    for ns, level in ((release, "restricted"), (logs, "privileged")):
        ok(k8s_cluster.kubectl("create", "namespace", ns))
        ok(
            k8s_cluster.kubectl(
                "label", "namespace", ns, f"pod-security.kubernetes.io/warn={level}"
            )
        )
    try:
        same = ok(k8s_cluster.helm("template", "it", str(CHART), "-n", release))
        warned = _warnings(k8s_cluster, same)
        assert any("fluent-bit" in w and "hostPath" in w for w in warned), warned

        own = ok(
            k8s_cluster.helm(
                "template",
                "it",
                str(CHART),
                "-n",
                release,
                "--set",
                f"logging.fluentBit.namespace={logs}",
            )
        )
        assert _warnings(k8s_cluster, own) == []
        docs = [d for d in yaml.safe_load_all(own) if d]
        fluent = [
            d
            for d in docs
            if d["metadata"]["labels"].get("app.kubernetes.io/component") == "fluent-bit"
            and d["kind"] in ("DaemonSet", "ConfigMap", "ServiceAccount")
        ]
        assert {d["metadata"]["namespace"] for d in fluent} == {logs} and len(fluent) == 3
        binding = one(docs, "ClusterRoleBinding", "fluent-bit")
        assert binding["subjects"][0]["namespace"] == logs
        # Elasticsearch still lets it in, from that namespace
        policy = one(docs, "NetworkPolicy", "elasticsearch")
        (peer,) = [
            p
            for p in policy["spec"]["ingress"][0]["from"]
            if p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "fluent-bit"
        ]
        assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": logs}
    finally:
        for ns in (release, logs):
            k8s_cluster.kubectl("delete", "namespace", ns, "--wait=false")


# -- ILM --------------------------------------------------------------------------------------


def _init_script(docs: list[dict[str, Any]]) -> str:
    (init,) = pod_spec(one(docs, "DaemonSet", "fluent-bit"))["initContainers"]
    return str(init["args"][0])


def test_log_indices_get_an_ilm_delete_policy(k8s_cluster: K8sCluster) -> None:
    docs = render(k8s_cluster, "--set", "logging.ilm.deleteAfter=3d")
    data = one(docs, "ConfigMap", "fluent-bit")["data"]
    policy = json.loads(data["ilm-policy.json"])["policy"]
    assert policy["phases"]["delete"] == {"min_age": "3d", "actions": {"delete": {}}}
    template = json.loads(data["index-template.json"])
    # the template names the policy the init container installs, before the template
    assert template["template"]["settings"]["index.lifecycle.name"] == "understudy-logs"
    script = _init_script(docs)
    policy_put = script.index("/_ilm/policy/understudy-logs")
    assert policy_put < script.index("/_index_template/understudy-logs")
    assert "--data-binary @/setup/ilm-policy.json" in script

    off = render(k8s_cluster, "--set", "logging.ilm.enabled=false")
    data = one(off, "ConfigMap", "fluent-bit")["data"]
    assert "ilm-policy.json" not in data
    assert (
        "index.lifecycle.name"
        not in json.loads(data["index-template.json"])["template"]["settings"]
    )
    assert "_ilm" not in _init_script(off)
    r = k8s_cluster.helm("template", "it", str(CHART), "--set", "logging.ilm.deleteAfter=a week")
    assert r.returncode != 0 and "/logging/ilm/deleteAfter" in r.stderr


# -- a secured Elasticsearch: credentials and a CA ---------------------------------------------

SECURED = (
    "--set", "logging.elasticsearch.external.host=logs.example.com",
    "--set", "logging.elasticsearch.external.scheme=https",
    "--set", "logging.elasticsearch.external.existingSecret=es-writer",
    "--set", "logging.elasticsearch.external.caSecret.name=es-ca",
    "--set", "logging.kibana.elasticsearchSecret=kibana-system",
    "--set", "logging.kibana.savedObjects.existingSecret=kibana-admin",
)  # fmt: skip


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def _mounted_ca(spec: dict[str, Any], container: dict[str, Any]) -> str:
    (volume,) = [v for v in spec["volumes"] if v["name"] == "es-ca"]
    assert volume["secret"] == {
        "secretName": "es-ca",
        "items": [{"key": "ca.crt", "path": "ca.crt"}],
    }
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "es-ca"]
    assert mount["readOnly"] is True
    return str(mount["mountPath"]) + "/ca.crt"


def test_kibana_and_its_import_job_use_the_secured_elasticsearch(k8s_cluster: K8sCluster) -> None:
    docs = render(k8s_cluster, *SECURED)
    kibana_spec = pod_spec(one(docs, "Deployment", "kibana"))
    (kibana,) = kibana_spec["containers"]
    env = _env(kibana)
    assert env["ELASTICSEARCH_HOSTS"] == "https://logs.example.com:9200"
    assert env["ELASTICSEARCH_USERNAME"] == {
        "secretKeyRef": {"name": "kibana-system", "key": "username"}
    }
    assert env["ELASTICSEARCH_PASSWORD"] == {
        "secretKeyRef": {"name": "kibana-system", "key": "password"}
    }
    assert env["ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES"] == _mounted_ca(kibana_spec, kibana)

    (job_container,) = pod_spec(one(docs, "Job", "kibana-import"))["containers"]
    env = _env(job_container)
    assert env["KIBANA_USERNAME"] == {"secretKeyRef": {"name": "kibana-admin", "key": "username"}}
    assert "-u ${KIBANA_USERNAME}:${KIBANA_PASSWORD}" in job_container["args"][0]
    assert "curl -fsS $auth -X POST" in job_container["args"][0]

    fb_spec = pod_spec(one(docs, "DaemonSet", "fluent-bit"))
    (fluent,) = fb_spec["containers"]
    assert section(docs, "OUTPUT")["tls.ca_file"] == _mounted_ca(fb_spec, fluent)
    (init,) = fb_spec["initContainers"]
    assert f"--cacert {_mounted_ca(fb_spec, init)}" in init["args"][0]

    # off by default: no credentials, no CA anywhere
    plain = render(k8s_cluster)
    for kind, component in (
        ("Deployment", "kibana"),
        ("Job", "kibana-import"),
        ("DaemonSet", "fluent-bit"),
    ):
        spec = pod_spec(one(plain, kind, component))
        assert "es-ca" not in [v["name"] for v in spec.get("volumes", [])]
        for container in spec["containers"]:
            assert not [k for k in _env(container) if "USERNAME" in k or "SSL" in k]


def test_secured_elasticsearch_objects_pass_server_side_validation(k8s_cluster: K8sCluster) -> None:
    namespace = f"sec-{uuid.uuid4().hex[:6]}"
    ok(k8s_cluster.kubectl("create", "namespace", namespace))
    try:
        manifest = ok(k8s_cluster.helm("template", "it", str(CHART), "-n", namespace, *SECURED))
        out = ok(
            k8s_cluster.kubectl(
                "apply", "--dry-run=server", "--validate=strict", "-f", "-", input=manifest
            )
        )
        assert out.count("(server dry run)") == len([d for d in yaml.safe_load_all(manifest) if d])
    finally:
        k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false")


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
    assert _env(container)["UNDERSTUDY_OPERATOR_MODEL_IMAGE"] == template


def test_notes_say_where_fluent_bit_runs_and_how_to_bump_the_model(
    k8s_cluster: K8sCluster,
) -> None:
    k8s_cluster.install_crd(OPERATOR_CRD)  # a client dry run still maps kinds through the API

    def notes(*args: str) -> str:
        out = ok(
            k8s_cluster.helm(
                "install", "it", str(CHART), "-n", "rel", "--dry-run=client", "--set",
                "rollout.create=true", *args,
            )
        )  # fmt: skip
        return out[out.index("NOTES:") :]

    default = notes()
    assert "Fluent Bit runs in rel and mounts host paths" in default
    assert "--set-string rollout.model.version=2.0.0" in default
    assert "rollout.model.image=" not in default
    assert "mounts host paths" not in notes("--set", "logging.fluentBit.namespace=logs")
