"""The rollout state machine: ``decide(...) -> Decision``. Pure: no clock, no I/O.

Inputs are plain values: the parsed spec, the current status, the measurements of this
analysis run (or None when no run is due), the time, what the actuator observes of the
workloads and the approve/abort/resume signals read from annotations or the spec. The
output is the next status, the actions for an actuator, an event reason and a message.

Every action is idempotent ("make it so"), and the caller applies the actions *before*
storing the new status: a crash in between repeats the actions on the next call, never
skips them, and never promotes twice.

The pieces around it, split the way Argo Rollouts separates them: when a run is due
(schedule.py), what a run's measurements say (assess.py), and the types it takes and
gives (types.py). This module holds only the transitions between phases.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from enum import Enum

from understudy_operator.core.assess import assess_run
from understudy_operator.core.canary import current_analysis, current_step
from understudy_operator.core.checks import CheckResult, Verdict
from understudy_operator.core.durations import format_duration
from understudy_operator.core.formatting import format_number
from understudy_operator.core.measurements import Measurements
from understudy_operator.core.schedule import analysis_due
from understudy_operator.core.spec import AnalysisSpec, Promotion, RolloutSpec
from understudy_operator.core.status import (
    IN_FLIGHT,
    AnalysisStatus,
    CanaryStatus,
    Phase,
    RolloutStatus,
)
from understudy_operator.core.types import Action, ActionKind, Decision, Observed, Signal, Signals

# Defaults of decide(): no workload seen yet, no human signal.
NOTHING_OBSERVED = Observed()
NO_SIGNALS = Signals()


def decide(
    *,
    spec: RolloutSpec,
    status: RolloutStatus,
    measurements: Measurements | None,
    now: datetime,
    observed: Observed = NOTHING_OBSERVED,
    signals: Signals = NO_SIGNALS,
) -> Decision:
    """The next step of the rollout. See core/README.md for the rules."""
    d = _Decider(spec=spec, status=status, now=now, observed=observed, signals=signals)
    return d.decide(measurements)


class _Keep(Enum):
    """Sentinel: keep the field's current value."""

    KEEP = 0


