"""The chart's files, without a cluster: values and their schema, the CRD copy, the
Kibana saved objects and the Elasticsearch index template they rely on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from tests.support.layout import (
    CHART,
    CHART_CI_VALUES,
    CHART_CRD,
    KIBANA_OBJECTS,
    OPERATOR_CRD,
    REPO,
    chart_schema,
    chart_values,
    load_script,
    merge_values,
    out_of_sync,
)
from understudy_model.artifact import read_metadata

INDEX_TEMPLATE = CHART / "files" / "elasticsearch-index-template.json"
RAW_INDEX_TEMPLATE = REPO / "k8s" / "base" / "fluent-bit" / "index-template.json"


def _errors(values: dict[str, Any]) -> list[str]:
    validator = Draft7Validator(chart_schema())
    return [
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(values)
    ]


def test_chart_yaml() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "understudy"
    assert re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", chart["version"])
    assert chart["appVersion"]


def test_values_yaml_declares_its_schema_for_editors() -> None:
    first = (CHART / "values.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=values.schema.json"


def test_schema_is_a_valid_draft7_schema() -> None:
    Draft7Validator.check_schema(chart_schema())


def test_default_values_validate() -> None:
    assert _errors(chart_values()) == []


def test_every_top_level_value_is_commented() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    uncommented = []
    for i, line in enumerate(lines):
        if re.match(r"^[A-Za-z]\w*:", line):
            above = [p for p in lines[:i] if p.strip()][-1:]
            if not above or not above[0].lstrip().startswith("#"):
                uncommented.append(line.split(":")[0])
    assert not uncommented, f"top-level values without a comment: {uncommented}"


def test_there_are_ci_values_files() -> None:
    names = {p.name for p in CHART_CI_VALUES}
    assert {"default-values.yaml", "no-logging-values.yaml"} <= names


@pytest.mark.parametrize("path", CHART_CI_VALUES, ids=lambda p: p.name)
def test_ci_values_validate(path: Any) -> None:
    override = yaml.safe_load(path.read_text()) or {}
    assert _errors(merge_values(chart_values(), override)) == []


# Each row: values a user could plausibly write, and the path the schema must complain at.
BAD_VALUES = [
    ({"operator": {"enabled": "yes"}}, "/operator/enabled"),
    ({"operator": {"watchNamespace": "prod"}}, "/operator"),  # typo of watchNamespaces
    ({"router": {"replicas": -1}}, "/router/replicas"),
    ({"router": {"image": {"pullPolicy": "always"}}}, "/router/image/pullPolicy"),
    ({"router": {"service": {"port": 0}}}, "/router/service/port"),
    ({"rollout": {"model": {"version": 2.0}}}, "/rollout/model/version"),  # unquoted in YAML
    ({"rollout": {"promotion": "auto"}}, "/rollout/promotion"),
    ({"rollout": {"name": "House_Prices"}}, "/rollout/name"),
    ({"prometheus": {"retention": "a week"}}, "/prometheus/retention"),
    ({"logging": {"enabled": 1}}, "/logging/enabled"),
    ({"logging": {"elasticsearch": {"external": {"scheme": "ftp"}}}}, "/logging/elasticsearch"),
    ({"logging": {"fluentBit": {"namespaces": ["Bad Namespace"]}}}, "/logging/fluentBit"),
    ({"prometheusEnabled": True}, "/"),
    ({"metrics": {"serviceMonitor": {"interval": "often"}}}, "/metrics/serviceMonitor/interval"),
    ({"metrics": {"podMonitor": {"labels": {"release": 1}}}}, "/metrics/podMonitor/labels"),
    ({"metrics": {"prometheusRules": {"enabled": True}}}, "/metrics"),
    ({"networkPolicy": {"prometheusFrom": [{}]}}, "/networkPolicy/prometheusFrom"),
    ({"networkPolicy": {"models": True}}, "/networkPolicy/models"),
    # YAML reads an unquoted 1.10 as the number 1.1: a tag must be a string
    ({"router": {"image": {"tag": 1.10}}}, "/router/image/tag"),
    ({"prometheus": {"image": {"tag": 3}}}, "/prometheus/image/tag"),
    ({"rollout": {"model": {"image": {"repository": "m", "tag": 2.0}}}}, "/rollout/model/image"),
    # the model image goes through the image helper: an object, like every other image
    ({"rollout": {"model": {"image": "understudy/model-api:1.0.0"}}}, "/rollout/model/image"),
    ({"prometheus": {"retention": {"time": "7d", "size": "2Gi"}}}, "/prometheus/retention/size"),
    # rollout.analysis is checked against the CRD's spec.analysis (generated schema)
    ({"rollout": {"analysis": {"minSample": 200}}}, "/rollout/analysis"),
    ({"rollout": {"analysis": {"interval": "often"}}}, "/rollout/analysis/interval"),
    ({"rollout": {"analysis": {"alpha": 0.9}}}, "/rollout/analysis/alpha"),
    ({"rollout": {"analysis": {"detect": {"agreement-rate": 0}}}}, "/rollout/analysis/detect"),
    ({"rollout": {"analysis": {"checks": [{"name": "bias", "mx": 1}]}}}, "/rollout/analysis"),
    ({"metrics": {"dashboard": {"namespace": "Monitoring"}}}, "/metrics/dashboard/namespace"),
    ({"metrics": {"dashboard": {"label": "grafana_dashboard"}}}, "/metrics/dashboard"),
]


@pytest.mark.parametrize(("override", "where"), BAD_VALUES, ids=[w for _, w in BAD_VALUES])
def test_schema_rejects_bad_values(override: dict[str, Any], where: str) -> None:
    errors = _errors(merge_values(chart_values(), override))
    assert errors, f"{override} was accepted"
    assert any(e.startswith(where) for e in errors), errors


def test_global_is_open_for_subcharts() -> None:
    """A parent chart's global.* reaches this chart too: unknown keys there are not errors."""
    assert _errors(merge_values(chart_values(), {"global": {"storageClass": "fast"}})) == []
    assert _errors(merge_values(chart_values(), {"global": {"imagePullSecrets": "x"}}))


