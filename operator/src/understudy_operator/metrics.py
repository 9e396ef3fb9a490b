"""The operator's own Prometheus metrics (``understudy_operator_*``), on an explicit registry."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from understudy_common.metrics import LATENCY_BUCKETS_SECONDS, metric_name, set_info
from understudy_operator import __version__
from understudy_operator.core.status import Phase


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.rollouts = Gauge(
            metric_name("operator", "rollouts"),
            "ModelRollouts this operator handles, by phase",
            ["phase"],
            registry=registry,
        )
        self.analysis_runs = Counter(
            metric_name("operator", "analysis_runs"),
            "Analysis runs that reached a verdict",
            ["model", "verdict"],
            registry=registry,
        )
        self.promotions = Counter(
            metric_name("operator", "promotions"),
            "Candidates promoted to live",
            ["model"],
            registry=registry,
        )
        self.rollbacks = Counter(
            metric_name("operator", "rollbacks"),
            "Candidates rolled back, by reason (AnalysisFailed, Aborted, RolloutCancelled)",
            ["model", "reason"],
            registry=registry,
        )
        self.reconcile_duration = Histogram(
            metric_name("operator", "reconcile_duration", "seconds"),
            "Time of one reconcile (read, measure, decide, act, write status)",
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=registry,
        )
        self.reconcile_errors = Counter(
            metric_name("operator", "reconcile_errors"),
            "Reconciles that failed, by kind (invalid_spec, api, metrics)",
            ["kind"],
            registry=registry,
        )
        self.notifications = Counter(
            metric_name("operator", "notifications"),
            "Webhook notifications (spec.notifications), by outcome (delivered, failed, dropped)",
            ["outcome"],
            registry=registry,
        )
        set_info(
            registry=registry,
            subsystem="operator",
            name="build",
            doc="Operator version",
            labels={"version": __version__},
        )
        for phase in Phase:
            self.rollouts.labels(str(phase)).set(0)

    def set_phases(self, phases: Mapping[str, Phase]) -> None:
        """Publish the phase of every known rollout (keyed by namespace/name)."""
        counts = {str(p): 0 for p in Phase}
        for phase in phases.values():
            counts[str(phase)] += 1
        for phase_name, count in counts.items():
            self.rollouts.labels(phase_name).set(count)
