"""Every query of the Grafana dashboard, answered by a real Prometheus fed by real processes.

The dashboard is the one the chart renders into its sidecar ConfigMap (`helm template`,
metrics.dashboard.enabled). A real operator (a local process against the kwok cluster's API
server) runs a ModelRollout: 1.0.0 goes live, then 2.0.0 shadows it with a long analysis
(it stays in Shadowing, so every check keeps reporting). A real router follows the
rollout's ConfigMap and mirrors real traffic between real model-api processes (v1 live, v2
candidate), and the true prices of some requests are posted to its /v1/feedback; the
Debian Prometheus scrapes them all, the router and models with the
`namespace` target label a Kubernetes scrape adds, the operator from another namespace.

Then, as Grafana would: the template variables are resolved through Prometheus' label-values
API (namespace -> rollout -> model), substituted into every panel's queries, and each query
must answer without error and return at least one series. Grafana itself (AGPL) is not run.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml
from kubernetes import client

from tests.support.artifacts import Artifacts
from tests.support.dataplane import MODEL, DataPlane, ModelFleet
from tests.support.layout import CHART, DASHBOARD, OPERATOR_CRD
from tests.support.processes import ServiceProcess, free_port, start_service
from tests.support.prometheus import PrometheusServer
from understudy_model.data import TARGET, Split, holdout_records
from understudy_operator.kube import GROUP, PLURAL, VERSION

if TYPE_CHECKING:
    from tests.support.cluster import K8sCluster

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

ROLLOUT = "house-prices"
OPERATOR_NAMESPACE = "understudy-system"  # where the operator pod would run
# Grafana's $__rate_interval is max(4 x scrape interval, step + scrape interval); with the
# test's 0.5 s scrapes any window of a few seconds holds enough samples for rate().
RATE_INTERVAL = "10s"
CHECKS = [
    {"name": "candidate-error-rate", "max": 0.05},
    {"name": "agreement-rate", "min": 0.6},
    {"name": "prediction-ks", "max": 0.5},
    {"name": "prediction-psi", "max": 10},
    {"name": "latency-p90-ratio", "max": 20, "method": "threshold"},
]
BROKEN = "broken"  # a rollout with an invalid spec
# Valid for the CRD's schema, not for the core's parser: bias is no rate check to detect.
INVALID_ANALYSIS = {"detect": {"bias": 0.01}, "checks": [{"name": "agreement-rate", "min": 0.5}]}
LABELLED = 20  # requests whose true price is posted to /v1/feedback
# Long enough that 2.0.0 stays in Shadowing while the queries run: no decision is wanted.
ANALYSIS = {
    "interval": "2s",
    "warmup": "1s",
    "minSamples": 30,
    "successfulRuns": 1000,
    "failureLimit": 1000,
    "inconclusiveLimit": 1000,
    "checks": CHECKS,
}


def _ok(result: Any) -> str:
    assert result.returncode == 0, result.stderr
    return str(result.stdout)


@pytest.fixture(scope="module")
def chart_dashboard(k8s_cluster: K8sCluster) -> dict[str, Any]:
    """The dashboard as the chart's sidecar ConfigMap holds it."""
    out = _ok(
        k8s_cluster.helm(
            "template",
            "it",
            str(CHART),
            "--show-only",
            "templates/monitoring/dashboard.yaml",
            "--set",
            "metrics.dashboard.enabled=true",
        )
    )
    configmap = yaml.safe_load(out)
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(configmap["data"]["understudy-rollouts.json"])
    assert isinstance(board, dict)
    return board


def test_the_configmap_is_off_by_default_and_goes_where_the_sidecar_looks(
    k8s_cluster: K8sCluster,
) -> None:
    only = ("--show-only", "templates/monitoring/dashboard.yaml")
    default = k8s_cluster.helm("template", "it", str(CHART), *only)
    assert default.returncode != 0 and "could not find template" in default.stderr
    out = _ok(
        k8s_cluster.helm(
            "template",
            "it",
            str(CHART),
            *only,
            "--set",
            "metrics.dashboard.enabled=true",
            "--set",
            "metrics.dashboard.namespace=monitoring",
            "--set",
            "metrics.dashboard.labels.grafana_dashboard=null",
            "--set",
            "metrics.dashboard.labels.team=ml",
            "--set",
            "metrics.dashboard.annotations.grafana_folder=Understudy",
        )
    )
    meta = yaml.safe_load(out)["metadata"]
    assert meta["namespace"] == "monitoring"
    assert meta["labels"]["team"] == "ml" and "grafana_dashboard" not in meta["labels"]
    assert meta["annotations"] == {"grafana_folder": "Understudy"}