def test_rollout_analysis_schema_is_in_sync_with_the_crd() -> None:
    """values.schema.json's modelRolloutAnalysis is generated from k8s/crd/modelrollouts.yaml."""
    assert out_of_sync("chart_schema.py") == ""


def test_crd_schema_translation_to_json_schema() -> None:
    """OpenAPI 3.0's boolean exclusive bounds become draft-07's numeric ones, API-server-only
    keys go, and objects refuse unknown fields (the API server would prune them silently)."""
    to_json_schema = load_script("chart_schema.py").to_json_schema
    crd = {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.a > 0"}],
        "properties": {
            "a": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1},
            "m": {"type": "object", "additionalProperties": {"type": "number"}},
            "n": {"type": "string", "nullable": True},
        },
    }
    assert to_json_schema(crd) == {
        "type": "object",
        "properties": {
            "a": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "m": {"type": "object", "additionalProperties": {"type": "number"}},
            "n": {"type": ["string", "null"]},
        },
        "additionalProperties": False,
    }


def test_every_example_analysis_validates() -> None:
    """The generated schema accepts what the CRD accepts: every example ModelRollout's
    spec.analysis and the demo's default config."""
    analyses = [
        doc["spec"]["analysis"]
        for path in sorted((REPO / "k8s" / "examples").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "ModelRollout" and "analysis" in doc["spec"]
    ]
    assert len(analyses) >= 3
    for analysis in analyses:
        override = {"rollout": {"analysis": analysis}}
        assert _errors(merge_values(chart_values(), override)) == [], analysis


def _prometheus_bytes(size: str) -> int:
    match = re.fullmatch(r"(\d+)([KMGTPE]?)B", size)
    assert match, size
    return int(match.group(1)) * 1024 ** "_KMGTPE".index(match.group(2) or "_")


def test_default_prometheus_retention_size_fits_its_emptydir() -> None:
    """An emptyDir that outgrows its sizeLimit gets the pod evicted; retention.size must
    drop old blocks before that (the WAL comes on top, hence the margin)."""
    prometheus = chart_values()["prometheus"]
    limit = prometheus["persistence"]["emptyDirSizeLimit"]
    assert limit.endswith("Gi")
    assert _prometheus_bytes(prometheus["retention"]["size"]) <= 0.8 * int(limit[:-2]) * 1024**3


def test_chart_crd_is_the_operator_crd_byte_for_byte() -> None:
    if not OPERATOR_CRD.is_file():
        pytest.fail(f"{OPERATOR_CRD.relative_to(REPO)} does not exist (the operator's CRD)")
    assert CHART_CRD.is_file(), "helm/understudy/crds/ has no copy; run `make sync-crd`"
    assert CHART_CRD.read_bytes() == OPERATOR_CRD.read_bytes(), (
        "helm/understudy/crds/modelrollouts.yaml differs from k8s/crd/modelrollouts.yaml; "
        "run `make sync-crd`"
    )


def test_chart_rollout_template_matches_the_crd_group_and_version() -> None:
    if not OPERATOR_CRD.is_file():
        pytest.fail(f"{OPERATOR_CRD.relative_to(REPO)} does not exist (the operator's CRD)")
    crd = yaml.safe_load(OPERATOR_CRD.read_text())
    served = {v["name"] for v in crd["spec"]["versions"] if v.get("served")}
    template = (CHART / "templates" / "rollout" / "modelrollout.yaml").read_text()
    m = re.search(r"^apiVersion: (\S+)/(\S+)$", template, re.M)
    assert m, "no apiVersion in the ModelRollout template"
    assert m.group(1) == crd["spec"]["group"]
    assert m.group(2) in served
    assert re.search(rf"^kind: {crd['spec']['names']['kind']}$", template, re.M)


# -- Kibana saved objects and the index template ---------------------------------------------


def _saved_objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in KIBANA_OBJECTS.read_text().splitlines() if line]


