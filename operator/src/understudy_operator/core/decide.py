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
from understudy_operator.core.checks import CheckResult, Verdict
from understudy_operator.core.durations import format_duration
from understudy_operator.core.formatting import format_number
from understudy_operator.core.measurements import Measurements
from understudy_operator.core.schedule import analysis_due
from understudy_operator.core.spec import Promotion, RolloutSpec
from understudy_operator.core.status import IN_FLIGHT, AnalysisStatus, Phase, RolloutStatus
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
    ) -> Decision:
        old = self.status
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
        ).with_conditions(self.now)
        return Decision(
            status=new,
            actions=tuple(actions),
            reason=reason,
            message=message,
            previous_phase=old.phase,
            run_verdict=run_verdict,
            consumed=frozenset(consumed),
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
        return self._shadowing(measurements)

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
        return self._decision(
            phase=Phase.SHADOWING,
            actions=[Action(ActionKind.START_SHADOW, cand)],
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
        return self._decision(
            phase=Phase.PROMOTING,
            actions=[Action(ActionKind.PROMOTE, cand)],
            reason=reason,
            message=f"promoting {cand} ({how}): {_evidence(self.status.analysis)}",
            consumed=consumed,
        )

    def _rollback(
        self, *, reason: str, why: str, consumed: Iterable[Signal], analysis: AnalysisStatus
    ) -> Decision:
        cand = self.desired
        return self._decision(
            phase=Phase.ROLLED_BACK,
            actions=[Action(ActionKind.ROLLBACK, cand)],
            reason=reason,
            message=f"rolled back {cand}: {why}; {self.status.stable_version} stays live",
            analysis=analysis,
            consumed=consumed,
        )

    def _shadowing(self, measurements: Measurements | None) -> Decision:
        if measurements is None or not analysis_due(self.spec, self.status, self.now):
            return self._stay()
        a = self.spec.analysis
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
            phase=Phase.SHADOWING,
            reason="WaitingForSamples",
            message=(
                f"shadowing {self.desired}: waiting for samples "
                f"({run.analysis.samples}/{a.min_samples}); no verdict yet"
            ),
            analysis=run.analysis,
        )

    def _passed(self, run: AnalysisStatus) -> Decision:
        a = self.spec.analysis
        cand = self.desired
        if run.consecutive_successful < a.successful_runs:
            return self._decision(
                phase=Phase.SHADOWING,
                reason="AnalysisRunPassed",
                message=(
                    f"shadowing {cand}: run {run.runs} passed "
                    f"({run.consecutive_successful}/{a.successful_runs} consecutive; "
                    f"{_values(run.checks)})"
                ),
                analysis=run,
                run_verdict=Verdict.PASS,
            )
        self.status = replace(self.status, analysis=run)
        if self.spec.promotion == Promotion.AUTOMATIC:
            decision = self._promote(reason="AnalysisPassed", how="automatic")
        elif self.signals.approve:
            decision = self._promote(reason="Approved", how="approved", consumed=[Signal.APPROVE])
        else:
            decision = self._decision(
                phase=Phase.AWAITING_APPROVAL,
                actions=[Action(ActionKind.AWAIT_APPROVAL, cand)],
                reason="AwaitingApproval",
                message=(
                    f"{cand} passed the analysis ({_evidence(run)}); promote it with the "
                    "annotation rollouts.understudy.dev/approve=true or spec.approvedVersion"
                ),
                analysis=run,
            )
        return replace(decision, run_verdict=Verdict.PASS)

    def _failed(self, run: AnalysisStatus) -> Decision:
        a = self.spec.analysis
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
            phase=Phase.SHADOWING,
            reason="AnalysisRunFailed",
            message=(
                f"shadowing {self.desired}: run {run.runs} failed "
                f"({run.failed}/{a.failure_limit} failures): {failing}"
            ),
            analysis=run,
            run_verdict=Verdict.FAIL,
        )

    def _not_yet(self, run: AnalysisStatus) -> Decision:
        a = self.spec.analysis
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
            phase=Phase.SHADOWING,
            reason="AnalysisRunUndecided",
            message=(
                f"shadowing {self.desired}: run {run.runs} not decided yet "
                f"({format_duration(max(1, round(elapsed)))} of {budget}): {why}"
            ),
            analysis=run,
            run_verdict=Verdict.NOT_YET,
        )

    def _inconclusive(self, run: AnalysisStatus) -> Decision:
        a = self.spec.analysis
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
            phase=Phase.SHADOWING,
            reason="AnalysisRunInconclusive",
            message=(
                f"shadowing {self.desired}: run {run.runs} inconclusive "
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
