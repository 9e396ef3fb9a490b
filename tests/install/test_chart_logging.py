"""The log pipeline's hardening values, rendered by the real helm and checked by the real API
server (kwok cluster, tests/support/cluster.py): Fluent Bit's bounded buffers, lossless
retries and own namespace (Pod Security admission); the ILM policy on the log indices;
Kibana's and its import Job's credentials and CA for a secured Elasticsearch.

What this cannot prove: that Fluent Bit, Kibana and Elasticsearch 8 behave as configured
(none of them can run here, docs/install.md says so; the test Elasticsearch is the OSS 7.10
build, without ILM); their settings are checked against the documented names, and the API
server checks every object they live in.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.support.chart import env_of, ok, one, pod_spec, render
from tests.support.layout import CHART, OPERATOR_CRD

if TYPE_CHECKING:
    from tests.support.cluster import K8sCluster

pytestmark = pytest.mark.cluster


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
    env = env_of(kibana)
    assert env["ELASTICSEARCH_HOSTS"] == "https://logs.example.com:9200"
    assert env["ELASTICSEARCH_USERNAME"] == {
        "secretKeyRef": {"name": "kibana-system", "key": "username"}
    }
    assert env["ELASTICSEARCH_PASSWORD"] == {
        "secretKeyRef": {"name": "kibana-system", "key": "password"}
    }
    assert env["ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES"] == _mounted_ca(kibana_spec, kibana)

    (job_container,) = pod_spec(one(docs, "Job", "kibana-import"))["containers"]
    env = env_of(job_container)
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
            assert not [k for k in env_of(container) if "USERNAME" in k or "SSL" in k]


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
