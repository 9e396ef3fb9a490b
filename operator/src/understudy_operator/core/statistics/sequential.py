"""Anytime-valid confidence sequences for rates and paired means, and the tri-state rule.

A *confidence sequence* (CS) at level α is a sequence of intervals C_1, C_2, … with
P(the true value lies in C_n for every n at once) ≥ 1 − α. Unlike a fixed-sample interval
it may be looked at after every sample (every analysis run) and the decision stopped
whenever it is clear; the error rate holds at any stopping time. Source: Howard, Ramdas,
McAuliffe, Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences",
Annals of Statistics 49(2), 2021; Ville's inequality: a nonnegative martingale with mean 1
ever reaches 1/α with probability ≤ α.

Rates — ``rate_confidence_sequence`` (exact, any sample size)
    Trials are i.i.d. Bernoulli(p) (each mirrored request fails, or each compared record
    agrees, independently with the same probability while the analysis runs). With a
    Beta(a, b) prior chosen before seeing data, the mixture likelihood ratio
        M_n(p) = B(a + S, b + F) / B(a, b) / (p^S (1 − p)^F)        (S successes, F failures)
    is a nonnegative martingale with mean 1 under p (Robbins 1970; the beta-binomial
    mixture of Howard et al. 2021). CS_n = {p : M_n(p) < 1/α}. ln M_n(p) is convex in p with
    its minimum ≤ 0 at the MLE S/n, so CS_n is an interval around S/n; its ends are found by
    bisection on each side (60 halvings, from log-gamma: counts in the millions cost the
    same as counts of ten). Coverage ≥ 1 − α at all n simultaneously, exactly (no
    asymptotics). The prior only moves where the sequence is tightest, never its validity;
    ``prior_for_threshold`` centres it on the check's threshold.

Deciding against a threshold — ``compare`` and ``rate_decision``
    PASS when the whole interval is on the good side of τ (max: upper < τ; min: lower > τ),
    FAIL when it is wholly on the bad side, NOT_YET otherwise. α is **not split**: one
    two-sided CS at level α serves both sides, so P(ever a wrong PASS) + P(ever a wrong FAIL)
    ≤ α for any true rate, however often one looks. In particular a candidate whose true rate
    is exactly τ is promoted with probability ≤ α. (``one_sided=True``, below, spends α
    once per wrong verdict instead.)
    ``rate_decision`` gives the same answer as ``compare(rate_confidence_sequence(...))``
    with one evaluation of M_n(τ) instead of two bisections (for simulations).

One-sided variant — ``rate_decision(..., one_sided=True)`` (the mixture SPRT)
    Two one-sided tests of the threshold, each at level α: PASS (max) when the mixture over
    the prior truncated to p < τ,
        M⁻_n(τ) = ∫_{p<τ} L_n(p)/L_n(τ) π(dp) / π(p < τ)
                = B(a + S, b + F) I_τ(a + S, b + F) / (B(a, b) I_τ(a, b)) / (τ^S (1 − τ)^F),
    reaches 1/α; FAIL when the mixture over p > τ (I_τ replaced by 1 − I_τ) does. Each is a
    nonnegative supermartingale for every true rate on the other side of τ (for p ≥ τ each
    factor's expectation p p'/τ + (1 − p)(1 − p')/(1 − τ) ≤ 1 when p' < τ), so a false PASS
    has probability ≤ α for any candidate at or beyond the threshold, and a false FAIL ≤ α
    for any at or inside it (Johari, Koomen, Pekelis, Walsh 2022, one-sided mSPRT). Here α
    is spent once per side instead of once for both: decisions need 13–36% fewer
    samples near the threshold, at the price of no single interval to show (the two-sided
    CS at α may still contain τ when the one-sided test has passed; at 2α it would not).

Paired means — ``mean_confidence_sequence`` (asymptotic) and ``mean_interval`` (fixed n)
    For a per-record quantity such as the signed relative difference (candidate − live) /
    live, from mergeable sufficient statistics ``Moments(count, total, total_squares)``.
    The CS is the Gaussian-mixture asymptotic CS of Waudby-Smith, Arbour, Sinha, Kennedy,
    Ramdas, "Time-uniform central limit theory and asymptotic confidence sequences",
    Annals of Statistics 52(6), 2024 (Robbins' normal-mixture boundary with the plug-in
    variance σ̂²):
        mean ± σ̂ · sqrt( 2 (n ρ² + 1) / (n² ρ²) · ln( sqrt(n ρ² + 1) / α ) ),
    ρ² = (−2 ln α + ln(−2 ln α + 1)) / n*, which makes it tightest near n = n* (``tight_at``).
    The mixture over λ ∈ ℝ is symmetric, so one Ville bound covers both sides and α is
    spent once (the authors' R code, ``asymptotic_confseq``, conservatively plugs α/2 into
    the same margin); measured misses over 2,000 looks: 2.6–3.3% at α = 0.05
    (bench/sequence_coverage.py).
    Assumption: i.i.d. records with finite variance; the guarantee is asymptotic (it holds
    in the limit of many samples, like a CLT interval), so it is only claimed from a few
    hundred records on; heavy tails slow the approach. ``mean_interval`` is the classical
    Student-t interval, valid at one pre-planned sample size only.

Sample size — ``rate_samples_needed`` (for ``spec.analysis.detect``)
    The smallest n at which a true rate τ − δ (max checks; τ + δ for min) PASSES the CS
    with probability ≥ ``power`` at that look: with k the ``power``-quantile of the number
    of bad events, Bin(n, τ − δ), the CS must pass at k (fewer bad events pass too, so
    P(PASS at n) ≥ power; exact, from the binomial CDF). n is found by doubling then
    bisection (the CS has no closed form; with integer counts the answer is the first n of
    the search, not strictly the first n ever). power = 0.5 gives the median sample size.
    Roughly n ≈ 2 τ(1 − τ) ln(c/α) / δ² with a slowly growing c; the same n decides a rate
    δ on the bad side about as fast (FAIL). Example (α = 0.05, default prior): τ = 0.01,
    δ = 0.005 needs 2,963 samples for a median decision; τ = 0.9 (min), δ = 0.05 needs 262.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from understudy_operator.core.statistics.special import (
    binomial_cdf,
    log_beta,
    log_regularized_beta,
    t_quantile,
)

_HALVINGS = 60


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_YET = "not_yet"


class Direction(StrEnum):
    """Which side of the threshold is good: ``max`` (value must stay below, e.g. an error
    rate) or ``min`` (value must stay above, e.g. an agreement rate)."""

    MAX = "max"
    MIN = "min"


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence bounds (lower ≤ estimate ≤ upper)."""

    estimate: float
    lower: float
    upper: float