class _Decider:
    def __init__(
        self,
        *,
        spec: RolloutSpec,
        status: RolloutStatus,
        now: datetime,
        observed: Observed,
        signals: Signals,
    ) -> None:
        self.spec = spec
        self.status = status
        self.now = now
        self.observed = observed
        self.signals = signals
        self.desired = spec.model.version

    # -- building decisions ------------------------------------------------------------

    def _decision(
        self,
        *,
        phase: Phase,
        actions: Iterable[Action] = (),
        reason: str,
        message: str,
        stable: str | _Keep | None = _Keep.KEEP,
        candidate: str | _Keep | None = _Keep.KEEP,
        analysis: AnalysisStatus | None = None,
        run_verdict: Verdict | None = None,
        consumed: Iterable[Signal] = (),
        canary: CanaryStatus | None = None,
    ) -> Decision:
        old = self.status
        if canary is None:
            # Out of the rollout's canary (a new candidate, promoted, cancelled): no weight.
            gone = phase in (Phase.PROMOTED, Phase.DEPLOYING) or (
                phase == Phase.SHADOWING and old.phase != Phase.SHADOWING
            )
            canary = CanaryStatus() if gone else old.canary
        new = replace(
            old,
            phase=phase,
            stable_version=old.stable_version if isinstance(stable, _Keep) else stable,
            candidate_version=old.candidate_version if isinstance(candidate, _Keep) else candidate,
            message=message,
            phase_since=self.now
            if phase != old.phase or old.phase_since is None
            else old.phase_since,
            analysis=analysis if analysis is not None else old.analysis,
            canary=canary,
        ).with_conditions(self.now)
        return Decision(
            status=new,
            actions=tuple(actions),
            reason=reason,
            message=message,
            previous_phase=old.phase,
            run_verdict=run_verdict,
            consumed=frozenset(consumed),
            previous_step=old.canary.step,
        )

    def _stay(self, *, actions: Iterable[Action] = (), reason: str | None = None) -> Decision:
        return self._decision(
            phase=self.status.phase,
            actions=actions,
            reason=reason or str(self.status.phase),
            message=self.status.message,
        )

    def _fresh_analysis(self, *, started: bool) -> AnalysisStatus:
        return AnalysisStatus(
            started_at=self.now if started else None,
            spec_fingerprint=self.spec.analysis_fingerprint(),
        )

    # -- the rules -----------------------------------------------------------------------

    def decide(self, measurements: Measurements | None) -> Decision:
        st = self.status
        if st.stable_version is None:
            return self._first_version()
        if st.phase == Phase.PROMOTING:
            return self._promoting()
        if self.desired == st.stable_version:
            return self._desired_is_stable()
        if st.phase == Phase.ROLLED_BACK and st.candidate_version == self.desired:
            retry = self.signals.present() & {Signal.RESUME, Signal.RETRY}
            if retry:
                return self._start(reason="RolloutRetried", consumed=retry)
            return self._stay()
        if st.phase not in IN_FLIGHT:
            return self._start(reason="RolloutStarted", consumed=self.signals.present())
        if st.candidate_version != self.desired:
            return self._start(reason="CandidateChanged", consumed=())
        if self.signals.abort:
            return self._rollback(
                reason="Aborted",
                why="aborted by request",
                consumed=[Signal.ABORT],
                analysis=st.analysis,
            )
        if self.signals.promote and st.phase != Phase.PROMOTING:
            return self._skip_analysis()
        if st.analysis.spec_fingerprint != self.spec.analysis_fingerprint():
            return self._restart_analysis()
        if st.phase == Phase.DEPLOYING:
            return self._deploying_candidate()
        if st.phase == Phase.PAUSED:
            return self._paused()
        if st.phase == Phase.AWAITING_APPROVAL:
            return self._awaiting_approval()
        if st.phase == Phase.CANARY:
            return self._canary(measurements)
        return self._analysing(measurements)

    def _first_version(self) -> Decision:
        version = self.desired
        if self.observed.live_version == version:
            return self._decision(
                phase=Phase.PROMOTED,
                reason="Live",
                message=f"{version} is live (first version, no shadow analysis)",
                stable=version,
                candidate=None,
            )
        return self._decision(
            phase=Phase.DEPLOYING,
            actions=[Action(ActionKind.DEPLOY_LIVE, version)],
            reason="DeployingLive",
            message=f"deploying {version} as the first live version",
            candidate=None,
        )

    def _promoting(self) -> Decision:
        cand = self.status.candidate_version
        assert cand is not None, "Promoting without a candidate version"
        if self.observed.live_version == cand:
            return self._decision(
                phase=Phase.PROMOTED,
                actions=[Action(ActionKind.FINISH_PROMOTION, cand)],
                reason="Promoted",
                message=f"promoted {cand}: {_evidence(self.status.analysis)}",
                stable=cand,
                candidate=None,
            )
        return self._stay(actions=[Action(ActionKind.PROMOTE, cand)])

    def _desired_is_stable(self) -> Decision:
        st = self.status
        stable = st.stable_version
        assert stable is not None
        if st.phase in IN_FLIGHT and st.candidate_version is not None:
            return self._decision(
                phase=Phase.PROMOTED,
                actions=[Action(ActionKind.ROLLBACK, st.candidate_version)],
                reason="RolloutCancelled",
                message=(
                    f"rollout of {st.candidate_version} cancelled: spec.model.version is "
                    f"back to the stable {stable}"
                ),
                candidate=None,
            )
        if st.phase == Phase.PROMOTED:
            return self._stay()
        # Pending/Failed with a stable version, or RolledBack and the spec reverted.
        return self._decision(
            phase=Phase.PROMOTED,
            actions=[Action(ActionKind.DEPLOY_LIVE, stable)],
            reason="Stable",
            message=f"{stable} is live",
            candidate=None,
        )

    def _start(self, *, reason: str, consumed: Iterable[Signal]) -> Decision:
        st = self.status
        if reason == "CandidateChanged":
            why = (
                f"spec.model.version changed from {st.candidate_version} to {self.desired} "
                "during the rollout; analysis restarted"
            )
        else:
            why = f"rolling out {self.desired} beside the stable {st.stable_version}"
        return self._decision(
            phase=Phase.DEPLOYING,
            actions=[Action(ActionKind.DEPLOY_CANDIDATE, self.desired)],
            reason=reason,
            message=f"{why}: deploying the candidate",
            candidate=self.desired,
            analysis=self._fresh_analysis(started=False),
            consumed=consumed,
        )

    def _restart_analysis(self) -> Decision:
        cand = self.desired
        if self.status.phase != Phase.DEPLOYING and not self.spec.shadow.enabled:
            return self._enter_step(0, reason="AnalysisRestarted")  # no shadow to go back to
        if self.status.phase == Phase.DEPLOYING:
            analysis = replace(
                self.status.analysis, spec_fingerprint=self.spec.analysis_fingerprint()
            )
            return self._decision(
                phase=Phase.DEPLOYING,
                actions=[Action(ActionKind.DEPLOY_CANDIDATE, cand)],
                reason="SpecChanged",
                message=self.status.message,
                analysis=analysis,
            )
        return self._decision(
            phase=Phase.SHADOWING,
            actions=[Action(ActionKind.START_SHADOW, cand)],
            reason="AnalysisRestarted",
            message=f"the analysis settings of {cand} changed: analysis restarted",
            analysis=self._fresh_analysis(started=True),
        )

    def _deploying_candidate(self) -> Decision:
        cand = self.desired
        if not self.observed.candidate_ready:
            return self._stay(actions=[Action(ActionKind.DEPLOY_CANDIDATE, cand)])
        if not self.spec.shadow.enabled:
            return self._enter_step(0, reason="CanaryStarted")
        a = self.spec.analysis
        return self._decision(
            phase=Phase.SHADOWING,
            actions=[Action(ActionKind.START_SHADOW, cand)],
            reason="ShadowStarted",
            message=(
                f"shadowing {cand}: {self.spec.shadow.mirror_percent:g}% of requests mirrored; "
                f"warmup {format_duration(a.warmup_seconds) if a.warmup_seconds else '0s'}, "
                f"then a run every {format_duration(a.interval_seconds)} "
                f"once {a.min_samples} samples exist"
            ),
            analysis=replace(self.status.analysis, started_at=self.now),
        )

    def _paused(self) -> Decision:
        cand = self.desired
        if not self.signals.resume:
            return self._stay()
        analysis = replace(
            self.status.analysis,
            consecutive_inconclusive=0,
            consecutive_successful=0,
            resumed_at=self.now,
        )
        in_canary = self.status.canary.step is not None
        return self._decision(
            # A paused canary step resumes at its weight (the status keeps the step).
            phase=Phase.CANARY if in_canary else Phase.SHADOWING,
            actions=[Action(ActionKind.SET_WEIGHT if in_canary else ActionKind.START_SHADOW, cand)],
            reason="Resumed",
            message=f"analysis of {cand} resumed by request",
            analysis=analysis,
            consumed=[Signal.RESUME],
        )

    def _awaiting_approval(self) -> Decision:
        if not self.signals.approve:
            return self._stay()
        return self._promote(reason="Approved", how="approved", consumed=[Signal.APPROVE])

    def _skip_analysis(self) -> Decision:
        # A human's override: promoted on their word, not on evidence; the status keeps
        # saying so (analysis.skipped) after the promotion, and the event is a Warning.
        self.status = replace(self.status, analysis=replace(self.status.analysis, skipped=True))
        return self._promote(
            reason="AnalysisSkipped",
            how="by request",
            consumed=[Signal.PROMOTE],
        )

    def _promote(self, *, reason: str, how: str, consumed: Iterable[Signal] = ()) -> Decision:
        cand = self.desired
        after_canary = self.status.canary.step is not None
        # After canary steps the candidate answers every request while live rolls to it.
        actions = [Action(ActionKind.PROMOTE, cand)]
        if after_canary:
            actions.insert(0, Action(ActionKind.SET_WEIGHT, cand))
        return self._decision(
            phase=Phase.PROMOTING,
            actions=actions,
            reason=reason,
            message=f"promoting {cand} ({how}): {_evidence(self.status.analysis)}",
            consumed=consumed,
            canary=replace(self.status.canary, weight=100.0) if after_canary else None,
        )

    def _rollback(
        self, *, reason: str, why: str, consumed: Iterable[Signal], analysis: AnalysisStatus
    ) -> Decision:
        cand = self.desired
        canary = self.status.canary
        at = ""
        if canary.step is not None:
            at = f" at canary step {canary.step + 1} ({format_number(canary.weight)}%)"
        return self._decision(
            phase=Phase.ROLLED_BACK,
            actions=[Action(ActionKind.ROLLBACK, cand)],
            reason=reason,
            message=f"rolled back {cand}{at}: {why}; {self.status.stable_version} stays live",
            analysis=analysis,
            consumed=consumed,
            # The router answers nothing from the candidate any more (the ROLLBACK action).
            canary=replace(canary, weight=0.0),
        )

    # -- canary steps (core/canary.py) ----------------------------------------------------

    def _canary(self, measurements: Measurements | None) -> Decision:
        step = current_step(self.spec, self.status)
        if step is None:  # past the last step (the steps were shortened): promote
            return self._after_canary()
        if not step.pause:
            return self._analysing(measurements)
        index = self.status.canary.step
        assert index is not None
        started = self.status.canary.step_started_at or self.now
        elapsed = (self.now - started).total_seconds()
        if step.pause_seconds is not None and elapsed >= step.pause_seconds:
            return self._enter_step(index + 1, reason="CanaryPauseEnded")
        if self.signals.resume:
            return self._enter_step(index + 1, reason="Resumed", consumed=[Signal.RESUME])
        return self._stay()

    def _enter_step(self, index: int, *, reason: str, consumed: Iterable[Signal] = ()) -> Decision:
        """Begin canary step ``index`` (weight and a fresh analysis), or promote after the
        last one."""
        steps = self.spec.canary.steps
        if index >= len(steps):
            return self._after_canary()
        cand = self.desired
        step = steps[index]
        weight = self.status.canary.weight if step.weight is None else step.weight
        where = f"canary step {index + 1}/{len(steps)} of {cand}: {format_number(weight)}%"
        if step.pause and step.pause_seconds is not None:
            message = f"{where}, paused for {format_duration(step.pause_seconds)}"
        elif step.pause:
            message = f"{where}, paused until the annotation rollouts.understudy.dev/resume=true"
        else:
            assert step.analysis is not None
            a = step.analysis
            message = (
                f"{where} of requests answered by the candidate; a run every "
                f"{format_duration(a.interval_seconds)}, {a.successful_runs} passing to go on"
            )
        last = self.status.analysis
        # Fresh counters and window for the step; the last run's results stay on show.
        fresh = replace(
            self._fresh_analysis(started=True),
            samples=last.samples,
            checks=last.checks,
            last_verdict=last.last_verdict,
        )
        return self._decision(
            phase=Phase.CANARY,
            actions=[Action(ActionKind.SET_WEIGHT, cand)],
            reason=reason,
            message=message,
            analysis=fresh,
            canary=CanaryStatus(step=index, weight=weight, step_started_at=self.now),
            consumed=consumed,
        )

    def _after_canary(self) -> Decision:
        return self._promote_or_wait(
            reason="CanaryPassed", how="canary steps passed", what="the canary steps"
        )

    def _promote_or_wait(self, *, reason: str, how: str, what: str) -> Decision:
        """The candidate passed ``what``: promote it (automatic, or approved already), or
        wait for the approval."""
        if self.spec.promotion == Promotion.AUTOMATIC:
            return self._promote(reason=reason, how=how)
        if self.signals.approve:
            return self._promote(reason="Approved", how="approved", consumed=[Signal.APPROVE])
        cand = self.desired
        return self._decision(
            phase=Phase.AWAITING_APPROVAL,
            actions=[Action(ActionKind.AWAIT_APPROVAL, cand)],
            reason="AwaitingApproval",
            message=(
                f"{cand} passed {what} ({_evidence(self.status.analysis)}); promote it with the "
                "annotation rollouts.understudy.dev/approve=true or spec.approvedVersion"
            ),
        )

    def _where(self) -> str:
        """How status messages name the analysis in progress."""
        canary = self.status.canary
        if self.status.phase == Phase.CANARY and canary.step is not None:
            n = len(self.spec.canary.steps)
            return (
                f"canary step {canary.step + 1}/{n} of {self.desired} "
                f"({format_number(canary.weight)}%)"
            )
        return f"shadowing {self.desired}"

    def _analysis_spec(self) -> AnalysisSpec:
        return current_analysis(self.spec, self.status) or self.spec.analysis

    def _analysing(self, measurements: Measurements | None) -> Decision:
        """A run of the analysis in force: the shadow's, or a canary weight step's."""
        if measurements is None or not analysis_due(self.spec, self.status, self.now):
            return self._stay()
        a = self._analysis_spec()
        run = assess_run(
            spec=a, analysis=self.status.analysis, measurements=measurements, now=self.now
        )
        if run.verdict == Verdict.PASS:
            return self._passed(run.analysis)
        if run.verdict == Verdict.FAIL:
            return self._failed(run.analysis)
        if run.verdict == Verdict.INCONCLUSIVE:
            return self._inconclusive(run.analysis)
        if run.verdict == Verdict.NOT_YET:
            return self._not_yet(run.analysis)
        return self._decision(
            phase=self.status.phase,
            reason="WaitingForSamples",
            message=(
                f"{self._where()}: waiting for samples "
                f"({run.analysis.samples}/{a.min_samples}); no verdict yet"
            ),
            analysis=run.analysis,
        )

    def _passed(self, run: AnalysisStatus) -> Decision:
        a = self._analysis_spec()
        if run.consecutive_successful < a.successful_runs:
            return self._decision(
                phase=self.status.phase,
                reason="AnalysisRunPassed",
                message=(
                    f"{self._where()}: run {run.runs} passed "
                    f"({run.consecutive_successful}/{a.successful_runs} consecutive; "
                    f"{_values(run.checks)})"
                ),
                analysis=run,
                run_verdict=Verdict.PASS,
            )
        self.status = replace(self.status, analysis=run)
        if self.status.phase == Phase.CANARY:
            index = self.status.canary.step
            assert index is not None
            decision = self._enter_step(index + 1, reason="CanaryStepPassed")
        elif self.spec.canary.steps:
            decision = self._enter_step(0, reason="CanaryStarted")
        else:
            decision = self._promote_or_wait(
                reason="AnalysisPassed", how="automatic", what="the analysis"
            )
        return replace(decision, run_verdict=Verdict.PASS)

    def _failed(self, run: AnalysisStatus) -> Decision:
        a = self._analysis_spec()
        failing = "; ".join(c.message for c in run.checks if c.verdict == Verdict.FAIL)
        if run.failed >= a.failure_limit:
            decision = self._rollback(
                reason="AnalysisFailed",
                why=f"{run.failed} failed runs (limit {a.failure_limit}), last: {failing}",
                consumed=(),
                analysis=run,
            )
            return replace(decision, run_verdict=Verdict.FAIL)
        return self._decision(
            phase=self.status.phase,
            reason="AnalysisRunFailed",
            message=(
                f"{self._where()}: run {run.runs} failed "
                f"({run.failed}/{a.failure_limit} failures): {failing}"
            ),
            analysis=run,
            run_verdict=Verdict.FAIL,
        )

    def _not_yet(self, run: AnalysisStatus) -> Decision:
        a = self._analysis_spec()
        why = "; ".join(c.message for c in run.checks if c.verdict == Verdict.NOT_YET)
        clock = max(t for t in (run.started_at, run.resumed_at) if t is not None)
        elapsed = (self.now - clock).total_seconds()
        budget = format_duration(a.give_up_after_seconds)
        if elapsed >= a.give_up_after_seconds:
            return self._decision(
                phase=Phase.PAUSED,
                actions=[Action(ActionKind.PAUSE, self.desired)],
                reason="AnalysisUndecided",
                message=(
                    f"paused {self.desired}: not decided after {budget} (giveUpAfter): {why}; "
                    "nothing is promoted until the annotation rollouts.understudy.dev/resume=true "
                    "(more traffic, or wider bounds, settles it sooner)"
                ),
                analysis=run,
                run_verdict=Verdict.NOT_YET,
            )
        return self._decision(
            phase=self.status.phase,
            reason="AnalysisRunUndecided",
            message=(
                f"{self._where()}: run {run.runs} not decided yet "
                f"({format_duration(max(1, round(elapsed)))} of {budget}): {why}"
            ),
            analysis=run,
            run_verdict=Verdict.NOT_YET,
        )

    def _inconclusive(self, run: AnalysisStatus) -> Decision:
        a = self._analysis_spec()
        why = "; ".join(
            f"{c.name}: {c.message}" for c in run.checks if c.verdict == Verdict.INCONCLUSIVE
        )
        if run.consecutive_inconclusive >= a.inconclusive_limit:
            return self._decision(
                phase=Phase.PAUSED,
                actions=[Action(ActionKind.PAUSE, self.desired)],
                reason="AnalysisPaused",
                message=(
                    f"paused {self.desired}: {run.consecutive_inconclusive} inconclusive runs in "
                    f"a row (limit {a.inconclusive_limit}), last: {why}; nothing is promoted "
                    "until the annotation rollouts.understudy.dev/resume=true"
                ),
                analysis=run,
                run_verdict=Verdict.INCONCLUSIVE,
            )
        return self._decision(
            phase=self.status.phase,
            reason="AnalysisRunInconclusive",
            message=(
                f"{self._where()}: run {run.runs} inconclusive "
                f"({run.consecutive_inconclusive}/{a.inconclusive_limit} in a row): {why}"
            ),
            analysis=run,
            run_verdict=Verdict.INCONCLUSIVE,
        )


def _values(results: Iterable[CheckResult]) -> str:
    return ", ".join(f"{r.name} {format_number(r.value)}" for r in results)


def _evidence(analysis: AnalysisStatus) -> str:
    if analysis.skipped:
        return (
            f"analysis skipped by request after {analysis.runs} runs, "
            f"{analysis.samples} samples ({_values(analysis.checks) or 'no values'})"
        )
    return (
        f"{analysis.consecutive_successful} consecutive passing runs, "
        f"{analysis.samples} samples ({_values(analysis.checks)})"
    )
