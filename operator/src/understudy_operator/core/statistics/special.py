"""Special functions the tests and bounds need, in pure Python (no scipy in the core).

- ``log_beta(a, b)``: ln B(a, b) from ``math.lgamma`` (exact to float precision for any
  size: counts in the millions cost the same as counts of ten).
- ``regularized_beta(x, a, b)``: I_x(a, b), the continued fraction of Numerical Recipes
  (Press et al., 3rd ed., §6.4, modified Lentz), with the symmetry
  I_x(a, b) = 1 − I_{1−x}(b, a) so the fraction always converges fast. Gives the binomial
  CDF, P(Bin(n, p) ≤ k) = I_{1−p}(n − k, k + 1), and Student's t CDF.
- ``log_regularized_beta(x, a, b)``: ln I_x(a, b) without underflow (one-sided mixtures).
- ``chi_square_sf(x, df)``: P(χ²_df > x) = Q(df/2, x/2), the regularized upper incomplete
  gamma (series below a + 1, continued fraction above; Numerical Recipes §6.2).
- ``normal_quantile``, ``t_quantile``: the standard normal and Student's t quantiles (the
  latter by bisection on the exact CDF).

Arguments are positional in the usual mathematical order (scipy's: ``betainc(a, b, x)``
aside, I_x(a, b) reads x first), the one exception to keyword-only parameters.

Accuracy: relative error about 1e-12 over the ranges the bounds use; the tests compare
with known values.
"""

from __future__ import annotations

import math
from statistics import NormalDist

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITERATIONS = 100_000


def log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _beta_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of I_x(a, b) (converges fast for x < (a + 1) / (a + b + 2))."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITERATIONS):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"regularized_beta({x}, {a}, {b}) did not converge")


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) for a, b > 0 and 0 ≤ x ≤ 1."""
    if not (a > 0 and b > 0):
        raise ValueError(f"regularized_beta needs a, b > 0 (got {a}, {b})")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) - log_beta(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(1.0 - x, b, a) / b


def log_regularized_beta(x: float, a: float, b: float) -> float:
    """ln I_x(a, b), accurate also where I_x(a, b) underflows (−inf at x = 0)."""
    if not (a > 0 and b > 0):
        raise ValueError(f"log_regularized_beta needs a, b > 0 (got {a}, {b})")
    if x <= 0.0:
        return -math.inf
    if x >= 1.0:
        return 0.0
    if x < (a + 1.0) / (a + b + 2.0):
        log_front = a * math.log(x) + b * math.log1p(-x) - log_beta(a, b)
        return log_front + math.log(_beta_fraction(x, a, b) / a)
    return math.log1p(-regularized_beta(1.0 - x, b, a))


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(Bin(n, p) ≤ k)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    return regularized_beta(1.0 - p, n - k, k + 1)


def _lower_gamma_series(a: float, x: float) -> float:
    term = total = 1.0 / a
    ap = a
    for _ in range(_MAX_ITERATIONS):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * _EPS:
            return total * math.exp(-x + a * math.log(x) - math.lgamma(a))
    raise ArithmeticError(f"lower incomplete gamma ({a}, {x}) did not converge")


def _upper_gamma_fraction(a: float, x: float) -> float:
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = b + an / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h
    raise ArithmeticError(f"upper incomplete gamma ({a}, {x}) did not converge")


def chi_square_sf(x: float, df: int) -> float:
    """P(χ²_df > x): the p-value of a chi-square statistic ``x`` with ``df`` degrees."""
    if df <= 0:
        raise ValueError(f"chi_square_sf needs df ≥ 1 (got {df})")
    if x <= 0.0:
        return 1.0
    a, half = df / 2.0, x / 2.0
    if half < a + 1.0:
        return 1.0 - _lower_gamma_series(a, half)
    return _upper_gamma_fraction(a, half)


def normal_quantile(p: float) -> float:
    return NormalDist().inv_cdf(p)


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * regularized_beta(df / (df + t * t), df / 2.0, 0.5)
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (bisection, 1e-10)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_quantile needs 0 < p < 1 (got {p})")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, max(1.0, 2.0 * normal_quantile(p))
    while t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-10 * max(1.0, high):
            break
    return 0.5 * (low + high)