@dataclass(frozen=True)
class BetaPrior:
    """The mixing distribution Beta(a, b) of the rate's mixture martingale."""

    a: float = 1.0
    b: float = 1.0

    def __post_init__(self) -> None:
        if not (self.a > 0 and self.b > 0):
            raise ValueError(f"Beta prior needs a, b > 0 (got {self.a}, {self.b})")


def prior_for_threshold(threshold: float, *, weight: float = 2.0) -> BetaPrior:
    """Beta prior with mean ``threshold`` and a + b = ``weight`` / min(τ, 1 − τ).

    Centred where the decision is made, with a spread about τ itself (τ = 0.01: Beta(2, 198),
    sd 0.007), so rates a few times τ away from it carry weight. Any prior fixed before the
    data keeps the guarantee; the prior only moves where the sequence is tightest. Samples
    for a median decision (``rate_samples_needed``, α = 0.05), by weight:

    ============================  ========  ========  ==========  ==========
    prior                         τ=0.01,   τ=0.01,   τ=0.9 min,  τ=0.9 min,
                                  p=0.001   p=0.005   p=0.99      p=0.95
    ============================  ========  ========  ==========  ==========
    Beta(1, 1) (uniform)          1,262     5,818     94          385
    Beta(½, ½) (Jeffreys)         998       4,808     53          349
    weight 1                      473       3,002     46          266
    weight 2 (the default)        772       2,963     55          262
    weight 3                      827       2,675     62          262
    weight 10                     1,129     3,048     109         272
    weight 100                    2,982     6,162     287         580
    ============================  ========  ========  ==========  ==========
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be inside (0, 1) (got {threshold})")
    total = weight / min(threshold, 1.0 - threshold)
    return BetaPrior(a=threshold * total, b=(1.0 - threshold) * total)


def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 ≤ successes ≤ trials (got {successes}, {trials})")


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be inside (0, 1) (got {alpha})")


def rate_log_mixture(successes: int, trials: int, *, p: float, prior: BetaPrior) -> float:
    """ln M_n(p), the log mixture likelihood ratio against the rate p (+inf if impossible)."""
    failures = trials - successes
    value = log_beta(prior.a + successes, prior.b + failures) - log_beta(prior.a, prior.b)
    if successes:
        if p <= 0.0:
            return math.inf
        value -= successes * math.log(p)
    if failures:
        if p >= 1.0:
            return math.inf
        value -= failures * math.log1p(-p)
    return value


def rate_confidence_sequence(
    successes: int, trials: int, *, alpha: float = 0.05, prior: BetaPrior | None = None
) -> Interval:
    """The beta-binomial mixture CS for a Bernoulli rate after ``trials`` trials.

    ``successes`` counts the events whose rate is bounded (errors, or agreeing records).
    0 trials gives [0, 1]. Coverage ≥ 1 − α at every ``trials`` simultaneously.
    """
    _check_counts(successes, trials)
    _check_alpha(alpha)
    prior = prior or BetaPrior()
    if trials == 0:
        return Interval(estimate=math.nan, lower=0.0, upper=1.0)
    level = math.log(1.0 / alpha)
    mle = successes / trials

    def outside(p: float) -> bool:
        return rate_log_mixture(successes, trials, p=p, prior=prior) >= level

    lower, upper = 0.0, 1.0
    if not outside(0.0):
        lower = 0.0
    else:
        inside, out = mle, 0.0
        for _ in range(_HALVINGS):
            mid = 0.5 * (inside + out)
            inside, out = (inside, mid) if outside(mid) else (mid, out)
        lower = out
    if not outside(1.0):
        upper = 1.0
    else:
        inside, out = mle, 1.0
        for _ in range(_HALVINGS):
            mid = 0.5 * (inside + out)
            inside, out = (inside, mid) if outside(mid) else (mid, out)
        upper = out
    return Interval(estimate=mle, lower=lower, upper=upper)


def compare(interval: Interval, *, threshold: float, direction: Direction) -> Outcome:
    """PASS when the interval lies wholly on the good side of ``threshold``, FAIL when wholly
    on the bad side, NOT_YET when it contains the threshold (strict: touching is not yet)."""
    below, above = interval.upper < threshold, interval.lower > threshold
    good, bad = (below, above) if direction is Direction.MAX else (above, below)
    if good:
        return Outcome.PASS
    if bad:
        return Outcome.FAIL
    return Outcome.NOT_YET


def compare_band(interval: Interval, *, low: float, high: float) -> Outcome:
    """For a quantity that must stay inside [low, high] (e.g. the mean signed relative
    difference, a bias band): PASS when the interval lies inside the band, FAIL when it lies
    wholly outside it (above ``high`` or below ``low``), NOT_YET otherwise. With a CS at
    level α: a wrong PASS or FAIL has probability ≤ α."""
    if not low < high:
        raise ValueError(f"need low < high (got {low}, {high})")
    if low < interval.lower and interval.upper < high:
        return Outcome.PASS
    if interval.lower > high or interval.upper < low:
        return Outcome.FAIL
    return Outcome.NOT_YET


def rate_decision(
    successes: int,
    trials: int,
    *,
    threshold: float,
    direction: Direction,
    alpha: float = 0.05,
    prior: BetaPrior | None = None,
    one_sided: bool = False,
) -> Outcome:
    """``compare(rate_confidence_sequence(...), ...)`` in one evaluation: τ is outside the
    CS exactly when M_n(τ) ≥ 1/α, and on the side of the MLE it lies on. ``one_sided``:
    the two one-sided mixture tests at α each instead (module docstring)."""
    _check_counts(successes, trials)
    _check_alpha(alpha)
    if trials == 0:
        return Outcome.NOT_YET
    prior = prior or BetaPrior()
    if one_sided:
        return _one_sided_decision(successes, trials, threshold, direction, alpha, prior)
    if rate_log_mixture(successes, trials, p=threshold, prior=prior) < math.log(1.0 / alpha):
        return Outcome.NOT_YET
    rate_below = successes / trials < threshold
    if direction is Direction.MAX:
        return Outcome.PASS if rate_below else Outcome.FAIL
    return Outcome.FAIL if rate_below else Outcome.PASS


def rate_log_one_sided(
    successes: int, trials: int, *, threshold: float, prior: BetaPrior, below: bool
) -> float:
    """ln M⁻_n(τ) (``below``: the prior truncated to p < τ) or ln M⁺_n(τ) (p > τ)."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be inside (0, 1) (got {threshold})")
    failures = trials - successes
    a, b = prior.a + successes, prior.b + failures
    if below:
        mass = log_regularized_beta(threshold, a, b) - log_regularized_beta(
            threshold, prior.a, prior.b
        )
    else:
        mass = log_regularized_beta(1.0 - threshold, b, a) - log_regularized_beta(
            1.0 - threshold, prior.b, prior.a
        )
    return (
        log_beta(a, b)
        - log_beta(prior.a, prior.b)
        + mass
        - successes * math.log(threshold)
        - failures * math.log1p(-threshold)
    )


