"""Checks on real outcomes: is the candidate at least as accurate as live on the records
whose true values (labels) have arrived? (Issue: ground truth; the router joins each label
to both answers of the record, docs/contracts.md "Ground truth".)

The router counts, per (live, candidate) pair, only records labelled with *both* answers,
so the two errors are paired: e_l, e_c on the same records.

``realized-error-ratio`` — candidate MAE / live MAE on those records
    Threshold method: Σ|e_c| / Σ|e_l| over the interval. Confidence method: the paired loss
    difference d_i = |e_c,i| − |e_l,i| (Diebold & Mariano 1995: equal predictive accuracy
    is a one-sample question about the mean of d), its asymptotic confidence sequence from
    the router's monotone counters (Σ max(d, 0), Σ max(−d, 0), Σ d², n), over everything
    since the analysis started; the ratio's interval is 1 + CS(d̄) / MAE_live, with the live
    MAE of the same records plugged in (its own uncertainty is not propagated: the interval
    is slightly too narrow when few labels have arrived; the minimum of 30 pairs and
    ``label-coverage`` guard that). Before any label: "not yet" — labels come later by
    nature, so their absence is no failure of the evidence.
``realized-rmse-ratio`` — √(Σe_c² / Σe_l²) on the same records (threshold only).
``label-coverage`` — labelled pairs since the analysis started; passes at ``min``, "not
    yet" below it (never fails): a gate that keeps realized error from being judged on a
    handful of labels. Its message gives the coverage, labelled / compared records.
    Labels are rarely a random sample (cheap houses sell faster): coverage says how much,
    not how representative.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from understudy_operator.core.checks import (
    LABEL_COVERAGE,
    REALIZED_ERROR_RATIO,
    REALIZED_RMSE_RATIO,
    Check,
    CheckResult,
    Method,
    Verdict,
)
from understudy_operator.core.evidence import EvidenceQuery, Vector, Window, window_of
from understudy_operator.core.judging import Judging, interval_result, point_result, undecided
from understudy_operator.core.paired import CANDIDATE, MODEL, PAIR, Parts, count
from understudy_operator.core.statistics import Interval, Moments, mean_confidence_sequence

LABELLED = "understudy_router_paired_loss_records_total"
ABS_ERROR = "understudy_router_paired_abs_error_total"
SQUARED_ERROR = "understudy_router_paired_squared_error_total"
LOSS_DIFF = {
    "positive": "understudy_router_paired_loss_diff_positive_total",
    "negative": "understudy_router_paired_loss_diff_negative_total",
    "squares": "understudy_router_paired_loss_diff_squares_total",
}
COMPARED = "understudy_router_compared_records_total"
# The checks that need labels (a driver turns its label feed on for them).
ON_LABELS = frozenset({REALIZED_ERROR_RATIO, REALIZED_RMSE_RATIO, LABEL_COVERAGE})
# Fewer pairs than this: the asymptotic sequence is not claimed ("not yet").
MIN_PAIRS = 30


def _no_labels(check: Check) -> CheckResult:
    return undecided(
        check, Verdict.NOT_YET, "not yet: no labelled records (labels arrive after the sale)"
    )


def error_ratio_parts(check: Check, judging: Judging) -> Parts:
    w = window_of(check.method)
    parts = {
        "labelled": EvidenceQuery(LABELLED, PAIR, (), w),
        "abs": EvidenceQuery(ABS_ERROR, PAIR, ("role",), w),
    }
    parts |= {k: EvidenceQuery(metric, PAIR, (), w) for k, metric in LOSS_DIFF.items()}
    return parts


def error_ratio(check: Check, ev: Mapping[str, Vector], judging: Judging) -> CheckResult:
    n = count(ev["labelled"].total())
    live, cand = ev["abs"].get("live"), ev["abs"].get("candidate")
    if n == 0 or live <= 0:
        return _no_labels(check)
    ratio = cand / live
    if check.method is Method.THRESHOLD:
        return point_result(check, ratio, samples=n)
    if n < MIN_PAIRS:
        return undecided(
            check,
            Verdict.NOT_YET,
            f"not yet: {n} labelled pairs, the sequence needs {MIN_PAIRS} (MAE ratio "
            f"{ratio:.4g} so far)",
            samples=n,
        )
    total = ev["positive"].total() - ev["negative"].total()
    moments = Moments(n, total, ev["squares"].total())
    cs = mean_confidence_sequence(moments, alpha=judging.alpha)
    mae_live = live / n
    interval = Interval(
        estimate=ratio, lower=1.0 + cs.lower / mae_live, upper=1.0 + cs.upper / mae_live
    )
    return interval_result(check, interval, samples=n, alpha=judging.alpha)


def rmse_ratio_parts(check: Check, judging: Judging) -> Parts:
    w = window_of(check.method)
    return {
        "labelled": EvidenceQuery(LABELLED, PAIR, (), w),
        "squared": EvidenceQuery(SQUARED_ERROR, PAIR, ("role",), w),
    }


def rmse_ratio(check: Check, ev: Mapping[str, Vector], judging: Judging) -> CheckResult:
    n = count(ev["labelled"].total())
    live, cand = ev["squared"].get("live"), ev["squared"].get("candidate")
    if n == 0 or live <= 0:
        return _no_labels(check)
    return point_result(check, math.sqrt(cand / live), samples=n)


def coverage_parts(check: Check, judging: Judging) -> Parts:
    return {
        "labelled": EvidenceQuery(LABELLED, PAIR, (), Window.ANALYSIS),
        "compared": EvidenceQuery(COMPARED, (MODEL, CANDIDATE), (), Window.ANALYSIS),
    }


def coverage(check: Check, ev: Mapping[str, Vector], judging: Judging) -> CheckResult:
    n = count(ev["labelled"].total())
    compared = ev["compared"].total()
    if compared <= 0 and n == 0:
        return undecided(check, Verdict.INCONCLUSIVE, "no data: no records compared yet")
    share = f"{n / compared:.1%} of {count(compared)} compared" if compared > 0 else "none compared"
    enough = check.min is None or n >= check.min  # a gate: the spec refuses a max
    verdict = Verdict.PASS if enough else Verdict.NOT_YET
    words = "reached" if verdict is Verdict.PASS else "not yet at"
    return CheckResult(
        name=check.name,
        value=float(n),
        threshold=check.threshold,
        verdict=verdict,
        message=f"label-coverage {n} labelled pairs ({share}) {words} {check.threshold}",
        samples=n,
    )
