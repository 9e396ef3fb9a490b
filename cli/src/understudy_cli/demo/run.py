"""``understudy demo``: a whole shadow rollout on this machine.

v1 goes live, the candidate is deployed beside it, the router mirrors the
traffic built from the Ames holdout set, the operator's decision core judges
the evidence each interval, and the run ends promoted or rolled back with a
report (Markdown + PNG) in the run folder.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from understudy_cli.demo.config import ConfigError, effective_mapping, ground_truth_checks, parse
from understudy_cli.demo.controller import ControllerResult, LocalController
from understudy_cli.demo.display import Display, View, label_counts
from understudy_cli.demo.labels import LabelFeed
from understudy_cli.demo.prometheus import (
    find_prometheus,
    model_api_targets,
    start_prometheus,
    write_targets,
)
from understudy_cli.demo.realized import describe as describe_realized
from understudy_cli.demo.realized import summary as realized_summary
from understudy_cli.demo.report import (
    GroundTruth,
    plot_pairs,
    read_comparison_pairs,
    write_report,
)
from understudy_cli.demo.scenarios import SCENARIOS, ModelVersion
from understudy_cli.demo.scrape import Snapshot
from understudy_cli.demo.scrape_source import ScrapeSource
from understudy_cli.demo.shift import drifting
from understudy_cli.demo.supervisor import StartError, Supervisor
from understudy_cli.demo.traffic import TrafficDriver
from understudy_cli.demo.workloads import LocalWorkloads
from understudy_cli.drift import report_section
from understudy_operator.core import Decision, Phase, RolloutSpec, format_number
from understudy_operator.providers.prometheus import PrometheusProvider
from understudy_operator.providers.promql import PromQLSource


@dataclass
class DemoOptions:
    scenario: str = "good"
    # A file, or the name of a packaged config (GROUND_TRUTH_CONFIG); None: the default.
    config: Path | str | None = None
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
    # The label feed (each house's true price to the router's POST /v1/feedback): None
    # turns it on when the config has a ground-truth check (ground_truth_checks), True/False
    # force it. label_delay: seconds between an answer and its label.
    labels: bool | None = None
    label_delay: float = 5.0
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoOutcome:
    phase: str
    message: str
    report: Path
    run_dir: Path
    result: ControllerResult
    # The realized-error line (realized.describe) when labels were sent, else "".
    realized: str = ""

    @property
    def promoted(self) -> bool:
        return self.phase == str(Phase.PROMOTED)


def ensure_artifacts(root: Path, versions: list[ModelVersion], log: Any) -> dict[str, Path]:
    from understudy_model.artifact import ArtifactError, load_artifact
    from understudy_model.faults import write_flaky, write_segment_shift, write_slowdown
    from understudy_model.train import train

    found: dict[str, Path] = {}
    for mv in versions:
        path = root / mv.folder
        try:
            model = load_artifact(path)
            if model.version != mv.version:
                raise ArtifactError(f"{path} holds version {model.version}, not {mv.version}")
        except ArtifactError as exc:
            if mv.flaky is not None:
                flake = mv.flaky
                base = ensure_artifacts(root, [flake.base], log)[flake.base.version]
                log(f"writing {mv.version} ({flake.base.version}, flaky) into {path}")
                write_flaky(base, path, version=mv.version, every=flake.every)
            elif mv.slowed is not None:
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


def traffic_records(seed: int = 7) -> tuple[list[dict[str, Any]], list[float]]:
    """The holdout houses in a fixed shuffled order, and each one's true sale price."""
    from understudy_model.data import TARGET, holdout_records, load_ames, split_holdout

    split = split_holdout(load_ames())
    pairs = list(
        zip(holdout_records(split), (float(v) for v in split.holdout[TARGET]), strict=True)
    )
    random.Random(seed).shuffle(pairs)
    return [r for r, _ in pairs], [a for _, a in pairs]


@dataclass(frozen=True)
class Plan:
    """What one local rollout runs: two artifacts, the traffic and the rollout config.
    ``understudy demo`` makes one from a scenario, ``understudy shadow`` from the user's
    artifacts and traffic file."""

    name: str
    summary: str
    live_version: str
    candidate_version: str
    artifacts: dict[str, Path]
    records: list[dict[str, Any]]
    # The true value of each record (the label feed), or None.
    actuals: list[float] | None
    # Settings on top of the rollout config (dotted keys).
    overrides: dict[str, Any] = field(default_factory=dict)
    # "classification": the router's prediction histograms cover probabilities.
    task: str = "regression"
    # Send every record once, then let the analysis decide on what it has.
    once: bool = False
    # Checks appended to the config's (a scenario's own, e.g. input drift).
    extra_checks: tuple[Any, ...] = ()
    title: str = "understudy demo"


