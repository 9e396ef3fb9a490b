"""Analysis checks: the built-in ones as PromQL over the metrics of docs/contracts.md,
custom PromQL with ``{{ variable }}`` templates, and ``evaluate`` (measurement → verdict).

Every built-in check is identified by its name; a metrics source that does not speak
PromQL (the local demo scrapes ``/metrics`` itself) implements the semantics below.
``c`` is the candidate version, ``s`` the stable (live) version, ``m`` the model name,
``[i]`` the check's range (its ``interval``, default the analysis interval):

``candidate-error-rate``
    Share of mirrored requests the candidate failed, over the last ``i``:
    increase of ``understudy_router_mirror_total{model=m, candidate_version=c,
    outcome=~"candidate_error|candidate_timeout"}`` / increase of the same counter over
    all outcomes except ``dropped``. 0 when there were mirrors but no failures; no data
    when nothing was mirrored.
``latency-p99-ratio``
    p99 of ``understudy_router_upstream_duration_seconds{role="candidate", version=c}``
    divided by p99 of the same histogram for ``{role="live", version=s}``, both from the
    bucket rates over the last ``i``. Latency as the router saw it.
``agreement-rate``
    increase of ``understudy_router_compared_records_total{model=m, candidate_version=c,
    agree="true"}`` / increase of ``understudy_router_compared_records_total{model=m,
    candidate_version=c}`` over the last ``i`` (0 when nothing agreed; no data when
    nothing was compared).
``prediction-ks``
    ``understudy_router_prediction_ks_statistic{model=m, live_version=s,
    candidate_version=c}``: the router's KS statistic over its rolling windows (max over
    router replicas). No data until both windows have predictions.
``sample-count``
    Evidence about the candidate so far (counter totals, not a range): records compared
    (``understudy_router_compared_records_total{model=m, candidate_version=c}``, both
    ``agree`` values) plus mirrored requests the candidate failed (``mirror_total``
    outcomes ``candidate_error``/``candidate_timeout``). The analysis always measures it
    for the ``minSamples`` gate; counting failures means a candidate that fails every
    request still reaches ``minSamples`` and is judged (by ``candidate-error-rate``).
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
    INCONCLUSIVE = "Inconclusive"


CANDIDATE_ERROR_RATE = "candidate-error-rate"
LATENCY_P99_RATIO = "latency-p99-ratio"
AGREEMENT_RATE = "agreement-rate"
PREDICTION_KS = "prediction-ks"
SAMPLE_COUNT = "sample-count"

# Every selector names the rollout's namespace, or no namespace at all: in a cluster the
# scrape config adds a `namespace` label (so two rollouts of one model in two namespaces
# never share evidence); a local Prometheus scraping static targets adds none.
_NS = 'namespace=~"{{ namespace }}|"'
_MIRROR = (
    "understudy_router_mirror_total{" + _NS + ',model="{{ model }}",'
    'candidate_version="{{ candidate }}"'
)
_COMPARED = (
    "understudy_router_compared_records_total{" + _NS + ',model="{{ model }}",'
    'candidate_version="{{ candidate }}"'
)
_LATENCY = (
    "understudy_router_upstream_duration_seconds_bucket{" + _NS + ',model="{{ model }}",'
    'role="ROLE",version="VERSION"}'
)


def _p99(role: str, version: str) -> str:
    series = _LATENCY.replace("ROLE", role).replace("VERSION", version)
    return f"histogram_quantile(0.99, sum by (le) (rate({series}[{{{{ interval }}}}])))"


# PromQL of each built-in check. ``or vector(0)`` on numerators only: a missing
# numerator series means "none of those", a missing denominator means "no data".
BUILTIN_QUERIES: dict[str, str] = {
    CANDIDATE_ERROR_RATE: (
        f'(sum(increase({_MIRROR},outcome=~"candidate_error|candidate_timeout"}}'
        "[{{ interval }}])) or vector(0))"
        f' / sum(increase({_MIRROR},outcome!="dropped"}}[{{{{ interval }}}}]))'
    ),
    LATENCY_P99_RATIO: (f"{_p99('candidate', '{{ candidate }}')} / {_p99('live', '{{ stable }}')}"),
    AGREEMENT_RATE: (
        f'(sum(increase({_COMPARED},agree="true"}}[{{{{ interval }}}}])) or vector(0))'
        f" / sum(increase({_COMPARED}}}[{{{{ interval }}}}]))"
    ),
    PREDICTION_KS: (
        "max(understudy_router_prediction_ks_statistic{" + _NS + ',model="{{ model }}",'
        'live_version="{{ stable }}",candidate_version="{{ candidate }}"})'
    ),
    SAMPLE_COUNT: (
        f"(sum({_COMPARED}}}) or vector(0))"
        f' + (sum({_MIRROR},outcome=~"candidate_error|candidate_timeout"}}) or vector(0))'
    ),
}

BUILTIN_CHECKS = frozenset(BUILTIN_QUERIES)
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

    @property
    def builtin(self) -> bool:
        return self.query is None

    @property
    def template(self) -> str:
        """The PromQL template of this check, ``{{ }}`` variables not yet filled in."""
        return self.query if self.query is not None else BUILTIN_QUERIES[self.name]

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


@dataclass(frozen=True)
class CheckResult:
    name: str
    value: float | None
    threshold: str
    verdict: Verdict
    message: str

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "threshold": self.threshold,
            "verdict": str(self.verdict),
            "message": self.message,
        }
        if self.value is not None:  # absent, not null: no data
            out["value"] = self.value
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
        )


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
