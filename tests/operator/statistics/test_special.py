"""The special functions against reference values (scipy's, to the digits shown)."""

from __future__ import annotations

import math

import pytest

from understudy_operator.core.statistics.special import (
    binomial_cdf,
    chi_square_sf,
    log_beta,
    log_regularized_beta,
    normal_quantile,
    regularized_beta,
    t_quantile,
)


@pytest.mark.parametrize(
    ("x", "a", "b", "expected"),
    [
        (0.3, 2.0, 5.0, 0.579825),
        (0.5, 1.0, 1.0, 0.5),
        (0.9, 0.5, 0.5, 0.7951672353008665),
        (0.0, 3.0, 4.0, 0.0),
        (1.0, 3.0, 4.0, 1.0),
    ],
)
def test_regularized_beta(x: float, a: float, b: float, expected: float) -> None:
    assert regularized_beta(x, a, b) == pytest.approx(expected, rel=1e-10, abs=1e-14)


@pytest.mark.parametrize(
    ("k", "n", "p", "expected"),
    [
        (2, 200, 0.01, 0.6766786945356573),
        (0, 10, 0.5, 0.0009765625),
        (10, 10, 0.5, 1.0),
        (-1, 10, 0.5, 0.0),
        (5, 10, 0.0, 1.0),
        (5, 10, 1.0, 0.0),
    ],
)
def test_binomial_cdf(k: int, n: int, p: float, expected: float) -> None:
    assert binomial_cdf(k, n, p) == pytest.approx(expected, rel=1e-10)


def test_binomial_cdf_matches_a_direct_sum() -> None:
    n, p = 300, 0.07
    for k in (0, 5, 21, 40, 299):
        direct = math.fsum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))
        assert binomial_cdf(k, n, p) == pytest.approx(direct, rel=1e-9)


def test_binomial_cdf_is_fast_and_sane_for_millions() -> None:
    # Normal approximation with continuity correction: P(Z ≤ (9900.5 − 10000) / 99.499).
    value = binomial_cdf(9_900, 1_000_000, 0.01)
    assert value == pytest.approx(0.1587, abs=0.003)


@pytest.mark.parametrize(
    ("x", "df", "expected"),
    [
        (3.841458820694124, 1, 0.05),
        (18.307038053275146, 10, 0.05),
        (0.0, 3, 1.0),
        (1.0, 2, math.exp(-0.5)),
        (100.0, 50, 3.45e-5),
    ],
)
def test_chi_square_sf(x: float, df: int, expected: float) -> None:
    assert chi_square_sf(x, df) == pytest.approx(expected, rel=2e-3)


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [(0.975, 10, 2.228138851986273), (0.975, 1, 12.706204736174705), (0.95, 100, 1.66023)],
)
def test_t_quantile(p: float, df: int, expected: float) -> None:
    assert t_quantile(p, df) == pytest.approx(expected, rel=1e-5)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, rel=1e-5)


def test_normal_quantile_and_log_beta() -> None:
    assert normal_quantile(0.975) == pytest.approx(1.959963984540054)
    assert log_beta(2.0, 3.0) == pytest.approx(math.log(1 / 12))


@pytest.mark.parametrize(
    ("x", "a", "b"), [(0.3, 2.0, 5.0), (0.9, 0.5, 0.5), (0.6, 3.0, 4.0), (0.01, 2.0, 198.0)]
)
def test_log_regularized_beta_is_the_log(x: float, a: float, b: float) -> None:
    assert log_regularized_beta(x, a, b) == pytest.approx(math.log(regularized_beta(x, a, b)))


def test_log_regularized_beta_does_not_underflow() -> None:
    # I_0.001(500, 50000) ≈ 1e-... far below the float range of I itself.
    value = log_regularized_beta(0.001, 500.0, 50_000.0)
    assert math.isfinite(value) and value < -700
    assert log_regularized_beta(0.0, 1.0, 1.0) == -math.inf
    assert log_regularized_beta(1.0, 1.0, 1.0) == 0.0
