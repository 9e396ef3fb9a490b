"""Quantile bounds from buckets: ranks against the classical table, coverage by
simulation (fixed seeds), and the latency ratio rule on few and many samples."""

from __future__ import annotations

import math
import random

import pytest

from understudy_common.histogram import log_spaced_edges
from understudy_operator.core.statistics.distributions import Histogram
from understudy_operator.core.statistics.quantiles import (
    histogram_quantile,
    min_samples_for_quantile,
    order_statistic_ranks,
    quantile_bounds,
    quantile_ratio_check,
)
from understudy_operator.core.statistics.sequential import Outcome

# Log-spaced latency buckets 1.1× apart from 0.1 ms to 10 s (seconds): the layout the
# module docstring recommends.
EDGES = log_spaced_edges(0.0001, 10.0, 121)


def _latencies(rng: random.Random, n: int, scale: float = 1.0) -> list[float]:
    """Log-normal around 4 ms with a heavy-ish tail."""
    return [scale * math.exp(rng.gauss(math.log(0.004), 0.6)) for _ in range(n)]


def _true_quantile(q: float, scale: float = 1.0) -> float:
    from statistics import NormalDist

    return scale * math.exp(math.log(0.004) + 0.6 * NormalDist().inv_cdf(q))


@pytest.mark.parametrize(
    ("n", "q", "expected"),
    [
        (10, 0.5, (2, 9)),  # the textbook 95% interval for a median of 10 (97.9% exact)
        (100, 0.99, (97, 101)),  # no upper bound: too few samples for a p99
        (1000, 0.99, (983, 997)),
        (0, 0.5, (0, 1)),
    ],
)
def test_order_statistic_ranks(n: int, q: float, expected: tuple[int, int]) -> None:
    assert order_statistic_ranks(n, q) == expected


@pytest.mark.parametrize(
    ("q", "beyond", "expected"), [(0.5, 0, 6), (0.9, 0, 36), (0.99, 0, 368), (0.99, 2, 720)]
)
def test_min_samples_for_quantile(q: float, beyond: int, expected: int) -> None:
    n = min_samples_for_quantile(q, beyond=beyond)
    assert n == expected
    assert order_statistic_ranks(n, q)[1] <= n - beyond
    assert order_statistic_ranks(n - 1, q)[1] > n - 1 - beyond


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    h = Histogram((1.0, 2.0, 4.0), (0.0, 10.0, 10.0, 0.0))
    assert histogram_quantile(h, 0.5) == pytest.approx(2.0)
    assert histogram_quantile(h, 0.75) == pytest.approx(3.0)
    assert math.isnan(histogram_quantile(Histogram((1.0,), (0.0, 0.0)), 0.5))


def test_bounds_of_an_empty_or_tiny_histogram_are_wide_open() -> None:
    empty = quantile_bounds(Histogram(EDGES, (0.0,) * (len(EDGES) + 1)), 0.99)
    assert (empty.lower, empty.upper) == (0.0, math.inf)
    tiny = quantile_bounds(Histogram.of(EDGES, [0.004] * 50), 0.99)
    assert tiny.upper == math.inf and tiny.lower < 0.004


def test_a_value_in_the_inf_bucket_gives_no_upper_bound() -> None:
    bounds = quantile_bounds(Histogram.of(EDGES, [0.004] * 1000 + [20.0] * 30), 0.99)
    assert bounds.upper == math.inf


@pytest.mark.parametrize(("q", "n"), [(0.5, 200), (0.9, 400), (0.99, 2000)])
def test_bounds_cover_the_true_quantile(q: float, n: int) -> None:
    """500 windows of log-normal latencies, bucketed: the interval holds the true quantile
    in ≥ 95% of them (bucketing only widens it)."""
    rng = random.Random(42)
    truth = _true_quantile(q)
    covered = 0
    for _ in range(500):
        bounds = quantile_bounds(Histogram.of(EDGES, _latencies(rng, n)), q)
        covered += bounds.lower <= truth <= bounds.upper
    assert covered / 500 >= 0.95


def test_same_latency_is_never_failed_and_mostly_passes_with_enough_samples() -> None:
    """Live and candidate from one distribution, max ratio 1.5 on p90: no window may FAIL
    beyond α = 5% (2 standard errors of allowance); with 2,000 samples most windows PASS."""
    rng = random.Random(8)
    outcomes = [
        quantile_ratio_check(
            live=Histogram.of(EDGES, _latencies(rng, 2000)),
            candidate=Histogram.of(EDGES, _latencies(rng, 2000)),
            q=0.9,
            max_ratio=1.5,
        ).outcome
        for _ in range(300)
    ]
    assert outcomes.count(Outcome.FAIL) / 300 <= 0.075
    assert outcomes.count(Outcome.PASS) / 300 >= 0.8


