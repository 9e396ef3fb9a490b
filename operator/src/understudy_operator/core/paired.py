"""Paired evidence: live and candidate answered the same record, so the per-record signed
relative difference d = (candidate − live) / live and the per-record agreement are
one-sample questions (a mean, a proportion) — far fewer samples than comparing two
independent distributions. Shared by ``bias``, ``agreement-rate`` and the slice checks.

The router counts, per slice (``slice_by="all"`` for every record), the records by
agreement and the moments of d as four monotone counters (count, Σ max(d, 0),
Σ max(−d, 0), Σ d²; docs/contracts.md): summed over replicas and windows they give the
exact mean and variance of the merged records.
"""

from __future__ import annotations

from collections.abc import Mapping

from understudy_operator.core.checks import Check, CheckResult, Method, Verdict
from understudy_operator.core.evidence import EvidenceQuery, Vector, Window, eq
from understudy_operator.core.judging import Judging, interval_result, point_result, undecided
from understudy_operator.core.statistics import (
    Moments,
    mean_confidence_sequence,
    prior_for_threshold,
    rate_confidence_sequence,
)

PAIRED_RECORDS = "understudy_router_paired_records_total"
MOMENT_METRICS = {
    "count": "understudy_router_paired_rel_diff_count_total",
    "positive": "understudy_router_paired_rel_diff_positive_total",
    "negative": "understudy_router_paired_rel_diff_negative_total",
    "squares": "understudy_router_paired_rel_diff_squares_total",
}

MODEL = eq("model", "{{ model }}")
CANDIDATE = eq("candidate_version", "{{ candidate }}")
PAIR = (MODEL, eq("live_version", "{{ stable }}"), CANDIDATE)

Parts = Mapping[str, EvidenceQuery]


def count(value: float) -> int:
    """Prometheus' increase() extrapolates, so counts arrive as floats near integers."""
    return max(0, round(value))


def rate_result(
    check: Check, successes: float, trials: float, judging: Judging, *, unit: str, what: str = ""
) -> CheckResult:
    """A rate check: the point rate (threshold) or its beta-binomial confidence sequence,
    with the prior centred on the bound when there is one bound inside (0, 1)."""
    n, k = count(trials), min(count(successes), count(trials))
    if n == 0 or trials <= 0:
        return undecided(check, Verdict.INCONCLUSIVE, f"no data: no {unit} yet")
    if check.method is Method.THRESHOLD:
        # the ratio of the increases as they came (Prometheus extrapolates them to
        # fractions; rounding first would move the ratio), as the old PromQL division did
        return point_result(check, min(1.0, max(0.0, successes / trials)), samples=n, what=what)
    bound = check.max if check.min is None else check.min
    single = (check.min is None) != (check.max is None)
    prior = prior_for_threshold(bound) if single and bound is not None and 0 < bound < 1 else None
    interval = rate_confidence_sequence(k, n, alpha=judging.alpha, prior=prior)
    return interval_result(check, interval, samples=n, what=what, alpha=judging.alpha)


def records_parts(window: Window, *, slice_by: str, by: tuple[str, ...]) -> Parts:
    matchers = (*PAIR, eq("slice_by", slice_by))
    return {"records": EvidenceQuery(PAIRED_RECORDS, matchers, by, window)}


def moment_parts(window: Window, *, slice_by: str, by: tuple[str, ...] = ()) -> Parts:
    matchers = (*PAIR, eq("slice_by", slice_by))
    return {
        part: EvidenceQuery(metric, matchers, by, window) for part, metric in MOMENT_METRICS.items()
    }


def moments_of(ev: Mapping[str, Vector], key: tuple[str, ...] = ()) -> Moments:
    """Moments(count, Σd, Σd²) of the key's series; Σd = Σ max(d, 0) − Σ max(−d, 0) (two
    monotone counters, because increase() reads a falling counter as a reset)."""
    total = ev["positive"].values.get(key, 0.0) - ev["negative"].values.get(key, 0.0)
    return Moments(
        count(ev["count"].values.get(key, 0.0)), total, ev["squares"].values.get(key, 0.0)
    )


def bias_result(
    check: Check,
    moments: Moments,
    judging: Judging,
    *,
    what: str = "",
    alpha: float | None = None,
    exact_count: float = 0.0,
) -> CheckResult:
    """The mean of d: point (threshold) or the asymptotic confidence sequence at ``alpha``
    (default the analysis' α; slices pass a Bonferroni share). ``exact_count``: the count
    before rounding (the point mean divides by it, as PromQL would)."""
    if moments.count < 2:
        return undecided(check, Verdict.INCONCLUSIVE, "no data: fewer than 2 paired records")
    if check.method is Method.THRESHOLD:
        mean = moments.total / exact_count if exact_count else moments.mean
        return point_result(check, mean, samples=moments.count, what=what)
    level = judging.alpha if alpha is None else alpha
    interval = mean_confidence_sequence(moments, alpha=level)
    return interval_result(check, interval, samples=moments.count, what=what, alpha=level)
