"""Assessment of one analysis run: measurements in, verdict and counters out. Pure.

The rules (core/README.md): a run whose sample count is below ``minSamples`` (no series
counts as 0) gets no verdict and is not counted; otherwise it fails if any check fails,
is inconclusive if any check (or the sample count query) has no data or an error, is "not
yet" if any check's evidence does not settle it yet, and passes only when every check
passes. Counters: a pass extends the streak of consecutive passes; anything else resets it;
an inconclusive run extends the streak of consecutive inconclusive runs, which anything else
resets; a not-yet run counts in ``undecided`` (the give-up time, not inconclusiveLimit,
bounds how long it may go on).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from understudy_operator.core import builtins, ground_truth
from understudy_operator.core.checks import (
    LABEL_COVERAGE,
    SAMPLE_COUNT,
    Check,
    CheckResult,
    Verdict,
    evaluate,
)
from understudy_operator.core.judging import Judging
from understudy_operator.core.measurements import (
    CheckMeasurement,
    Measurements,
    NoData,
    QueryFailed,
    Value,
)
from understudy_operator.core.spec import AnalysisSpec
from understudy_operator.core.status import AnalysisStatus


@dataclass(frozen=True)
class RunAssessment:
    """The analysis status after the run, and its verdict (None: waiting for samples)."""

    analysis: AnalysisStatus
    verdict: Verdict | None


def assess_run(
    *, spec: AnalysisSpec, analysis: AnalysisStatus, measurements: Measurements, now: datetime
) -> RunAssessment:
    judging = spec.judging
    results = gate_on_labels(
        tuple(
            judge_check(c, measurements.checks.get(c.name, NoData("not measured")), judging)
            for c in spec.checks
        )
    )
    samples = measurements.samples
    if isinstance(samples, QueryFailed):
        # Unknown evidence is no reason to wait: the run is inconclusive, and says why.
        count = analysis.samples
        results = (
            CheckResult(
                name=SAMPLE_COUNT,
                value=None,
                threshold=f">= {spec.min_samples}",
                verdict=Verdict.INCONCLUSIVE,
                message=f"query failed: {samples.reason}",
            ),
            *results,
        )
    else:
        count = int(samples.value) if isinstance(samples, Value) else 0
        if count < spec.min_samples:
            waiting = replace(analysis, last_run_at=now, samples=count, checks=results)
            return RunAssessment(analysis=waiting, verdict=None)
    verdict = run_verdict(results)
    run = replace(
        analysis,
        last_run_at=now,
        samples=count,
        checks=results,
        runs=analysis.runs + 1,
        last_verdict=verdict,
    )
    if verdict == Verdict.PASS:
        run = replace(
            run,
            successful=analysis.successful + 1,
            consecutive_successful=analysis.consecutive_successful + 1,
            consecutive_inconclusive=0,
        )
    elif verdict == Verdict.FAIL:
        run = replace(
            run, failed=analysis.failed + 1, consecutive_successful=0, consecutive_inconclusive=0
        )
    elif verdict == Verdict.NOT_YET:
        run = replace(
            run,
            undecided=analysis.undecided + 1,
            consecutive_successful=0,
            consecutive_inconclusive=0,
        )
    else:
        run = replace(
            run,
            inconclusive=analysis.inconclusive + 1,
            consecutive_inconclusive=analysis.consecutive_inconclusive + 1,
            consecutive_successful=0,
        )
    return RunAssessment(analysis=run, verdict=verdict)


def judge_check(check: Check, measured: CheckMeasurement, judging: Judging) -> CheckResult:
    """A built-in check decides on its evidence (core/builtins.py); a custom one compares
    its number with its bounds (the threshold rule)."""
    if isinstance(measured, Value | NoData | QueryFailed):
        if check.builtin and isinstance(measured, Value):  # one number is no evidence
            measured = NoData("a built-in check is judged on its evidence, not one number")
        return evaluate(check, measured)
    if not check.builtin:
        return evaluate(check, NoData("a custom check needs one number"))
    return builtins.judge(check, measured, judging)


# Checks on realized error wait for the label-coverage gate when the analysis has one.
REALIZED = ground_truth.ON_LABELS - {LABEL_COVERAGE}


def gate_on_labels(results: tuple[CheckResult, ...]) -> tuple[CheckResult, ...]:
    """No verdict on realized error before ``label-coverage`` passes: until then a
    realized-error check that would pass or fail is "not yet" (its value stays shown)."""
    gate = next((r for r in results if r.name == LABEL_COVERAGE), None)
    if gate is None or gate.verdict is Verdict.PASS:
        return results

    def held(r: CheckResult) -> CheckResult:
        if r.name not in REALIZED or r.verdict not in (Verdict.PASS, Verdict.FAIL):
            return r
        return replace(
            r, verdict=Verdict.NOT_YET, message=f"waiting for label-coverage: {r.message}"
        )

    return tuple(held(r) for r in results)


def run_verdict(results: Iterable[CheckResult]) -> Verdict:
    """Fail if any check failed; else inconclusive if any was (or there were none); else
    not yet if any was; else pass."""
    verdicts = {r.verdict for r in results}
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    if Verdict.INCONCLUSIVE in verdicts or not verdicts:
        return Verdict.INCONCLUSIVE
    if Verdict.NOT_YET in verdicts:
        return Verdict.NOT_YET
    return Verdict.PASS
