import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from understudy_common.compare import Tolerance, compare_predictions, ks_statistic

TOL = Tolerance(relative=0.10, absolute=1_000)


@pytest.mark.parametrize(
    ("live", "candidate", "abs_diff", "rel_diff", "agree"),
    [
        (100_000, 100_000, 0, 0.0, True),  # identical
        (100_000, 105_000, 5_000, 0.05, True),  # within relative only
        (100_000, 120_000, 20_000, 0.20, False),  # outside both
        (5_000, 5_900, 900, 0.18, True),  # within absolute only
        (0, 0, 0, 0.0, True),  # zero live, zero candidate
        (0, 500, 500, math.inf, True),  # zero live: rel undefined -> inf, abs ok
        (0, 5_000, 5_000, math.inf, False),  # zero live, beyond absolute
        (-100_000, -95_000, 5_000, 0.05, True),  # negative values use |live|
        (-100_000, 100_000, 200_000, 2.0, False),  # sign flip
    ],
)
def test_record_comparison(live, candidate, abs_diff, rel_diff, agree):
    result = compare_predictions(live=[live], candidate=[candidate], tolerance=TOL)
    record = result.records[0]
    assert record.abs_diff == pytest.approx(abs_diff)
    assert record.rel_diff == pytest.approx(rel_diff)
    assert record.agree is agree


def test_aggregates():
    result = compare_predictions(
        live=[100, 200, 300, 400],
        candidate=[100, 200, 300, 900],
        tolerance=Tolerance(relative=0.0, absolute=10),
    )
    assert result.count == 4
    assert result.agreed == 3
    assert result.agreement_rate == 0.75
    assert result.max_abs_diff == 500


def test_empty_inputs_have_no_agreement_rate():
    result = compare_predictions(live=[], candidate=[], tolerance=TOL)
    assert result.count == 0
    assert result.agreement_rate is None
    assert result.max_abs_diff is None


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="live has 2 predictions but candidate has 1"):
        compare_predictions(live=[1, 2], candidate=[1], tolerance=TOL)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_predictions_are_an_error(bad):
    with pytest.raises(ValueError, match="NaN or infinite"):
        compare_predictions(live=[1.0], candidate=[bad], tolerance=TOL)


@pytest.mark.parametrize("field", ["relative", "absolute"])
def test_tolerance_must_be_non_negative(field):
    with pytest.raises(ValueError, match=f"tolerance.{field}"):
        Tolerance(**{field: -1})


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([1, 2, 3], [1, 2, 3], 0.0),
        ([1, 2, 3], [4, 5, 6], 1.0),
        ([1, 2, 3, 4], [3, 4, 5, 6], 0.5),
        ([1, 1, 1], [1, 2], 0.5),  # ties
    ],
)
def test_ks_statistic_table(a, b, expected):
    assert ks_statistic(a, b) == pytest.approx(expected)


def test_ks_statistic_matches_the_textbook_definition_on_random_samples():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 300), rng.normal(0.3, 1.2, 200)
    grid = np.sort(np.concatenate([a, b]))
    brute = max(abs(np.mean(a <= x) - np.mean(b <= x)) for x in grid)
    assert ks_statistic(a, b) == pytest.approx(brute)


def test_ks_statistic_of_an_empty_sample_is_none_not_zero():
    assert ks_statistic([], [1.0]) is None
    assert ks_statistic([1.0], []) is None


def _numpy_reference(live, candidate, tolerance):
    """The vectorised form of the rule (the implementation before the plain-Python one)."""
    live_a, cand_a = np.asarray(live, dtype=float), np.asarray(candidate, dtype=float)
    abs_diff = np.abs(cand_a - live_a)
    denom = np.abs(live_a)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel_diff = np.where(
            denom > 0,
            abs_diff / np.where(denom > 0, denom, 1.0),
            np.where(abs_diff == 0, 0.0, math.inf),
        )
    agree = (abs_diff <= tolerance.absolute) | (rel_diff <= tolerance.relative)
    return list(zip(abs_diff.tolist(), rel_diff.tolist(), agree.tolist(), strict=True))


finite = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e-300, 180_000.0]),
)


@given(
    pairs=st.lists(st.tuples(finite, finite), max_size=20),
    relative=st.floats(0, 2),
    absolute=st.floats(0, 1e6),
)
def test_same_results_as_the_vectorised_rule(pairs, relative, absolute):
    tolerance = Tolerance(relative=relative, absolute=absolute)
    live = [p[0] for p in pairs]
    candidate = [p[1] for p in pairs]
    result = compare_predictions(live=live, candidate=candidate, tolerance=tolerance)
    got = [(r.abs_diff, r.rel_diff, r.agree) for r in result.records]
    assert got == _numpy_reference(live, candidate, tolerance)


def test_numpy_arrays_and_ints_are_numbers_too():
    result = compare_predictions(
        live=np.array([100_000.0, 200_000.0]), candidate=[100_500, 260_000], tolerance=TOL
    )
    assert [r.agree for r in result.records] == [True, False]
    assert all(type(r.live) is float and type(r.candidate) is float for r in result.records)


@pytest.mark.parametrize("bad", [[[1.0, 2.0]], np.ones((2, 2)), ["many"], [None]])
def test_anything_but_a_flat_sequence_of_numbers_is_an_error(bad):
    with pytest.raises(ValueError, match="flat sequence of numbers"):
        compare_predictions(live=bad, candidate=[1.0] * len(bad), tolerance=TOL)


def test_default_tolerance_is_ten_percent_or_ten_thousand():
    # The defaults the router, the spec and the docs promise; not read from the class.
    assert (Tolerance().relative, Tolerance().absolute) == (0.10, 10_000.0)


def test_a_difference_exactly_at_either_limit_agrees():
    # 110 vs 100: relative difference exactly 0.1 (absolute limit 0: off).
    at_relative = compare_predictions(
        live=[100.0], candidate=[110.0], tolerance=Tolerance(relative=0.1, absolute=0)
    )
    at_absolute = compare_predictions(
        live=[100.0], candidate=[110.0], tolerance=Tolerance(relative=0, absolute=10)
    )
    assert at_relative.records[0].rel_diff == 0.1
    assert at_relative.records[0].agree is True
    assert at_absolute.records[0].agree is True


def test_a_zero_tolerance_is_allowed():
    assert Tolerance(relative=0, absolute=0) == Tolerance(relative=0.0, absolute=0.0)


@pytest.mark.parametrize("value", [math.nan, math.inf, "0.1"])
def test_tolerance_must_be_a_finite_number(value):
    with pytest.raises(ValueError, match=r"tolerance\.relative must be a finite number"):
        Tolerance(relative=value)


def test_errors_name_the_argument_that_is_wrong():
    with pytest.raises(ValueError, match=r"^live contains NaN"):
        compare_predictions(live=[math.nan], candidate=[1.0], tolerance=TOL)
    with pytest.raises(ValueError, match=r"^candidate contains NaN"):
        compare_predictions(live=[1.0], candidate=[math.nan], tolerance=TOL)
    with pytest.raises(ValueError, match=r"^sample_a contains NaN"):
        ks_statistic([math.nan], [1.0])
    with pytest.raises(ValueError, match=r"^sample_b contains NaN"):
        ks_statistic([1.0], [math.nan])
