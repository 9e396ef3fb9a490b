"""When an analysis run is due, and what its queries are about.

Pure functions of the spec, the status and the time; ``advance`` (core/step.py) asks them
before it measures, and ``decide`` asks ``analysis_due`` again so a caller cannot hand it
measurements out of turn.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from understudy_operator.core.checks import SAMPLE_COUNT, Check, QueryContext
from understudy_operator.core.durations import format_duration
from understudy_operator.core.spec import RolloutSpec
from understudy_operator.core.status import Phase, RolloutStatus

# A timer tick may come a little early; a run is due after 90% of the interval.
INTERVAL_SLACK = 0.9
# The sample count every run measures for the minSamples gate (semantics: core/checks.py).
SAMPLES_CHECK = Check(name=SAMPLE_COUNT)


def analysis_due(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> bool:
    """Whether ``now`` is time for an analysis run (Shadowing, warmup over, interval passed)."""
    a = status.analysis
    if status.phase != Phase.SHADOWING or a.started_at is None:
        return False
    if now < a.started_at + timedelta(seconds=spec.analysis.warmup_seconds):
        return False
    if a.last_run_at is None:
        return True
    return now >= a.last_run_at + timedelta(seconds=spec.analysis.interval_seconds * INTERVAL_SLACK)


def query_context(
    *, spec: RolloutSpec, status: RolloutStatus, namespace: str, check: Check, now: datetime
) -> QueryContext:
    """The template variables of ``check`` for this rollout; its range is the check's own
    ``interval`` or the analysis interval; the analysis window reaches back to when the
    analysis started (whole seconds, at least one)."""
    seconds = check.interval_seconds or spec.analysis.interval_seconds
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
