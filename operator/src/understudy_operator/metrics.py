"""The operator's own Prometheus metrics (``understudy_operator_*``), on an explicit registry.

Per-rollout series name the rollout by ``rollout_namespace`` and ``rollout``: not
``namespace``, which Prometheus sets on every target (the operator pod's own namespace) and
would rename to ``exported_namespace``. A few series per rollout and check: low cardinality.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from understudy_common.metrics import LATENCY_BUCKETS_SECONDS, metric_name, set_info
from understudy_operator import __version__
from understudy_operator.core.checks import CheckResult, Verdict
from understudy_operator.core.status import Phase

ROLLOUT_LABELS = ["rollout_namespace", "rollout"]


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
            [*ROLLOUT_LABELS, "model", "verdict"],
            registry=registry,
        )
        self.promotions = Counter(
            metric_name("operator", "promotions"),
            "Candidates promoted to live",
            [*ROLLOUT_LABELS, "model"],
            registry=registry,
        )
        self.rollbacks = Counter(
            metric_name("operator", "rollbacks"),
            "Candidates rolled back, by reason (AnalysisFailed, Aborted, RolloutCancelled)",
            [*ROLLOUT_LABELS, "model", "reason"],
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
        self.leader = Gauge(
            metric_name("operator", "leader"),
            "1 while this replica holds the leader Lease and reconciles, else 0",
            registry=registry,
        )
        # State sets (kube-state-metrics style): every phase / verdict has a series, 1 for the
        # one in force, so a dashboard draws a timeline without knowing a numeric code.
        self.rollout_phase = Gauge(
            metric_name("operator", "rollout_phase"),
            "1 for the phase each ModelRollout is in, 0 for the other phases",
            [*ROLLOUT_LABELS, "model", "phase"],
            registry=registry,
        )
        self.check_verdict = Gauge(
            metric_name("operator", "check_verdict"),
            "1 for the verdict of each check in the rollout's last analysis run, 0 for the others",
            [*ROLLOUT_LABELS, "check", "verdict"],
            registry=registry,
        )
        self.check_value = Gauge(
            metric_name("operator", "check_value"),
            "Each check's value in the rollout's last analysis run (absent when it had none)",
            [*ROLLOUT_LABELS, "check"],
            registry=registry,
        )
        # What each rollout published, so a check or model that goes away is removed.
        self._published: dict[tuple[str, str], _Series] = {}
        # The counters' series of each rollout, removed with it (not when its model or a
        # verdict changes: a counter keeps its count while the rollout lives).
        self._counted: dict[tuple[str, str], set[tuple[Counter, tuple[str, ...]]]] = {}
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

    def set_rollout(
        self,
        *,
        namespace: str,
        name: str,
        model: str,
        phase: Phase,
        checks: Iterable[CheckResult],
    ) -> None:
        """Publish one rollout's phase and the checks of its last analysis run (status's).

        Series that no longer apply (another model name, a check gone, a value now unknown)
        are removed; the others are set in place, so no scrape sees a gap.
        """
        now = _Series()
        for p in Phase:
            labels = (namespace, name, model, str(p))
            self.rollout_phase.labels(*labels).set(int(p == phase))
            now.phase.add(labels)
        for check in checks:
            for v in Verdict:
                labels = (namespace, name, check.name, str(v))
                self.check_verdict.labels(*labels).set(int(v == check.verdict))
                now.verdict.add(labels)
            if check.value is not None:
                value_labels = (namespace, name, check.name)
                self.check_value.labels(*value_labels).set(check.value)
                now.value.add(value_labels)
        before = self._published.get((namespace, name), _Series())
        self._remove(before, keep=now)
        self._published[(namespace, name)] = now

    def count_run(self, *, namespace: str, name: str, model: str, verdict: Verdict) -> None:
        """One analysis run of the rollout reached ``verdict``."""
        self._count(self.analysis_runs, (namespace, name, model, str(verdict)))

    def count_promotion(self, *, namespace: str, name: str, model: str) -> None:
        self._count(self.promotions, (namespace, name, model))

    def count_rollback(self, *, namespace: str, name: str, model: str, reason: str) -> None:
        self._count(self.rollbacks, (namespace, name, model, reason))

    def _count(self, counter: Counter, labels: tuple[str, ...]) -> None:
        counter.labels(*labels).inc()
        self._counted.setdefault((labels[0], labels[1]), set()).add((counter, labels))

    def forget_rollout(self, namespace: str, name: str) -> None:
        """Remove every per-rollout series of a deleted rollout."""
        self._remove(self._published.pop((namespace, name), _Series()), keep=_Series())
        for counter, labels in self._counted.pop((namespace, name), set()):
            counter.remove(*labels)

    def _remove(self, old: _Series, *, keep: _Series) -> None:
        for gauge, series, kept in (
            (self.rollout_phase, old.phase, keep.phase),
            (self.check_verdict, old.verdict, keep.verdict),
            (self.check_value, old.value, keep.value),
        ):
            for labels in series - kept:
                gauge.remove(*labels)


@dataclass
class _Series:
    """Label values of one rollout's series, per gauge."""

    phase: set[tuple[str, ...]] = field(default_factory=set)
    verdict: set[tuple[str, ...]] = field(default_factory=set)
    value: set[tuple[str, ...]] = field(default_factory=set)
