"""Confidence sequences: table tests, edge cases, and coverage by simulation (fixed seeds),
checked at every look."""

from __future__ import annotations

import math
import random

import pytest

from understudy_operator.core.statistics.sequential import (
    BetaPrior,
    Direction,
    Interval,
    Moments,
    Outcome,
    compare,
    compare_band,
    mean_confidence_sequence,
    mean_interval,
    prior_for_threshold,
    rate_confidence_sequence,
    rate_decision,
    rate_log_mixture,
    rate_log_one_sided,
    rate_samples_needed,
)

MAX, MIN = Direction.MAX, Direction.MIN


@pytest.mark.parametrize(
    ("lower", "upper", "threshold", "direction", "expected"),
    [
        (0.001, 0.008, 0.01, MAX, Outcome.PASS),
        (0.012, 0.03, 0.01, MAX, Outcome.FAIL),
        (0.005, 0.015, 0.01, MAX, Outcome.NOT_YET),
        (0.005, 0.01, 0.01, MAX, Outcome.NOT_YET),  # touching is not yet
        (0.92, 0.97, 0.9, MIN, Outcome.PASS),
        (0.80, 0.88, 0.9, MIN, Outcome.FAIL),
        (0.85, 0.95, 0.9, MIN, Outcome.NOT_YET),
        (0.9, 0.95, 0.9, MIN, Outcome.NOT_YET),
    ],
)
def test_compare_is_tri_state(
    lower: float, upper: float, threshold: float, direction: Direction, expected: Outcome
) -> None:
    interval = Interval(estimate=(lower + upper) / 2, lower=lower, upper=upper)
    assert compare(interval, threshold=threshold, direction=direction) is expected


@pytest.mark.parametrize(
    ("lower", "upper", "expected"),
    [
        (-0.01, 0.02, Outcome.PASS),
        (0.06, 0.09, Outcome.FAIL),
        (-0.2, -0.08, Outcome.FAIL),
        (0.03, 0.07, Outcome.NOT_YET),
        (-0.06, 0.06, Outcome.NOT_YET),  # wider than the band: not yet either way
        (-0.05, 0.0, Outcome.NOT_YET),  # touching the band's edge
    ],
)
def test_compare_band(lower: float, upper: float, expected: Outcome) -> None:
    interval = Interval(estimate=(lower + upper) / 2, lower=lower, upper=upper)
    assert compare_band(interval, low=-0.05, high=0.05) is expected
    with pytest.raises(ValueError):
        compare_band(interval, low=0.05, high=-0.05)


@pytest.mark.parametrize(
    ("successes", "trials", "lower", "upper"),
    [
        (0, 0, 0.0, 1.0),  # no evidence: everything is possible
        (0, 10, 0.0, None),  # no successes: the lower end is 0
        (10, 10, None, 1.0),  # all successes: the upper end is 1
    ],
)
def test_rate_cs_edge_cases(
    successes: int, trials: int, lower: float | None, upper: float | None
) -> None:
    cs = rate_confidence_sequence(successes, trials)
    assert 0.0 <= cs.lower <= cs.upper <= 1.0
    if lower is not None:
        assert cs.lower == lower
    if upper is not None:
        assert cs.upper == upper
    if trials:
        assert cs.lower <= successes / trials <= cs.upper


def test_rate_cs_ends_are_where_the_mixture_reaches_one_over_alpha() -> None:
    alpha = 0.05
    prior = prior_for_threshold(0.01)
    cs = rate_confidence_sequence(30, 2000, alpha=alpha, prior=prior)
    for end in (cs.lower, cs.upper):
        assert rate_log_mixture(30, 2000, p=end, prior=prior) == pytest.approx(
            math.log(1 / alpha), abs=1e-6
        )
    assert cs.lower < 0.015 < cs.upper


