"""Canary steps after the shadow: which step a rollout is at, and what it analyses.

After the shadow analysis passes (or, with ``shadow.enabled: false``, as soon as the
candidate is ready), ``spec.canary.steps`` run in order: a ``setWeight`` step makes the
router answer that share of client requests from the candidate (sticky per client; the rest
answered by live and mirrored as in the shadow) and runs its own analysis from a fresh
start — ``successfulRuns`` passes move to the next step, ``failureLimit`` failures roll back
(weight 0 in the same reconcile); a ``pause`` step holds the weight for its duration, or
until the resume signal. After the last step the candidate is promoted (weight 100 while
the live workload rolls to it). The step index lives in the status, so a restarted
operator continues the step it was in.

At a step the built-in checks judge the candidate's *real answers* where that differs from
the shadow: ``candidate-error-rate`` reads the requests it answered, the latency ratios the
latency of the answers each model gave, and ``minSamples`` counts the candidate's answers
in the step. The paired checks (agreement, bias, slices, distances) keep reading the
mirrored comparisons, and the ground-truth checks the labels, as in the shadow.
"""

from __future__ import annotations

from dataclasses import replace

from understudy_operator.core.checks import Check
from understudy_operator.core.spec import AnalysisSpec, CanaryStep, RolloutSpec
from understudy_operator.core.status import Phase, RolloutStatus


def answered(check: Check) -> Check:
    """``check`` judging the candidate's answers (core/builtins.py reads ``answered``)."""
    return replace(check, answered=True)


def step_analysis(step: CanaryStep) -> AnalysisSpec:
    """A setWeight step's analysis, its checks on the candidate's answers."""
    assert step.analysis is not None, "a pause step has no analysis"
    return replace(step.analysis, checks=tuple(answered(c) for c in step.analysis.checks))


def current_step(spec: RolloutSpec, status: RolloutStatus) -> CanaryStep | None:
    """The canary step the rollout is at (phase Canary), else None."""
    index = status.canary.step
    if status.phase != Phase.CANARY or index is None or not 0 <= index < len(spec.canary.steps):
        return None
    return spec.canary.steps[index]


def current_analysis(spec: RolloutSpec, status: RolloutStatus) -> AnalysisSpec | None:
    """The analysis in force: the shadow's while Shadowing, a weight step's at that step,
    None where nothing is analysed (a pause step, other phases)."""
    if status.phase == Phase.SHADOWING:
        return spec.analysis
    step = current_step(spec, status)
    return step_analysis(step) if step is not None and not step.pause else None