def _mapped_fields(properties: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            out |= _mapped_fields(spec["properties"], f"{path}.")
        else:
            out.add(path)
    return out


# Helm cannot read files outside the chart: these are copies (`make sync-chart-files`).
COPIES = [
    (CHART / "files" / "kibana-saved-objects.ndjson", KIBANA_OBJECTS),
    (INDEX_TEMPLATE, RAW_INDEX_TEMPLATE),
    (CHART / "files" / "fluent-bit-understudy.lua", REPO / "k8s/base/fluent-bit/understudy.lua"),
]


@pytest.mark.parametrize(("copy", "source"), COPIES, ids=[c.name for c, _ in COPIES])
def test_chart_file_is_the_same_as_the_raw_one(copy: Path, source: Path) -> None:
    assert copy.read_bytes() == source.read_bytes(), (
        f"{copy.relative_to(REPO)} differs from {source.relative_to(REPO)}; "
        "edit the one in k8s/ and run `make sync-chart-files`"
    )


def test_kibana_data_view_covers_the_log_indices() -> None:
    values = chart_values()
    (view,) = [o for o in _saved_objects() if o["type"] == "index-pattern"]
    assert view["attributes"]["title"] == f"{values['logging']['indexPrefix']}-*"
    assert view["attributes"]["timeFieldName"] == "@timestamp"
    template = json.loads(INDEX_TEMPLATE.read_text())
    assert template["index_patterns"] == [view["attributes"]["title"]]


def _flattened_fields(properties: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name, spec in properties.items():
        if spec.get("type") == "flattened":
            out.add(f"{prefix}{name}")
        elif "properties" in spec:
            out |= _flattened_fields(spec["properties"], f"{prefix}{name}.")
    return out


def _search_fields(search: dict[str, Any]) -> set[str]:
    source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    used = set(re.findall(r"([\w.@]+)\s*:", source["query"]["query"]))
    return used | set(search["attributes"]["columns"])


def test_saved_searches_use_only_mapped_fields() -> None:
    template = json.loads(INDEX_TEMPLATE.read_text())
    properties = template["template"]["mappings"]["properties"]
    fields = _mapped_fields(properties)
    # a key inside a flattened field (inputs.Year_Built) is searchable as it is
    flattened = _flattened_fields(properties)
    objects = _saved_objects()
    view_ids = {o["id"] for o in objects if o["type"] == "index-pattern"}
    searches = [o for o in objects if o["type"] == "search"]
    assert searches
    for search in searches:
        refs = {r["id"] for r in search["references"]}
        assert refs <= view_ids, f"{search['id']} refers to a data view that is not imported"
        source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert source["query"]["language"] == "kuery"
        used = {f for f in _search_fields(search) if f.rsplit(".", 1)[0] not in flattened}
        assert used <= fields, f"{search['id']} uses unmapped fields {used - fields}"


def test_inputs_search_names_features_of_the_model(artifacts: Any) -> None:
    """The "one feature's live values" search reads keys of the logged ``inputs`` that are
    the served model's features (a renamed feature would leave empty columns)."""
    (search,) = [o for o in _saved_objects() if o["id"] == "understudy-model-inputs"]
    features = {f["name"] for f in read_metadata(artifacts.v1)["feature_schema"]["fields"]}
    keys = {f.removeprefix("inputs.") for f in _search_fields(search) if f.startswith("inputs.")}
    assert keys and keys <= features, keys - features
    assert "model-api.request" in search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"]


def test_disagreement_search_is_the_documented_query() -> None:
    (search,) = [o for o in _saved_objects() if o["id"] == "understudy-shadow-disagreements"]
    source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    query = source["query"]["query"]
    assert '"shadow-router.comparison"' in query
    assert "agree : false" in query
    assert query in (REPO / "docs" / "kibana.md").read_text()


def test_operator_rules_are_the_raw_manifests_rules() -> None:
    """The chart binds exactly the rules of k8s/operator/rbac.yaml (per namespace by default)."""
    template = (CHART / "templates" / "operator" / "_rbac.tpl").read_text()
    body = re.search(r'{{- define "understudy.operator.rules" -}}\n(.*?){{- end }}', template, re.S)
    assert body, "no understudy.operator.rules in _rbac.tpl"
    chart_rules = yaml.safe_load(body.group(1))
    raw = [
        d
        for d in yaml.safe_load_all((REPO / "k8s" / "operator" / "rbac.yaml").read_text())
        if d and d["kind"] == "ClusterRole"
    ]
    (cluster_role,) = raw

    def triples(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {
            (group, resource, verb)
            for rule in rules
            for group in rule["apiGroups"]
            for resource in rule["resources"]
            for verb in rule["verbs"]
        }

    assert triples(chart_rules) == triples(cluster_role["rules"])
