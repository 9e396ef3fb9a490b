"""The local rollout controller: the operator's decision core driving local processes.

Each tick is one ``run_step`` of the core, as the operator's reconcile is: observe the
local workloads, measure if an analysis run is due (Prometheus or the router's
/metrics), decide, and carry out the actions through the local actuator. The rules —
warmup, minSamples, consecutive passes, failure and inconclusive limits — are exactly the
operator's, because they are its code; this module only loops and records.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from understudy_cli.interrupt import raise_if_requested
from understudy_operator.core import (
    Actuator,
    Decision,
    MetricsSource,
    ModelRef,
    Phase,
    RolloutSpec,
    RolloutStatus,
    Signals,
    run_step,
)

# Phases in which the demo has an answer and stops.
FINAL_PHASES = frozenset({Phase.ROLLED_BACK, Phase.PAUSED, Phase.AWAITING_APPROVAL, Phase.FAILED})
LOCAL_NAMESPACE = "local"


@dataclass
class RunRecord:
    number: int
    at: float
    verdict: str
    samples: int
    checks: list[dict[str, Any]]
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "at": self.at,
            "verdict": self.verdict,
            "samples": self.samples,
            "checks": self.checks,
            "message": self.message,
        }


@dataclass
class ControllerResult:
    status: RolloutStatus
    runs: list[RunRecord] = field(default_factory=list)
    events: list[tuple[float, str, str]] = field(default_factory=list)
    timed_out: bool = False


def spec_for_version(spec: RolloutSpec, version: str) -> RolloutSpec:
    return replace(
        spec, model=ModelRef(name=spec.model.name, version=version, image=spec.model.image)
    )


class LocalController:
    def __init__(
        self,
        *,
        spec: RolloutSpec,
        actuator: Actuator,
        source: MetricsSource,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_change: Callable[[ControllerResult, Decision], None] | None = None,
        tick_seconds: float = 0.2,
    ) -> None:
        self.spec = spec
        self.actuator = actuator
        self.source = source
        self.clock = clock
        self.on_change = on_change or (lambda result, decision: None)
        self.tick_seconds = tick_seconds
        self.result = ControllerResult(status=RolloutStatus())
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def step(self, spec: RolloutSpec, signals: Signals | None = None) -> Decision:
        status = self.result.status
        step = run_step(
            spec=spec,
            status=status,
            source=self.source,
            actuator=self.actuator,
            namespace=LOCAL_NAMESPACE,
            now=self.clock(),
            signals=signals or Signals(),
        )
        decision = step.decision
        previous_run = status.analysis.last_run_at
        self.result.status = decision.status
        if decision.status.analysis.last_run_at != previous_run and step.measurements is not None:
            self._record_run(decision)
        if decision.phase_changed or decision.step_changed:
            self.result.events.append((self.elapsed(), decision.reason, decision.message))
        self.on_change(self.result, decision)
        return decision

    def _record_run(self, decision: Decision) -> None:
        analysis = decision.status.analysis
        verdict = str(decision.run_verdict) if decision.run_verdict else "WaitingForSamples"
        self.result.runs.append(
            RunRecord(
                number=len(self.result.runs) + 1,
                at=self.elapsed(),
                verdict=verdict,
                samples=analysis.samples,
                checks=[c.to_dict() for c in analysis.checks],
                message=decision.message,
            )
        )

    def go_live(self, version: str, *, deadline: float) -> None:
        """The first version: deployed as live directly, as the operator does."""
        spec = spec_for_version(self.spec, version)
        while self.result.status.phase != Phase.PROMOTED:
            self.step(spec)
            if self.result.status.phase != Phase.PROMOTED and not self._wait(deadline):
                raise TimeoutError(f"{version} did not go live before the deadline")

    def roll_out(self, *, deadline: float) -> ControllerResult:
        """Shadow the spec's version until promoted, rolled back or paused."""
        target = self.spec.model.version
        while True:
            status = self.step(self.spec).status
            if status.phase in FINAL_PHASES:
                return self.result
            if status.phase == Phase.PROMOTED and status.stable_version == target:
                return self.result
            if not self._wait(deadline):
                self.result.timed_out = True
                return self.result

    def _wait(self, deadline: float) -> bool:
        raise_if_requested()  # a Ctrl-C whose own KeyboardInterrupt was lost (interrupt.py)
        if time.monotonic() >= deadline:
            return False
        time.sleep(self.tick_seconds)  # the controller's timer, as kopf's timer is
        raise_if_requested()
        return True