def _one_sided_decision(
    successes: int,
    trials: int,
    threshold: float,
    direction: Direction,
    alpha: float,
    prior: BetaPrior,
) -> Outcome:
    level = math.log(1.0 / alpha)
    below = (
        rate_log_one_sided(successes, trials, threshold=threshold, prior=prior, below=True) >= level
    )
    above = (
        rate_log_one_sided(successes, trials, threshold=threshold, prior=prior, below=False)
        >= level
    )
    if below == above:
        return Outcome.NOT_YET
    good = below if direction is Direction.MAX else above
    return Outcome.PASS if good else Outcome.FAIL


def rate_samples_needed(
    *,
    threshold: float,
    effect: float,
    direction: Direction,
    alpha: float = 0.05,
    power: float = 0.5,
    prior: BetaPrior | None = None,
    one_sided: bool = False,
    limit: int = 100_000_000,
) -> int:
    """Samples for the CS to PASS a true rate ``effect`` on the good side of ``threshold``
    (τ − δ for max, τ + δ for min) with probability ≈ ``power`` (see the module docstring).
    The same n decides a rate δ on the bad side about as fast (FAIL). ``limit`` caps the
    answer (ValueError beyond it)."""
    _check_alpha(alpha)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be inside (0, 1) (got {power})")
    true = threshold - effect if direction is Direction.MAX else threshold + effect
    if not (effect > 0 and 0.0 <= true <= 1.0):
        raise ValueError(f"effect must be > 0 and keep the rate inside [0, 1] (got {effect})")
    prior = prior or BetaPrior()
    if direction is Direction.MIN:  # count the bad events (1 − rate) and mirror the prior
        threshold, true, prior = 1.0 - threshold, 1.0 - true, BetaPrior(prior.b, prior.a)

    def decided(n: int) -> bool:
        bad = _binomial_quantile(power, n, true)
        outcome = rate_decision(
            bad,
            n,
            threshold=threshold,
            direction=Direction.MAX,
            alpha=alpha,
            prior=prior,
            one_sided=one_sided,
        )
        return outcome is Outcome.PASS

    high = 1
    while not decided(high):
        high *= 2
        if high > limit:
            raise ValueError(f"more than {limit} samples needed")
    low = high // 2
    # Not strictly monotone in n (counts are integers): the first n from which it holds on.
    while high - low > 1:
        mid = (low + high) // 2
        if decided(mid):
            high = mid
        else:
            low = mid
    return high


