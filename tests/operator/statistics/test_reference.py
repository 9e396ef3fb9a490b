"""Input drift from bucket counts (core/drift.py, statistics/reference.py) against a direct
computation on the raw samples: numeric, categorical and null-heavy features, the training
side built by the artifact's own reference code (understudy_model.reference)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from understudy_model.reference import categorical_reference, numeric_reference
from understudy_operator.core import feature_drifts
from understudy_operator.core.statistics import chi_square_fit, ks_of_shares, psi_of_shares

RNG_SEED = 7


def _numeric_evidence(
    name: str, train: np.ndarray, live: np.ndarray
) -> tuple[dict[tuple[str, ...], float], dict[tuple[str, ...], float]]:
    """The (feature, kind, bucket) maps a model-api exports, from raw values."""
    ref = numeric_reference(train, quantiles=10)
    labels = [*(repr(e) for e in ref.edges), "+Inf"]
    present = live[~np.isnan(live)]
    counts = np.bincount(np.searchsorted(ref.edges, present, side="left"), minlength=len(labels))
    values = {(name, "numeric", b): float(c) for b, c in zip(labels, counts, strict=True)}
    values[(name, "numeric", "_null")] = float(np.isnan(live).sum())
    shares = {
        (name, "numeric", b): s * (1 - ref.null_share)
        for b, s in zip(labels, ref.shares, strict=True)
    }
    shares[(name, "numeric", "_null")] = ref.null_share
    return values, shares


def _direct_psi(p: np.ndarray, q: np.ndarray) -> float:
    p, q = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    return float(np.sum((p - q) * np.log(p / q)))


@pytest.mark.parametrize("null_share", [0.0, 0.6])
def test_numeric_drift_equals_the_raw_computation(null_share: float) -> None:
    rng = np.random.default_rng(RNG_SEED)
    train = rng.lognormal(7.3, 0.35, 3000)
    live = rng.lognormal(7.45, 0.35, 800)  # a shift the KS sees clearly
    train[rng.random(train.size) < null_share] = np.nan
    live[rng.random(live.size) < null_share / 2] = np.nan  # fewer nulls live: drift too
    values, shares = _numeric_evidence("Gr_Liv_Area", train, live)

    [drift], silent = feature_drifts(values, shares)

    assert silent == []
    assert drift.samples == live.size
    # PSI directly: raw values bucketed by the training deciles, nulls a bucket of their own.
    edges = numeric_reference(train, quantiles=10).edges

    def hist(x: np.ndarray) -> np.ndarray:
        present = x[~np.isnan(x)]
        counts = np.bincount(np.searchsorted(edges, present), minlength=len(edges) + 1)
        return np.append(counts, np.isnan(x).sum()) / x.size

    assert drift.psi == pytest.approx(_direct_psi(hist(train), hist(live)), rel=1e-9)
    # KS on the raw non-null values: the bucketed one is a lower bound, short by at most
    # the largest bucket mass (deciles: about 0.1).
    raw = stats.ks_2samp(train[~np.isnan(train)], live[~np.isnan(live)]).statistic
    assert drift.ks is not None
    largest = max(max(drift.reference[:-1]), max(drift.live[:-1])) / (1 - min(null_share, 0.9))
    assert drift.ks <= raw + 1e-9
    assert raw - drift.ks <= largest
    assert drift.ks > 0.1  # and it sees the shift


def test_categorical_drift_equals_psi_and_scipys_chi_square() -> None:
    rng = np.random.default_rng(RNG_SEED)
    names = ["NAmes", "CollgCr", "OldTown", "Edwards", "Somerst"]
    train = pd.Series(rng.choice(names, 4000, p=[0.3, 0.25, 0.2, 0.15, 0.1]))
    train[rng.random(train.size) < 0.5] = None  # null-heavy (Mas_Vnr_Type: 61%)
    live = pd.Series(rng.choice(names, 900, p=[0.2, 0.25, 0.2, 0.15, 0.2]))
    live[rng.random(live.size) < 0.4] = None
    ref = categorical_reference(train, rare_share=0.01)
    present = 1 - ref.null_share
    shares = {("N", "categorical", c): s * present for c, s in ref.shares.items()}
    shares[("N", "categorical", "_other")] = ref.other_share * present
    shares[("N", "categorical", "_null")] = ref.null_share
    observed = live.value_counts()
    values = {("N", "categorical", c): float(observed.get(c, 0)) for c in ref.shares}
    values[("N", "categorical", "_null")] = float(live.isna().sum())

    [drift], _ = feature_drifts(values, shares)

    order = [*sorted(ref.shares), "_other", "_null"]
    assert list(drift.buckets) == order
    q = np.array([shares[("N", "categorical", b)] for b in order])
    p = np.array([values.get(("N", "categorical", b), 0.0) for b in order]) / live.size
    assert drift.psi == pytest.approx(_direct_psi(q, p), rel=1e-9)
    # Pearson against scipy on the cells that expect ≥ 5 (the empty _other cell pools away).
    kept = [i for i, b in enumerate(order) if b != "_other"]
    f_exp = q[kept] / q[kept].sum() * live.size
    direct = stats.chisquare(p[kept] * live.size, f_exp)
    assert drift.fit.statistic == pytest.approx(direct.statistic, rel=1e-9)
    assert drift.fit.p_value == pytest.approx(direct.pvalue, rel=1e-6)
    assert drift.ks is None


def test_no_drift_gives_a_small_psi_and_a_large_p_value() -> None:
    shares = [0.1] * 10
    counts = [50.0] * 10
    assert psi_of_shares(shares, counts) == 0.0
    assert ks_of_shares(shares, counts) == pytest.approx(0.0, abs=1e-12)
    assert chi_square_fit(counts, shares).p_value == pytest.approx(1.0)


def test_an_unseen_category_alone_is_drift() -> None:
    """A category training never saw has share 0 (floored): 5% of them give PSI ≈ 0.3."""
    shares = {("F", "categorical", "a"): 1.0, ("F", "categorical", "_unseen"): 0.0}
    values = {("F", "categorical", "a"): 950.0, ("F", "categorical", "_unseen"): 50.0}
    [drift], _ = feature_drifts(values, shares)
    assert 0.25 < drift.psi < 0.35
    assert drift.fit.p_value == 0.0 and math.isinf(drift.fit.statistic)


def test_a_feature_without_records_is_named_not_judged() -> None:
    shares = {("F", "numeric", "1.0"): 0.5, ("F", "numeric", "+Inf"): 0.5}
    drifts, silent = feature_drifts({}, shares)
    assert drifts == [] and silent == ["F"]


@pytest.mark.parametrize(
    ("counts", "shares"), [([1.0], [0.5, 0.5]), ([-1.0, 2.0], [0.5, 0.5]), ([0.0, 0.0], [1, 0])]
)
def test_unusable_counts_are_a_value_error(counts: list[float], shares: list[float]) -> None:
    with pytest.raises(ValueError):
        chi_square_fit(counts, shares)
