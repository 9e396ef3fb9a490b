"""One step of a rollout: measure when an analysis run is due, then decide.

The operator's reconcile and the local demo's controller both call :func:`advance`, so
"when is a run due, what does it measure, what follows" cannot drift between them. Each
caller then carries out ``step.decision.actions`` with its own actuator, before it stores
``step.decision.status``. Not pure like ``decide``: it asks the metrics source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from understudy_operator.core.checks import Check
from understudy_operator.core.decide import (
    SAMPLES_CHECK,
    Decision,
    Observed,
    Signals,
    analysis_due,
    decide,
    query_context,
)
from understudy_operator.core.measurements import Measurement, Measurements, MetricsSource
from understudy_operator.core.spec import RolloutSpec
from understudy_operator.core.status import RolloutStatus


@dataclass(frozen=True)
class Step:
    decision: Decision
    measurements: Measurements | None  # None: no analysis run was due


def measure_all(
    *, spec: RolloutSpec, status: RolloutStatus, source: MetricsSource, namespace: str
) -> Measurements:
    """One analysis run: the sample count and every check of ``spec``, from ``source``."""
    source.begin_run()

    def one(check: Check) -> Measurement:
        ctx = query_context(spec=spec, status=status, namespace=namespace, check=check)
        return source.measure(check, ctx)

    return Measurements(
        samples=one(SAMPLES_CHECK), checks={c.name: one(c) for c in spec.analysis.checks}
    )


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
    measurements = (
        measure_all(spec=spec, status=status, source=source, namespace=namespace)
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
