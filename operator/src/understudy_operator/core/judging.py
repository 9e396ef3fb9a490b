"""What every built-in check shares when it turns a statistic into a verdict: the analysis-
wide settings (α, slices), the interval rule, and how a result reads.

The interval rule (``interval_verdict``) is the one place a confidence interval meets a
check's bounds: PASS when the interval lies wholly inside them, FAIL when it lies wholly
outside (beyond ``max`` or below ``min``), NOT_YET otherwise; touching a bound is not yet.
With an interval that covers the truth with probability ≥ 1 − α, a wrong PASS or a wrong
FAIL happens with probability ≤ α (core/statistics/sequential.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from understudy_operator.core.checks import Check, CheckResult, Verdict
from understudy_operator.core.formatting import format_estimate, format_number
from understudy_operator.core.statistics import Interval

DEFAULT_ALPHA = 0.05
DEFAULT_MIN_SAMPLES_PER_SLICE = 200
DECILES = 10


@dataclass(frozen=True)
class SliceSettings:
    """How the slice checks cut the records (``spec.analysis.slices``)."""

    # Upper edges of the live-prediction slices (ascending); empty: deciles of the live
    # predictions seen, groups of the router's fine bands holding about a tenth each.
    prediction_edges: tuple[float, ...] = ()
    # One categorical input field to slice by as well (the router counts its values).
    field: str | None = None
    # Slices with fewer records are not judged (their values are pooled for a field).
    min_samples: int = DEFAULT_MIN_SAMPLES_PER_SLICE


@dataclass(frozen=True)
class Judging:
    """The analysis-wide settings a built-in check decides with."""

    alpha: float = DEFAULT_ALPHA
    slices: SliceSettings = SliceSettings()


def interval_verdict(interval: Interval, check: Check) -> Verdict:
    low = check.min if check.min is not None else -math.inf
    high = check.max if check.max is not None else math.inf
    if low < interval.lower and interval.upper < high:
        return Verdict.PASS
    if interval.lower > high or interval.upper < low:
        return Verdict.FAIL
    return Verdict.NOT_YET


def excess(interval: Interval, check: Check) -> float:
    """How far the interval reaches past the bounds on the bad side (negative: the margin
    it keeps inside them); ranks slices from worst to best."""
    over = interval.upper - check.max if check.max is not None else -math.inf
    under = check.min - interval.lower if check.min is not None else -math.inf
    return max(over, under)


def point_verdict(value: float, check: Check) -> Verdict:
    too_low = check.min is not None and value < check.min
    too_high = check.max is not None and value > check.max
    return Verdict.FAIL if too_low or too_high else Verdict.PASS


_OUTCOME_WORDS = {
    Verdict.PASS: "within",
    Verdict.FAIL: "outside",
    Verdict.NOT_YET: "not yet decided against",
}


def interval_result(
    check: Check, interval: Interval, *, samples: int, what: str = "", alpha: float
) -> CheckResult:
    """The result of deciding ``check`` on ``interval`` (a confidence interval at 1 − α)."""
    verdict = interval_verdict(interval, check)
    where = f" {what}" if what else ""
    level = f"{100 * (1 - alpha):.4g}%"
    shown = format_estimate(interval.estimate, interval.lower, interval.upper)
    message = (
        f"{check.name}{where} {shown} ({level}, {samples} samples) "
        f"{_OUTCOME_WORDS[verdict]} {check.threshold}"
    )
    return CheckResult(
        name=check.name,
        value=_finite(interval.estimate),
        threshold=check.threshold,
        verdict=verdict,
        message=message,
        lower=interval.lower,
        upper=interval.upper,
        samples=samples,
    )


def point_result(check: Check, value: float, *, samples: int, what: str = "") -> CheckResult:
    verdict = point_verdict(value, check)
    where = f" {what}" if what else ""
    return CheckResult(
        name=check.name,
        value=value,
        threshold=check.threshold,
        verdict=verdict,
        message=(
            f"{check.name}{where} {format_number(value)} "
            f"{_OUTCOME_WORDS[verdict]} {check.threshold}"
        ),
        samples=samples,
    )


def undecided(check: Check, verdict: Verdict, message: str, *, samples: int = 0) -> CheckResult:
    """A result without a value: no data (INCONCLUSIVE) or too little (NOT_YET)."""
    return CheckResult(
        name=check.name,
        value=None,
        threshold=check.threshold,
        verdict=verdict,
        message=message,
        samples=samples,
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def money(value: float) -> str:
    """$183k, $1.2M: slice edges as people read prices."""
    if math.isinf(value):
        return "∞"
    if abs(value) >= 1e6:
        return f"${value / 1e6:.3g}M"
    if abs(value) >= 1e3:
        return f"${value / 1e3:.3g}k"
    return f"${value:.3g}"
