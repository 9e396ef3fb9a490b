"""What the rollout state machine takes and gives besides spec, status and measurements:
the actions for an actuator, the humans' signals, what the actuator observes, and the
decision itself. Plain frozen values, shared by the core, its drivers and their tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from understudy_operator.core.checks import Verdict
from understudy_operator.core.status import Phase, RolloutStatus


class ActionKind(StrEnum):
    DEPLOY_LIVE = "deploy_live"  # live workload serves `version` (first version); router: live only
    DEPLOY_CANDIDATE = "deploy_candidate"  # candidate workload at `version`; router: no mirroring
    START_SHADOW = "start_shadow"  # router mirrors to the (ready) candidate `version`
    # router: the candidate `version` answers status.canary.weight% of requests (sticky),
    # the rest answered by live and mirrored as in the shadow
    SET_WEIGHT = "set_weight"
    PROMOTE = "promote"  # roll the live workload to `version`, no unavailable replicas
    FINISH_PROMOTION = "finish_promotion"  # router: live=`version`, no mirroring; remove candidate
    ROLLBACK = "rollback"  # router: no mirroring; remove the candidate workload (`version`)
    PAUSE = "pause"  # nothing to change in the data plane; analysis stops
    AWAIT_APPROVAL = "await_approval"  # nothing to change in the data plane; a human decides


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    version: str

    def __str__(self) -> str:
        return f"{self.kind}({self.version})"


class Signal(StrEnum):
    APPROVE = "approve"
    ABORT = "abort"
    RESUME = "resume"
    RETRY = "retry"
    PROMOTE = "promote"


@dataclass(frozen=True)
class Signals:
    """Human intent, read by the caller from annotations or spec (never from status)."""

    approve: bool = False  # promote the candidate once analysis has passed (manual mode)
    abort: bool = False  # roll the candidate back now
    resume: bool = False  # continue a Paused rollout / retry a RolledBack version
    retry: bool = False  # shadow a RolledBack candidate again with fresh counters
    promote: bool = False  # promote the candidate now, skipping what is left of the analysis

    def present(self) -> frozenset[Signal]:
        return frozenset(s for s in Signal if getattr(self, s.value))


@dataclass(frozen=True)
class Observed:
    """What the actuator sees of the workloads right now."""

    # Version the live workload serves with every replica updated and available; None
    # while it is missing or rolling.
    live_version: str | None = None
    # The candidate workload runs the status' candidate version and is available.
    candidate_ready: bool = False


@dataclass(frozen=True)
class Decision:
    status: RolloutStatus
    actions: tuple[Action, ...]  # empty: nothing to do
    reason: str  # event reason, CamelCase
    message: str  # for humans: the event message and status.message
    previous_phase: Phase
    run_verdict: Verdict | None = None  # the verdict of the analysis run made now, if any
    consumed: frozenset[Signal] = field(default_factory=frozenset)  # signals to clear
    previous_step: int | None = None  # the canary step before (status.canary.step)

    @property
    def phase_changed(self) -> bool:
        return self.status.phase != self.previous_phase

    @property
    def step_changed(self) -> bool:
        """A new canary step began (worth an event, like a new phase)."""
        return self.status.canary.step != self.previous_step
