"""Confidence bounds for a quantile from histogram counts, and a latency ratio rule that
says "not yet" instead of guessing from a handful of slow requests.

Quantile bounds — ``quantile_bounds`` (distribution-free, exact in rank terms)
    n i.i.d. values from a continuous distribution with q-quantile ξ: the number of values
    ≤ ξ is Binomial(n, q). So the r-th smallest value X_(r) exceeds ξ with probability
    P(Bin(n, q) ≤ r − 1), and falls below it with probability P(Bin(n, q) ≥ r). The lower
    bound is X_(l) with the largest l such that P(Bin ≤ l − 1) ≤ α/2, the upper X_(u) with
    the smallest u such that P(Bin ≥ u) ≤ α/2: P(X_(l) ≤ ξ ≤ X_(u)) ≥ 1 − α (the classical
    order-statistic interval; e.g. David & Nagaraja, "Order Statistics", 3rd ed., §7.1).
    From a histogram only the bucket of each order statistic is known: the lower bound is
    the lower edge of X_(l)'s bucket and the upper bound the upper edge of X_(u)'s, which
    only widens the interval (still ≥ 1 − α). No lower rank exists when
    P(Bin(n, q) = 0) > α/2 (bound 0), no upper one when P(Bin(n, q) = n) > α/2 (bound
    +inf): a p99 needs n > ln(α/2) / ln(0.99) = 367.04, 368 values, before it has any upper bound at
    α = 0.05. The first bucket's lower edge is ``floor``: 0 for latencies (the default),
    −inf for signed values — with it the same bounds give a distribution-free interval for
    the *median* signed relative difference (``q`` = 0.5), the robust alternative to the
    mean for a bias check. The estimate is Prometheus' ``histogram_quantile`` (linear
    inside the bucket).
    These are fixed-sample intervals: valid for one window at a time, not uniformly over
    repeated looks (a quantile CS exists — Howard & Ramdas, "Sequential estimation of
    quantiles with applications to A/B-testing and best-arm identification", Bernoulli
    28(3), 2022 — not implemented here).

Bucket resolution (measured, tests/operator/statistics/test_quantiles.py)
    Bounds at bucket edges can be no finer than the buckets. With the router's current
    latency buckets (understudy_common.metrics, 2–2.5× apart) the candidate's upper bound
    over live's lower bound is at least one bucket ratio (≥ 2) even for identical latency,
    so a ``max_ratio`` of 1.5 can never PASS (always NOT_YET), and a 3× slower candidate
    FAILS at p50 but hardly at p90 or p99. With log-spaced buckets 1.1× apart (121 edges
    from 0.1 ms to 10 s by ``understudy_common.histogram.log_spaced_edges``) the same
    rule, at α = 0.05 and max 1.5, covers the true quantile in 96–100% of windows, passes
    identical latency in 94–100% of them (p50 n = 300, p90 n = 500, p99 n = 2,000), and
    fails a 3× slower candidate in all. ``interpolate=True`` places bounds inside buckets
    as ``histogram_quantile`` does: with the coarse buckets its intervals do *not* cover
    (p90: 12% of windows, p99: 0%) — only a stopgap for coarse buckets, whose error cancels
    when both sides have the same shape. Use fine buckets.

Ratio rule — ``quantile_ratio_check``
    With the candidate's interval [c_lo, c_hi] and live's [l_lo, l_hi] for the same q, the
    ratio of the true quantiles lies in [c_lo / l_hi, c_hi / l_lo] unless one of the four
    one-sided bounds missed. PASS when c_hi / l_lo < max (the candidate is surely not that
    much slower), FAIL when c_lo / l_hi > max (surely slower), otherwise NOT_YET. A wrong
    PASS needs c_hi or l_lo to miss on its side (≤ α/2 each): ≤ α per window; a wrong FAIL
    likewise ≤ α. Few samples give wide intervals and so NOT_YET, never a FAIL from the top
    handful of requests. What the intervals cannot know: a window in which the machine was
    slow for the candidate only is not sampling noise; compare a lower quantile (p50, p90)
    to be robust to a few stalls.

Minimum samples — ``min_samples_for_quantile``
    The smallest n for which the upper bound is a finite order statistic with at least
    ``beyond`` values above it: u ≤ n − beyond, i.e. P(Bin(n, q) ≥ n − beyond + 1) ≤ α/2.
    α = 0.05: p99 → 368 (beyond = 0), 720 (beyond = 2); p90 → 36; p50 → 6.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from understudy_operator.core.statistics.distributions import Histogram
from understudy_operator.core.statistics.sequential import Interval, Outcome
from understudy_operator.core.statistics.special import binomial_cdf


def _check(q: float, alpha: float) -> None:
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be inside (0, 1) (got {q})")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be inside (0, 1) (got {alpha})")


def order_statistic_ranks(n: int, q: float, *, alpha: float = 0.05) -> tuple[int, int]:
    """(l, u): ranks (1-based) of the order statistics bounding the q-quantile at 1 − α.
    l = 0 means no lower bound, u = n + 1 no upper bound."""
    _check(q, alpha)
    if n < 0:
        raise ValueError(f"n must be ≥ 0 (got {n})")
    half = alpha / 2.0
    # l: the largest r in 1..n with P(Bin ≤ r − 1) ≤ α/2 (the cdf rises with r).
    low, high = 0, n + 1  # invariant: r = low satisfies (or is 0), r = high does not
    while high - low > 1:
        mid = (low + high) // 2
        if binomial_cdf(mid - 1, n, q) <= half:
            low = mid
        else:
            high = mid
    lower = low
    # u: the smallest r in 1..n with P(Bin ≥ r) = 1 − P(Bin ≤ r − 1) ≤ α/2.
    low, high = 0, n + 1  # r = high satisfies (or is n + 1), r = low does not
    while high - low > 1:
        mid = (low + high) // 2
        if 1.0 - binomial_cdf(mid - 1, n, q) <= half:
            high = mid
        else:
            low = mid
    return lower, high


def _bucket_of_rank(cumulative: tuple[float, ...], rank: int) -> int:
    for index, running in enumerate(cumulative):
        if running >= rank:
            return index
    return len(cumulative) - 1


def _lower_edge(histogram: Histogram, bucket: int, floor: float) -> float:
    return floor if bucket == 0 else histogram.edges[bucket - 1]


def _check_floor(histogram: Histogram, floor: float) -> None:
    if histogram.edges and not floor < histogram.edges[0]:
        raise ValueError(f"floor {floor} must lie below the first edge {histogram.edges[0]}")


def _upper_edge(histogram: Histogram, bucket: int) -> float:
    return math.inf if bucket >= len(histogram.edges) else histogram.edges[bucket]


def histogram_quantile(histogram: Histogram, q: float, *, floor: float = 0.0) -> float:
    """Prometheus' estimate: linear inside the bucket holding rank q·n (nan when empty;
    the upper finite edge when the rank falls in the +Inf bucket, or in the first bucket
    with ``floor`` = −inf). ``floor``: the lowest possible value (0 for latencies, −inf
    for signed values such as relative differences)."""
    _check_floor(histogram, floor)
    total = histogram.total
    if total <= 0:
        return math.nan
    rank = q * total
    cumulative = histogram.cumulative()
    bucket = next(i for i, c in enumerate(cumulative) if c >= rank)
    if bucket >= len(histogram.edges):
        return histogram.edges[-1] if histogram.edges else math.nan
    below = cumulative[bucket - 1] if bucket else 0.0
    inside = histogram.counts[bucket]
    low, high = _lower_edge(histogram, bucket, floor), _upper_edge(histogram, bucket)
    if inside <= 0 or math.isinf(low):
        return high
    return low + (high - low) * (rank - below) / inside


def _position(histogram: Histogram, rank: int, *, upper: bool, floor: float) -> float:
    """Where the rank-th value sits if its bucket's values are spread evenly: the j-th of
    m values in [a, b] lies in [a + (b − a)(j − 1)/m, a + (b − a) j/m]; the lower end for
    a lower bound, the upper end for an upper bound."""
    cumulative = histogram.cumulative()
    bucket = _bucket_of_rank(cumulative, rank)
    low, high = _lower_edge(histogram, bucket, floor), _upper_edge(histogram, bucket)
    if math.isinf(high) or math.isinf(low):
        return high if upper else low
    below = cumulative[bucket - 1] if bucket else 0.0
    inside = histogram.counts[bucket]
    j = rank - below
    share = (j if upper else j - 1) / inside
    return low + (high - low) * min(1.0, max(0.0, share))


def quantile_bounds(
    histogram: Histogram,
    q: float,
    *,
    alpha: float = 0.05,
    interpolate: bool = False,
    floor: float = 0.0,
) -> Interval:
    """The q-quantile's estimate and its 1 − α interval from bucket counts. ``floor`` is
    the lower edge of the first bucket: 0 for latencies (the default), −inf for signed
    values (the median relative difference). An empty histogram gives [floor, +inf].
    ``interpolate``: place the bounding order
    statistics inside their buckets as if each bucket's values were evenly spread (as
    ``histogram_quantile`` does) instead of at the bucket's edges — approximate, and
    needed with coarse buckets (see the module docstring)."""
    _check(q, alpha)
    _check_floor(histogram, floor)
    n = round(histogram.total)
    if n == 0:
        return Interval(estimate=math.nan, lower=floor, upper=math.inf)
    lower_rank, upper_rank = order_statistic_ranks(n, q, alpha=alpha)
    cumulative = histogram.cumulative()
    if not lower_rank:
        lower = floor
    elif interpolate:
        lower = _position(histogram, lower_rank, upper=False, floor=floor)
    else:
        lower = _lower_edge(histogram, _bucket_of_rank(cumulative, lower_rank), floor)
    if upper_rank > n:
        upper = math.inf
    elif interpolate:
        upper = _position(histogram, upper_rank, upper=True, floor=floor)
    else:
        upper = _upper_edge(histogram, _bucket_of_rank(cumulative, upper_rank))
    estimate = min(max(histogram_quantile(histogram, q, floor=floor), lower), upper)
    return Interval(estimate=estimate, lower=lower, upper=upper)


@dataclass(frozen=True)
class RatioCheck:
    outcome: Outcome
    ratio: Interval  # candidate / live: estimate, lower = c_lo / l_hi, upper = c_hi / l_lo
    live: Interval
    candidate: Interval


def _divide(a: float, b: float) -> float:
    if b == 0.0:
        return math.inf if a > 0 else math.nan
    return a / b


def quantile_ratio_check(
    *,
    live: Histogram,
    candidate: Histogram,
    q: float,
    max_ratio: float,
    alpha: float = 0.05,
    interpolate: bool = False,
) -> RatioCheck:
    """PASS when candidate upper / live lower < ``max_ratio``, FAIL when candidate lower /
    live upper > ``max_ratio``, else NOT_YET (see the module docstring for the errors)."""
    if not max_ratio > 0:
        raise ValueError(f"max_ratio must be > 0 (got {max_ratio})")
    live_q = quantile_bounds(live, q, alpha=alpha, interpolate=interpolate)
    cand_q = quantile_bounds(candidate, q, alpha=alpha, interpolate=interpolate)
    upper = _divide(cand_q.upper, live_q.lower)
    lower = cand_q.lower / live_q.upper if live_q.upper > 0 else math.nan
    lower = 0.0 if math.isnan(lower) else lower
    upper = math.inf if math.isnan(upper) else upper
    ratio = Interval(estimate=_divide(cand_q.estimate, live_q.estimate), lower=lower, upper=upper)
    if upper < max_ratio:
        outcome = Outcome.PASS
    elif lower > max_ratio:
        outcome = Outcome.FAIL
    else:
        outcome = Outcome.NOT_YET
    return RatioCheck(outcome=outcome, ratio=ratio, live=live_q, candidate=cand_q)


def min_samples_for_quantile(q: float, *, alpha: float = 0.05, beyond: int = 0) -> int:
    """The smallest n whose q-quantile upper bound is an order statistic with at least
    ``beyond`` values above it (so one stall cannot set it alone when beyond ≥ 1)."""
    _check(q, alpha)
    if beyond < 0:
        raise ValueError(f"beyond must be ≥ 0 (got {beyond})")

    def enough(n: int) -> bool:
        return order_statistic_ranks(n, q, alpha=alpha)[1] <= n - beyond

    high = 1
    while not enough(high):
        high *= 2
    low = high // 2
    while high - low > 1:
        mid = (low + high) // 2
        if enough(mid):
            high = mid
        else:
            low = mid
    return high
