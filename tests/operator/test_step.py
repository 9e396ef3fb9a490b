"""advance(): the one "measure when due, then decide" step the operator and the demo share."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.support.rollouts import AFTER_WARMUP, SPEC, T0, shadowing
from understudy_operator.core import (
    Check,
    Measurement,
    Observed,
    Phase,
    QueryContext,
    Signals,
    Step,
    Value,
    Verdict,
    advance,
)

OBSERVED = Observed(live_version="1.0.0", candidate_ready=True)


class RecordingSource:
    """Answers every check with a passing value and records the order of the calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.contexts: list[QueryContext] = []

    def begin_run(self) -> None:
        self.calls.append("begin_run")

    def measure(self, check: Check, context: QueryContext) -> Measurement:
        self.calls.append(check.name)
        self.contexts.append(context)
        values = {"sample-count": 500.0, "agreement-rate": 0.97, "prediction-ks": 0.04}
        return Value(values[check.name])


def _advance(source: RecordingSource, now: datetime) -> Step:
    return advance(
        spec=SPEC,
        status=shadowing(),
        source=source,
        namespace="team-a",
        now=now,
        observed=OBSERVED,
        signals=Signals(),
    )


def test_no_run_due_asks_the_source_nothing() -> None:
    source = RecordingSource()
    result = _advance(source, T0 + timedelta(seconds=19))  # still warming up
    assert source.calls == []
    assert result.measurements is None
    assert result.decision.run_verdict is None


def test_a_due_run_begins_once_then_measures_samples_and_every_check() -> None:
    source = RecordingSource()
    result = _advance(source, AFTER_WARMUP)
    assert source.calls == ["begin_run", "sample-count", "agreement-rate", "prediction-ks"]
    assert {c.namespace for c in source.contexts} == {"team-a"}
    assert {(c.stable, c.candidate) for c in source.contexts} == {("1.0.0", "2.0.0")}
    assert result.measurements is not None
    assert result.measurements.samples == Value(500.0)
    assert result.decision.run_verdict == Verdict.PASS
    assert result.decision.status.phase == Phase.SHADOWING
    assert result.decision.status.analysis.last_run_at == AFTER_WARMUP
