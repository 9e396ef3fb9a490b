"""The built-in checks' statistics on evidence a source would hand over (core/builtins.py,
core/slices.py): what passes, what fails, what is "not yet", and what each result says."""

from __future__ import annotations

import math
import random

import pytest

from understudy_common.histogram import log_spaced_edges
from understudy_operator.core import (
    BUILTINS,
    Check,
    Judging,
    Method,
    NoData,
    QueryFailed,
    SliceSettings,
    Vector,
    Verdict,
    judge,
)
from understudy_operator.core.slices import decile_groups, prediction_slices, regroup
from understudy_operator.core.statistics import Histogram

J = Judging()


def rates(successes: int, trials: int, label: str = "agree") -> dict[str, Vector]:
    if label == "agree":
        return {"compared": Vector({("true",): successes, ("false",): trials - successes})}
    return {
        "mirror": Vector(
            {("candidate_error",): successes, ("agreed",): trials - successes, ("dropped",): 99}
        )
    }


def moments(values: list[float], key: tuple[str, ...] = ()) -> dict[str, dict]:
    return {
        "count": {key: len(values)},
        "positive": {key: sum(max(v, 0.0) for v in values)},
        "negative": {key: sum(max(-v, 0.0) for v in values)},
        "squares": {key: sum(v * v for v in values)},
    }


def as_vectors(parts: dict[str, dict]) -> dict[str, Vector]:
    return {k: Vector(v) for k, v in parts.items()}


# -- rates ---------------------------------------------------------------------------------


def test_agreement_passes_only_when_the_whole_sequence_clears_the_bound() -> None:
    check = Check("agreement-rate", min=0.9)
    clear = judge(check, rates(970, 1000), J)
    assert clear.verdict is Verdict.PASS
    assert clear.lower is not None and clear.lower > 0.9 and clear.value == 0.97
    # 0.92 over 300 records: the estimate is above 0.9 but the interval is not yet
    close = judge(check, rates(276, 300), J)
    assert close.verdict is Verdict.NOT_YET
    assert close.lower is not None and close.lower < 0.9 < close.value  # type: ignore[operator]
    assert "not yet decided against >= 0.9" in close.message
    assert judge(check, rates(410, 1000), J).verdict is Verdict.FAIL


def test_the_threshold_method_is_the_old_point_rule() -> None:
    check = Check("agreement-rate", min=0.9, method=Method.THRESHOLD)
    close = judge(check, rates(276, 300), J)
    assert (close.verdict, close.value, close.lower) == (Verdict.PASS, 0.92, None)
    assert judge(check, rates(269, 300), J).verdict is Verdict.FAIL


def test_candidate_errors_leave_dropped_mirrors_out() -> None:
    check = Check("candidate-error-rate", max=0.01, method=Method.THRESHOLD)
    result = judge(check, rates(5, 1000, label="mirror"), J)
    assert result.value == 0.005 and result.samples == 1000  # the 99 dropped are nobody's


def test_no_records_is_no_data_not_a_pass() -> None:
    for check in (Check("agreement-rate", min=0.0), Check("candidate-error-rate", max=1.0)):
        parts = {p: Vector({}) for p in BUILTINS[check.name].parts(check, J)}
        assert judge(check, parts, J).verdict is Verdict.INCONCLUSIVE


def test_a_failed_or_empty_part_makes_the_check_inconclusive_and_says_which() -> None:
    check = Check("prediction-ks", max=0.1)
    result = judge(check, {"live": QueryFailed("timeout"), "candidate": Vector({})}, J)
    assert (result.verdict, result.message) == (
        Verdict.INCONCLUSIVE,
        "query failed (live): timeout",
    )
    assert judge(check, {"live": NoData("x"), "candidate": Vector({})}, J).verdict is (
        Verdict.INCONCLUSIVE
    )


# -- bias ------------------------------------------------------------------------------------


