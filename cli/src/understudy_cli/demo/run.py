"""``understudy demo``: a whole shadow rollout on this machine.

v1 goes live, the candidate is deployed beside it, the router mirrors the
traffic built from the Ames holdout set, the operator's decision core judges
the evidence each interval, and the run ends promoted or rolled back with a
report (Markdown + PNG) in the run folder.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from understudy_cli.demo.config import effective_mapping, parse
from understudy_cli.demo.controller import ControllerResult, LocalController
from understudy_cli.demo.display import Display, View
from understudy_cli.demo.prometheus import find_prometheus, start_prometheus
from understudy_cli.demo.report import plot_pairs, read_comparison_pairs, write_report
from understudy_cli.demo.scenarios import SCENARIOS, ModelVersion, Scenario
from understudy_cli.demo.scrape_source import ScrapeSource
from understudy_cli.demo.supervisor import StartError, Supervisor
from understudy_cli.demo.traffic import TrafficDriver
from understudy_cli.demo.workloads import LocalWorkloads
from understudy_operator.core import Decision, Phase
from understudy_operator.providers.prometheus import PrometheusProvider
from understudy_operator.providers.promql import PromQLSource


@dataclass
class DemoOptions:
    scenario: str = "good"
    config: Path | None = None
    artifacts_dir: Path = Path("artifacts")
    out_dir: Path = Path("reports")
    # Requests per second sent to the router (one house each).
    rate: float = 40.0
    # Give up (exit "no decision") after this long.
    max_seconds: float = 300.0
    interactive: bool | None = None
    router_port: int | None = None
    # Where the analysis reads its evidence: "prometheus", "router" (its /metrics),
    # or "auto" (Prometheus when it is installed).
    metrics: str = "auto"
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoOutcome:
    phase: str
    message: str
    report: Path
    run_dir: Path
    result: ControllerResult

    @property
    def promoted(self) -> bool:
        return self.phase == str(Phase.PROMOTED)


def ensure_artifacts(root: Path, versions: list[ModelVersion], log: Any) -> dict[str, Path]:
    from understudy_model.artifact import ArtifactError, load_artifact
    from understudy_model.faults import write_segment_shift, write_slowdown
    from understudy_model.train import train

    found: dict[str, Path] = {}
    for mv in versions:
        path = root / mv.folder
        try:
            model = load_artifact(path)
            if model.version != mv.version:
                raise ArtifactError(f"{path} holds version {model.version}, not {mv.version}")
        except ArtifactError as exc:
            if mv.slowed is not None:
                slow = mv.slowed
                base = ensure_artifacts(root, [slow.base], log)[slow.base.version]
                log(f"writing {mv.version} ({slow.base.version} x{slow.repeats}) into {path}")
                write_slowdown(base, path, version=mv.version, repeats=slow.repeats)
            elif mv.shifted is not None:
                s = mv.shifted
                base = ensure_artifacts(root, [s.base], log)[s.base.version]
                log(f"writing {mv.version} ({s.base.version} shifted {s.shift:+.0%}) into {path}")
                write_segment_shift(
                    base,
                    path,
                    version=mv.version,
                    shift=s.shift,
                    above=s.above,
                    column=s.field,
                    value=s.value,
                )
            else:
                log(f"training {mv.version} ({mv.algorithm}) into {path}: {exc}")
                train(
                    algorithm=mv.algorithm,
                    version=mv.version,
                    out_dir=path,
                    shuffle_target=mv.shuffle_target,
                )
        found[mv.version] = path
    return found


def traffic_records(seed: int = 7) -> list[dict[str, Any]]:
    from understudy_model.data import holdout_records, load_ames, split_holdout

    records = holdout_records(split_holdout(load_ames()))
    random.Random(seed).shuffle(records)
    return records


def run_demo(options: DemoOptions) -> DemoOutcome:
    scenario = SCENARIOS[options.scenario]
    overrides = {
        "model.version": scenario.candidate.version,
        **scenario.overrides,
        **options.overrides,
    }
    spec_mapping = effective_mapping(options.config, overrides)
    spec = parse(spec_mapping)
    started_at = datetime.now()
    run_dir = options.out_dir / f"{started_at:%Y%m%d-%H%M%S}-{scenario.name}"
    view = View(title=f"understudy demo — {scenario.summary}")
    display = Display(view, interactive=options.interactive)
    artifacts = ensure_artifacts(
        options.artifacts_dir, [scenario.live, scenario.candidate], display.note
    )
    records = traffic_records()
    supervisor = Supervisor(run_dir)
    traffic: TrafficDriver | None = None
    workloads = LocalWorkloads(
        supervisor=supervisor,
        spec=spec,
        artifacts=artifacts,
        router_port=options.router_port,
    )
    source = ScrapeSource(workloads.router_url)
    prometheus_binary = find_prometheus() if options.metrics != "router" else None
    if options.metrics == "prometheus" and prometheus_binary is None:
        raise StartError(
            "--metrics prometheus, but no prometheus binary is installed "
            "(sudo apt-get install prometheus)"
        )
    evidence = "the router's /metrics"
    started = time.monotonic()

    def on_change(result: ControllerResult, decision: Decision) -> None:
        status = result.status
        view.elapsed = time.monotonic() - started
        view.phase = str(status.phase)
        view.stable = status.stable_version or "—"
        view.candidate = status.candidate_version or "—"
        view.message = status.message
        view.runs = [r.to_dict() for r in result.runs]
        a = status.analysis
        view.counters = {
            "samples": a.samples,
            "runs": a.runs,
            "passed": a.successful,
            "failed": a.failed,
            "inconclusive": a.inconclusive,
        }
        if traffic is not None:
            s = traffic.stats
            view.traffic = {"sent": s.sent, "ok": s.ok, "failed": s.failed}
        display.refresh()

    controller = LocalController(spec=spec, actuator=workloads, source=source, on_change=on_change)
    deadline = time.monotonic() + options.max_seconds
    try:
        with display:
            controller.go_live(scenario.live.version, deadline=deadline)
            if prometheus_binary is not None:
                prom = start_prometheus(
                    supervisor=supervisor,
                    binary=prometheus_binary,
                    router_url=workloads.router_url,
                    scrape_seconds=min(1.0, spec.analysis.interval_seconds / 4),
                )
                controller.source = PromQLSource(PrometheusProvider(url=str(prom.url)))
                evidence = f"Prometheus at {prom.url}"
            display.note(f"analysis evidence: {evidence}")
            traffic = TrafficDriver(url=workloads.router_url, records=records, rate=options.rate)
            traffic.start()
            result = controller.roll_out(deadline=deadline)
    finally:
        if traffic is not None:
            traffic.stop()
        supervisor.stop_all()
    status = result.status
    phase = "TimedOut" if result.timed_out else str(status.phase)
    message = (
        f"no decision within {options.max_seconds:.0f}s: {status.message}"
        if result.timed_out
        else status.message
    )
    report = _write_outputs(
        run_dir=run_dir,
        evidence=evidence,
        spec_mapping=spec_mapping,
        options=options,
        scenario=scenario,
        result=result,
        phase=phase,
        message=message,
        traffic=traffic,
    )
    return DemoOutcome(phase=phase, message=message, report=report, run_dir=run_dir, result=result)


def _write_outputs(
    *,
    run_dir: Path,
    evidence: str,
    spec_mapping: dict[str, Any],
    options: DemoOptions,
    scenario: Scenario,
    result: ControllerResult,
    phase: str,
    message: str,
    traffic: TrafficDriver | None,
) -> Path:
    pairs = read_comparison_pairs(run_dir / "shadow-router.log", dataset="shadow-router.comparison")
    tolerance = float(spec_mapping.get("shadow", {}).get("tolerance", {}).get("relative", 0.1))
    plot = plot_pairs(
        pairs,
        path=run_dir / "live-vs-candidate.png",
        live_version=scenario.live.version,
        candidate_version=scenario.candidate.version,
        tolerance_relative=tolerance,
    )
    stats = traffic.stats if traffic is not None else None
    latencies = sorted(stats.latencies) if stats else []
    traffic_summary = {
        "requests sent": stats.sent if stats else 0,
        "answered 200": stats.ok if stats else 0,
        "failed": stats.failed if stats else 0,
        "client p50 latency (ms)": (latencies[len(latencies) // 2] * 1000 if latencies else None),
        "client p99 latency (ms)": (
            latencies[int(len(latencies) * 0.99)] * 1000 if latencies else None
        ),
        "compared predictions plotted": len(pairs),
    }
    runs = [r.to_dict() for r in result.runs]
    report = write_report(
        path=run_dir / "report.md",
        title=f"Shadow rollout of {scenario.candidate.version} beside {scenario.live.version}",
        settings={
            "scenario": scenario.name,
            "rate_per_second": options.rate,
            "evidence": evidence,
            "spec": spec_mapping,
        },
        runs=runs,
        outcome=phase,
        message=message,
        plot=plot,
        traffic=traffic_summary,
    )
    summary = {
        "scenario": scenario.name,
        "phase": phase,
        "message": message,
        "stable_version": result.status.stable_version,
        "candidate_version": scenario.candidate.version,
        "runs": runs,
        "events": [list(e) for e in result.events],
        "traffic": traffic_summary,
        "report": str(report),
        "plot": str(plot) if plot else None,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return report
