"""Analysis checks: the names of the built-ins, custom PromQL with ``{{ variable }}``
templates, the check and result types, and ``evaluate`` for a plain number (the threshold
rule of a custom check).

What each built-in measures and how it decides lives in core/builtins.py (evidence queries
and statistics); docs/operator.md explains each with its formula. ``c`` is the candidate
version, ``s`` the stable (live) version, ``m`` the model name.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from understudy_operator.core.formatting import format_number
from understudy_operator.core.measurements import Measurement, NoData, QueryFailed, Value


class Verdict(StrEnum):
    PASS = "Pass"
    FAIL = "Fail"
    # The evidence is there but does not settle it yet (the confidence interval still
    # contains the threshold): neither pass nor fail; counts toward giveUpAfter.
    NOT_YET = "NotYet"
    # No evidence (no data, a failed query): counts toward inconclusiveLimit.
    INCONCLUSIVE = "Inconclusive"


class Method(StrEnum):
    """How a built-in check decides (docs/operator.md).

    ``confidence``: on a confidence interval — pass when it lies wholly on the good side of
    the bounds, fail when wholly on the bad side, otherwise "not yet". For rates and biases
    it is an anytime-valid confidence sequence over everything since the analysis started
    (valid however often one looks); for latency quantiles a per-interval order-statistic
    interval. ``threshold``: today's rule — the point value over the check's interval
    against the bounds, at every run.
    """

    CONFIDENCE = "confidence"
    THRESHOLD = "threshold"


CANDIDATE_ERROR_RATE = "candidate-error-rate"
LATENCY_P99_RATIO = "latency-p99-ratio"
AGREEMENT_RATE = "agreement-rate"
PREDICTION_KS = "prediction-ks"
SAMPLE_COUNT = "sample-count"

LATENCY_P50_RATIO = "latency-p50-ratio"
LATENCY_P90_RATIO = "latency-p90-ratio"
PREDICTION_PSI = "prediction-psi"
PREDICTION_WASSERSTEIN = "prediction-wasserstein"
BIAS = "bias"
SLICE_BIAS = "slice-bias"
SLICE_AGREEMENT = "slice-agreement"
REALIZED_ERROR_RATIO = "realized-error-ratio"
REALIZED_RMSE_RATIO = "realized-rmse-ratio"
LABEL_COVERAGE = "label-coverage"
INPUT_DRIFT = "input-drift"
STABLE_INPUT_DRIFT = "stable-input-drift"

BUILTIN_CHECKS = frozenset(
    {
        CANDIDATE_ERROR_RATE,
        LATENCY_P50_RATIO,
        LATENCY_P90_RATIO,
        LATENCY_P99_RATIO,
        AGREEMENT_RATE,
        PREDICTION_KS,
        PREDICTION_PSI,
        PREDICTION_WASSERSTEIN,
        BIAS,
        SLICE_BIAS,
        SLICE_AGREEMENT,
        REALIZED_ERROR_RATIO,
        REALIZED_RMSE_RATIO,
        LABEL_COVERAGE,
        INPUT_DRIFT,
        STABLE_INPUT_DRIFT,
        SAMPLE_COUNT,
    }
)
TEMPLATE_VARIABLES = ("model", "namespace", "stable", "candidate", "interval")
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Check:
    """One analysis check: a built-in (by ``name``) or custom PromQL (``query`` set).

    The check passes when its value is within ``[min, max]`` (either bound may be absent).
    ``interval_seconds`` is the range the query looks back over; None means the analysis
    interval.
    """

    name: str
    min: float | None = None
    max: float | None = None
    query: str | None = None
    interval_seconds: float | None = None
    # None: the built-in's default method (core/builtins.py); custom checks: threshold.
    method: Method | None = None

    @property
    def builtin(self) -> bool:
        return self.query is None

    @property
    def threshold(self) -> str:
        """The bounds as people read them: ``<= 0.01``, ``>= 0.9``, ``0.1..0.5``, ``none``."""
        if self.min is not None and self.max is not None:
            return f"{format_number(self.min)}..{format_number(self.max)}"
        if self.max is not None:
            return f"<= {format_number(self.max)}"
        if self.min is not None:
            return f">= {format_number(self.min)}"
        return "none"


@dataclass(frozen=True)
class QueryContext:
    """What a query is about; the values of the template variables."""

    model: str
    namespace: str
    stable: str
    candidate: str
    # The range in Prometheus syntax ("30s", "2m"), the check's own or the analysis interval.
    interval: str
    # Since the analysis started (the candidate began shadowing), as a Prometheus range:
    # the window of confidence-sequence checks (core/evidence.py). Not a template variable.
    analysis_window: str = "1s"


@dataclass(frozen=True)
class CheckResult:
    name: str
    value: float | None
    threshold: str
    verdict: Verdict
    message: str
    # The confidence interval of ``value`` (method confidence), when there is one.
    lower: float | None = None
    upper: float | None = None
    # Records the check's statistic rests on (0: unknown / not applicable).
    samples: int = 0

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "threshold": self.threshold,
            "verdict": str(self.verdict),
            "message": self.message,
        }
        # Absent, not null, when unknown; infinities (an open interval) are left out too:
        # JSON and the CRD's number type have no inf.
        for key, number in (("value", self.value), ("lower", self.lower), ("upper", self.upper)):
            if number is not None and math.isfinite(number):
                out[key] = number
        if self.samples:
            out["samples"] = self.samples
        return out

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> CheckResult:
        value = data.get("value")
        return cls(
            name=str(data.get("name", "")),
            value=float(value) if isinstance(value, int | float) else None,
            threshold=str(data.get("threshold", "")),
            verdict=Verdict(str(data.get("verdict", Verdict.INCONCLUSIVE))),
            message=str(data.get("message", "")),
            lower=_number(data.get("lower")),
            upper=_number(data.get("upper")),
            samples=int(samples) if isinstance(samples := data.get("samples"), int) else 0,
        )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def template_variables(template: str) -> set[str]:
    return set(_VARIABLE.findall(template))


def render(template: str, context: QueryContext) -> str:
    """Fill ``{{ model }}``, ``{{ namespace }}``, ``{{ stable }}``, ``{{ candidate }}``,
    ``{{ interval }}``; an unknown variable is a ``ValueError`` (parse_spec rejects it early).
    """
    values = {name: getattr(context, name) for name in TEMPLATE_VARIABLES}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ValueError(
                f"unknown template variable {{{{ {name} }}}}; known: {', '.join(values)}"
            )
        return str(values[name])

    return _VARIABLE.sub(fill, template)


def evaluate(check: Check, measurement: Measurement) -> CheckResult:
    """The verdict of one check on one measurement. No data or an error is inconclusive."""
    if isinstance(measurement, NoData):
        return CheckResult(
            name=check.name,
            value=None,
            threshold=check.threshold,
            verdict=Verdict.INCONCLUSIVE,
            message=f"no data: {measurement.reason}",
        )
    if isinstance(measurement, QueryFailed):
        return CheckResult(
            name=check.name,
            value=None,
            threshold=check.threshold,
            verdict=Verdict.INCONCLUSIVE,
            message=f"query failed: {measurement.reason}",
        )
    assert isinstance(measurement, Value)
    value = measurement.value
    if not math.isfinite(value):
        return CheckResult(
            name=check.name,
            value=None,
            threshold=check.threshold,
            verdict=Verdict.INCONCLUSIVE,
            message=f"no data: value is {value}",
        )
    too_low = check.min is not None and value < check.min
    too_high = check.max is not None and value > check.max
    if too_low or too_high:
        bound = f"min {format_number(check.min)}" if too_low else f"max {format_number(check.max)}"
        return CheckResult(
            name=check.name,
            value=value,
            threshold=check.threshold,
            verdict=Verdict.FAIL,
            message=f"{check.name} {format_number(value)} is outside {bound}",
        )
    return CheckResult(
        name=check.name,
        value=value,
        threshold=check.threshold,
        verdict=Verdict.PASS,
        message=f"{check.name} {format_number(value)} within {check.threshold}",
    )
