"""One sample of bucket counts against a fixed reference distribution (the training
reference of an artifact): the statistics of input drift.

Bucket layout: the caller lines the reference shares q_k and the live counts c_k up
bucket by bucket (same order, same length). The reference is treated as **known** (its
training sample is not resampled): goodness of fit, not a two-sample test. With N training
rows and n live records this understates the variance of the difference by the factor
1 + n/N (e.g. 1.2 for n = 500 against Ames' N = 2,344), so the chi-square p-value is somewhat
too small; the decision rule of the input-drift check is a bound on PSI, not this p-value
(docs/operator.md, "Input drift").

``psi_of_shares`` (distributions.py) — Σ_k (q_k − p_k) ln(q_k / p_k), p_k = c_k / n
    The formula and floor of ``distributions.psi``: shares below 1e-4 are raised to it.
    Under no drift it is about χ²_{K−1}/n for K buckets (expectation (K − 1)/n), so it
    shrinks with the sample size: a fixed threshold needs a minimum sample size.
``ks_of_shares`` — max_k |Q(e_k) − P(e_k)| over ordered buckets
    The KS distance evaluated at the bucket edges only: a lower bound of the raw KS, the gap
    at most the largest single-bucket mass (deciles: ≤ 0.1 + sampling); nulls excluded.
``chi_square_fit`` — Pearson's Σ (O − E)² / E with E = n q_k
    Cells with E < 5 pooled (smallest first) into one, as ``chi_square_categories`` does;
    df = cells − 1; p from the chi-square distribution. A pooled cell expecting nothing but
    holding records (only unseen categories) makes the statistic infinite, p = 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from understudy_operator.core.statistics.distributions import (
    MIN_EXPECTED,
    psi_of_shares,
    shares_of,
)
from understudy_operator.core.statistics.special import chi_square_sf

__all__ = ["FitResult", "chi_square_fit", "ks_of_shares", "psi_of_shares"]


def ks_of_shares(reference: Sequence[float], current: Sequence[float]) -> float:
    """max over the bucket edges of |Q − P|, buckets in increasing order."""
    if len(reference) != len(current):
        raise ValueError("the two distributions must have the same buckets")
    worst, fq, fp = 0.0, 0.0, 0.0
    for q, p in zip(shares_of(reference), shares_of(current), strict=True):
        fq, fp = fq + q, fp + p
        worst = max(worst, abs(fq - fp))
    return worst


@dataclass(frozen=True)
class FitResult:
    statistic: float
    df: int
    p_value: float
    pooled: int  # cells pooled because they expected fewer than 5 records


def chi_square_fit(
    observed: Sequence[float], shares: Sequence[float], *, min_expected: float = MIN_EXPECTED
) -> FitResult:
    """Pearson's goodness of fit of ``observed`` counts to the reference ``shares``."""
    if len(observed) != len(shares):
        raise ValueError("observed counts and reference shares must have the same buckets")
    n = math.fsum(observed)
    q = shares_of(shares)
    if n <= 0 or any(o < 0 for o in observed):
        raise ValueError("need at least one observation and no negative count")
    cells = sorted(zip((n * x for x in q), observed, strict=True))
    pooled_e = pooled_o = 0.0
    pooled = 0
    while cells and (cells[0][0] < min_expected or 0 < pooled_e < min_expected):
        e, o = cells.pop(0)
        pooled_e, pooled_o, pooled = pooled_e + e, pooled_o + o, pooled + 1
    if pooled:
        cells.append((pooled_e, pooled_o))
    if len(cells) < 2:
        return FitResult(statistic=0.0, df=0, p_value=1.0, pooled=pooled)
    statistic = 0.0
    for e, o in cells:
        if e <= 0:
            if o > 0:
                return FitResult(statistic=math.inf, df=len(cells) - 1, p_value=0.0, pooled=pooled)
            continue
        statistic += (o - e) ** 2 / e
    df = len(cells) - 1
    return FitResult(
        statistic=statistic, df=df, p_value=chi_square_sf(statistic, df), pooled=pooled
    )
