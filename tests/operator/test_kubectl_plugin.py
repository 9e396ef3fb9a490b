"""`kubectl understudy` end to end: the plugin on PATH, run through the real kubectl binary
against a real API server (kwok), with the real operator, router, model-api processes and
Prometheus of the operator's e2e tests (tests/support/dataplane.py).

Each verb changes the real rollout's outcome: approve promotes a manual rollout, promote
--skip-analysis promotes one that has not passed, abort rolls back, retry shadows the
rolled-back candidate again with fresh counters, resume continues a paused analysis;
bad names, namespaces and phases give their documented exit codes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import K8sCluster
from tests.support.dataplane import DataPlane, ModelFleet
from tests.support.operator import OperatorFactory
from tests.support.processes import ServiceStartError
from tests.support.prometheus import PrometheusServer
from tests.support.rollout_api import NAME, Rollout
from understudy_operator.kube import GROUP

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

# The e2e tests' settings (tests/operator/test_e2e.py): a run every 2s after 1s, 30 samples.
ANALYSIS: dict[str, Any] = {
    "interval": "2s",
    "warmup": "1s",
    "minSamples": 30,
    "successfulRuns": 3,
    "failureLimit": 2,
    "inconclusiveLimit": 3,
    "checks": [
        {"name": "candidate-error-rate", "max": 0.05},
        {"name": "agreement-rate", "min": 0.6},
    ],
}
# Passing runs never add up to a promotion: the rollout waits in Shadowing for a human.
FOREVER = {**ANALYSIS, "successfulRuns": 1000}
VENV_BIN = Path(sys.executable).parent


class Plugin:
    """``kubectl understudy ...`` through the real kubectl, the plugin found on PATH."""

    def __init__(self, cluster: K8sCluster, namespace: str) -> None:
        kubectl = (cluster.bin_dir / "kubectl") if cluster.bin_dir else None
        found = str(kubectl) if kubectl and kubectl.exists() else shutil.which("kubectl")
        assert found, "kubectl not found"
        self.kubectl = found
        self.cluster = cluster
        self.namespace = namespace
        assert (VENV_BIN / "kubectl-understudy").exists(), "run make env: no console script"
        self.env = {
            **os.environ,
            **cluster.env,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "COLUMNS": "240",
        }

    def __call__(
        self, *args: str, namespace: str | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        # A generous bound: on 2 cores shared by many test sessions one plugin process
        # (Python start, the kubernetes client import, two API calls) took over 60s.
        ns = namespace or self.namespace
        return subprocess.run(
            [
                self.kubectl,
                "understudy",
                *args,
                "-n",
                ns,
                "--kubeconfig",
                str(self.cluster.kubeconfig),
            ],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )


def ready(fleet: ModelFleet, version: str) -> None:
    """Start the model-api of ``version`` here, not in the data plane's thread (where a
    failure only ends the thread): on a loaded machine its start may outlast the fleet's
    60s once; a second failure fails the test with the process' output."""
    try:
        fleet.url(version)
    except ServiceStartError:
        fleet.url(version)


@pytest.fixture
def live(
    crd: K8sCluster,
    namespace: str,
    start_operator: OperatorFactory,
    fleet: ModelFleet,
    prometheus: PrometheusServer,
    records: list[dict[str, Any]],
    tmp_path: Path,
) -> Iterator[tuple[Rollout, Plugin]]:
    """v1 live through the operator, a router following its ConfigMap, traffic flowing."""
    for version in ("1.0.0", "2.0.0"):
        ready(fleet, version)
    rollout = Rollout(crd, namespace, analysis=ANALYSIS)
    start_operator(namespace=namespace, prometheus_url=prometheus.url)
    rollout.apply("1.0.0")
    rollout.wait_phase("Promoted")
    plane = DataPlane(
        api=rollout.api,
        namespace=namespace,
        configmap=f"{NAME}-router",
        fleet=fleet,
        prometheus=prometheus,
        records=records,
        workdir=tmp_path,
    ).start()
    try:
        rollout.wait("traffic through the router", lambda _: plane.requests_ok > 5)
        yield rollout, Plugin(crd, namespace)
    finally:
        plane.stop()


def _summary(stdout: str) -> dict[str, Any]:
    """summary.json beside the report.md the plugin printed ("report: PATH")."""
    line = next(x for x in stdout.splitlines() if x.startswith("report: "))
    summary: dict[str, Any] = json.loads(
        (Path(line.removeprefix("report: ").strip()).parent / "summary.json").read_text()
    )
    return summary


