"""decide(): one rule per test, on plain values (no clock, no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.support.rollouts import AFTER_WARMUP, SPEC, T0, agreement, ks, make_spec, shadowing
from understudy_operator.core import (
    Action,
    ActionKind,
    AnalysisStatus,
    Check,
    CheckResult,
    Decision,
    Measurements,
    NoData,
    Observed,
    Phase,
    QueryContext,
    QueryFailed,
    RolloutStatus,
    Signal,
    Signals,
    Value,
    Verdict,
    analysis_due,
    decide,
    query_context,
)


def good(samples: float = 500) -> Measurements:
    return Measurements(
        samples=Value(samples),
        checks={"agreement-rate": agreement(0.97), "prediction-ks": ks(0.04)},
    )


def bad(samples: float = 500) -> Measurements:
    return Measurements(
        samples=Value(samples),
        checks={"agreement-rate": agreement(0.41), "prediction-ks": ks(0.04)},
    )


def prometheus_down() -> Measurements:
    down = QueryFailed("connect to 127.0.0.1:9091: connection refused")
    return Measurements(samples=down, checks={"agreement-rate": down, "prediction-ks": down})


def run(status: RolloutStatus, measurements: Measurements, **kw: object) -> Decision:
    args: dict[str, object] = {"spec": SPEC, "now": AFTER_WARMUP, **kw}
    return decide(status=status, measurements=measurements, **args)  # type: ignore[arg-type]


def kinds(decision: Decision) -> list[ActionKind]:
    return [a.kind for a in decision.actions]


# -- first version ------------------------------------------------------------------------


def test_first_version_is_deployed_live_directly() -> None:
    d = decide(spec=make_spec("1.0.0"), status=RolloutStatus(), measurements=None, now=T0)
    assert d.status.phase == Phase.DEPLOYING
    assert d.actions == (Action(ActionKind.DEPLOY_LIVE, "1.0.0"),)
    assert d.status.stable_version is None


def test_first_version_is_promoted_once_live_is_available() -> None:
    deploying = decide(spec=make_spec("1.0.0"), status=RolloutStatus(), measurements=None, now=T0)
    d = decide(
        spec=make_spec("1.0.0"),
        status=deploying.status,
        measurements=None,
        now=T0,
        observed=Observed(live_version="1.0.0"),
    )
    assert d.status.phase == Phase.PROMOTED
    assert d.status.stable_version == "1.0.0"
    assert d.actions == ()
    assert d.status.condition("Ready").status == "True"  # type: ignore[union-attr]


# -- a new version ------------------------------------------------------------------------


def test_new_version_deploys_a_candidate_beside_the_stable() -> None:
    promoted = RolloutStatus(phase=Phase.PROMOTED, stable_version="1.0.0")
    d = decide(spec=SPEC, status=promoted, measurements=None, now=T0)
    assert d.status.phase == Phase.DEPLOYING
    assert d.status.candidate_version == "2.0.0"
    assert d.actions == (Action(ActionKind.DEPLOY_CANDIDATE, "2.0.0"),)
    assert d.reason == "RolloutStarted"
    assert d.status.analysis.started_at is None  # the warmup starts with the shadow


def test_shadow_starts_when_the_candidate_is_ready_and_the_warmup_clock_starts() -> None:
    deploying = decide(
        spec=SPEC,
        status=RolloutStatus(phase=Phase.PROMOTED, stable_version="1.0.0"),
        measurements=None,
        now=T0,
    ).status
    waiting = decide(spec=SPEC, status=deploying, measurements=None, now=T0)
    assert waiting.status.phase == Phase.DEPLOYING
    d = decide(
        spec=SPEC,
        status=deploying,
        measurements=None,
        now=T0,
        observed=Observed(candidate_ready=True),
    )
    assert d.status.phase == Phase.SHADOWING
    assert d.actions == (Action(ActionKind.START_SHADOW, "2.0.0"),)
    assert d.status.analysis.started_at == T0


# -- warmup, interval, minSamples ---------------------------------------------------------


def test_no_analysis_during_warmup() -> None:
    status = shadowing()
    assert not analysis_due(SPEC, status, T0 + timedelta(seconds=19))
    d = run(status, bad(), now=T0 + timedelta(seconds=19))
    assert d.status.analysis.runs == 0
    assert d.run_verdict is None


def test_analysis_is_due_after_warmup_then_once_per_interval() -> None:
    status = shadowing()
    assert analysis_due(SPEC, status, T0 + timedelta(seconds=20))
    ran = shadowing(last_run_at=AFTER_WARMUP)
    assert not analysis_due(SPEC, ran, AFTER_WARMUP + timedelta(seconds=5))
    assert analysis_due(SPEC, ran, AFTER_WARMUP + timedelta(seconds=10))


def test_runs_below_min_samples_are_not_counted() -> None:
    d = run(shadowing(), bad(samples=99))
    assert d.status.phase == Phase.SHADOWING
    assert d.status.analysis.runs == 0
    assert d.status.analysis.failed == 0
    assert d.status.analysis.samples == 99
    assert "waiting for samples (99/100)" in d.message


def test_no_sample_series_counts_as_zero_samples_not_a_run() -> None:
    measurements = replace(good(), samples=NoData())
    d = run(shadowing(), measurements)
    assert d.status.analysis.runs == 0
    assert d.status.analysis.samples == 0


# -- verdicts -----------------------------------------------------------------------------


def test_passing_run_counts_towards_consecutive_successes() -> None:
    d = run(shadowing(), good())
    assert d.run_verdict == Verdict.PASS
    assert (d.status.analysis.runs, d.status.analysis.consecutive_successful) == (1, 1)
    assert d.status.analysis.checks[0].value == 0.97
    assert d.status.phase == Phase.SHADOWING


def test_successful_runs_in_a_row_promote_automatically() -> None:
    d = run(shadowing(runs=2, successful=2, consecutive_successful=2), good())
    assert d.status.phase == Phase.PROMOTING
    assert d.actions == (Action(ActionKind.PROMOTE, "2.0.0"),)
    assert d.message == (
        "promoting 2.0.0 (automatic): 3 consecutive passing runs, 500 samples "
        "(agreement-rate 0.97, prediction-ks 0.04)"
    )


def test_promotion_completes_when_live_serves_the_candidate_and_removes_it() -> None:
    promoting = replace(shadowing(consecutive_successful=3), phase=Phase.PROMOTING)
    still = run(promoting, None, observed=Observed(live_version="1.0.0"))  # type: ignore[arg-type]
    assert still.status.phase == Phase.PROMOTING
    assert still.actions == (Action(ActionKind.PROMOTE, "2.0.0"),)
    d = run(promoting, None, observed=Observed(live_version="2.0.0"))  # type: ignore[arg-type]
    assert d.status.phase == Phase.PROMOTED
    assert d.status.stable_version == "2.0.0"
    assert d.status.candidate_version is None
    assert d.actions == (Action(ActionKind.FINISH_PROMOTION, "2.0.0"),)
    assert d.message.startswith("promoted 2.0.0: 3 consecutive passing runs")


def test_a_failed_run_resets_the_success_streak() -> None:
    d = run(shadowing(runs=2, successful=2, consecutive_successful=2), bad())
    assert d.run_verdict == Verdict.FAIL
    assert d.status.analysis.consecutive_successful == 0
    assert d.status.phase == Phase.SHADOWING
    assert "agreement-rate 0.41 [0.3248, 0.4989] (95%, 1000 samples) outside >= 0.9" in d.message


def test_failure_limit_rolls_back_and_says_which_check_failed() -> None:
    d = run(shadowing(runs=3, failed=1), bad())
    assert d.status.phase == Phase.ROLLED_BACK
    assert d.actions == (Action(ActionKind.ROLLBACK, "2.0.0"),)
    assert d.status.stable_version == "1.0.0"
    assert "agreement-rate 0.41 [0.3248, 0.4989] (95%, 1000 samples) outside >= 0.9" in d.message
    assert "2 failed runs (limit 2)" in d.message
    assert d.reason == "AnalysisFailed"


def test_prometheus_down_is_inconclusive_never_a_pass() -> None:
    d = run(shadowing(consecutive_successful=2), prometheus_down())
    assert d.run_verdict == Verdict.INCONCLUSIVE
    assert d.status.phase == Phase.SHADOWING
    assert d.status.analysis.consecutive_successful == 0
    assert "connection refused" in d.message


def test_missing_check_data_with_enough_samples_is_inconclusive() -> None:
    measurements = replace(
        good(), checks={"agreement-rate": agreement(0.97), "prediction-ks": NoData()}
    )
    d = run(shadowing(consecutive_successful=2), measurements)
    assert d.run_verdict == Verdict.INCONCLUSIVE
    assert d.status.phase == Phase.SHADOWING


def test_a_failing_check_wins_over_missing_data() -> None:
    measurements = replace(
        bad(), checks={"agreement-rate": agreement(0.2), "prediction-ks": NoData()}
    )
    assert run(shadowing(), measurements).run_verdict == Verdict.FAIL


def test_inconclusive_limit_pauses() -> None:
    d = run(shadowing(inconclusive=2, consecutive_inconclusive=2), prometheus_down())
    assert d.status.phase == Phase.PAUSED
    assert d.actions == (Action(ActionKind.PAUSE, "2.0.0"),)
    assert "3 inconclusive runs in a row" in d.message


def test_nothing_is_promoted_or_analysed_while_paused() -> None:
    paused = replace(shadowing(consecutive_successful=2), phase=Phase.PAUSED)
    d = run(paused, good(), signals=Signals(approve=True))
    assert d.status.phase == Phase.PAUSED
    assert d.actions == ()
    assert d.status.analysis.runs == 0


def test_resume_continues_a_paused_analysis_and_is_consumed() -> None:
    paused = replace(shadowing(consecutive_inconclusive=3), phase=Phase.PAUSED)
    d = run(paused, None, signals=Signals(resume=True))  # type: ignore[arg-type]
    assert d.status.phase == Phase.SHADOWING
    assert d.status.analysis.consecutive_inconclusive == 0
    assert d.consumed == {Signal.RESUME}


# -- manual approval and abort --------------------------------------------------------------


MANUAL = make_spec(promotion="manual")


def test_manual_promotion_waits_for_approval() -> None:
    status = replace(
        shadowing(consecutive_successful=2),
        analysis=replace(
            shadowing(consecutive_successful=2).analysis,
            spec_fingerprint=MANUAL.analysis_fingerprint(),
        ),
    )
    d = decide(spec=MANUAL, status=status, measurements=good(), now=AFTER_WARMUP)
    assert d.status.phase == Phase.AWAITING_APPROVAL
    assert "rollouts.understudy.dev/approve=true" in d.message
    waiting = decide(spec=MANUAL, status=d.status, measurements=good(), now=AFTER_WARMUP)
    assert waiting.status.phase == Phase.AWAITING_APPROVAL
    assert waiting.actions == ()


def test_approval_promotes_and_is_consumed() -> None:
    awaiting = replace(shadowing(consecutive_successful=3), phase=Phase.AWAITING_APPROVAL)
    d = run(awaiting, None, signals=Signals(approve=True))  # type: ignore[arg-type]
    assert d.status.phase == Phase.PROMOTING
    assert d.actions == (Action(ActionKind.PROMOTE, "2.0.0"),)
    assert d.consumed == {Signal.APPROVE}


@pytest.mark.parametrize(
    "phase", [Phase.DEPLOYING, Phase.SHADOWING, Phase.AWAITING_APPROVAL, Phase.PAUSED]
)
def test_abort_rolls_back_from_any_phase_before_promotion(phase: Phase) -> None:
    d = run(replace(shadowing(), phase=phase), None, signals=Signals(abort=True))  # type: ignore[arg-type]
    assert d.status.phase == Phase.ROLLED_BACK
    assert d.actions == (Action(ActionKind.ROLLBACK, "2.0.0"),)
    assert d.consumed == {Signal.ABORT}
    assert "aborted" in d.message


def test_abort_does_not_stop_a_promotion_in_flight() -> None:
    promoting = replace(shadowing(), phase=Phase.PROMOTING)
    d = run(promoting, None, signals=Signals(abort=True))  # type: ignore[arg-type]
    assert d.status.phase == Phase.PROMOTING
    assert d.actions == (Action(ActionKind.PROMOTE, "2.0.0"),)


def test_signals_left_from_before_a_rollout_are_cleared_when_it_starts() -> None:
    promoted = RolloutStatus(phase=Phase.PROMOTED, stable_version="1.0.0")
    d = decide(spec=SPEC, status=promoted, measurements=None, now=T0, signals=Signals(approve=True))
    assert d.consumed == {Signal.APPROVE}


# -- after a rollback -----------------------------------------------------------------------


def test_a_rolled_back_version_is_not_retried_by_itself() -> None:
    rolled_back = replace(shadowing(failed=2), phase=Phase.ROLLED_BACK)
    d = run(rolled_back, good())
    assert d.status.phase == Phase.ROLLED_BACK
    assert d.actions == ()


def test_resume_retries_a_rolled_back_version_with_a_fresh_analysis() -> None:
    rolled_back = replace(shadowing(failed=2), phase=Phase.ROLLED_BACK)
    d = run(rolled_back, None, signals=Signals(resume=True))  # type: ignore[arg-type]
    assert d.status.phase == Phase.DEPLOYING
    assert d.status.analysis.failed == 0


# -- spec changes ---------------------------------------------------------------------------


def test_new_version_mid_rollout_restarts_the_analysis_for_it() -> None:
    spec3 = make_spec("3.0.0")
    d = decide(
        spec=spec3,
        status=shadowing(runs=2, consecutive_successful=2),
        measurements=good(),
        now=AFTER_WARMUP,
    )
    assert d.status.phase == Phase.DEPLOYING
    assert d.status.candidate_version == "3.0.0"
    assert d.actions == (Action(ActionKind.DEPLOY_CANDIDATE, "3.0.0"),)
    assert d.status.analysis.runs == 0
    assert d.reason == "CandidateChanged"


def test_changed_analysis_settings_restart_the_analysis_for_the_same_candidate() -> None:
    stricter = make_spec(minSamples=1000)
    d = decide(
        spec=stricter,
        status=shadowing(runs=2, consecutive_successful=2),
        measurements=good(),
        now=AFTER_WARMUP,
    )
    assert d.status.phase == Phase.SHADOWING
    assert d.status.analysis.runs == 0
    assert d.status.analysis.started_at == AFTER_WARMUP
    assert d.status.analysis.spec_fingerprint == stricter.analysis_fingerprint()
    assert d.reason == "AnalysisRestarted"


def test_spec_back_to_the_stable_version_cancels_the_rollout() -> None:
    d = decide(spec=make_spec("1.0.0"), status=shadowing(), measurements=None, now=AFTER_WARMUP)
    assert d.status.phase == Phase.PROMOTED
    assert d.status.candidate_version is None
    assert d.actions == (Action(ActionKind.ROLLBACK, "2.0.0"),)


def test_promotion_in_flight_completes_before_a_newer_version_starts() -> None:
    promoting = replace(shadowing(), phase=Phase.PROMOTING)
    d = decide(
        spec=make_spec("3.0.0"),
        status=promoting,
        measurements=None,
        now=AFTER_WARMUP,
        observed=Observed(live_version="2.0.0"),
    )
    assert d.status.phase == Phase.PROMOTED
    assert d.status.stable_version == "2.0.0"
    nxt = decide(spec=make_spec("3.0.0"), status=d.status, measurements=None, now=AFTER_WARMUP)
    assert nxt.status.candidate_version == "3.0.0"
    assert nxt.status.phase == Phase.DEPLOYING


# -- restart safety -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [
        RolloutStatus(),
        replace(shadowing(), phase=Phase.DEPLOYING),
        shadowing(runs=2, consecutive_successful=2, last_run_at=AFTER_WARMUP),
        replace(shadowing(consecutive_successful=3), phase=Phase.AWAITING_APPROVAL),
        replace(shadowing(consecutive_successful=3), phase=Phase.PROMOTING),
        RolloutStatus(phase=Phase.PROMOTED, stable_version="2.0.0"),
        replace(shadowing(failed=2), phase=Phase.ROLLED_BACK),
        replace(shadowing(consecutive_inconclusive=3), phase=Phase.PAUSED),
    ],
    ids=lambda s: str(s.phase),
)
def test_restart_from_any_phase_reads_back_the_same_status_and_decides_the_same(
    status: RolloutStatus,
) -> None:
    restored = RolloutStatus.from_dict(status.to_dict())
    assert restored == status
    now = AFTER_WARMUP + timedelta(seconds=3)
    first = decide(spec=SPEC, status=status, measurements=good(), now=now)
    again = decide(spec=SPEC, status=restored, measurements=good(), now=now)
    assert first == again


def test_a_run_already_made_this_interval_is_not_repeated_after_a_restart() -> None:
    d = run(shadowing(), good())
    restored = RolloutStatus.from_dict(d.status.to_dict())
    again = run(restored, good(), now=AFTER_WARMUP + timedelta(seconds=2))
    assert again.status.analysis.runs == 1
    assert again.run_verdict is None


def test_replaying_a_promotion_after_a_crash_does_not_promote_twice() -> None:
    # The status patch after FINISH_PROMOTION was lost: the same decision comes back,
    # whose actions are idempotent; once stored, nothing further happens.
    promoting = replace(shadowing(consecutive_successful=3), phase=Phase.PROMOTING)
    first = run(promoting, None, observed=Observed(live_version="2.0.0"))  # type: ignore[arg-type]
    replay = run(promoting, None, observed=Observed(live_version="2.0.0"))  # type: ignore[arg-type]
    assert first.actions == replay.actions
    after = decide(
        spec=SPEC,
        status=first.status,
        measurements=None,
        now=AFTER_WARMUP,
        observed=Observed(live_version="2.0.0"),
    )
    assert after.actions == ()
    assert after.status.stable_version == "2.0.0"


def test_phase_change_is_flagged_for_events() -> None:
    d = run(shadowing(runs=3, failed=1), bad())
    assert d.phase_changed
    assert not run(shadowing(), good()).phase_changed


# -- limits at their edge -------------------------------------------------------------------


def test_a_run_is_due_at_exactly_ninety_percent_of_the_interval() -> None:
    # A timer tick may come a little early: 9s of a 10s interval is enough, 8.9s is not.
    ran = shadowing(last_run_at=AFTER_WARMUP)
    assert analysis_due(SPEC, ran, AFTER_WARMUP + timedelta(seconds=9))
    assert not analysis_due(SPEC, ran, AFTER_WARMUP + timedelta(seconds=8.9))


@pytest.mark.parametrize("phase", [Phase.DEPLOYING, Phase.PAUSED, Phase.AWAITING_APPROVAL])
def test_no_run_is_due_outside_shadowing(phase: Phase) -> None:
    assert analysis_due(SPEC, replace(shadowing(), phase=phase), AFTER_WARMUP) is False


def test_no_run_is_due_before_the_shadow_started() -> None:
    assert analysis_due(SPEC, shadowing(started_at=None), AFTER_WARMUP) is False


def test_no_run_is_due_during_the_warmup_says_false_not_none() -> None:
    assert analysis_due(SPEC, shadowing(), T0 + timedelta(seconds=19)) is False


def test_a_run_with_exactly_min_samples_counts() -> None:
    d = run(shadowing(), good(samples=100))
    assert d.run_verdict == Verdict.PASS
    assert d.status.analysis.runs == 1


def test_waiting_for_samples_still_records_the_look_so_it_is_not_repeated_at_once() -> None:
    d = run(shadowing(), good(samples=3))
    assert d.reason == "WaitingForSamples"
    assert d.status.analysis.last_run_at == AFTER_WARMUP
    assert [c.name for c in d.status.analysis.checks] == ["agreement-rate", "prediction-ks"]
    assert d.run_verdict is None


# -- counters after each kind of run ----------------------------------------------------------

BEFORE = dict(
    runs=4,
    successful=2,
    consecutive_successful=1,
    failed=0,
    inconclusive=3,
    consecutive_inconclusive=1,
    samples=7,
)


def counters(a: AnalysisStatus) -> tuple[object, ...]:
    return (
        a.runs,
        a.successful,
        a.consecutive_successful,
        a.failed,
        a.inconclusive,
        a.consecutive_inconclusive,
        a.samples,
        a.last_verdict,
        a.last_run_at,
    )


def test_a_passing_run_updates_every_counter() -> None:
    a = run(shadowing(**BEFORE), good()).status.analysis
    assert counters(a) == (5, 3, 2, 0, 3, 0, 500, Verdict.PASS, AFTER_WARMUP)


def test_a_failing_run_updates_every_counter() -> None:
    a = run(shadowing(**BEFORE), bad()).status.analysis
    assert counters(a) == (5, 2, 0, 1, 3, 0, 500, Verdict.FAIL, AFTER_WARMUP)


def test_an_inconclusive_run_updates_every_counter_and_keeps_the_last_sample_count() -> None:
    a = run(shadowing(**BEFORE), prometheus_down()).status.analysis
    assert counters(a) == (5, 2, 0, 0, 4, 2, 7, Verdict.INCONCLUSIVE, AFTER_WARMUP)
    samples = a.checks[0]
    assert (samples.name, samples.value, samples.threshold) == ("sample-count", None, ">= 100")
    assert samples.verdict == Verdict.INCONCLUSIVE
    assert samples.message == "query failed: connect to 127.0.0.1:9091: connection refused"


def test_a_check_the_source_did_not_measure_is_inconclusive() -> None:
    d = run(shadowing(), replace(good(), checks={"agreement-rate": agreement(0.97)}))
    assert d.run_verdict == Verdict.INCONCLUSIVE
    assert d.status.analysis.checks[1].message == "no data: not measured"


def test_a_run_without_checks_is_inconclusive_never_a_pass() -> None:
    spec = replace(SPEC, analysis=replace(SPEC.analysis, checks=()))
    status = shadowing(spec_fingerprint=spec.analysis_fingerprint())
    d = decide(spec=spec, status=status, measurements=good(), now=AFTER_WARMUP)
    assert d.run_verdict == Verdict.INCONCLUSIVE


def test_resume_resets_both_streaks() -> None:
    paused = replace(
        shadowing(consecutive_inconclusive=3, consecutive_successful=2), phase=Phase.PAUSED
    )
    d = run(paused, None, signals=Signals(resume=True))  # type: ignore[arg-type]
    a = d.status.analysis
    assert (a.consecutive_inconclusive, a.consecutive_successful) == (0, 0)
    assert d.actions == (Action(ActionKind.START_SHADOW, "2.0.0"),)


# -- the verdict of the run that moved the phase -----------------------------------------------


def test_the_run_that_promotes_rolls_back_or_pauses_reports_its_verdict() -> None:
    promoted = run(shadowing(consecutive_successful=2), good())
    rolled_back = run(shadowing(failed=1), bad())
    paused = run(shadowing(consecutive_inconclusive=2), prometheus_down())
    assert (promoted.status.phase, promoted.run_verdict) == (Phase.PROMOTING, Verdict.PASS)
    assert (rolled_back.status.phase, rolled_back.run_verdict) == (Phase.ROLLED_BACK, Verdict.FAIL)
    assert (paused.status.phase, paused.run_verdict) == (Phase.PAUSED, Verdict.INCONCLUSIVE)


def test_an_approval_given_before_the_last_passing_run_promotes_at_once() -> None:
    status = shadowing(consecutive_successful=2, spec_fingerprint=MANUAL.analysis_fingerprint())
    d = decide(
        spec=MANUAL,
        status=status,
        measurements=good(),
        now=AFTER_WARMUP,
        signals=Signals(approve=True),
    )
    assert d.status.phase == Phase.PROMOTING
    assert (d.reason, d.run_verdict, d.consumed) == ("Approved", Verdict.PASS, {Signal.APPROVE})
    assert d.message.startswith("promoting 2.0.0 (approved): 3 consecutive passing runs")


# -- transitions no other test takes ------------------------------------------------------------


def test_a_spec_change_while_deploying_keeps_deploying_with_the_new_settings() -> None:
    stricter = make_spec(minSamples=1000)
    deploying = replace(
        shadowing(started_at=None), phase=Phase.DEPLOYING, message="deploying the candidate"
    )
    d = decide(spec=stricter, status=deploying, measurements=None, now=AFTER_WARMUP)
    assert d.status.phase == Phase.DEPLOYING
    assert d.actions == (Action(ActionKind.DEPLOY_CANDIDATE, "2.0.0"),)
    assert d.reason == "SpecChanged"
    assert d.status.analysis.spec_fingerprint == stricter.analysis_fingerprint()
    assert d.status.analysis.started_at is None
    assert d.message == "deploying the candidate"


def test_a_spec_reverted_after_a_rollback_redeploys_the_stable() -> None:
    rolled_back = replace(shadowing(failed=2), phase=Phase.ROLLED_BACK)
    d = decide(spec=make_spec("1.0.0"), status=rolled_back, measurements=None, now=AFTER_WARMUP)
    assert (d.status.phase, d.reason) == (Phase.PROMOTED, "Stable")
    assert d.actions == (Action(ActionKind.DEPLOY_LIVE, "1.0.0"),)
    assert d.status.candidate_version is None


def test_a_new_version_after_a_rollback_starts_a_new_rollout() -> None:
    rolled_back = replace(shadowing(failed=2), phase=Phase.ROLLED_BACK)
    d = decide(spec=make_spec("3.0.0"), status=rolled_back, measurements=None, now=AFTER_WARMUP)
    assert (d.status.phase, d.reason) == (Phase.DEPLOYING, "RolloutStarted")
    assert d.actions == (Action(ActionKind.DEPLOY_CANDIDATE, "3.0.0"),)


def _decision_for(case: str) -> Decision:
    first = make_spec("1.0.0")
    promoting = replace(shadowing(consecutive_successful=3), phase=Phase.PROMOTING)
    deploying = replace(shadowing(started_at=None), phase=Phase.DEPLOYING)
    rolled_back = replace(shadowing(failed=2), phase=Phase.ROLLED_BACK)
    paused = replace(shadowing(consecutive_inconclusive=3), phase=Phase.PAUSED)
    awaiting = replace(shadowing(consecutive_successful=3), phase=Phase.AWAITING_APPROVAL)
    manual = shadowing(consecutive_successful=2, spec_fingerprint=MANUAL.analysis_fingerprint())
    promoted = RolloutStatus(phase=Phase.PROMOTED, stable_version="1.0.0")
    cases = {
        "DeployingLive": lambda: decide(
            spec=first, status=RolloutStatus(), measurements=None, now=T0
        ),
        "Live": lambda: decide(
            spec=first,
            status=RolloutStatus(phase=Phase.DEPLOYING),
            measurements=None,
            now=T0,
            observed=Observed(live_version="1.0.0"),
        ),
        "Promoting": lambda: run(promoting, None),  # type: ignore[arg-type]
        "Promoted": lambda: run(promoting, None, observed=Observed(live_version="2.0.0")),  # type: ignore[arg-type]
        "RolloutCancelled": lambda: run(shadowing(), None, spec=first),  # type: ignore[arg-type]
        "RolloutRetried": lambda: run(rolled_back, None, signals=Signals(resume=True)),  # type: ignore[arg-type]
        "Aborted": lambda: run(shadowing(), None, signals=Signals(abort=True)),  # type: ignore[arg-type]
        "Deploying": lambda: run(deploying, None),  # type: ignore[arg-type]
        "ShadowStarted": lambda: run(deploying, None, observed=Observed(candidate_ready=True)),  # type: ignore[arg-type]
        "Resumed": lambda: run(paused, None, signals=Signals(resume=True)),  # type: ignore[arg-type]
        "Approved": lambda: run(awaiting, None, signals=Signals(approve=True)),  # type: ignore[arg-type]
        "AnalysisRunPassed": lambda: run(shadowing(), good()),
        "AnalysisPassed": lambda: run(shadowing(consecutive_successful=2), good()),
        "AwaitingApproval": lambda: decide(
            spec=MANUAL, status=manual, measurements=good(), now=AFTER_WARMUP
        ),
        "AnalysisRunFailed": lambda: run(shadowing(), bad()),
        "AnalysisRunInconclusive": lambda: run(shadowing(), prometheus_down()),
        "AnalysisPaused": lambda: run(shadowing(consecutive_inconclusive=2), prometheus_down()),
        "RolloutStarted": lambda: decide(spec=SPEC, status=promoted, measurements=None, now=T0),
    }
    return cases[case]()


@pytest.mark.parametrize(
    ("reason", "phase"),
    [
        ("DeployingLive", Phase.DEPLOYING),
        ("Live", Phase.PROMOTED),
        ("Promoting", Phase.PROMOTING),
        ("Promoted", Phase.PROMOTED),
        ("RolloutCancelled", Phase.PROMOTED),
        ("RolloutRetried", Phase.DEPLOYING),
        ("Aborted", Phase.ROLLED_BACK),
        ("Deploying", Phase.DEPLOYING),
        ("ShadowStarted", Phase.SHADOWING),
        ("Resumed", Phase.SHADOWING),
        ("Approved", Phase.PROMOTING),
        ("AnalysisRunPassed", Phase.SHADOWING),
        ("AnalysisPassed", Phase.PROMOTING),
        ("AwaitingApproval", Phase.AWAITING_APPROVAL),
        ("AnalysisRunFailed", Phase.SHADOWING),
        ("AnalysisRunInconclusive", Phase.SHADOWING),
        ("AnalysisPaused", Phase.PAUSED),
        ("RolloutStarted", Phase.DEPLOYING),
    ],
)
def test_each_transition_has_its_event_reason(reason: str, phase: Phase) -> None:
    d = _decision_for(reason)
    assert (d.reason, d.status.phase) == (reason, phase)


# -- status bookkeeping ---------------------------------------------------------------------


def test_phase_since_moves_only_when_the_phase_changes() -> None:
    assert run(shadowing(), good()).status.phase_since == T0
    assert run(shadowing(failed=1), bad()).status.phase_since == AFTER_WARMUP
    # a status written before phaseSince existed gets one even when the phase stays
    unset = replace(shadowing(), phase_since=None)
    assert run(unset, good()).status.phase_since == AFTER_WARMUP


def test_query_context_names_the_versions_the_checks_own_interval_and_the_analysis_age() -> None:
    own = Check(name="p50", max=1, query="x", interval_seconds=120)
    now = AFTER_WARMUP + timedelta(milliseconds=200)  # 25.2 s after the analysis started
    assert query_context(spec=SPEC, status=shadowing(), namespace="ml", check=own, now=now) == (
        QueryContext(
            model="house-prices",
            namespace="ml",
            stable="1.0.0",
            candidate="2.0.0",
            interval="2m",
            analysis_window="26s",  # whole seconds, rounded up: never short of a sample
        )
    )
    builtin = Check(name="agreement-rate", min=0.9)
    ctx = query_context(spec=SPEC, status=RolloutStatus(), namespace="ml", check=builtin, now=now)
    assert (ctx.stable, ctx.candidate, ctx.interval) == ("", "", "10s")


def test_an_action_reads_as_kind_and_version() -> None:
    assert str(Action(ActionKind.PROMOTE, "2.0.0")) == "promote(2.0.0)"


def test_action_kinds_are_the_documented_verbs() -> None:
    # core/README.md's table, the events and the logs use these words.
    assert [str(Action(k, "v")) for k in ActionKind] == [
        "deploy_live(v)",
        "deploy_candidate(v)",
        "start_shadow(v)",
        "set_weight(v)",
        "promote(v)",
        "finish_promotion(v)",
        "rollback(v)",
        "pause(v)",
        "await_approval(v)",
    ]


# -- messages that explain themselves -------------------------------------------------------


def test_a_rollout_says_what_it_rolls_out_beside_what() -> None:
    promoted = RolloutStatus(phase=Phase.PROMOTED, stable_version="1.0.0")
    started = decide(spec=SPEC, status=promoted, measurements=None, now=T0)
    assert started.message == "rolling out 2.0.0 beside the stable 1.0.0: deploying the candidate"
    changed = decide(spec=make_spec("3.0.0"), status=shadowing(), measurements=None, now=T0)
    assert changed.message.startswith("spec.model.version changed from 2.0.0 to 3.0.0")


def test_an_abort_says_it_was_asked_for() -> None:
    d = run(shadowing(), None, signals=Signals(abort=True))  # type: ignore[arg-type]
    assert d.message == "rolled back 2.0.0: aborted by request; 1.0.0 stays live"


def test_every_failing_check_is_named() -> None:
    both = Measurements(
        samples=Value(500), checks={"agreement-rate": agreement(0.41), "prediction-ks": ks(0.5)}
    )
    d = run(shadowing(), both)
    assert d.message.endswith(
        "(1/2 failures): agreement-rate 0.41 [0.3248, 0.4989] (95%, 1000 samples) outside >= 0.9; "
        "prediction-ks 0.5 outside <= 0.1"
    )


def test_every_inconclusive_check_says_why() -> None:
    d = run(shadowing(), prometheus_down())
    down = "query failed: connect to 127.0.0.1:9091: connection refused"
    assert d.message.endswith(
        f"(1/3 in a row): sample-count: {down}; agreement-rate: {down}; prediction-ks: {down}"
    )


def test_the_evidence_lists_every_check_and_a_dash_for_no_value() -> None:
    checks = (
        CheckResult("agreement-rate", 0.97, ">= 0.9", Verdict.PASS, "ok"),
        CheckResult("prediction-ks", None, "<= 0.1", Verdict.INCONCLUSIVE, "no data"),
    )
    awaiting = replace(
        shadowing(consecutive_successful=3, samples=800, checks=checks),
        phase=Phase.AWAITING_APPROVAL,
    )
    d = run(awaiting, None, signals=Signals(approve=True))  # type: ignore[arg-type]
    assert d.message == (
        "promoting 2.0.0 (approved): 3 consecutive passing runs, 800 samples "
        "(agreement-rate 0.97, prediction-ks -)"
    )


def test_no_measurements_when_a_run_is_due_is_no_run() -> None:
    d = run(shadowing(), None)  # type: ignore[arg-type]
    assert (d.status.analysis.runs, d.run_verdict, d.actions) == (0, None, ())
    assert d.status.analysis.last_run_at is None