# A classifier's numbers are positive-class probabilities: the router's shared prediction
# edges (log-spaced, services/shadow-router settings) then run from 0.001 to 1, not $10k-$2M.
PROBABILITY_EDGES_ENV = {
    "UNDERSTUDY_ROUTER_PREDICTION_BUCKETS_LOW": "0.001",
    "UNDERSTUDY_ROUTER_PREDICTION_BUCKETS_HIGH": "1.0",
}


def scenario_plan(options: DemoOptions, log: Any) -> Plan:
    scenario = SCENARIOS[options.scenario]
    artifacts = ensure_artifacts(options.artifacts_dir, [scenario.live, scenario.candidate], log)
    records, actuals = traffic_records()
    if scenario.drift_after is not None:
        records, actuals = drifting(records, actuals, after=scenario.drift_after)
    return Plan(
        name=scenario.name,
        summary=scenario.summary,
        live_version=scenario.live.version,
        candidate_version=scenario.candidate.version,
        artifacts=artifacts,
        records=records,
        actuals=actuals,
        overrides=dict(scenario.overrides),
        extra_checks=tuple(scenario.extra_checks),
    )


def resolve_spec(
    options: DemoOptions,
    *,
    candidate_version: str,
    overrides: dict[str, Any],
    extra_checks: Sequence[Any] = (),
) -> tuple[dict[str, Any], RolloutSpec]:
    """The config as written (with the run's overrides) and its parsed spec (ConfigError)."""
    mapping = effective_mapping(
        options.config,
        {"model.version": candidate_version, **overrides, **options.overrides},
    )
    if extra_checks:
        analysis = mapping.setdefault("analysis", {})
        analysis["checks"] = [*analysis.get("checks", []), *extra_checks]
    return mapping, parse(mapping)


def run_demo(options: DemoOptions) -> DemoOutcome:
    scenario = SCENARIOS[options.scenario]
    # A bad config fails before any model is trained.
    resolve_spec(
        options,
        candidate_version=scenario.candidate.version,
        overrides=scenario.overrides,
        extra_checks=scenario.extra_checks,
    )
    view = View(title="understudy demo")
    display = Display(view, interactive=options.interactive)
    plan = scenario_plan(options, display.note)
    return run_plan(plan, options, view=view, display=display)


def run_plan(
    plan: Plan, options: DemoOptions, *, view: View | None = None, display: Display | None = None
) -> DemoOutcome:
    """One local shadow rollout of ``plan`` to its end (or ``options.max_seconds``)."""
    spec_mapping, spec = resolve_spec(
        options,
        candidate_version=plan.candidate_version,
        overrides=plan.overrides,
        extra_checks=plan.extra_checks,
    )
    started_at = datetime.now()
    run_dir = options.out_dir / f"{started_at:%Y%m%d-%H%M%S}-{plan.name}"
    view = view or View(title=plan.title)
    view.title = f"{plan.title} — {plan.summary}"
    display = display or Display(view, interactive=options.interactive)
    artifacts, records, actuals = plan.artifacts, plan.records, plan.actuals
    supervisor = Supervisor(run_dir)
    traffic: TrafficDriver | None = None
    labels_on = options.labels if options.labels is not None else bool(ground_truth_checks(spec))
    if labels_on and actuals is None:
        raise ConfigError("labels need the true value of each record; this traffic has none")
    workloads = LocalWorkloads(
        supervisor=supervisor,
        spec=spec,
        artifacts=artifacts,
        router_port=options.router_port,
        # One store per run: the router's default is one file per machine, shared by runs.
        feedback_store=f"sqlite:///{(run_dir / 'feedback.sqlite3').resolve()}",
        router_env={
            # The series' model label, which the checks' queries select on.
            "UNDERSTUDY_ROUTER_MODEL_NAME": spec.model.name,
            **(PROBABILITY_EDGES_ENV if plan.task == "classification" else {}),
        },
    )
    feed = LabelFeed(url=workloads.router_url, delay=options.label_delay) if labels_on else None
    source = ScrapeSource(workloads.router_url, also=workloads.model_api_urls)
    prometheus_targets: Path | None = None
    prometheus_binary = find_prometheus() if options.metrics != "router" else None
    if options.metrics == "prometheus" and prometheus_binary is None:
        raise StartError(
            "--metrics prometheus, but no prometheus binary is installed "
            "(sudo apt-get install prometheus)"
        )
    evidence = "the router's /metrics"
    started = time.monotonic()

    def on_change(result: ControllerResult, decision: Decision) -> None:
        if prometheus_targets is not None:  # the model-api processes of the moment
            write_targets(prometheus_targets, workloads.model_api_urls())
        status = result.status
        view.elapsed = time.monotonic() - started
        view.phase = str(status.phase)
        if status.phase == Phase.CANARY:  # a new line per step: "Canary 10%", "Canary 50%"
            view.phase += f" {format_number(status.canary.weight)}%"
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
        if feed is not None:
            view.labels = label_counts(feed.snapshot())
            if feed.realized is not None:
                view.realized = describe_realized(feed.realized)
        display.refresh()

    controller = LocalController(spec=spec, actuator=workloads, source=source, on_change=on_change)
    deadline = time.monotonic() + options.max_seconds
    try:
        with display:
            controller.go_live(plan.live_version, deadline=deadline)
            if prometheus_binary is not None:
                prom = start_prometheus(
                    supervisor=supervisor,
                    binary=prometheus_binary,
                    router_url=workloads.router_url,
                    scrape_seconds=min(1.0, spec.analysis.interval_seconds / 4),
                )
                prometheus_targets = model_api_targets(supervisor)
                write_targets(prometheus_targets, workloads.model_api_urls())
                controller.source = PromQLSource(PrometheusProvider(url=str(prom.url)))
                evidence = f"Prometheus at {prom.url}"
            display.note(f"analysis evidence: {evidence}")
            if feed is not None:
                display.note(
                    f"labels: each house's true price sent to {workloads.router_url}"
                    f"/v1/feedback {options.label_delay:g}s after its answer"
                )
                feed.start()
            traffic = TrafficDriver(
                url=workloads.router_url,
                records=records,
                rate=options.rate,
                actuals=actuals,
                label_sink=feed,
                once=plan.once,
            )
            traffic.start()
            result = controller.roll_out(deadline=deadline)
    finally:
        if traffic is not None:
            traffic.stop()
        if feed is not None:
            feed.stop()
            with httpx.Client(timeout=5) as client:  # the last word, before the router stops
                feed.read_realized(client)
        model_apis = _scrape_model_apis(workloads.model_api_urls())  # before they stop
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
        plan=plan,
        result=result,
        phase=phase,
        message=message,
        traffic=traffic,
        feed=feed,
        model_apis=model_apis,
    )
    return DemoOutcome(
        phase=phase,
        message=message,
        report=report,
        run_dir=run_dir,
        result=result,
        realized=(
            describe_realized(feed.realized)
            if feed is not None and feed.realized is not None
            else ""
        ),
    )


