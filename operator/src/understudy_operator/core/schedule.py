"""When an analysis run is due, and what its queries are about.

Pure functions of the spec, the status and the time; ``advance`` (core/step.py) asks them
before it measures, and ``decide`` asks ``analysis_due`` again so a caller cannot hand it
measurements out of turn.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from understudy_operator.core.canary import answered, current_analysis
from understudy_operator.core.checks import SAMPLE_COUNT, Check, QueryContext
from understudy_operator.core.durations import format_duration
from understudy_operator.core.spec import RolloutSpec
from understudy_operator.core.status import Phase, RolloutStatus

# A timer tick may come a little early; a run is due after 90% of the interval.
INTERVAL_SLACK = 0.9
# The sample count every run measures for the minSamples gate (semantics: core/checks.py).
SAMPLES_CHECK = Check(name=SAMPLE_COUNT)


def samples_check(status: RolloutStatus) -> Check:
    """The minSamples gate's check; at a canary step it counts the candidate's answers."""
    return answered(SAMPLES_CHECK) if status.phase == Phase.CANARY else SAMPLES_CHECK


def analysis_due(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> bool:
    """Whether ``now`` is time for an analysis run (Shadowing or a canary weight step,
    warmup over, interval passed)."""
    a = status.analysis
    analysis = current_analysis(spec, status)
    if analysis is None or a.started_at is None:
        return False
    if now < a.started_at + timedelta(seconds=analysis.warmup_seconds):
        return False
    if a.last_run_at is None:
        return True
    return now >= a.last_run_at + timedelta(seconds=analysis.interval_seconds * INTERVAL_SLACK)


def query_context(
    *, spec: RolloutSpec, status: RolloutStatus, namespace: str, check: Check, now: datetime
) -> QueryContext:
    """The template variables of ``check`` for this rollout; its range is the check's own
    ``interval`` or the analysis interval; the analysis window reaches back to when the
    analysis started (whole seconds, at least one)."""
    analysis = current_analysis(spec, status) or spec.analysis
    seconds = check.interval_seconds or analysis.interval_seconds
    started = status.analysis.started_at
    age = (now - started).total_seconds() if started is not None else seconds
    return QueryContext(
        model=spec.model.name,
        namespace=namespace,
        stable=status.stable_version or "",
        candidate=status.candidate_version or "",
        interval=format_duration(seconds),
        analysis_window=format_duration(max(1, math.ceil(age))),
    )
