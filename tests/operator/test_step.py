"""advance(): the one "measure when due, then decide" step the operator and the demo share."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.support.rollouts import AFTER_WARMUP, SPEC, T0, agreement, ks, shadowing
from understudy_operator.core import (
    Check,
    Evidence,
    EvidenceQuery,
    Measurement,
    Observed,
    Phase,
    QueryContext,
    Signals,
    Step,
    Value,
    Vector,
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
        raise AssertionError("SPEC has only built-in checks: they fetch evidence")

    def fetch(self, query: EvidenceQuery, context: QueryContext) -> Evidence:
        self.calls.append(query.metric)
        self.contexts.append(context)
        if query.metric == "understudy_router_prediction_value_bucket":
            return ks(0.04)[query.matchers[1].value]  # role="live" / role="candidate"
        if query.metric == "understudy_router_compared_records_total" and query.by:
            return agreement(0.97)["compared"]
        totals = {
            "understudy_router_compared_records_total": Vector({(): 500.0}),
            "understudy_router_mirror_total": Vector({}),
        }
        return totals[query.metric]


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
    assert source.calls == [
        "begin_run",
        # the sample count: records compared and mirrors the candidate failed
        "understudy_router_compared_records_total",
        "understudy_router_mirror_total",
        # agreement-rate, then prediction-ks (live and candidate histograms)
        "understudy_router_compared_records_total",
        "understudy_router_prediction_value_bucket",
        "understudy_router_prediction_value_bucket",
    ]
    assert {c.namespace for c in source.contexts} == {"team-a"}
    assert {(c.stable, c.candidate) for c in source.contexts} == {("1.0.0", "2.0.0")}
    assert result.measurements is not None
    assert result.measurements.samples == Value(500.0)
    assert result.decision.run_verdict == Verdict.PASS
    assert result.decision.status.phase == Phase.SHADOWING
    assert result.decision.status.analysis.last_run_at == AFTER_WARMUP
