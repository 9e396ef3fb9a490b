"""The ModelRollout status as a frozen dataclass, to and from the custom resource's dict.

Everything the operator needs to continue lives here (phase, versions, analysis counters
and timestamps), so a restarted operator picks up where the last one stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from understudy_operator.core.checks import CheckResult, Verdict


class Phase(StrEnum):
    PENDING = "Pending"  # nothing done yet
    DEPLOYING = "Deploying"  # first version going live, or candidate pods starting
    SHADOWING = "Shadowing"  # candidate receives mirrored traffic; analysis runs
    CANARY = "Canary"  # the candidate answers a share of requests (spec.canary.steps)
    AWAITING_APPROVAL = "AwaitingApproval"  # analysis passed; manual promotion waits
    PROMOTING = "Promoting"  # live Deployment rolling to the candidate version
    PROMOTED = "Promoted"  # stable version live, no candidate
    ROLLED_BACK = "RolledBack"  # candidate removed, stable kept
    PAUSED = "Paused"  # too many inconclusive runs; nothing is promoted until resumed
    FAILED = "Failed"  # the spec cannot be acted on


# Phases in which a candidate exists (being deployed, shadowed or judged).
IN_FLIGHT = frozenset(
    {
        Phase.DEPLOYING,
        Phase.SHADOWING,
        Phase.CANARY,
        Phase.AWAITING_APPROVAL,
        Phase.PAUSED,
        Phase.PROMOTING,
    }
)


def _ts(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _parse_ts(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


@dataclass(frozen=True)
class AnalysisStatus:
    """Counters of the analysis of the current candidate (reset when a new one starts)."""

    started_at: datetime | None = None  # candidate ready and mirrored since; warmup from here
    resumed_at: datetime | None = None  # last resume of a paused analysis (give-up clock)
    last_run_at: datetime | None = None  # last time the metrics were looked at
    runs: int = 0  # runs that reached a verdict (minSamples met)
    successful: int = 0
    consecutive_successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    consecutive_inconclusive: int = 0
    undecided: int = 0  # runs with evidence that did not settle a check yet ("not yet")
    samples: int = 0  # last measured sample count
    last_verdict: Verdict | None = None
    checks: tuple[CheckResult, ...] = ()
    spec_fingerprint: str | None = None  # RolloutSpec.analysis_fingerprint() analysed
    skipped: bool = False  # promoted by request without a passed analysis (promote signal)

    def to_dict(self) -> dict[str, Any]:
        return {
            "startedAt": _ts(self.started_at),
            "resumedAt": _ts(self.resumed_at),
            "lastRunAt": _ts(self.last_run_at),
            "runs": self.runs,
            "successful": self.successful,
            "consecutiveSuccessful": self.consecutive_successful,
            "failed": self.failed,
            "inconclusive": self.inconclusive,
            "consecutiveInconclusive": self.consecutive_inconclusive,
            "undecided": self.undecided,
            "samples": self.samples,
            "lastVerdict": str(self.last_verdict) if self.last_verdict else None,
            "checks": [c.to_dict() for c in self.checks],
            "specFingerprint": self.spec_fingerprint,
            "skipped": self.skipped or None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> AnalysisStatus:
        data = data or {}
        verdict = data.get("lastVerdict")
        return cls(
            started_at=_parse_ts(data.get("startedAt")),
            resumed_at=_parse_ts(data.get("resumedAt")),
            last_run_at=_parse_ts(data.get("lastRunAt")),
            runs=_int(data.get("runs")),
            successful=_int(data.get("successful")),
            consecutive_successful=_int(data.get("consecutiveSuccessful")),
            failed=_int(data.get("failed")),
            inconclusive=_int(data.get("inconclusive")),
            consecutive_inconclusive=_int(data.get("consecutiveInconclusive")),
            undecided=_int(data.get("undecided")),
            samples=_int(data.get("samples")),
            last_verdict=Verdict(verdict) if verdict else None,
            checks=tuple(CheckResult.from_dict(c) for c in data.get("checks") or ()),
            spec_fingerprint=data.get("specFingerprint") or None,
            skipped=data.get("skipped") is True,
        )


@dataclass(frozen=True)
class CanaryStatus:
    """Where the canary steps are; persisted so a restarted operator continues the step."""

    step: int | None = None  # index into spec.canary.steps; None: no canary step begun
    weight: float = 0.0  # percent of requests the candidate answers now (router weight)
    step_started_at: datetime | None = None  # the step began (a pause's duration from here)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "weight": self.weight,
            "stepStartedAt": _ts(self.step_started_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> CanaryStatus:
        data = data or {}
        step = data.get("step")
        weight = data.get("weight")
        return cls(
            step=step if isinstance(step, int) and not isinstance(step, bool) else None,
            weight=float(weight) if isinstance(weight, int | float) else 0.0,
            step_started_at=_parse_ts(data.get("stepStartedAt")),
        )


@dataclass(frozen=True)
class Condition:
    type: str  # Ready | Progressing | Promoted
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str
    last_transition_time: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": _ts(self.last_transition_time),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Condition:
        return cls(
            type=str(data.get("type", "")),
            status=str(data.get("status", "Unknown")),
            reason=str(data.get("reason", "")),
            message=str(data.get("message", "")),
            last_transition_time=_parse_ts(data.get("lastTransitionTime")),
        )


@dataclass(frozen=True)
class RolloutStatus:
    phase: Phase = Phase.PENDING
    stable_version: str | None = None  # the version serving live traffic
    candidate_version: str | None = None  # the version being rolled out (or rolled back)
    message: str = ""
    phase_since: datetime | None = None
    analysis: AnalysisStatus = field(default_factory=AnalysisStatus)
    conditions: tuple[Condition, ...] = ()
    observed_generation: int | None = None
    canary: CanaryStatus = field(default_factory=CanaryStatus)

    def to_dict(self) -> dict[str, Any]:
        """The CR status (camelCase); absent values are None so a merge patch clears them."""
        return {
            "phase": str(self.phase),
            "stableVersion": self.stable_version,
            "candidateVersion": self.candidate_version,
            "message": self.message,
            "phaseSince": _ts(self.phase_since),
            "analysis": self.analysis.to_dict(),
            "conditions": [c.to_dict() for c in self.conditions],
            "observedGeneration": self.observed_generation,
            # Only during (or after) canary steps; None clears it with a merge patch.
            "canary": self.canary.to_dict() if self.canary.step is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RolloutStatus:
        data = data or {}
        phase = data.get("phase")
        return cls(
            phase=Phase(phase) if isinstance(phase, str) and phase in set(Phase) else Phase.PENDING,
            stable_version=data.get("stableVersion") or None,
            candidate_version=data.get("candidateVersion") or None,
            message=str(data.get("message") or ""),
            phase_since=_parse_ts(data.get("phaseSince")),
            analysis=AnalysisStatus.from_dict(data.get("analysis")),
            conditions=tuple(Condition.from_dict(c) for c in data.get("conditions") or ()),
            observed_generation=data.get("observedGeneration"),
            canary=CanaryStatus.from_dict(data.get("canary")),
        )

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def with_conditions(self, now: datetime) -> RolloutStatus:
        """Ready / Progressing / Promoted derived from the phase; transition times kept."""
        ready = self.stable_version is not None
        progressing = self.phase in IN_FLIGHT or self.phase == Phase.PENDING
        wanted = [
            ("Ready", ready, "StableServing" if ready else "NoStableVersion"),
            ("Progressing", progressing, str(self.phase)),
            ("Promoted", self.phase == Phase.PROMOTED, str(self.phase)),
        ]
        conditions = []
        for type_, truth, reason in wanted:
            status = "True" if truth else "False"
            old = self.condition(type_)
            since = old.last_transition_time if old and old.status == status else now
            conditions.append(
                Condition(
                    type=type_,
                    status=status,
                    reason=reason,
                    message=self.message,
                    last_transition_time=since,
                )
            )
        return replace(self, conditions=tuple(conditions))