def _wait(what: str, probe: Any, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.25)  # polling interval
    raise AssertionError(f"timed out waiting for {what}")


class Rollout:
    def __init__(self, cluster: K8sCluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.custom = client.CustomObjectsApi(cluster.api_client())

    def apply(self, version: str, *, name: str = ROLLOUT, analysis: Any = ANALYSIS) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ModelRollout",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {
                "model": {"name": MODEL, "version": version, "image": f"model-api:{version}"},
                "analysis": analysis,
            },
        }
        _ok(self.cluster.kubectl("apply", "-f", "-", input=json.dumps(body)))

    def status(self, name: str = ROLLOUT) -> dict[str, Any]:
        obj = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)
        assert isinstance(obj, dict)
        return dict(obj.get("status") or {})


@pytest.fixture(scope="module")
def prometheus(
    k8s_cluster: K8sCluster,
    artifacts: Artifacts,
    ames_split: Split,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[PrometheusServer, str]]:
    """Prometheus scraping a shadowing rollout's operator, router and models; the namespace."""
    _ok(k8s_cluster.kubectl("apply", "--server-side", "-f", str(OPERATOR_CRD)))
    crd = yaml.safe_load(OPERATOR_CRD.read_text())["metadata"]["name"]
    _ok(k8s_cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s"))
    namespace = f"dash-{uuid.uuid4().hex[:6]}"
    _ok(k8s_cluster.kubectl("create", "namespace", namespace))
    fleet = ModelFleet({"1.0.0": artifacts.v1, "2.0.0": artifacts.v2})
    workdir = tmp_path_factory.mktemp("dashboard")
    operator: ServiceProcess | None = None
    plane: DataPlane | None = None
    try:
        with PrometheusServer(workdir / "prometheus") as prom:
            metrics_port = free_port()
            operator = start_service(
                "understudy_operator",
                env={
                    "KUBECONFIG": str(k8s_cluster.kubeconfig),
                    "UNDERSTUDY_OPERATOR_PROMETHEUS_URL": prom.url,
                    "UNDERSTUDY_OPERATOR_PROMETHEUS_TIMEOUT_SECONDS": "2",
                    "UNDERSTUDY_OPERATOR_TICK_SECONDS": "0.5",
                    "UNDERSTUDY_OPERATOR_NAMESPACES": json.dumps([namespace]),
                    # One operator: no Lease to win (leader election is tested in test_lease.py
                    # and the HA end-to-end test), so it acts at once.
                    "UNDERSTUDY_OPERATOR_LEADER_ELECTION": "false",
                    "UNDERSTUDY_OPERATOR_METRICS_PORT": str(metrics_port),
                    "UNDERSTUDY_OPERATOR_METRICS_HOST": "127.0.0.1",
                    "UNDERSTUDY_OPERATOR_RETRY_DELAY_SECONDS": "0.5",
                },
                port_env="UNDERSTUDY_OPERATOR_HEALTH_PORT",
                ready_path="/healthz",
                timeout=60,
            )
            # both versions up before the router needs them (a slow start then fails here,
            # not in the data plane's ConfigMap-following thread)
            for version in ("1.0.0", "2.0.0"):
                fleet.url(version)
            rollout = Rollout(k8s_cluster, namespace)
            rollout.apply("1.0.0")
            _wait("1.0.0 live", lambda: rollout.status().get("phase") == "Promoted")
            plane = DataPlane(
                api=k8s_cluster.api_client(),
                namespace=namespace,
                configmap=f"{ROLLOUT}-router",
                fleet=fleet,
                prometheus=prom,
                records=holdout_records(ames_split, limit=200),
                workdir=workdir,
                target_labels={"namespace": namespace},
                extra_target_groups=[
                    ([f"127.0.0.1:{metrics_port}"], {"namespace": OPERATOR_NAMESPACE})
                ],
            ).start()
            _wait("traffic through the router", lambda: plane is not None and plane.requests_ok > 5)
            rollout.apply("2.0.0")
            _wait(
                "two analysis runs of 2.0.0 with every check",
                lambda: _runs_with_checks(rollout.status()) >= 2,
            )
            # a second rollout whose spec the operator cannot act on (the API server
            # accepts it; the core's parser does not): phase Failed
            rollout.apply("1.0.0", name=BROKEN, analysis=INVALID_ANALYSIS)
            _wait(
                "the broken rollout Failed", lambda: rollout.status(BROKEN).get("phase") == "Failed"
            )
            assert plane.router is not None
            _post_labels(plane.router.url, ames_split)
            prom.wait_for_series(
                f'understudy_router_labelled_records_total{{role="candidate"}} >= {LABELLED}'
            )
            selector = f'rollout_namespace="{namespace}", rollout="{ROLLOUT}"'
            prom.wait_for_series(
                f"count(understudy_operator_check_value{{{selector}}}) >= {len(CHECKS)}"
            )
            # rate() over RATE_INTERVAL needs two scrapes of a moving counter
            prom.wait_for_series(
                f"increase(understudy_operator_analysis_runs_total{{{selector}}}"
                f"[{RATE_INTERVAL}]) > 0"
            )
            yield prom, namespace
    finally:
        if plane is not None:
            plane.stop()
        if operator is not None:
            operator.stop()
        fleet.stop()
        k8s_cluster.kubectl("delete", "namespace", namespace, "--wait=false")


def _post_labels(router_url: str, split: Split) -> None:
    """LABELLED requests under known ids, then their true prices on /v1/feedback (retried
    while the router has not stored the prediction yet: unknown_request)."""
    run = uuid.uuid4().hex[:8]
    records = holdout_records(split, limit=LABELLED)
    prices = split.holdout[TARGET].head(LABELLED).tolist()
    with httpx.Client(base_url=router_url, timeout=10) as http:
        for i, record in enumerate(records):
            r = http.post(
                "/v1/predictions",
                json={"records": [record]},
                headers={"X-Request-ID": f"dash-{run}-{i}"},
            )
            assert r.status_code == 200, r.text
        pending = {f"dash-{run}-{i}": float(price) for i, price in enumerate(prices)}

        def post() -> bool:
            labels = [{"request_id": k, "record": 0, "actual": v} for k, v in pending.items()]
            r = http.post("/v1/feedback", json={"labels": labels})
            assert r.status_code == 200, r.text
            for result in r.json()["results"]:
                assert result["outcome"] in ("applied", "unknown_request"), result
                if result["outcome"] == "applied":
                    pending.pop(result["request_id"])
            return not pending

        _wait("every label applied", post, timeout=30)


def _runs_with_checks(status: dict[str, Any]) -> int:
    analysis = status.get("analysis") or {}
    if status.get("phase") != "Shadowing" or len(analysis.get("checks") or []) < len(CHECKS):
        return 0
    return int(analysis.get("runs", 0))


def _label_values(prom: PrometheusServer, query: str, bound: dict[str, str]) -> list[str]:
    """Grafana's `label_values(selector, label)` through Prometheus' label-values API."""
    match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", _substitute(query, bound))
    assert match, query
    selector, label = match.groups()
    values = prom.api(f"label/{label}/values", **{"match[]": selector})["data"]
    return [str(v) for v in values]


def _substitute(expr: str, bound: dict[str, str]) -> str:
    for name, value in bound.items():
        expr = expr.replace(f"${name}", value)
    return expr


@pytest.fixture(scope="module")
def variables(
    prometheus: tuple[PrometheusServer, str], chart_dashboard: dict[str, Any]
) -> dict[str, str]:
    """The template variables resolved in order, each from the ones before it, as Grafana
    does; the test's namespace and rollout chosen where there is a choice."""
    prom, namespace = prometheus
    choose = {"namespace": namespace, "rollout": ROLLOUT}
    bound = {"__rate_interval": RATE_INTERVAL}
    for var in chart_dashboard["templating"]["list"]:
        if var["type"] == "datasource":
            continue
        options = _label_values(prom, var["query"], bound)
        want = choose.get(var["name"])
        assert options, f"${var['name']} has no options"
        if want is None:
            assert len(options) == 1, f"${var['name']}: {options}"
            want = options[0]
        assert want in options, f"${var['name']}: {options}"
        bound[var["name"]] = want
    assert bound["model"] == MODEL
    return bound


def _targets(board: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (panel["title"], target["refId"], target["expr"])
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]


def test_every_panel_query_returns_series(
    prometheus: tuple[PrometheusServer, str],
    chart_dashboard: dict[str, Any],
    variables: dict[str, str],
) -> None:
    prom, _ = prometheus
    targets = _targets(chart_dashboard)
    assert len(targets) >= 12
    empty = []
    for title, ref, expr in targets:
        query = _substitute(expr, variables)
        assert "$" not in query, f"{title} {ref}: unbound variable in {query}"
        result = prom.api("query", query=query)["data"]["result"]  # asserts no error
        if not result:
            empty.append(f"{title} {ref}: {query}")
    assert empty == [], "queries without series:\n" + "\n".join(empty)


def _query(
    prom: PrometheusServer, board: dict[str, Any], title: str, ref: str, bound: dict[str, str]
) -> list[dict[str, Any]]:
    (expr,) = [e for t, r, e in _targets(board) if t == title and r == ref]
    return list(prom.api("query", query=_substitute(expr, bound))["data"]["result"])


def test_the_panels_show_the_shadowing_rollout(
    prometheus: tuple[PrometheusServer, str],
    chart_dashboard: dict[str, Any],
    variables: dict[str, str],
) -> None:
    """Not just any series: the ones that describe this rollout now."""
    prom, _ = prometheus
    board, bound = chart_dashboard, variables

    phases = _query(prom, board, "Phase", "A", bound)
    assert [s["metric"]["phase"] for s in phases] == ["Shadowing"]

    verdicts = _query(prom, board, "Runs × checks: verdicts", "A", bound)
    assert {s["metric"]["check"] for s in verdicts} == {c["name"] for c in CHECKS}
    codes = {int(float(s["value"][1])) for s in verdicts}
    assert codes <= {1, 2, 3, 4} and codes, codes  # exactly one verdict per check

    values = _query(prom, board, "Checks of the last run", "A", bound)
    assert {s["metric"]["check"] for s in values} == {c["name"] for c in CHECKS}

    (agreement,) = _query(prom, board, "Agreement rate", "A", bound)
    assert agreement["metric"]["candidate_version"] == "2.0.0"
    assert 0.5 < float(agreement["value"][1]) <= 1  # v2 agrees with v1 on ~80% of houses

    (ratio,) = _query(prom, board, "Latency p90: candidate / live", "A", bound)
    assert 0 < float(ratio["value"][1]) < math.inf

    outcomes = {s["metric"]["outcome"] for s in _query(prom, board, "Mirror outcomes", "A", bound)}
    assert outcomes & {"agreed", "disagreed"}, outcomes

    (errors,) = _query(prom, board, "Candidate errors", "A", bound)
    assert float(errors["value"][1]) == 0  # a healthy candidate

    coverage = _query(prom, board, "Ground truth: label coverage", "A", bound)
    assert {s["metric"]["role"] for s in coverage} == {"live", "candidate"}
    assert all(0 < float(s["value"][1]) <= 1 for s in coverage), coverage

    mae = _query(prom, board, "Ground truth: realized MAE by role", "A", bound)
    assert {s["metric"]["role"] for s in mae} == {"live", "candidate"}
    assert all(0 < float(s["value"][1]) < math.inf for s in mae), mae  # dollars


def test_a_rollout_with_an_invalid_spec_shows_failed(
    prometheus: tuple[PrometheusServer, str],
    chart_dashboard: dict[str, Any],
    variables: dict[str, str],
) -> None:
    prom, _ = prometheus
    broken = {**variables, "rollout": BROKEN}
    (rollouts,) = [v for v in chart_dashboard["templating"]["list"] if v["name"] == "rollout"]
    assert BROKEN in _label_values(prom, rollouts["query"], variables)
    prom.wait_for_series(f'understudy_operator_rollout_phase{{rollout="{BROKEN}"}} == 1')
    phases = _query(prom, chart_dashboard, "Phase", "A", broken)
    assert [s["metric"]["phase"] for s in phases] == ["Failed"]
    # the per-phase count the UnderstudyRolloutFailed alert reads, too
    failed = prom.api("query", query='understudy_operator_rollouts{phase="Failed"}')
    assert [float(s["value"][1]) for s in failed["data"]["result"]] == [1.0]


def test_another_namespace_shows_nothing(
    prometheus: tuple[PrometheusServer, str],
    chart_dashboard: dict[str, Any],
    variables: dict[str, str],
) -> None:
    """The operator is scraped from its own namespace: the rollout's series are found by
    rollout_namespace, and choosing that namespace shows none of them."""
    prom, _ = prometheus
    other = {**variables, "namespace": OPERATOR_NAMESPACE}
    assert _query(prom, chart_dashboard, "Phase", "A", other) == []
    assert _query(prom, chart_dashboard, "Agreement rate", "A", other) == []


def test_the_chart_holds_the_generated_file(chart_dashboard: dict[str, Any]) -> None:
    assert chart_dashboard == json.loads(DASHBOARD.read_text())