def test_rate_cs_shrinks_with_evidence_and_widens_with_smaller_alpha() -> None:
    widths = [
        (lambda c: c.upper - c.lower)(rate_confidence_sequence(n // 10, n))
        for n in (100, 1000, 10_000)
    ]
    assert widths[0] > widths[1] > widths[2]
    strict = rate_confidence_sequence(100, 1000, alpha=0.01)
    loose = rate_confidence_sequence(100, 1000, alpha=0.1)
    assert strict.lower < loose.lower and strict.upper > loose.upper


def test_rate_cs_handles_millions_of_trials() -> None:
    cs = rate_confidence_sequence(12_345, 3_000_000)
    assert cs.lower < 12_345 / 3_000_000 < cs.upper
    assert cs.upper - cs.lower < 0.0005


@pytest.mark.parametrize("bad", [(-1, 10), (11, 10), (0, -1)])
def test_rate_cs_rejects_impossible_counts(bad: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        rate_confidence_sequence(*bad)
    with pytest.raises(ValueError):
        rate_decision(*bad, threshold=0.5, direction=MAX)


def test_rate_decision_agrees_with_the_interval() -> None:
    rng = random.Random(7)
    for _ in range(400):
        trials = rng.choice([0, 1, 5, 50, 500, 5000])
        successes = rng.randint(0, trials)
        threshold = rng.choice([0.01, 0.1, 0.5, 0.9, 0.99])
        direction = rng.choice([MAX, MIN])
        prior = rng.choice([BetaPrior(), prior_for_threshold(threshold)])
        cs = rate_confidence_sequence(successes, trials, prior=prior)
        if min(abs(cs.lower - threshold), abs(cs.upper - threshold)) < 1e-9:
            continue  # exactly on an end: bisection resolution
        expected = compare(cs, threshold=threshold, direction=direction)
        decided = rate_decision(
            successes, trials, threshold=threshold, direction=direction, prior=prior
        )
        assert decided is expected, (successes, trials, threshold, direction)


@pytest.mark.parametrize(
    ("p", "prior"),
    [(0.01, prior_for_threshold(0.01)), (0.3, BetaPrior()), (0.9, prior_for_threshold(0.9))],
)
def test_rate_cs_covers_the_true_rate_at_every_look(p: float, prior: BetaPrior) -> None:
    """500 streams of 1,500 Bernoulli(p) trials; a stream misses if the CS excludes p at
    any of its 1,500 looks. Misses must stay ≤ α = 5% (binomial noise allowance: 500
    streams give a standard error of 1%, so 7% is > 2 standard errors above α)."""
    alpha, streams, looks = 0.05, 500, 1500
    rng = random.Random(2026)
    level = math.log(1 / alpha)
    missed = 0
    for _ in range(streams):
        successes = 0
        for n in range(1, looks + 1):
            successes += rng.random() < p
            if rate_log_mixture(successes, n, p=p, prior=prior) >= level:
                missed += 1
                break
    assert missed / streams <= 0.07


def test_a_fixed_sample_interval_checked_at_every_look_misses_far_more_often() -> None:
    """The peeking problem the CS exists for: a 95% Wald interval looked at every 10 trials
    excludes the true rate at some look in far more than 5% of streams."""
    p, streams, looks = 0.3, 300, 1500
    rng = random.Random(11)
    missed = 0
    for _ in range(streams):
        successes = 0
        for n in range(1, looks + 1):
            successes += rng.random() < p
            if n % 10 == 0:
                rate = successes / n
                half = 1.96 * math.sqrt(rate * (1 - rate) / n)
                if not rate - half <= p <= rate + half:
                    missed += 1
                    break
    assert missed / streams > 0.2


@pytest.mark.parametrize(
    ("threshold", "effect", "direction"),
    [(0.01, 0.009, MAX), (0.01, 0.005, MAX), (0.9, 0.09, MIN), (0.9, 0.05, MIN)],
)
def test_rate_samples_needed_reaches_its_power(
    threshold: float, effect: float, direction: Direction
) -> None:
    """At n = rate_samples_needed(power), at least that share of simulated streams of the
    good rate pass at look n (less 2 standard errors of the simulation); and earlier
    sample sizes fall short of it more often than not."""
    prior = prior_for_threshold(threshold)
    true = threshold - effect if direction is MAX else threshold + effect
    rng = random.Random(5)

    def passing_share(n: int) -> float:
        passed = 0
        for _ in range(300):
            successes = sum(rng.random() < true for _ in range(n))
            outcome = rate_decision(
                successes, n, threshold=threshold, direction=direction, prior=prior
            )
            passed += outcome is Outcome.PASS
        return passed / 300

    for power in (0.5, 0.9):
        n = rate_samples_needed(
            threshold=threshold, effect=effect, direction=direction, power=power, prior=prior
        )
        assert passing_share(n) >= power - 2 * math.sqrt(power * (1 - power) / 300), (power, n)
        assert passing_share(n // 2) < power, (power, n)


def test_rate_samples_needed_grows_as_the_effect_shrinks() -> None:
    sizes = [
        rate_samples_needed(threshold=0.01, effect=e, direction=MAX) for e in (0.008, 0.004, 0.002)
    ]
    assert sizes[0] < sizes[1] < sizes[2]
    with pytest.raises(ValueError):
        rate_samples_needed(threshold=0.01, effect=0.02, direction=MAX)


def test_moments_merge_like_one_stream() -> None:
    a, b = [0.1, -0.2, 0.05], [0.3, 0.0]
    merged = Moments.of(a) + Moments.of(b)
    whole = Moments.of(a + b)
    assert merged.count == whole.count == 5
    assert merged.mean == pytest.approx(whole.mean)
    assert merged.variance == pytest.approx(whole.variance)
    assert Moments().count == 0 and math.isnan(Moments().mean)


def test_mean_interval_is_the_student_t_interval() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]
    interval = mean_interval(Moments.of(values))
    # mean 6, s = sqrt(11), t(0.975, 10) = 2.228138852
    half = 2.228138852 * math.sqrt(11 / 11)
    assert interval.lower == pytest.approx(6 - half) and interval.upper == pytest.approx(6 + half)
    assert mean_interval(Moments.of([1.0])).lower == -math.inf


def test_mean_cs_is_wider_than_the_fixed_interval_and_shrinks() -> None:
    rng = random.Random(3)
    values = [rng.gauss(0.02, 0.1) for _ in range(4000)]
    small, large = Moments.of(values[:400]), Moments.of(values)
    cs_small, cs_large = mean_confidence_sequence(small), mean_confidence_sequence(large)
    fixed = mean_interval(small)
    assert cs_small.upper - cs_small.lower > fixed.upper - fixed.lower
    assert cs_large.upper - cs_large.lower < cs_small.upper - cs_small.lower
    assert mean_confidence_sequence(Moments.of([0.5])).upper == math.inf


@pytest.mark.parametrize("shape", ["normal", "skewed"])
def test_mean_cs_covers_the_true_mean_at_every_look(shape: str) -> None:
    """500 streams of 2,000 paired relative differences; looks every 10 records from 100
    on (the guarantee is asymptotic). Misses must stay ≤ α = 5% (+2 standard errors)."""
    alpha, streams = 0.05, 500
    rng = random.Random(99)
    true_mean = 0.01 if shape == "normal" else math.exp(0.5 * 0.3**2) - 1  # lognormal − 1
    missed = 0
    for _ in range(streams):
        total = squares = 0.0
        for n in range(1, 2001):
            x = rng.gauss(0.01, 0.05) if shape == "normal" else rng.lognormvariate(0, 0.3) - 1
            total += x
            squares += x * x
            if n >= 100 and n % 10 == 0:
                cs = mean_confidence_sequence(Moments(n, total, squares), alpha=alpha)
                if not cs.lower <= true_mean <= cs.upper:
                    missed += 1
                    break
    assert missed / streams <= 0.07


@pytest.mark.parametrize("below", [True, False])
def test_one_sided_mixture_matches_numeric_integration(below: bool) -> None:
    """M⁻(τ) / M⁺(τ) against a direct midpoint-rule integral of L(p)/L(τ) over the
    truncated prior."""
    successes, trials, threshold, prior = 3, 60, 0.1, BetaPrior(2.0, 18.0)
    low, high = (0.0, threshold) if below else (threshold, 1.0)
    steps = 200_000
    width = (high - low) / steps

    def density(p: float) -> float:
        return p ** (prior.a - 1) * (1 - p) ** (prior.b - 1)

    def ratio(p: float) -> float:
        failures = trials - successes
        return (p / threshold) ** successes * ((1 - p) / (1 - threshold)) ** failures

    points = [low + (i + 0.5) * width for i in range(steps)]
    numerator = math.fsum(density(p) * ratio(p) for p in points)
    denominator = math.fsum(density(p) for p in points)
    expected = math.log(numerator / denominator)
    got = rate_log_one_sided(successes, trials, threshold=threshold, prior=prior, below=below)
    assert got == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("p", "threshold", "direction", "wrong"),
    [
        (0.01, 0.01, MAX, Outcome.PASS),  # at the threshold: a PASS is a false promotion
        (0.012, 0.01, MAX, Outcome.PASS),  # a little worse: still ≤ α
        (0.9, 0.9, MIN, Outcome.FAIL),  # at the threshold: a FAIL is a false rollback
        (0.88, 0.9, MIN, Outcome.PASS),
    ],
)
def test_one_sided_tests_keep_each_error_below_alpha_at_every_look(
    p: float, threshold: float, direction: Direction, wrong: Outcome
) -> None:
    """300 streams of 1,000 samples, decided every 10 samples (each look costs two
    incomplete-beta fractions): the share of streams that ever reach the wrong verdict
    stays ≤ α = 5% (+2 standard errors of 300 streams)."""
    prior = prior_for_threshold(threshold)
    rng = random.Random(31)
    wrong_streams = 0
    for _ in range(300):
        successes = 0
        for n in range(1, 1001):
            successes += rng.random() < p
            if n % 10:
                continue
            outcome = rate_decision(
                successes, n, threshold=threshold, direction=direction, prior=prior, one_sided=True
            )
            if outcome is wrong:
                wrong_streams += 1
                break
            if outcome is not Outcome.NOT_YET:
                break
    assert wrong_streams / 300 <= 0.075


def test_one_sided_decisions_need_fewer_samples() -> None:
    for threshold, effect, direction in ((0.01, 0.005, MAX), (0.9, 0.05, MIN)):
        prior = prior_for_threshold(threshold)
        two = rate_samples_needed(
            threshold=threshold, effect=effect, direction=direction, prior=prior
        )
        one = rate_samples_needed(
            threshold=threshold, effect=effect, direction=direction, prior=prior, one_sided=True
        )
        assert one < two