def test_bias_is_the_mean_signed_difference_with_its_sequence() -> None:
    rng = random.Random(1)
    fine = [rng.gauss(0.001, 0.1) for _ in range(3000)]
    off = [rng.gauss(0.08, 0.1) for _ in range(3000)]
    check = Check("bias", min=-0.05, max=0.05)
    passed = judge(check, as_vectors(moments(fine)), J)
    assert passed.verdict is Verdict.PASS
    assert passed.value == pytest.approx(sum(fine) / len(fine))
    failed = judge(check, as_vectors(moments(off)), J)
    assert failed.verdict is Verdict.FAIL and failed.lower > 0.05  # type: ignore[operator]
    few = judge(check, as_vectors(moments(fine[:30])), J)
    assert few.verdict is Verdict.NOT_YET


# -- slices ----------------------------------------------------------------------------------

EDGES = log_spaced_edges(10_000, 2_000_000, 80)


def band_of(price: float) -> str:
    for edge in EDGES:
        if price <= edge:
            return repr(edge) if not float(edge).is_integer() else f"{edge:.1f}"
    return "+Inf"


def houses(n: int, *, off_above: float | None = None, shift: float = 0.0, seed: int = 2):
    """(live price, d) pairs: prices log-normal around $180k, d ~ N(0, 0.05); houses above
    ``off_above`` get ``shift`` added to d (a segment the candidate gets wrong)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        price = math.exp(rng.gauss(math.log(180_000), 0.4))
        d = rng.gauss(0.0, 0.05)
        if off_above is not None and price > off_above:
            d += shift
        out.append((price, d))
    return out


def slice_moments(pairs) -> dict[str, Vector]:
    parts: dict[str, dict] = {"count": {}, "positive": {}, "negative": {}, "squares": {}}
    for price, d in pairs:
        key = (band_of(price),)
        parts["count"][key] = parts["count"].get(key, 0) + 1
        parts["positive"][key] = parts["positive"].get(key, 0.0) + max(d, 0.0)
        parts["negative"][key] = parts["negative"].get(key, 0.0) + max(-d, 0.0)
        parts["squares"][key] = parts["squares"].get(key, 0.0) + d * d
    return as_vectors(parts)


def test_a_candidate_off_on_the_top_segment_fails_slice_bias_and_names_it() -> None:
    check = Check("slice-bias", min=-0.10, max=0.10)
    bad = judge(check, slice_moments(houses(5000, off_above=300_000, shift=0.25)), J)
    assert bad.verdict is Verdict.FAIL
    # the top decile of the live price, the segment the candidate gets wrong, is named
    assert bad.message.startswith("worst slice: slice-bias [live $306k–$836k] 0.2516 [")
    assert bad.message.endswith("outside -0.1..0.1; 10 slices judged (α/10 each), 1 outside")
    assert bad.value is not None and bad.value > 0.2
    # overall the same candidate looks fine: most houses are below $300k
    overall = [d for _, d in houses(5000, off_above=300_000, shift=0.25)]
    assert abs(sum(overall) / len(overall)) < 0.03
    good = judge(check, slice_moments(houses(5000)), J)
    assert good.verdict is Verdict.PASS
    assert "10 slices judged" in good.message


def test_slices_wait_for_enough_records() -> None:
    check = Check("slice-bias", min=-0.10, max=0.10)
    early = judge(check, slice_moments(houses(300)), J)
    assert early.verdict is Verdict.NOT_YET
    assert "no slice has 200 records" in early.message


def test_deciles_group_adjacent_bands_by_live_mass() -> None:
    assert decile_groups([10] * 10) == list(range(10))
    assert decile_groups([1, 1, 98]) == [0, 0, 5]
    mass = {"100.0": 10, "200.0": 10, "300.0": 80, "+Inf": 0}
    names = [s.name for s in prediction_slices(mass, (150.0,))]
    assert names == ["live ≤ $150", "live > $150"]
    (low, high) = prediction_slices(mass, (150.0,))
    assert low.keys == ("100.0",) and high.keys == ("200.0", "300.0", "+Inf")


def test_field_slices_pool_rare_values() -> None:
    judging = Judging(slices=SliceSettings(field="Neighborhood", min_samples=50))
    check = Check("slice-agreement", min=0.8)
    records = {("NAmes", "true"): 190, ("NAmes", "false"): 10}
    records |= {("Blueste", "true"): 10, ("Blueste", "false"): 30}  # rare and bad
    records |= {("Veenker", "true"): 5, ("Veenker", "false"): 20}
    result = judge(check, {"records": Vector(records)}, judging)
    # the two rare values pooled: 15 of 65 agree, a slice of its own
    assert result.verdict is Verdict.FAIL
    assert "[Neighborhood: other values (2)]" in result.message


def test_regroup_merges_buckets_into_groups() -> None:
    h = Histogram((1.0, 2.0, 3.0), (1, 2, 3, 4))
    assert regroup(h, [0, 0, 1, 1]) == Histogram((2.0,), (3, 7))


# -- latency and distributions -----------------------------------------------------------

LATENCY_EDGES = log_spaced_edges(0.0001, 10.0, 121)


def latency(values: list[float]) -> Vector:
    h = Histogram.of(LATENCY_EDGES, values)
    cumulative = h.cumulative()
    keys = [repr(e) for e in LATENCY_EDGES] + ["+Inf"]
    return Vector({(k,): c for k, c in zip(keys, cumulative, strict=True)})


def test_latency_needs_enough_requests_then_bounds_the_ratio() -> None:
    rng = random.Random(3)
    live = [rng.lognormvariate(math.log(0.002), 0.3) for _ in range(2000)]
    same = [rng.lognormvariate(math.log(0.002), 0.3) for _ in range(2000)]
    slow = [3 * v for v in same]
    check = Check("latency-p99-ratio", max=1.5)
    few = judge(check, {"live": latency(live[:100]), "candidate": latency(same[:100])}, J)
    assert few.verdict is Verdict.NOT_YET and "needs 368" in few.message
    assert judge(check, {"live": latency(live), "candidate": latency(same)}, J).verdict is (
        Verdict.PASS
    )
    failed = judge(check, {"live": latency(live), "candidate": latency(slow)}, J)
    assert failed.verdict is Verdict.FAIL and failed.lower > 1.5  # type: ignore[operator]


def predictions(values: list[float]) -> Vector:
    edges = log_spaced_edges(10_000, 2_000_000, 200)
    h = Histogram.of(edges, values)
    keys = [repr(e) for e in edges] + ["+Inf"]
    return Vector({(k,): c for k, c in zip(keys, h.cumulative(), strict=True)})


def test_distribution_distances_from_shared_buckets() -> None:
    rng = random.Random(4)
    live = [math.exp(rng.gauss(12, 0.4)) for _ in range(3000)]
    same = [math.exp(rng.gauss(12, 0.4)) for _ in range(3000)]
    shifted = [v * 1.3 for v in same]
    ev = {"live": predictions(live), "candidate": predictions(same)}
    off = {"live": predictions(live), "candidate": predictions(shifted)}
    ks = Check("prediction-ks", max=0.1)
    assert judge(ks, ev, J).value < 0.05  # type: ignore[operator]
    assert judge(ks, off, J).verdict is Verdict.FAIL
    psi = Check("prediction-psi", max=0.1)
    # over deciles of live, not 200 sparse buckets: identical distributions read ~0
    assert judge(psi, ev, J).value < 0.02  # type: ignore[operator]
    assert judge(psi, off, J).value > 0.25  # type: ignore[operator]
    w = Check("prediction-wasserstein", max=0.05)
    mean = {"live_sum": Vector({(): sum(live)}), "live_count": Vector({(): len(live)})}
    assert judge(w, {**ev, **mean}, J).value < 0.03  # type: ignore[operator]
    # a 30% shift moves the predictions by about 30% of the mean
    assert judge(w, {**off, **mean}, J).value == pytest.approx(0.3, abs=0.05)


def test_histograms_on_different_edges_are_not_compared() -> None:
    a = Vector({("1.0",): 5, ("+Inf",): 10})
    b = Vector({("2.0",): 5, ("+Inf",): 10})
    result = judge(Check("prediction-ks", max=0.1), {"live": a, "candidate": b}, J)
    assert result.verdict is Verdict.INCONCLUSIVE and "different bucket edges" in result.message