def test_a_few_slow_requests_in_a_small_window_are_not_yet_not_a_failure() -> None:
    """300 requests, five of them stalled 60 ms on the candidate: the p99 point estimate is
    far above 1.5× live, but the rule says not yet (no p99 bound from 300 samples)."""
    rng = random.Random(9)
    live = Histogram.of(EDGES, _latencies(rng, 300))
    cand = Histogram.of(EDGES, _latencies(rng, 295) + [0.06] * 5)
    check = quantile_ratio_check(live=live, candidate=cand, q=0.99, max_ratio=1.5)
    assert check.ratio.estimate > 1.5
    assert check.outcome is Outcome.NOT_YET


@pytest.mark.parametrize("q", [0.5, 0.9, 0.99])
def test_a_three_times_slower_candidate_fails(q: float) -> None:
    rng = random.Random(10)
    live = Histogram.of(EDGES, _latencies(rng, 3000))
    cand = Histogram.of(EDGES, _latencies(rng, 3000, scale=3.0))
    check = quantile_ratio_check(live=live, candidate=cand, q=q, max_ratio=1.5)
    assert check.outcome is Outcome.FAIL
    assert check.ratio.lower > 1.5 and check.ratio.lower <= check.ratio.estimate


def test_ratio_bounds_handle_zero_and_empty() -> None:
    zero = Histogram.of(EDGES, [0.0001] * 1000)
    check = quantile_ratio_check(live=zero, candidate=zero, q=0.5, max_ratio=1.5)
    assert check.outcome is Outcome.NOT_YET and check.ratio.upper == math.inf
    empty = Histogram(EDGES, (0.0,) * (len(EDGES) + 1))
    check = quantile_ratio_check(live=empty, candidate=zero, q=0.5, max_ratio=1.5)
    assert check.outcome is Outcome.NOT_YET
    with pytest.raises(ValueError):
        quantile_ratio_check(live=zero, candidate=zero, q=1.0, max_ratio=1.5)


def test_the_routers_coarse_buckets_can_never_pass_a_ratio_of_one_and_a_half() -> None:
    """With latency buckets 2–2.5× apart, candidate upper / live lower is at least one
    bucket ratio: identical latency stays not yet (recorded in the module docstring)."""
    coarse = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
    rng = random.Random(12)
    check = quantile_ratio_check(
        live=Histogram.of(coarse, _latencies(rng, 5000)),
        candidate=Histogram.of(coarse, _latencies(rng, 5000)),
        q=0.5,
        max_ratio=1.5,
    )
    assert check.outcome is Outcome.NOT_YET and check.ratio.upper >= 2.0
    interpolated = quantile_ratio_check(
        live=Histogram.of(coarse, _latencies(rng, 5000)),
        candidate=Histogram.of(coarse, _latencies(rng, 5000)),
        q=0.5,
        max_ratio=1.5,
        interpolate=True,
    )
    assert interpolated.outcome is Outcome.PASS


def test_interpolated_bounds_stay_inside_the_edge_bounds() -> None:
    rng = random.Random(13)
    h = Histogram.of(EDGES, _latencies(rng, 1000))
    for q in (0.5, 0.9, 0.99):
        edges, inside = quantile_bounds(h, q), quantile_bounds(h, q, interpolate=True)
        assert edges.lower <= inside.lower <= inside.upper <= edges.upper


def test_the_median_of_signed_differences_needs_no_floor_at_zero() -> None:
    """Relative differences (candidate − live) / live are signed: with floor = −inf the
    same bounds give an interval for their median that covers it, and sit on both sides
    of zero for an unbiased candidate."""
    edges = tuple(x / 100 for x in range(-20, 21))  # −0.20 … 0.20 in steps of 0.01
    rng = random.Random(14)
    covered = 0
    for _ in range(300):
        values = [rng.gauss(0.03, 0.05) for _ in range(400)]
        bounds = quantile_bounds(Histogram.of(edges, values), 0.5, floor=-math.inf)
        covered += bounds.lower <= 0.03 <= bounds.upper
    assert covered / 300 >= 0.95
    unbiased = quantile_bounds(
        Histogram.of(edges, [rng.gauss(0.0, 0.05) for _ in range(400)]), 0.5, floor=-math.inf
    )
    assert unbiased.lower <= 0.0 <= unbiased.upper
    tiny = quantile_bounds(Histogram.of(edges, [-0.5, 0.01]), 0.5, floor=-math.inf)
    assert tiny.lower == -math.inf
    with pytest.raises(ValueError):
        quantile_bounds(Histogram.of(edges, [0.0]), 0.5)  # floor 0 above the first edge