def shadowing_with_runs(rollout: Rollout, version: str = "2.0.0", **spec: Any) -> dict[str, Any]:
    rollout.apply(version, analysis=FOREVER, **spec)
    return rollout.wait(
        "a passing run while shadowing",
        lambda s: s if s.get("phase") == "Shadowing" and s["analysis"]["successful"] >= 1 else None,
    )


def test_get_shows_the_runs_table_and_approve_promotes_a_manual_rollout(
    live: tuple[Rollout, Plugin],
) -> None:
    rollout, plugin = live
    rollout.apply("2.0.0", promotion="manual")
    rollout.wait_phase("AwaitingApproval")
    shown = plugin("get", NAME)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "AwaitingApproval" in out and "stable 1.0.0" in out and "candidate 2.0.0" in out
    # The demo's runs x checks table: each check with its threshold and a verdict.
    assert "candidate-error-rate" in out and ">= 0.6" in out and "Pass" in out
    assert "conditions" in out and "Progressing" in out
    as_json = json.loads(plugin("get", NAME, "-o", "json").stdout)
    assert as_json["status"]["phase"] == "AwaitingApproval"

    approved = plugin("approve", NAME)
    assert approved.returncode == 0, approved.stderr
    assert "approve sent for candidate 2.0.0" in approved.stdout
    # -w: the live view redrawn from the watch until the promotion (plain lines: no TTY).
    watched = plugin("get", NAME, "-w", "--timeout", "15")
    assert watched.returncode == 0, watched.stderr
    assert "phase Promoted" in watched.stdout
    status = rollout.wait_phase("Promoted")
    assert status["stableVersion"] == "2.0.0"
    assert f"{GROUP}/approve" not in rollout.annotations()  # consumed by the operator
    assert rollout.wait_event("Approved")


def test_dry_run_judges_now_and_promote_skip_analysis_promotes_on_request(
    live: tuple[Rollout, Plugin], prometheus: PrometheusServer, tmp_path: Path
) -> None:
    rollout, plugin = live
    before = shadowing_with_runs(rollout)
    dry = plugin("dry-run", NAME, "--prometheus-url", prometheus.url)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "would decide: Shadowing (AnalysisRunPassed)" in dry.stdout
    assert "nothing is changed" in dry.stdout
    after = rollout.status()
    assert after["phase"] == "Shadowing"
    # A dry run writes nothing: the status' counters are the operator's alone.
    assert after["analysis"]["startedAt"] == before["analysis"]["startedAt"]
    # report: the operator's checks over the whole shadow window so far, as files.
    reported = plugin("report", NAME, "--prometheus-url", prometheus.url, "--out", str(tmp_path))
    assert reported.returncode == 0, reported.stdout + reported.stderr
    summary = _summary(reported.stdout)
    assert summary["phase"] == "Shadowing" and summary["window_verdict"] == "Pass", summary
    assert summary["samples"] > 0 and summary["candidate_version"] == "2.0.0"
    assert {c["name"] for c in summary["checks"]} == {"candidate-error-rate", "agreement-rate"}
    unreachable = plugin("dry-run", NAME, "--prometheus-url", "http://127.0.0.1:9")
    assert unreachable.returncode == 5, unreachable.stdout + unreachable.stderr
    assert "Inconclusive" in unreachable.stdout

    refused = plugin("promote", NAME, "--skip-analysis")  # stdin is not a terminal
    assert refused.returncode == 4
    assert "--yes" in refused.stderr
    no_flag = plugin("promote", NAME, "--yes")
    assert no_flag.returncode == 2 and "--skip-analysis" in no_flag.stderr
    assert rollout.status()["phase"] == "Shadowing"

    promoted = plugin("promote", NAME, "--skip-analysis", "--yes")
    assert promoted.returncode == 0, promoted.stderr
    status = rollout.wait(
        "promoted",
        lambda s: s if s.get("phase") == "Promoted" and s.get("stableVersion") == "2.0.0" else None,
    )
    assert status["analysis"]["skipped"] is True
    assert "analysis skipped by request" in status["message"]
    assert len(rollout.wait_event("AnalysisSkipped", "Warning")) == 1
    shown = plugin("get", NAME)
    assert "skipped by request" in shown.stdout
    refused = plugin("report", NAME, "--prometheus-url", prometheus.url, "--out", str(tmp_path))
    assert refused.returncode == 4 and "Promoted" in refused.stderr, refused.stderr


