"""One step of a rollout: observe, measure when an analysis run is due, decide, act.

The operator's reconcile and the local demo's controller both call :func:`run_step`, so
"when is a run due, what does it measure, what follows, in which order are actions and
status applied" cannot drift between them. Not pure like ``decide``: it asks the metrics
source and the actuator (the core's ports, core/ports.py). The caller stores
``step.decision.status`` afterwards: actions first, then the status, so a crash in between
repeats the (idempotent) actions rather than skipping them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from understudy_operator.core.builtins import BUILTINS, sample_count
from understudy_operator.core.canary import current_analysis
from understudy_operator.core.checks import Check
from understudy_operator.core.decide import decide
from understudy_operator.core.measurements import (
    CheckMeasurement,
    Evidence,
    Measurement,
    Measurements,
    Vector,
)
from understudy_operator.core.ports import Actuator, MetricsSource
from understudy_operator.core.schedule import analysis_due, query_context, samples_check
from understudy_operator.core.spec import RolloutSpec
from understudy_operator.core.status import RolloutStatus
from understudy_operator.core.types import Decision, Observed, Signals


@dataclass(frozen=True)
class Step:
    decision: Decision
    measurements: Measurements | None  # None: no analysis run was due


def measure_all(
    *,
    spec: RolloutSpec,
    status: RolloutStatus,
    source: MetricsSource,
    namespace: str,
    now: datetime,
) -> Measurements:
    """One analysis run: the sample count and every check of ``spec``, from ``source`` (a
    custom check's number; each part of a built-in's evidence)."""
    source.begin_run()
    analysis = current_analysis(spec, status) or spec.analysis
    judging = analysis.judging

    def evidence(check: Check) -> dict[str, Evidence]:
        ctx = query_context(spec=spec, status=status, namespace=namespace, check=check, now=now)
        parts = BUILTINS[check.name].parts(check, judging)
        return {part: source.fetch(query, ctx) for part, query in parts.items()}

    def one(check: Check) -> CheckMeasurement:
        if check.builtin:
            return evidence(check)
        ctx = query_context(spec=spec, status=status, namespace=namespace, check=check, now=now)
        return source.measure(check, ctx)

    return Measurements(
        samples=_samples(evidence(samples_check(status))),
        checks={c.name: one(c) for c in analysis.checks},
    )


def _samples(evidence: dict[str, Evidence]) -> Measurement:
    vectors = {part: answer for part, answer in evidence.items() if isinstance(answer, Vector)}
    failed = [answer for answer in evidence.values() if not isinstance(answer, Vector)]
    return failed[0] if failed else sample_count(vectors)


def advance(
    *,
    spec: RolloutSpec,
    status: RolloutStatus,
    source: MetricsSource,
    namespace: str,
    now: datetime,
    observed: Observed,
    signals: Signals,
) -> Step:
    """Measure if a run is due, then decide; carries out nothing (see :func:`run_step`)."""
    measurements = (
        measure_all(spec=spec, status=status, source=source, namespace=namespace, now=now)
        if analysis_due(spec, status, now)
        else None
    )
    decision = decide(
        spec=spec,
        status=status,
        measurements=measurements,
        now=now,
        observed=observed,
        signals=signals,
    )
    return Step(decision=decision, measurements=measurements)


def run_step(
    *,
    spec: RolloutSpec,
    status: RolloutStatus,
    source: MetricsSource,
    actuator: Actuator,
    namespace: str,
    now: datetime,
    signals: Signals,
) -> Step:
    """Observe the workloads, :func:`advance`, and apply the decision's actions in order."""
    step = advance(
        spec=spec,
        status=status,
        source=source,
        namespace=namespace,
        now=now,
        observed=actuator.observe(status),
        signals=signals,
    )
    for action in step.decision.actions:
        actuator.apply(action, step.decision.status)
    return step
