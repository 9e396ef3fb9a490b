"""The built-in checks: what each asks the metrics source for (core/evidence.py) and how it
turns that evidence into a verdict (core/statistics). docs/operator.md explains each for
users, with its formula and when it says "not yet"; the metric names are docs/contracts.md's.

=========================  ==========================================  ===================
check                      statistic                                   methods (default 1st)
=========================  ==========================================  ===================
candidate-error-rate       failed mirrors / mirrors (not dropped)      confidence, threshold
agreement-rate             agreeing records / compared records         confidence, threshold
bias                       mean (candidate − live) / live per record    confidence, threshold
slice-agreement            agreement-rate per slice (core/slices.py)   confidence, threshold
slice-bias                 bias per slice (core/slices.py)             confidence, threshold
latency-p50/p90/p99-ratio  candidate / live latency quantile           confidence, threshold
prediction-ks              KS distance of the prediction histograms    threshold
prediction-psi             PSI over deciles of the live predictions    threshold
prediction-wasserstein     W1 of the predictions / mean live prediction threshold
realized-error-ratio       candidate MAE / live MAE on labelled records confidence, threshold
realized-rmse-ratio        candidate RMSE / live RMSE, labelled records threshold
label-coverage             labelled pairs since the start (a gate)      threshold
input-drift                worst feature's PSI, candidate's reference  threshold
stable-input-drift         the same against the stable's reference     threshold
sample-count               compared records + failed mirrors (totals)  (the minSamples gate)
=========================  ==========================================  ===================

Windows: ``confidence`` on rates and biases is an anytime-valid confidence sequence, so it
reads everything since the analysis started (``analysis``); ``threshold`` reads the check's
interval, as before. Latency bounds are per interval (a quantile of a shared, loaded machine
drifts; a fixed window compares like with like). Distribution distances read the check's
``interval`` when one is given, else everything since the analysis started (a distance over
a few hundred predictions is mostly noise).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from understudy_operator.core import drift, ground_truth, slices
from understudy_operator.core.checks import (
    AGREEMENT_RATE,
    BIAS,
    CANDIDATE_ERROR_RATE,
    INPUT_DRIFT,
    LABEL_COVERAGE,
    LATENCY_P50_RATIO,
    LATENCY_P90_RATIO,
    LATENCY_P99_RATIO,
    PREDICTION_KS,
    PREDICTION_PSI,
    PREDICTION_WASSERSTEIN,
    REALIZED_ERROR_RATIO,
    REALIZED_RMSE_RATIO,
    SAMPLE_COUNT,
    SLICE_AGREEMENT,
    SLICE_BIAS,
    STABLE_INPUT_DRIFT,
    Check,
    CheckResult,
    Method,
    Verdict,
)
from understudy_operator.core.evidence import (
    Evidence,
    EvidenceQuery,
    Matcher,
    Op,
    Vector,
    Window,
    eq,
    window_of,
)
from understudy_operator.core.judging import (
    Judging,
    interval_result,
    point_result,
    undecided,
)
from understudy_operator.core.measurements import Measurement, NoData, QueryFailed, Value
from understudy_operator.core.paired import (
    CANDIDATE,
    MODEL,
    Parts,
    bias_result,
    moment_parts,
    moments_of,
    rate_result,
)
from understudy_operator.core.statistics import (
    Histogram,
    histogram_quantile,
    ks_distance,
    min_samples_for_quantile,
    psi,
    quantile_ratio_check,
    wasserstein_distance,
)

MIRROR = "understudy_router_mirror_total"
COMPARED = "understudy_router_compared_records_total"
LATENCY_BUCKETS = "understudy_router_upstream_duration_seconds_bucket"
PREDICTION_BUCKETS = "understudy_router_prediction_value_bucket"
PREDICTION_SUM = "understudy_router_prediction_value_sum"
PREDICTION_COUNT = "understudy_router_prediction_value_count"
# Mirror outcomes that are the candidate's fault; "dropped" (the router's own queue was
# full) is nobody's verdict on the candidate and is left out of the denominator.
FAILURES = ("candidate_error", "candidate_timeout")

Judge = Callable[[Check, Mapping[str, Vector], Judging], CheckResult]


@dataclass(frozen=True)
class Builtin:
    name: str
    methods: tuple[Method, ...]  # the first is the default
    parts: Callable[[Check, Judging], Parts]
    judge: Judge

    def method(self, check: Check) -> Method:
        return check.method or self.methods[0]


def judge(check: Check, evidence: Mapping[str, Evidence], judging: Judging) -> CheckResult:
    """The verdict of built-in ``check`` on the evidence its parts fetched. A part that
    failed or found nothing makes the check inconclusive and says which."""
    for part, answer in evidence.items():
        if isinstance(answer, QueryFailed):
            return undecided(check, Verdict.INCONCLUSIVE, f"query failed ({part}): {answer.reason}")
        if isinstance(answer, NoData):
            return undecided(check, Verdict.INCONCLUSIVE, f"no data ({part}): {answer.reason}")
    vectors = {part: answer for part, answer in evidence.items() if isinstance(answer, Vector)}
    try:
        return BUILTINS[check.name].judge(check, vectors, judging)
    except (ValueError, ZeroDivisionError) as exc:
        # Evidence the statistics cannot use (mismatched buckets, negative counts): not a
        # verdict on the candidate.
        return undecided(check, Verdict.INCONCLUSIVE, f"unusable evidence: {exc}")


# ---------------------------------------------------------------------------------------
# rates


def _error_rate_parts(check: Check, judging: Judging) -> Parts:
    window = window_of(check.method)
    return {"mirror": EvidenceQuery(MIRROR, (MODEL, CANDIDATE), ("outcome",), window)}


def _error_rate(check: Check, ev: Mapping[str, Vector], judging: Judging) -> CheckResult:
    by_outcome = ev["mirror"].values
    trials = sum(v for (outcome,), v in by_outcome.items() if outcome != "dropped")
    failed = sum(v for (outcome,), v in by_outcome.items() if outcome in FAILURES)
    return rate_result(check, failed, trials, judging, unit="mirrored requests")


def _agreement_parts(check: Check, judging: Judging) -> Parts:
    window = window_of(check.method)
    return {"compared": EvidenceQuery(COMPARED, (MODEL, CANDIDATE), ("agree",), window)}


def _agreement(check: Check, ev: Mapping[str, Vector], judging: Judging) -> CheckResult:
    compared = ev["compared"]
    return rate_result(
        check, compared.get("true"), compared.total(), judging, unit="compared records"
    )


# ---------------------------------------------------------------------------------------
# bias: the mean signed relative difference (core/paired.py)


def _bias_parts(check: Check, judging: Judging) -> Parts:
    return moment_parts(window_of(check.method), slice_by="all")


def _bias(check: Check, ev: Mapping[str, Vector], judging: Judging) -> CheckResult:
    return bias_result(check, moments_of(ev), judging, exact_count=ev["count"].total())


# ---------------------------------------------------------------------------------------
# histograms: latency quantiles and prediction distributions


def histogram_of(vector: Vector) -> Histogram | None:
    """A Histogram from ``sum by (le)`` increases (cumulative, +Inf last); None if empty."""
    if not vector.values:
        return None
    by_edge = sorted((float(le), v) for (le,), v in vector.values.items())
    if not math.isinf(by_edge[-1][0]):
        raise ValueError("the histogram has no +Inf bucket")
    edges = tuple(e for e, _ in by_edge[:-1])
    return Histogram.from_cumulative(edges, [v for _, v in by_edge])


def _pair_histograms(
    check: Check, ev: Mapping[str, Vector], what: str
) -> tuple[Histogram, Histogram] | CheckResult:
    try:
        live, candidate = histogram_of(ev["live"]), histogram_of(ev["candidate"])
    except ValueError as exc:
        return undecided(check, Verdict.INCONCLUSIVE, f"unreadable {what} histogram: {exc}")
    for role, h in (("live", live), ("candidate", candidate)):
        if h is None or h.total <= 0:
            return undecided(check, Verdict.INCONCLUSIVE, f"no data: no {role} {what} yet")
    assert live is not None and candidate is not None
    if live.edges != candidate.edges:
        return undecided(
            check,
            Verdict.INCONCLUSIVE,
            f"the live and candidate {what} histograms have different bucket edges "
            "(routers with different settings?); they cannot be compared",
        )
    return live, candidate


def _latency_parts(check: Check, judging: Judging) -> Parts:
    def role(name: str, version: str) -> EvidenceQuery:
        matchers = (MODEL, eq("role", name), eq("version", version))
        return EvidenceQuery(LATENCY_BUCKETS, matchers, ("le",), Window.INTERVAL)

    return {"live": role("live", "{{ stable }}"), "candidate": role("candidate", "{{ candidate }}")}


def _latency(q: float) -> Judge:
    def judge(check: Check, ev: Mapping[str, Vector], judging: Judging) -> CheckResult:
        pair = _pair_histograms(check, ev, "latency")
        if isinstance(pair, CheckResult):
            return pair
        live, candidate = pair
        n = round(min(live.total, candidate.total))
        if check.method is Method.THRESHOLD:
            ratio = histogram_quantile(candidate, q) / histogram_quantile(live, q)
            if not math.isfinite(ratio):
                return undecided(check, Verdict.INCONCLUSIVE, "no data: live latency is 0")
            return point_result(check, ratio, samples=n)
        needed = min_samples_for_quantile(q, alpha=judging.alpha)
        if n < needed:
            return undecided(
                check,
                Verdict.NOT_YET,
                f"not yet: {n} requests per role in the interval, a p{100 * q:g} bound needs "
                f"{needed} (lengthen the check's interval for more)",
                samples=n,
            )
        threshold = check.max if check.max is not None else math.inf
        bounds = quantile_ratio_check(
            live=live, candidate=candidate, q=q, max_ratio=threshold, alpha=judging.alpha
        ).ratio
        return interval_result(check, bounds, samples=n, alpha=judging.alpha)

    return judge


def _prediction_parts(check: Check, judging: Judging) -> Parts:
    window = Window.INTERVAL if check.interval_seconds else Window.ANALYSIS

    def role(name: str, version: str, metric: str, by: tuple[str, ...]) -> EvidenceQuery:
        return EvidenceQuery(metric, (MODEL, eq("role", name), eq("version", version)), by, window)

    parts = {
        "live": role("live", "{{ stable }}", PREDICTION_BUCKETS, ("le",)),
        "candidate": role("candidate", "{{ candidate }}", PREDICTION_BUCKETS, ("le",)),
    }
    if check.name == PREDICTION_WASSERSTEIN:
        # Predictions are positive, so their _sum is a monotone counter: the exact mean.
        parts["live_sum"] = role("live", "{{ stable }}", PREDICTION_SUM, ())
        parts["live_count"] = role("live", "{{ stable }}", PREDICTION_COUNT, ())
    return parts


def _distance(
    statistic: Callable[[Histogram, Histogram, Mapping[str, Vector]], float | None],
) -> Judge:
    def judge(check: Check, ev: Mapping[str, Vector], judging: Judging) -> CheckResult:
        pair = _pair_histograms(check, ev, "prediction")
        if isinstance(pair, CheckResult):
            return pair
        live, candidate = pair
        value = statistic(live, candidate, ev)
        n = round(min(live.total, candidate.total))
        if value is None:
            return undecided(check, Verdict.INCONCLUSIVE, "no data: mean live prediction is 0")
        return point_result(check, value, samples=n)

    return judge


def _psi(live: Histogram, candidate: Histogram, ev: Mapping[str, Vector]) -> float:
    # PSI over ~200 fine buckets is inflated by sampling noise (its null expectation grows
    # with the bucket count), so it is taken over deciles of the live predictions, the usual
    # reading of its 0.1 / 0.25 scale.
    groups = slices.decile_groups(live.counts)
    return psi(slices.regroup(live, groups), slices.regroup(candidate, groups))


def _wasserstein(live: Histogram, candidate: Histogram, ev: Mapping[str, Vector]) -> float | None:
    count = ev["live_count"].total()
    mean = ev["live_sum"].total() / count if count > 0 else 0.0
    if mean <= 0:
        return None
    return wasserstein_distance(live, candidate) / mean


def _ks(live: Histogram, candidate: Histogram, ev: Mapping[str, Vector]) -> float:
    return ks_distance(live, candidate)


# ---------------------------------------------------------------------------------------
# the minSamples gate


def samples_parts(check: Check, judging: Judging) -> Parts:
    failures = Matcher("outcome", Op.RE, "|".join(FAILURES))
    return {
        "compared": EvidenceQuery(COMPARED, (MODEL, CANDIDATE), (), Window.TOTAL),
        "failed": EvidenceQuery(MIRROR, (MODEL, CANDIDATE, failures), (), Window.TOTAL),
    }


def sample_count(ev: Mapping[str, Vector]) -> Measurement:
    """Records compared plus mirrors the candidate failed (a candidate failing every
    request still reaches minSamples and is judged by candidate-error-rate)."""
    if not ev["compared"].values and not ev["failed"].values:
        return NoData("no comparisons yet")
    return Value(ev["compared"].total() + ev["failed"].total())


def _no_judge(check: Check, ev: Mapping[str, Vector], judging: Judging) -> CheckResult:
    raise ValueError("sample-count is the minSamples gate, not a check")


RATE_METHODS = (Method.CONFIDENCE, Method.THRESHOLD)
THRESHOLD_ONLY = (Method.THRESHOLD,)
# The checks whose minSamples can be derived from a detectable effect (spec detect).
RATE_CHECKS = frozenset({CANDIDATE_ERROR_RATE, AGREEMENT_RATE})

BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin(CANDIDATE_ERROR_RATE, RATE_METHODS, _error_rate_parts, _error_rate),
        Builtin(AGREEMENT_RATE, RATE_METHODS, _agreement_parts, _agreement),
        Builtin(BIAS, RATE_METHODS, _bias_parts, _bias),
        Builtin(SLICE_AGREEMENT, RATE_METHODS, slices.agreement_parts, slices.agreement),
        Builtin(SLICE_BIAS, RATE_METHODS, slices.bias_parts, slices.bias),
        Builtin(LATENCY_P50_RATIO, RATE_METHODS, _latency_parts, _latency(0.50)),
        Builtin(LATENCY_P90_RATIO, RATE_METHODS, _latency_parts, _latency(0.90)),
        Builtin(LATENCY_P99_RATIO, RATE_METHODS, _latency_parts, _latency(0.99)),
        Builtin(PREDICTION_KS, THRESHOLD_ONLY, _prediction_parts, _distance(_ks)),
        Builtin(PREDICTION_PSI, THRESHOLD_ONLY, _prediction_parts, _distance(_psi)),
        Builtin(PREDICTION_WASSERSTEIN, THRESHOLD_ONLY, _prediction_parts, _distance(_wasserstein)),
        Builtin(
            REALIZED_ERROR_RATIO,
            RATE_METHODS,
            ground_truth.error_ratio_parts,
            ground_truth.error_ratio,
        ),
        Builtin(
            REALIZED_RMSE_RATIO,
            THRESHOLD_ONLY,
            ground_truth.rmse_ratio_parts,
            ground_truth.rmse_ratio,
        ),
        Builtin(LABEL_COVERAGE, THRESHOLD_ONLY, ground_truth.coverage_parts, ground_truth.coverage),
        Builtin(INPUT_DRIFT, THRESHOLD_ONLY, drift.candidate_parts, drift.judge),
        Builtin(STABLE_INPUT_DRIFT, THRESHOLD_ONLY, drift.stable_parts, drift.judge),
        Builtin(SAMPLE_COUNT, THRESHOLD_ONLY, samples_parts, _no_judge),
    )
}
