"""Every alert rule evaluated by a real Prometheus that scrapes real processes.

The rules file is the one the chart renders into the bundled Prometheus' ConfigMap
(`helm template`), loaded by the Debian Prometheus; it scrapes real model-api processes
(v1 live, v2 candidate), a real router mirroring traffic between them and a real operator
(against the kwok cluster's API server), each target with the `component` label the chart's
scrape jobs add. Then: every rule group is evaluated without error, every expression
answers the query API without error, every metric a rule names is exported by these
processes (a typo in a name would make an alert silently never fire), and the alerts that
describe a healthy install (operator down, router not routing) are not firing.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import yaml

from tests.support.artifacts import Artifacts
from tests.support.layout import CHART, OPERATOR_CRD
from tests.support.processes import ServiceProcess, free_port, start_model_api, start_service
from tests.support.prometheus import PrometheusServer
from tests.support.router import routing_config, wait_for
from understudy_model.data import Split, holdout_records

if TYPE_CHECKING:
    from tests.support.cluster import K8sCluster

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

REQUESTS = 30


def _ok(result: object) -> str:
    assert getattr(result, "returncode", 1) == 0, result
    return str(getattr(result, "stdout", ""))


@pytest.fixture(scope="module")
def bundled_rules(k8s_cluster: K8sCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """alert-rules.yml as the chart renders it for the bundled Prometheus."""
    out = _ok(
        k8s_cluster.helm(
            "template", "it", str(CHART), "--show-only", "templates/prometheus/configmap.yaml"
        )
    )
    configmap = yaml.safe_load(out)
    assert "/etc/prometheus/alert-rules.yml" in configmap["data"]["prometheus.yml"]
    path = tmp_path_factory.mktemp("rules") / "alert-rules.yml"
    path.write_text(configmap["data"]["alert-rules.yml"])
    return path


@pytest.fixture(scope="module")
def operator(k8s_cluster: K8sCluster) -> Iterator[tuple[ServiceProcess, int]]:
    """The operator as a local process watching an empty namespace; and its metrics port."""
    _ok(k8s_cluster.kubectl("apply", "--server-side", "-f", str(OPERATOR_CRD)))
    crd = yaml.safe_load(OPERATOR_CRD.read_text())["metadata"]["name"]
    _ok(k8s_cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s"))
    namespace = f"alerts-{uuid.uuid4().hex[:6]}"
    _ok(k8s_cluster.kubectl("create", "namespace", namespace))
    metrics_port = free_port()
    proc = start_service(
        "understudy_operator",
        env={
            "KUBECONFIG": str(k8s_cluster.kubeconfig),
            # nothing to analyse here: the URL is never queried
            "UNDERSTUDY_OPERATOR_PROMETHEUS_URL": "http://127.0.0.1:9",
            "UNDERSTUDY_OPERATOR_NAMESPACES": json.dumps([namespace]),
            # One operator: no Lease to win (leader election is tested in test_lease.py
            # and the HA end-to-end test), so it acts at once.
            "UNDERSTUDY_OPERATOR_LEADER_ELECTION": "false",
            "UNDERSTUDY_OPERATOR_METRICS_PORT": str(metrics_port),
            "UNDERSTUDY_OPERATOR_METRICS_HOST": "127.0.0.1",
        },
        port_env="UNDERSTUDY_OPERATOR_HEALTH_PORT",
        ready_path="/healthz",
        timeout=60,
    )
    try:
        yield proc, metrics_port
    finally:
        proc.stop()
        k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false")


@pytest.fixture(scope="module")
def prometheus(
    bundled_rules: Path,
    operator: tuple[ServiceProcess, int],
    artifacts: Artifacts,
    ames_split: Split,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PrometheusServer]:
    records = holdout_records(ames_split, limit=REQUESTS)
    with (
        start_model_api(artifacts.v1) as live,
        start_model_api(artifacts.v2) as candidate,
    ):
        config = routing_config(live, (candidate.url, "2.0.0"))
        with (
            start_service(
                "understudy_router", env={"UNDERSTUDY_ROUTER_CONFIG_JSON": json.dumps(config)}
            ) as router,
            PrometheusServer(
                tmp_path_factory.mktemp("prometheus"), rule_files=[bundled_rules]
            ) as prom,
        ):
            for record in records:
                r = httpx.post(f"{router.url}/v1/predictions", json={"records": [record]})
                assert r.status_code == 200
            groups = {
                "operator": [f"127.0.0.1:{operator[1]}"],
                "router": [router.url.removeprefix("http://")],
                "live": [live.url.removeprefix("http://")],
                "candidate": [candidate.url.removeprefix("http://")],
            }
            prom.set_target_groups((targets, {"component": c}) for c, targets in groups.items())
            prom.wait_until_scraped(t for targets in groups.values() for t in targets)
            # a second scrape of every target, so rate() has two samples
            prom.wait_for_series("count_over_time(understudy_router_routing_configured[1m]) >= 3")
            prom.wait_for_series(
                f'sum(understudy_router_mirror_total{{outcome=~"agreed|disagreed"}}) >= {REQUESTS}'
            )
            yield prom


def rules(path: Path) -> list[dict[str, str]]:
    return [r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]]


def test_every_rule_group_evaluates_without_error(
    prometheus: PrometheusServer, bundled_rules: Path
) -> None:
    want = {r["alert"] for r in rules(bundled_rules)}

    def evaluated() -> list[dict[str, object]] | None:
        loaded = [
            rule
            for group in prometheus.api("rules")["data"]["groups"]
            for rule in group["rules"]
            if not str(rule.get("lastEvaluation", "")).startswith("0001")
        ]
        return loaded if {r["name"] for r in loaded} == want else None

    loaded = wait_for(evaluated, timeout=30, what="every rule to be evaluated")
    for rule in loaded:
        assert rule["health"] == "ok", rule
        assert not rule.get("lastError"), rule


def test_every_expression_answers_and_every_metric_is_exported(
    prometheus: PrometheusServer, bundled_rules: Path
) -> None:
    for rule in rules(bundled_rules):
        prometheus.api("query", query=rule["expr"])  # asserts status success
        for name in set(re.findall(r"\b(understudy_\w+|up)\b(?=\s*[{\[)])", rule["expr"])):
            result = prometheus.api("query", query=f"count({name})")["data"]["result"]
            assert result, f"{rule['alert']}: nothing exports {name}"


@pytest.mark.parametrize(
    "alert",
    [
        "UnderstudyOperatorDown",
        "UnderstudyRouterNotRouting",
        "UnderstudyRouterLiveErrors",
        "UnderstudyCandidateErrors",
        "UnderstudyRolloutFailed",
    ],
)
def test_a_healthy_install_does_not_alert(
    prometheus: PrometheusServer, bundled_rules: Path, alert: str
) -> None:
    (rule,) = [r for r in rules(bundled_rules) if r["alert"] == alert]
    result = prometheus.api("query", query=rule["expr"])["data"]["result"]
    assert result == [], f"{alert} would fire: {result}"


def test_the_operator_down_rule_sees_a_missing_operator(prometheus: PrometheusServer) -> None:
    """The same expression, asked of a component that is not there, returns a series."""
    (rule,) = [r for r in rules_of(prometheus) if r["name"] == "UnderstudyOperatorDown"]
    missing = str(rule["query"]).replace('component="operator"', 'component="nobody"')
    assert prometheus.api("query", query=missing)["data"]["result"]


def rules_of(prometheus: PrometheusServer) -> list[dict[str, object]]:
    return [r for g in prometheus.api("rules")["data"]["groups"] for r in g["rules"]]
