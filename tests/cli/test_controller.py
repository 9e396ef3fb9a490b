"""The local controller's loop with a recording actuator and a scripted metrics source
(unit tier: the real processes are in test_demo.py). The clock is simulated, so the
operator's interval and warmup rules run without waiting."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from understudy_cli.demo.controller import LocalController
from understudy_operator.core import (
    Action,
    Check,
    Evidence,
    EvidenceQuery,
    Measurement,
    Observed,
    Phase,
    QueryContext,
    RolloutStatus,
    Vector,
    parse_spec,
)

SPEC = parse_spec(
    {
        "model": {"name": "house-prices", "version": "2.0.0"},
        "analysis": {
            "interval": "1s",
            "warmup": "1s",
            "minSamples": 10,
            "successfulRuns": 2,
            "failureLimit": 2,
            "checks": [{"name": "agreement-rate", "min": 0.8}],
        },
    }
)


class RecordingWorkloads:
    """The core's Actuator port, recording every action it is asked to apply."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.live: str | None = None
        self.candidate: str | None = None

    def deploy_live(self, version: str) -> None:
        self.calls.append(("deploy_live", version))
        self.live = version

    def deploy_candidate(self, version: str) -> None:
        self.calls.append(("deploy_candidate", version))
        self.candidate = version

    def start_shadow(self, version: str) -> None:
        self.calls.append(("start_shadow", version))

    def promote(self, version: str) -> None:
        self.calls.append(("promote", version))
        self.live = version

    def finish_promotion(self, version: str) -> None:
        self.calls.append(("finish_promotion", version))
        self.candidate = None

    def rollback(self, version: str) -> None:
        self.calls.append(("rollback", version))
        self.candidate = None

    def observe(self, status: RolloutStatus) -> Observed:
        return Observed(live_version=self.live, candidate_ready=self.candidate is not None)

    def apply(self, action: Action, status: RolloutStatus) -> None:
        handler = getattr(self, str(action.kind), None)
        if handler is not None:  # pause / await_approval: nothing to do
            handler(action.version)


class ScriptedSource:
    def __init__(self, agreement: float) -> None:
        self.agreement = agreement
        self.runs = 0

    def begin_run(self) -> None:
        self.runs += 1

    def measure(self, check: Check, context: QueryContext) -> Measurement:
        raise AssertionError("SPEC has only built-in checks: they fetch evidence")

    def fetch(self, query: EvidenceQuery, context: QueryContext) -> Evidence:
        if query.metric == "understudy_router_mirror_total":
            return Vector({})  # no failed mirrors
        if not query.by:  # the sample count
            return Vector({(): 1000.0})
        agreed = round(1000 * self.agreement)
        return Vector({("true",): agreed, ("false",): 1000 - agreed})


class Clock:
    """Each reading is 0.6 s after the last: runs come every other tick."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=0.6)
        return self.now


def _controller(agreement: float) -> tuple[LocalController, RecordingWorkloads, ScriptedSource]:
    workloads, source = RecordingWorkloads(), ScriptedSource(agreement)
    controller = LocalController(
        spec=SPEC, actuator=workloads, source=source, clock=Clock(), tick_seconds=0
    )
    return controller, workloads, source


def test_a_passing_candidate_is_promoted_through_the_operators_actions():
    controller, workloads, source = _controller(agreement=0.95)
    controller.go_live("1.0.0", deadline=time.monotonic() + 10)
    result = controller.roll_out(deadline=time.monotonic() + 10)
    assert result.status.phase == Phase.PROMOTED
    assert result.status.stable_version == "2.0.0"
    names = [name for name, _ in workloads.calls]
    assert names[:3] == ["deploy_live", "deploy_candidate", "start_shadow"]
    assert names[-2:] == ["promote", "finish_promotion"]
    assert [r.verdict for r in result.runs] == ["Pass", "Pass"]
    assert source.runs == 2  # one scrape per analysis run, not per tick


def test_a_failing_candidate_is_rolled_back_and_the_runs_say_why():
    controller, workloads, _ = _controller(agreement=0.5)
    controller.go_live("1.0.0", deadline=time.monotonic() + 10)
    result = controller.roll_out(deadline=time.monotonic() + 10)
    assert result.status.phase == Phase.ROLLED_BACK
    assert result.status.stable_version == "1.0.0"
    assert ("rollback", "2.0.0") in workloads.calls
    assert ("promote", "2.0.0") not in workloads.calls
    assert [r.verdict for r in result.runs] == ["Fail", "Fail"]
    assert result.runs[-1].checks[0]["value"] == 0.5


def test_a_first_version_that_never_goes_live_times_out():
    class Broken(RecordingWorkloads):
        def deploy_live(self, version: str) -> None:
            self.calls.append(("deploy_live", version))  # never becomes live

    controller = LocalController(
        spec=SPEC, actuator=Broken(), source=ScriptedSource(1.0), clock=Clock(), tick_seconds=0
    )
    with pytest.raises(TimeoutError, match=r"1\.0\.0 did not go live"):
        controller.go_live("1.0.0", deadline=time.monotonic() + 0.2)