def _scrape_model_apis(urls: list[str]) -> list[Snapshot]:
    """The model-api processes' last /metrics (their input-drift counts) for the report."""
    snapshots = []
    for url in urls:
        try:
            snapshots.append(Snapshot.scrape(url, taken_at=time.monotonic()))
        except (httpx.HTTPError, ValueError):
            continue  # a process that died is reported by the supervisor, not here
    return snapshots


def _write_outputs(
    *,
    run_dir: Path,
    evidence: str,
    spec_mapping: dict[str, Any],
    options: DemoOptions,
    plan: Plan,
    result: ControllerResult,
    phase: str,
    message: str,
    traffic: TrafficDriver | None,
    feed: LabelFeed | None,
    model_apis: list[Snapshot],
) -> Path:
    pairs = read_comparison_pairs(run_dir / "shadow-router.log", dataset="shadow-router.comparison")
    tolerance = float(spec_mapping.get("shadow", {}).get("tolerance", {}).get("relative", 0.1))
    classifier = plan.task == "classification"
    plot = plot_pairs(
        pairs,
        path=run_dir / "live-vs-candidate.png",
        live_version=plan.live_version,
        candidate_version=plan.candidate_version,
        tolerance_relative=None if classifier else tolerance,
        quantity="positive-class probability" if classifier else "predicted sale price ($)",
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
        title=f"Shadow rollout of {plan.candidate_version} beside {plan.live_version}",
        settings={
            "scenario": plan.name,
            "task": plan.task,
            "records in the traffic": len(plan.records),
            # inf (--rate max) is not JSON: say what it means
            "rate_per_second": "max (paced by the candidate)"
            if math.isinf(options.rate)
            else options.rate,
            "evidence": evidence,
            "labels": (
                f"true prices sent {options.label_delay:g}s after each answer"
                if feed is not None
                else "off"
            ),
            "spec": spec_mapping,
        },
        runs=runs,
        outcome=phase,
        message=message,
        plot=plot,
        traffic=traffic_summary,
        ground_truth=(
            GroundTruth(labels=feed.snapshot(), realized=feed.realized, delay=feed.delay)
            if feed is not None
            else None
        ),
        drift=report_section(model_apis, folder=run_dir),
    )
    summary = {
        "scenario": plan.name,
        "task": plan.task,
        "phase": phase,
        "message": message,
        "stable_version": result.status.stable_version,
        "candidate_version": plan.candidate_version,
        "runs": runs,
        "events": [list(e) for e in result.events],
        "traffic": traffic_summary,
        "labels": feed.snapshot().as_dict() if feed is not None else None,
        "realized": realized_summary(feed.realized) if feed is not None else None,
        "report": str(report),
        "plot": str(plot) if plot else None,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return report
