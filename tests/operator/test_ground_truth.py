"""Checks on real outcomes (core/ground_truth.py): the MAE ratio on labelled pairs, its
confidence sequence, the RMSE ratio and the label-coverage gate."""

from __future__ import annotations

import random

from understudy_operator.core import BUILTINS, Check, Judging, Method, Vector, Verdict, judge

J = Judging()


def labelled(pairs: list[tuple[float, float]], compared: int = 0) -> dict[str, Vector]:
    """Evidence for (|e_live|, |e_candidate|) pairs, as the router's counters hold them."""
    diffs = [c - live for live, c in pairs]
    return {
        "labelled": Vector({(): len(pairs)}),
        "abs": Vector(
            {("live",): sum(p[0] for p in pairs), ("candidate",): sum(p[1] for p in pairs)}
        ),
        "squared": Vector(
            {
                ("live",): sum(p[0] ** 2 for p in pairs),
                ("candidate",): sum(p[1] ** 2 for p in pairs),
            }
        ),
        "positive": Vector({(): sum(max(d, 0.0) for d in diffs)}),
        "negative": Vector({(): sum(max(-d, 0.0) for d in diffs)}),
        "squares": Vector({(): sum(d * d for d in diffs)}),
        "compared": Vector({(): compared or len(pairs)}),
    }


def errors(n: int, live_mae: float, cand_mae: float, seed: int = 5) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        common = rng.expovariate(1.0)  # the same hard houses are hard for both
        out.append(
            (
                live_mae * (0.5 * common + 0.5 * rng.expovariate(1.0)),
                cand_mae * (0.5 * common + 0.5 * rng.expovariate(1.0)),
            )
        )
    return out


def test_a_more_accurate_candidate_passes_once_the_labels_say_so() -> None:
    check = Check("realized-error-ratio", max=1.0)
    better = labelled(errors(800, 19_600, 15_000))  # v1 vs v2 on the holdout, roughly
    result = judge(check, better, J)
    assert result.verdict is Verdict.PASS
    assert result.value is not None and 0.7 < result.value < 0.85
    assert result.upper is not None and result.upper < 1.0
    few = labelled(errors(40, 19_600, 15_000))
    assert judge(check, few, J).verdict in (Verdict.NOT_YET, Verdict.PASS)


def test_a_less_accurate_candidate_fails_and_a_close_one_is_not_yet() -> None:
    check = Check("realized-error-ratio", max=1.0)
    worse = judge(check, labelled(errors(800, 15_000, 19_000)), J)
    assert worse.verdict is Verdict.FAIL and worse.lower > 1.0  # type: ignore[operator]
    close = judge(check, labelled(errors(200, 15_000, 15_200)), J)
    assert close.verdict is Verdict.NOT_YET
    assert "realized-error-ratio" in close.message and "not yet decided" in close.message


def test_no_labels_yet_is_not_yet_not_missing_evidence() -> None:
    for name in ("realized-error-ratio", "realized-rmse-ratio"):
        check = Check(name, max=1.0)
        result = judge(check, labelled([]), J)
        assert result.verdict is Verdict.NOT_YET
        assert "labels arrive" in result.message
    result = judge(Check("realized-error-ratio", max=1.0), labelled(errors(10, 1, 1)), J)
    assert result.verdict is Verdict.NOT_YET and "needs 30" in result.message


def test_the_threshold_and_rmse_ratios_are_plain_ratios() -> None:
    pairs = [(10.0, 20.0), (30.0, 20.0)]
    ev = labelled(pairs)
    mae = judge(Check("realized-error-ratio", max=1.0, method=Method.THRESHOLD), ev, J)
    assert mae.value == 1.0 and mae.verdict is Verdict.PASS
    rmse = judge(Check("realized-rmse-ratio", max=1.0), ev, J)
    assert rmse.value == (800 / 1000) ** 0.5


def test_label_coverage_is_a_gate_that_never_fails() -> None:
    check = Check("label-coverage", min=100)
    short = judge(check, labelled(errors(40, 1, 1), compared=400), J)
    assert (short.verdict, short.value) == (Verdict.NOT_YET, 40.0)
    assert "10.0% of 400 compared" in short.message
    assert judge(check, labelled(errors(100, 1, 1), compared=400), J).verdict is Verdict.PASS


def test_the_evidence_is_paired_counters_of_the_pair() -> None:
    parts = BUILTINS["realized-error-ratio"].parts(Check("realized-error-ratio", max=1), J)
    assert {q.metric for q in parts.values()} == {
        "understudy_router_paired_loss_records_total",
        "understudy_router_paired_abs_error_total",
        "understudy_router_paired_loss_diff_positive_total",
        "understudy_router_paired_loss_diff_negative_total",
        "understudy_router_paired_loss_diff_squares_total",
    }


def test_no_verdict_on_realized_error_before_the_coverage_gate_passes() -> None:
    from understudy_operator.core.assess import gate_on_labels
    from understudy_operator.core.checks import CheckResult

    failing = CheckResult("realized-error-ratio", 1.2, "<= 1", Verdict.FAIL, "ratio 1.2 outside")
    gate = CheckResult("label-coverage", 40.0, ">= 100", Verdict.NOT_YET, "40 labelled")
    other = CheckResult("agreement-rate", 0.5, ">= 0.9", Verdict.FAIL, "low")
    held = gate_on_labels((failing, gate, other))
    assert held[0].verdict is Verdict.NOT_YET
    assert held[0].message == "waiting for label-coverage: ratio 1.2 outside"
    assert held[0].value == 1.2
    assert held[2] is other  # only realized error waits for the labels
    passed = CheckResult("label-coverage", 100.0, ">= 100", Verdict.PASS, "100 labelled")
    assert gate_on_labels((failing, passed))[0] is failing
    assert gate_on_labels((failing,))[0] is failing  # no gate: decided at once
