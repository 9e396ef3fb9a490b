"""Distances from shared buckets against direct computation on the raw samples (within the
documented bucket resolution), the chi-square test against scipy, and edge cases."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
from scipy import stats

from understudy_common.histogram import log_spaced_edges
from understudy_operator.core.statistics.distributions import (
    Histogram,
    chi_square_categories,
    ks_distance,
    psi,
    wasserstein_distance,
)


def _raw_ks(a: list[float], b: list[float]) -> float:
    return float(stats.ks_2samp(a, b).statistic)


def _samples(seed: int, n: int, shift: float) -> list[float]:
    rng = random.Random(seed)
    return [math.exp(rng.gauss(12.0 + shift, 0.4)) for _ in range(n)]


def test_values_are_bucketed_by_the_le_rule() -> None:
    h = Histogram.of([1.0, 2.0, 3.0], [0.5, 1.0, 1.5, 2.0, 3.5, 10.0])
    assert h.counts == (2.0, 2.0, 0.0, 2.0)  # 1.0 ≤ le 1; 2.0 ≤ le 2; > 3 in +Inf
    assert h.cumulative() == (2.0, 4.0, 4.0, 6.0)
    assert Histogram.from_cumulative(h.edges, h.cumulative()) == h
    assert h.cdf() == pytest.approx((2 / 6, 4 / 6, 4 / 6))


def test_histograms_merge_bucket_by_bucket_like_one_stream() -> None:
    edges = log_spaced_edges(1e4, 1e6, 50)
    a, b = _samples(1, 300, 0.0), _samples(2, 500, 0.0)
    assert Histogram.of(edges, a) + Histogram.of(edges, b) == Histogram.of(edges, a + b)


def test_from_cumulative_clips_counter_resets() -> None:
    h = Histogram.from_cumulative([1.0, 2.0], [5.0, 4.0, 9.0])
    assert h.counts == (5.0, 0.0, 4.0)


@pytest.mark.parametrize(
    ("edges", "counts"),
    [((1.0, 2.0), (1.0, 2.0)), ((2.0, 1.0), (1.0, 1.0, 1.0)), ((1.0, math.inf), (1.0,) * 3)],
)
def test_histogram_rejects_malformed_layouts(
    edges: tuple[float, ...], counts: tuple[float, ...]
) -> None:
    with pytest.raises(ValueError):
        Histogram(edges, counts)


def test_distances_need_shared_edges_and_data() -> None:
    a = Histogram.of([1.0, 2.0], [0.5, 1.5])
    with pytest.raises(ValueError):
        ks_distance(a, Histogram.of([1.0, 3.0], [0.5]))
    with pytest.raises(ValueError):
        psi(a, Histogram((1.0, 2.0), (0.0, 0.0, 0.0)))


def test_one_bucket_carries_no_distance() -> None:
    a, b = Histogram((), (10.0,)), Histogram((), (3.0,))
    assert ks_distance(a, b) == 0.0
    assert psi(a, b) == 0.0
    assert wasserstein_distance(a, b) == 0.0


@pytest.mark.parametrize(("shift", "count"), [(0.0, 40), (0.05, 40), (0.2, 120), (0.5, 200)])
def test_bucketed_ks_is_a_lower_bound_within_the_largest_bucket_mass(
    shift: float, count: int
) -> None:
    live, cand = _samples(10, 2000, 0.0), _samples(11, 1500, shift)
    edges = log_spaced_edges(1e4, 2e6, count)
    a, b = Histogram.of(edges, live), Histogram.of(edges, cand)
    raw = _raw_ks(live, cand)
    bucketed = ks_distance(a, b)
    largest = max(max(a.shares()), max(b.shares()))
    assert bucketed <= raw + 1e-12
    assert raw - bucketed <= largest + 1e-12


def test_ks_at_the_edges_is_the_raw_ks_when_values_sit_on_edges() -> None:
    edges = [1.0, 2.0, 3.0, 4.0]
    a_values, b_values = [1.0, 1.0, 2.0, 4.0], [3.0, 3.0, 4.0, 2.0, 1.0]
    a, b = Histogram.of(edges, a_values), Histogram.of(edges, b_values)
    assert ks_distance(a, b) == pytest.approx(_raw_ks(a_values, b_values))


@pytest.mark.parametrize(
    ("p", "q", "expected"),
    [
        ((50, 50), (50, 50), 0.0),
        ((60, 40), (40, 60), 0.2 * math.log(1.5) * 2),
        ((100, 0), (50, 50), (1 - 0.5) * math.log(1 / 0.5) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)),
    ],
)
def test_psi_table(p: tuple[int, int], q: tuple[int, int], expected: float) -> None:
    value = psi(Histogram((1.0,), tuple(map(float, p))), Histogram((1.0,), tuple(map(float, q))))
    assert value == pytest.approx(expected)


def test_psi_grows_with_the_shift() -> None:
    edges = log_spaced_edges(1e4, 2e6, 60)
    live = Histogram.of(edges, _samples(20, 3000, 0.0))
    values = [psi(live, Histogram.of(edges, _samples(21, 3000, s))) for s in (0.0, 0.1, 0.4)]
    assert values[0] < 0.1 < values[2] and values[0] < values[1] < values[2]


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.3])
def test_wasserstein_matches_the_raw_area_within_the_mean_bucket_widths(shift: float) -> None:
    live, cand = _samples(30, 2000, 0.0), _samples(31, 2000, shift)
    edges = log_spaced_edges(1e4, 5e6, 200)  # covers the samples
    a, b = Histogram.of(edges, live), Histogram.of(edges, cand)
    raw = float(stats.wasserstein_distance(live, cand))
    widths = [0.0, *(hi - lo for lo, hi in itertools.pairwise(edges)), 0.0]
    bound = sum(s * w for s, w in zip(a.shares(), widths, strict=True)) + sum(
        s * w for s, w in zip(b.shares(), widths, strict=True)
    )
    assert abs(wasserstein_distance(a, b) - raw) <= bound
    assert abs(wasserstein_distance(a, b) - raw) <= 0.05 * max(raw, 0.01 * float(np.mean(live)))


def _categories(seed: int, n: int, weights: dict[str, float]) -> dict[str, float]:
    rng = random.Random(seed)
    drawn = rng.choices(list(weights), weights=list(weights.values()), k=n)
    return {name: float(drawn.count(name)) for name in weights if drawn.count(name)}


def test_chi_square_equals_scipy_when_nothing_is_pooled() -> None:
    a = _categories(1, 600, {"NAmes": 0.4, "CollgCr": 0.3, "OldTown": 0.3})
    b = _categories(2, 400, {"NAmes": 0.3, "CollgCr": 0.3, "OldTown": 0.4})
    result = chi_square_categories(a, b)
    names = sorted(a)
    table = [[a[n] for n in names], [b[n] for n in names]]
    statistic, p_value, df, _ = stats.chi2_contingency(table, correction=False)
    assert result.pooled == ()
    assert result.df == df == 2
    assert result.statistic == pytest.approx(statistic)
    assert result.p_value == pytest.approx(p_value, rel=1e-6)


def test_chi_square_pools_rare_categories_until_every_cell_expects_five() -> None:
    weights = {"A": 0.5, "B": 0.4, "r1": 0.03, "r2": 0.03, "r3": 0.02, "r4": 0.02}
    a, b = _categories(3, 200, weights), _categories(4, 150, weights)
    result = chi_square_categories(a, b)
    assert set(result.pooled) >= {"r3", "r4"} and "A" not in result.pooled
    kept = [n for n in sorted(set(a) | set(b)) if n not in result.pooled]
    pooled_a = sum(a.get(n, 0.0) for n in result.pooled)
    pooled_b = sum(b.get(n, 0.0) for n in result.pooled)
    table = [[a.get(n, 0.0) for n in kept] + [pooled_a], [b.get(n, 0.0) for n in kept] + [pooled_b]]
    statistic, p_value, df, expected = stats.chi2_contingency(table, correction=False)
    assert expected.min() >= 5
    assert result.statistic == pytest.approx(statistic) and result.df == df
    assert result.p_value == pytest.approx(p_value, rel=1e-6)


def test_chi_square_detects_a_shift_and_not_noise() -> None:
    same = chi_square_categories(
        _categories(5, 2000, {"x": 0.5, "y": 0.3, "z": 0.2}),
        _categories(6, 2000, {"x": 0.5, "y": 0.3, "z": 0.2}),
    )
    shifted = chi_square_categories(
        _categories(7, 2000, {"x": 0.5, "y": 0.3, "z": 0.2}),
        _categories(8, 2000, {"x": 0.4, "y": 0.3, "z": 0.3}),
    )
    assert same.p_value > 0.01 and shifted.p_value < 1e-6


def test_chi_square_with_a_single_cell_is_no_test() -> None:
    result = chi_square_categories({"a": 10.0, "b": 1.0}, {"a": 3.0})
    assert result.df == 0 and result.p_value == 1.0
    with pytest.raises(ValueError):
        chi_square_categories({"a": 1.0}, {})