def _binomial_quantile(q: float, n: int, p: float) -> int:
    """The smallest k with P(Bin(n, p) ≤ k) ≥ q."""
    low, high = -1, n  # cdf(low) < q ≤ cdf(high)
    while high - low > 1:
        mid = (low + high) // 2
        if binomial_cdf(mid, n, p) >= q:
            high = mid
        else:
            low = mid
    return high


@dataclass(frozen=True)
class Moments:
    """Mergeable sufficient statistics of a stream of numbers (add two to merge)."""

    count: int = 0
    total: float = 0.0
    total_squares: float = 0.0

    @classmethod
    def of(cls, values: list[float] | tuple[float, ...]) -> Moments:
        return cls(len(values), math.fsum(values), math.fsum(v * v for v in values))

    def __add__(self, other: Moments) -> Moments:
        return Moments(
            self.count + other.count,
            self.total + other.total,
            self.total_squares + other.total_squares,
        )

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    @property
    def variance(self) -> float:
        """The sample variance (n − 1 denominator); 0 below two values."""
        if self.count < 2:
            return 0.0
        centred = self.total_squares - self.total * self.total / self.count
        return max(0.0, centred / (self.count - 1))


def mean_confidence_sequence(
    moments: Moments, *, alpha: float = 0.05, tight_at: int = 500
) -> Interval:
    """The asymptotic Gaussian-mixture CS for the mean (Waudby-Smith et al. 2024), tightest
    near ``tight_at`` samples. Fewer than two values give (−inf, inf)."""
    _check_alpha(alpha)
    if tight_at < 1:
        raise ValueError(f"tight_at must be ≥ 1 (got {tight_at})")
    n = moments.count
    if n < 2:
        return Interval(estimate=moments.mean, lower=-math.inf, upper=math.inf)
    log_a = -2.0 * math.log(alpha)
    rho2 = (log_a + math.log(log_a + 1.0)) / tight_at
    scale = n * rho2 + 1.0
    half = math.sqrt(moments.variance) * math.sqrt(
        2.0 * scale / (n * n * rho2) * math.log(math.sqrt(scale) / alpha)
    )
    return Interval(estimate=moments.mean, lower=moments.mean - half, upper=moments.mean + half)


def mean_interval(moments: Moments, *, alpha: float = 0.05) -> Interval:
    """The fixed-sample two-sided Student-t interval (valid for one look at a planned n)."""
    _check_alpha(alpha)
    n = moments.count
    if n < 2:
        return Interval(estimate=moments.mean, lower=-math.inf, upper=math.inf)
    half = t_quantile(1.0 - alpha / 2.0, n - 1) * math.sqrt(moments.variance / n)
    return Interval(estimate=moments.mean, lower=moments.mean - half, upper=moments.mean + half)
