"""Canary steps after the shadow (core/canary.py, decide): one rule per test, on plain values."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support.rollouts import T0, agreement, ks
from understudy_operator.core import (
    BUILTINS,
    Action,
    ActionKind,
    AnalysisStatus,
    CanaryStatus,
    Check,
    Decision,
    Evidence,
    EvidenceQuery,
    Judging,
    Measurement,
    Measurements,
    Observed,
    Phase,
    QueryContext,
    RolloutSpec,
    RolloutStatus,
    Signals,
    SpecError,
    Value,
    Vector,
    advance,
    analysis_due,
    decide,
    parse_spec,
    router_document,
    step_analysis,
)

CHECKS = [{"name": "agreement-rate", "min": 0.9}, {"name": "prediction-ks", "max": 0.1}]
ANALYSIS = {
    "interval": "10s",
    "warmup": "20s",
    "minSamples": 100,
    "successfulRuns": 3,
    "failureLimit": 2,
    "checks": CHECKS,
}
STEPS = [
    {
        "setWeight": 10,
        "analysis": {
            "successfulRuns": 2,
            "minSamples": 50,
            "warmup": "0s",
            "checks": [{"name": "candidate-error-rate", "max": 0.05}],
        },
    },
    {"setWeight": 50},
    {"pause": {"duration": "30s"}},
]


def canary_spec(steps: list[dict[str, Any]] | None = None, **spec: Any) -> RolloutSpec:
    return parse_spec(
        {
            "model": {"name": "house-prices", "version": "2.0.0"},
            "analysis": ANALYSIS,
            "canary": {"steps": STEPS if steps is None else steps},
            **spec,
        }
    )


SPEC = canary_spec()


def at_step(index: int, weight: float, *, since: datetime = T0, **analysis: Any) -> RolloutStatus:
    base = AnalysisStatus(started_at=since, spec_fingerprint=SPEC.analysis_fingerprint())
    return RolloutStatus(
        phase=Phase.CANARY,
        stable_version="1.0.0",
        candidate_version="2.0.0",
        phase_since=since,
        analysis=replace(base, **analysis),
        canary=CanaryStatus(step=index, weight=weight, step_started_at=since),
    )


def errors(failed: int, answered: int = 1000) -> dict[str, Vector]:
    """candidate-error-rate evidence at a canary step: the requests the candidate answered."""
    return {
        "answered": Vector(
            {("candidate_ok",): answered - failed, ("candidate_error",): float(failed)}
        )
    }


def step_run(failed: int, answered: float = 1000) -> Measurements:
    return Measurements(
        samples=Value(answered), checks={"candidate-error-rate": errors(failed, int(answered))}
    )


def shadow_passed() -> Measurements:
    return Measurements(
        samples=Value(500), checks={"agreement-rate": agreement(0.97), "prediction-ks": ks(0.04)}
    )


def kinds(decision: Decision) -> list[ActionKind]:
    return [a.kind for a in decision.actions]


# -- the spec -----------------------------------------------------------------------------


def test_a_steps_analysis_is_the_spec_analysis_with_its_overrides() -> None:
    first, second, pause = SPEC.canary.steps
    assert first.weight == 10 and first.analysis is not None
    assert first.analysis.successful_runs == 2 and first.analysis.min_samples == 50
    assert first.analysis.interval_seconds == 10  # not overridden: the spec's
    assert first.analysis.failure_limit == 2
    assert [c.name for c in first.analysis.checks] == ["candidate-error-rate"]
    assert second.analysis == SPEC.analysis  # no overrides at all
    assert pause.pause and pause.pause_seconds == 30 and pause.analysis is None
    # At a step the checks judge the candidate's answers; the spec's own checks do not.
    assert all(c.answered for c in step_analysis(second).checks)
    assert not any(c.answered for c in SPEC.analysis.checks)


@pytest.mark.parametrize(
    ("canary", "message"),
    [
        ({"steps": [{"setWeight": 10, "pause": {}}]}, "give exactly one of setWeight, pause"),
        ({"steps": [{}]}, "give exactly one of setWeight, pause"),
        ({"steps": [{"setWeight": 0}]}, "setWeight: must be > 0"),
        ({"steps": [{"setWeight": 101}]}, "setWeight: must be <= 100"),
        ({"steps": [{"pause": {}}, {"setWeight": 10}]}, "steps[0]: the first step must be"),
        ({"steps": []}, "give at least one step"),
        ({"steps": [{"setWeight": 10, "weight": 5}]}, "unknown field(s) weight"),
        ({"steps": [{"pause": {}, "analysis": {}}]}, "unknown field(s) analysis"),
        ({"steps": [{"pause": {"duration": "soon"}}]}, "pause.duration"),
        (
            {"steps": [{"setWeight": 10, "analysis": {"minSamples": -1}}]},
            "minSamples: must be >= 0",
        ),
        ({"steps": [{"setWeight": 10}], "stickyHeader": "X Key"}, "must be an HTTP header name"),
    ],
)
def test_a_bad_canary_spec_says_which_field(canary: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec({"model": {"name": "m", "version": "2"}, "canary": canary})
    assert message in str(caught.value)


def test_shadow_off_needs_canary_steps() -> None:
    with pytest.raises(SpecError, match=r"needs spec\.canary\.steps"):
        parse_spec({"model": {"name": "m", "version": "2"}, "shadow": {"enabled": False}})
    with pytest.raises(SpecError, match="must be true or false"):
        parse_spec({"model": {"name": "m", "version": "2"}, "shadow": {"enabled": "no"}})


def test_changing_the_steps_changes_the_fingerprint() -> None:
    other = canary_spec([{"setWeight": 20}])
    assert other.analysis_fingerprint() != SPEC.analysis_fingerprint()
    plain = parse_spec(
        {"model": {"name": "house-prices", "version": "2.0.0"}, "analysis": ANALYSIS}
    )
    assert plain.analysis_fingerprint() != SPEC.analysis_fingerprint()


# -- the router document --------------------------------------------------------------------


def test_the_router_document_carries_the_weight_only_with_a_candidate() -> None:
    live, cand = ("http://live", "1.0.0"), ("http://cand", "2.0.0")
    doc = router_document(SPEC, live=live, candidate=cand, weight=10)
    assert doc["weight"] == 10 and doc["sticky_header"] == "X-Understudy-Key"
    assert doc["mirror_percent"] == 100
    assert "weight" not in router_document(SPEC, live=live, candidate=cand)
    assert "weight" not in router_document(SPEC, live=live, candidate=None, weight=10)
    off = canary_spec(shadow={"enabled": False})
    assert router_document(off, live=live, candidate=cand, weight=10)["mirror_percent"] == 0


# -- the steps ------------------------------------------------------------------------------


def test_a_passed_shadow_starts_the_first_step_with_its_weight() -> None:
    status = RolloutStatus(
        phase=Phase.SHADOWING,
        stable_version="1.0.0",
        candidate_version="2.0.0",
        analysis=AnalysisStatus(
            started_at=T0,
            consecutive_successful=2,
            last_run_at=T0 + timedelta(seconds=40),
            spec_fingerprint=SPEC.analysis_fingerprint(),
        ),
    )
    now = T0 + timedelta(seconds=50)
    d = decide(spec=SPEC, status=status, measurements=shadow_passed(), now=now)
    assert d.status.phase == Phase.CANARY and d.reason == "CanaryStarted"
    assert d.actions == (Action(ActionKind.SET_WEIGHT, "2.0.0"),)
    assert d.status.canary == CanaryStatus(step=0, weight=10, step_started_at=now)
    # A fresh analysis for the step: its own evidence window and counters.
    assert d.status.analysis.started_at == now and d.status.analysis.runs == 0
    assert d.status.message.startswith("canary step 1/3 of 2.0.0: 10% of requests answered")


def test_a_passed_step_moves_to_the_next_weight() -> None:
    status = at_step(0, 10, consecutive_successful=1, last_run_at=T0 + timedelta(seconds=10))
    now = T0 + timedelta(seconds=20)
    d = decide(spec=SPEC, status=status, measurements=step_run(failed=0), now=now)
    assert d.reason == "CanaryStepPassed" and kinds(d) == [ActionKind.SET_WEIGHT]
    assert d.status.canary.step == 1 and d.status.canary.weight == 50
    assert d.status.phase == Phase.CANARY


def test_a_failed_step_rolls_back_with_the_weight_at_zero_in_the_same_decision() -> None:
    status = at_step(0, 10, failed=1, last_run_at=T0 + timedelta(seconds=10))
    d = decide(
        spec=SPEC, status=status, measurements=step_run(failed=200), now=T0 + timedelta(seconds=20)
    )
    assert d.status.phase == Phase.ROLLED_BACK
    assert d.actions == (Action(ActionKind.ROLLBACK, "2.0.0"),)
    assert d.status.canary.weight == 0 and d.status.canary.step == 0  # where it failed
    assert "rolled back 2.0.0 at canary step 1 (10%)" in d.message
    assert "candidate-error-rate" in d.message


def test_a_pause_step_holds_the_weight_for_its_duration_then_goes_on() -> None:
    status = at_step(2, 50)
    assert not analysis_due(SPEC, status, T0 + timedelta(seconds=60))  # nothing analysed
    held = decide(spec=SPEC, status=status, measurements=None, now=T0 + timedelta(seconds=29))
    assert held.status.phase == Phase.CANARY and held.actions == ()
    d = decide(spec=SPEC, status=status, measurements=None, now=T0 + timedelta(seconds=30))
    # The last step is over: promote, every request answered by the candidate meanwhile.
    assert d.status.phase == Phase.PROMOTING
    assert kinds(d) == [ActionKind.SET_WEIGHT, ActionKind.PROMOTE]
    assert d.status.canary.weight == 100


def test_a_pause_without_duration_waits_for_resume() -> None:
    spec = canary_spec([{"setWeight": 10}, {"pause": {}}, {"setWeight": 60}])
    status = replace(
        at_step(1, 10),
        analysis=AnalysisStatus(started_at=T0, spec_fingerprint=spec.analysis_fingerprint()),
    )
    later = T0 + timedelta(hours=5)
    assert decide(spec=spec, status=status, measurements=None, now=later).status.canary.step == 1
    d = decide(spec=spec, status=status, measurements=None, now=later, signals=Signals(resume=True))
    assert d.status.canary == CanaryStatus(step=2, weight=60, step_started_at=later)
    assert d.consumed == {"resume"}


def test_promoted_after_the_canary_clears_it() -> None:
    promoting = replace(at_step(2, 100), phase=Phase.PROMOTING)
    d = decide(
        spec=SPEC,
        status=promoting,
        measurements=None,
        now=T0,
        observed=Observed(live_version="2.0.0"),
    )
    assert d.status.phase == Phase.PROMOTED and d.status.stable_version == "2.0.0"
    assert d.status.canary == CanaryStatus()
    assert d.status.to_dict()["canary"] is None


def test_a_restarted_operator_continues_the_persisted_step() -> None:
    status = at_step(1, 50, consecutive_successful=2, last_run_at=T0 + timedelta(seconds=20))
    stored = RolloutStatus.from_dict(status.to_dict())  # what the CR holds
    assert stored.canary == status.canary
    now = T0 + timedelta(seconds=30)
    d = decide(spec=SPEC, status=stored, measurements=step_run_spec_checks(), now=now)
    assert d.status.canary.step == 2  # step 2 passed its third run: on to the pause
    assert d.status.canary.weight == 50


def step_run_spec_checks() -> Measurements:
    return Measurements(
        samples=Value(500), checks={"agreement-rate": agreement(0.97), "prediction-ks": ks(0.04)}
    )


def test_without_a_shadow_the_ready_candidate_starts_at_the_first_step() -> None:
    spec = canary_spec(shadow={"enabled": False})
    deploying = RolloutStatus(
        phase=Phase.DEPLOYING,
        stable_version="1.0.0",
        candidate_version="2.0.0",
        analysis=AnalysisStatus(spec_fingerprint=spec.analysis_fingerprint()),
    )
    d = decide(
        spec=spec,
        status=deploying,
        measurements=None,
        now=T0,
        observed=Observed(candidate_ready=True),
    )
    assert d.status.phase == Phase.CANARY and d.status.canary.weight == 10
    assert d.actions == (Action(ActionKind.SET_WEIGHT, "2.0.0"),)


def test_a_paused_canary_resumes_at_its_weight() -> None:
    paused = replace(at_step(0, 10), phase=Phase.PAUSED)
    d = decide(spec=SPEC, status=paused, measurements=None, now=T0, signals=Signals(resume=True))
    assert d.status.phase == Phase.CANARY and d.status.canary.weight == 10
    assert d.actions == (Action(ActionKind.SET_WEIGHT, "2.0.0"),)


# -- what a step measures -------------------------------------------------------------------


class Recorder:
    """A metrics source that records the evidence queries and answers from a table."""

    def __init__(self, answers: dict[str, Vector]) -> None:
        self.answers = answers
        self.queries: list[EvidenceQuery] = []
        self.contexts: list[QueryContext] = []

    def begin_run(self) -> None:
        pass

    def measure(self, check: Check, context: QueryContext) -> Measurement:
        raise AssertionError("no custom checks here")

    def fetch(self, query: EvidenceQuery, context: QueryContext) -> Evidence:
        self.queries.append(query)
        self.contexts.append(context)
        return self.answers[query.metric]


def test_a_step_judges_the_candidates_answers_since_the_step_began() -> None:
    status = at_step(0, 10, since=T0)
    source = Recorder({"understudy_router_requests_total": errors(failed=100)["answered"]})
    now = T0 + timedelta(seconds=15)
    step = advance(
        spec=SPEC,
        status=status,
        source=source,
        namespace="ml",
        now=now,
        observed=Observed(live_version="1.0.0", candidate_ready=True),
        signals=Signals(),
    )
    assert step.measurements is not None
    ctx = source.contexts[0]
    rendered = {q.selector(ctx) for q in source.queries}
    assert rendered == {
        'understudy_router_requests_total{namespace=~"ml|",model="house-prices",'
        'live_version="1.0.0",answered_by="candidate"}'
    }
    assert {c.analysis_window for c in source.contexts} == {"15s"}  # the step's age
    # 100 of 1,000 answers failed: 10% against max 5%, a failed run.
    assert step.decision.status.analysis.failed == 1
    assert step.measurements.samples == Value(1000)


def test_the_latency_check_at_a_step_compares_the_answers_each_model_gave() -> None:
    spec = canary_spec(
        [{"setWeight": 10, "analysis": {"checks": [{"name": "latency-p90-ratio", "max": 1.5}]}}]
    )
    check = step_analysis(spec.canary.steps[0]).checks[0]
    parts = BUILTINS[check.name].parts(check, Judging())
    ctx = QueryContext(model="m", namespace="ml", stable="1", candidate="2", interval="10s")
    assert parts["candidate"].selector(ctx) == (
        'understudy_router_upstream_duration_seconds_bucket{namespace=~"ml|",model="m",'
        'role="candidate",version="2",answered_by="candidate"}'
    )
    assert 'answered_by="live"' in parts["live"].selector(ctx)
    shadow = BUILTINS[check.name].parts(replace(check, answered=False), Judging())
    assert "answered_by" not in shadow["candidate"].selector(ctx)


def test_abort_at_a_step_rolls_back_with_the_weight_at_zero() -> None:
    d = decide(
        spec=SPEC, status=at_step(1, 50), measurements=None, now=T0, signals=Signals(abort=True)
    )
    assert d.status.phase == Phase.ROLLED_BACK and d.status.canary.weight == 0
    assert d.actions == (Action(ActionKind.ROLLBACK, "2.0.0"),)


def test_changed_steps_restart_the_analysis_from_the_shadow_at_weight_zero() -> None:
    changed = canary_spec([{"setWeight": 25}])
    d = decide(spec=changed, status=at_step(1, 50), measurements=None, now=T0)
    assert d.status.phase == Phase.SHADOWING and d.reason == "AnalysisRestarted"
    assert d.actions == (Action(ActionKind.START_SHADOW, "2.0.0"),)
    assert d.status.canary == CanaryStatus()  # START_SHADOW writes weight 0


def test_manual_promotion_waits_for_approval_after_the_last_step() -> None:
    spec = canary_spec([{"setWeight": 10}], promotion="manual")
    status = replace(
        at_step(0, 10, consecutive_successful=2, last_run_at=T0 + timedelta(seconds=20)),
        analysis=AnalysisStatus(
            started_at=T0,
            consecutive_successful=2,
            last_run_at=T0 + timedelta(seconds=20),
            spec_fingerprint=spec.analysis_fingerprint(),
        ),
    )
    now = T0 + timedelta(seconds=30)
    waiting = decide(spec=spec, status=status, measurements=step_run_spec_checks(), now=now)
    assert waiting.status.phase == Phase.AWAITING_APPROVAL
    assert "passed the canary steps" in waiting.message
    assert waiting.status.canary.weight == 10  # the last step's weight stays meanwhile
    approved = decide(
        spec=spec, status=waiting.status, measurements=None, now=now, signals=Signals(approve=True)
    )
    assert kinds(approved) == [ActionKind.SET_WEIGHT, ActionKind.PROMOTE]
    assert approved.status.canary.weight == 100