def test_abort_rolls_back_and_retry_shadows_the_candidate_again_with_fresh_counters(
    live: tuple[Rollout, Plugin], prometheus: PrometheusServer, tmp_path: Path
) -> None:
    rollout, plugin = live
    rollout.apply("2.0.0", analysis=FOREVER)
    first = rollout.wait(
        "three passing runs",
        lambda s: s if s.get("phase") == "Shadowing" and s["analysis"]["successful"] >= 3 else None,
    )
    aborted = plugin("abort", NAME)
    assert aborted.returncode == 0, aborted.stderr
    rolled_back = rollout.wait_phase("RolledBack")
    assert "aborted by request" in rolled_back["message"]
    shown = plugin("get", NAME)
    assert shown.returncode == 1  # a failed state
    assert "RolledBack" in shown.stdout
    assert plugin("abort", NAME).returncode == 4  # nothing in flight to abort
    # The report of the rolled-back candidate: its window ends at the decision.
    reported = plugin("report", NAME, "--prometheus-url", prometheus.url, "--out", str(tmp_path))
    assert reported.returncode == 1, reported.stdout + reported.stderr  # a failed state
    summary = _summary(reported.stdout)
    assert summary["phase"] == "RolledBack" and "aborted by request" in summary["message"]
    assert summary["window"]["end"] == rolled_back["phaseSince"]
    assert summary["window_verdict"] == "Pass" and summary["samples"] > 0, summary
    report = Path(reported.stdout.split("report: ", 1)[1].strip()).read_text()
    assert "Shadow rollout of 2.0.0 beside 1.0.0" in report and "agreement-rate" in report

    retried = plugin("retry", NAME)
    assert retried.returncode == 0, retried.stderr
    again = rollout.wait(
        "the first run of the retried candidate",
        lambda s: (
            s
            if s.get("phase") == "Shadowing"
            and s.get("analysis", {}).get("startedAt", "") > first["analysis"]["startedAt"]
            and s.get("analysis", {}).get("runs", 0) >= 1
            else None
        ),
    )
    assert again["candidateVersion"] == "2.0.0"
    # Fresh counters: counted from zero again, not continued from the first attempt's
    # (which would read at least its runs + 1). The status is polled 8x per run interval,
    # so this is normally 1; a slow poll on a busy machine may see 2.
    assert rolled_back["analysis"]["runs"] >= 3
    assert again["analysis"]["runs"] < rolled_back["analysis"]["runs"]
    assert again["analysis"]["successful"] <= again["analysis"]["runs"]
    assert rollout.wait_event("RolloutRetried")
    assert f"{GROUP}/retry" not in rollout.annotations()


def test_resume_continues_a_paused_analysis_and_bad_input_is_named(
    live: tuple[Rollout, Plugin],
) -> None:
    rollout, plugin = live
    # A custom check on a metric nobody exports: every run is inconclusive -> Paused.
    nothing = {"name": "no-such-metric", "query": "sum(understudy_no_such_metric)", "max": 1}
    analysis = {**FOREVER, "inconclusiveLimit": 2, "checks": [*ANALYSIS["checks"], nothing]}
    rollout.apply("2.0.0", analysis=analysis)
    paused = rollout.wait_phase("Paused")
    refused = plugin("retry", NAME)  # retry is for RolledBack/Failed
    assert refused.returncode == 4
    assert "retry does not apply" in refused.stderr and "in phase Paused" in refused.stderr
    resumed = plugin("resume", NAME)
    assert resumed.returncode == 0, resumed.stderr
    status = rollout.wait(
        "resumed", lambda s: s if (s.get("analysis") or {}).get("resumedAt") else None
    )
    assert status["analysis"]["resumedAt"] > paused["phaseSince"]
    assert rollout.wait_event("Resumed")
    # Bad input: each error names what is wrong, with its exit code.
    missing = plugin("get", "no-such-rollout")
    assert missing.returncode == 3
    assert f'modelrollout "no-such-rollout" not found in namespace "{rollout.namespace}"' in (
        missing.stderr
    )
    no_ns = plugin("approve", NAME, namespace="no-such-namespace")
    assert no_ns.returncode == 3
    assert 'namespace "no-such-namespace" not found' in no_ns.stderr
    assert plugin("get").returncode == 2  # usage: NAME is required
    help_ = plugin("--help")
    assert help_.returncode == 0 and "Exit codes" in help_.stdout
