"""``dry-run NAME``: one analysis run now, judged by the operator's own core (measure_all,
decide) against Prometheus through the operator's own source (PromQLSource); prints what
the operator would decide and changes nothing — no annotation, no status, no workload."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from understudy_operator.core import (
    Decision,
    Measurements,
    MetricsSource,
    Observed,
    Phase,
    QueryFailed,
    RolloutStatus,
    SpecError,
    Verdict,
    analysis_due,
    decide,
    measure_all,
    parse_spec,
    read_signals,
)


@dataclass(frozen=True)
class DryRun:
    decision: Decision | None  # None: no analysis runs in this phase
    measurements: Measurements | None
    note: str  # what was evaluated, for humans

    @property
    def source_failed(self) -> bool:
        """Prometheus could not be asked (the sample count query failed)."""
        return self.measurements is not None and isinstance(self.measurements.samples, QueryFailed)


def dry_run(obj: dict[str, Any], *, source: MetricsSource, now: datetime) -> DryRun:
    """Raises SpecError when the rollout's spec is invalid (the operator says Failed)."""
    spec = parse_spec(obj.get("spec") or {})
    status = RolloutStatus.from_dict(obj.get("status"))
    meta = obj["metadata"]
    if status.phase != Phase.SHADOWING or status.analysis.started_at is None:
        return DryRun(
            decision=None,
            measurements=None,
            note=f"no analysis run: phase {status.phase} (runs happen only while Shadowing)",
        )
    # Due now whatever the interval: forget when the last run was.
    due = replace(status, analysis=replace(status.analysis, last_run_at=None))
    note = "one analysis run now, over the shadow window since " + _ts(status.analysis.started_at)
    decide_at = now
    if not analysis_due(spec, due, now):  # still in warmup: judge the evidence anyway
        decide_at = status.analysis.started_at + timedelta(seconds=spec.analysis.warmup_seconds)
        note += " (still in warmup: the operator would not look yet)"
    measurements = measure_all(
        spec=spec, status=due, source=source, namespace=meta["namespace"], now=now
    )
    decision = decide(
        spec=spec,
        status=due,
        measurements=measurements,
        now=decide_at,
        observed=Observed(live_version=status.stable_version, candidate_ready=True),
        signals=read_signals(annotations=meta.get("annotations") or {}, spec=spec, status=status),
    )
    return DryRun(decision=decision, measurements=measurements, note=note)


def would_fail(result: DryRun) -> bool:
    d = result.decision
    return d is not None and (d.run_verdict == Verdict.FAIL or d.status.phase == Phase.ROLLED_BACK)


def _ts(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


__all__ = ["DryRun", "SpecError", "dry_run", "would_fail"]
