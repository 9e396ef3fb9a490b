"""Judging candidate answers, and the rolling windows with their KS statistic."""

from __future__ import annotations

import json

import numpy as np
import pytest

from understudy_common.compare import Tolerance, ks_statistic
from understudy_router.comparison import (
    AGREED,
    CANDIDATE_ERROR,
    DISAGREED,
    ComparisonWindows,
    Predictions,
    judge,
    predictions_of,
)

TOL = Tolerance(relative=0.10, absolute=10_000)
LIVE = Predictions((200_000.0, 100_000.0))


def answer(predictions: object) -> bytes:
    return json.dumps({"predictions": predictions, "model": {"version": "2"}}).encode()


@pytest.mark.parametrize(
    ("status", "body", "outcome", "reason"),
    [
        (200, answer([201_000.0, 100_500.0]), AGREED, None),
        (200, answer([200_000, 100_000]), AGREED, None),
        (200, answer([260_000.0, 100_000.0]), DISAGREED, None),
        (201, answer([260_000.0, 180_000.0]), DISAGREED, None),
        (500, answer([200_000.0, 100_000.0]), CANDIDATE_ERROR, "HTTP 500"),
        (404, b'{"error": "x"}', CANDIDATE_ERROR, "HTTP 404"),
        (200, b"{not json", CANDIDATE_ERROR, "no list of finite predictions"),
        (200, b"[1, 2]", CANDIDATE_ERROR, "no list of finite predictions"),
        (200, b'{"predictions": "many"}', CANDIDATE_ERROR, "no list"),
        (200, answer([200_000.0, "100000"]), CANDIDATE_ERROR, "no list"),
        (200, answer([200_000.0, True]), CANDIDATE_ERROR, "no list"),
        (200, answer([200_000.0, None]), CANDIDATE_ERROR, "no list"),
        (200, b'{"predictions": [1e400, 1]}', CANDIDATE_ERROR, "no list"),
        (200, answer([200_000.0]), CANDIDATE_ERROR, "1 predictions for 2 records"),
        (200, answer([200_000.0, 100_000.0, 5.0]), CANDIDATE_ERROR, "3 predictions for 2"),
        (200, answer([]), CANDIDATE_ERROR, "0 predictions for 2 records"),
    ],
)
def test_judge(status: int, body: bytes, outcome: str, reason: str | None) -> None:
    verdict = judge(live=LIVE, status=status, body=body, tolerance=TOL)
    assert verdict.outcome == outcome
    if reason is None:
        assert verdict.reason is None
        assert verdict.comparison is not None and verdict.comparison.count == 2
    else:
        assert verdict.reason is not None and reason in verdict.reason
        assert verdict.comparison is None


def test_judge_uses_the_shared_agreement_rule() -> None:
    # 200k -> 215k: 15k apart (over 10k) but 7.5% (within 10%): agrees by the OR rule.
    verdict = judge(
        live=Predictions((200_000.0,)), status=200, body=answer([215_000.0]), tolerance=TOL
    )
    assert verdict.outcome == AGREED
    assert verdict.comparison is not None
    record = verdict.comparison.records[0]
    assert record.abs_diff == 15_000 and record.rel_diff == pytest.approx(0.075)


def test_predictions_of_live_answer() -> None:
    assert predictions_of(answer([1.5, 2])) == Predictions((1.5, 2.0))
    assert predictions_of(b"nope") is None


def classified(*pairs: tuple[str, float], positive: str | None = "yes") -> bytes:
    """A classifier's answer: (label, probability of "yes") per record."""
    predictions = [{"label": label, "probabilities": {"no": 1 - p, "yes": p}} for label, p in pairs]
    document: dict[str, object] = {"predictions": predictions}
    if positive is not None:
        document["positive_class"] = positive
    return json.dumps(document).encode()


def test_a_classifiers_answer_is_its_labels_and_positive_class_probabilities() -> None:
    parsed = predictions_of(classified(("yes", 0.8), ("no", 0.3)))
    assert parsed == Predictions((0.8, 0.3), ("yes", "no"))
    # The answer names the positive class; without it, the last class in sorted order.
    assert predictions_of(classified(("yes", 0.75), positive="no")) == Predictions(
        (0.25,), ("yes",)
    )
    assert predictions_of(classified(("yes", 0.8), positive=None)) == Predictions((0.8,), ("yes",))
    for broken in (
        b'{"predictions": [{"label": "yes"}]}',
        b'{"predictions": [{"label": 1, "probabilities": {"yes": 1.0}}]}',
        b'{"predictions": [{"label": "yes", "probabilities": {"yes": "high"}}]}',
        b'{"predictions": [{"label": "yes", "probabilities": {"yes": 1.0}}, 0.5]}',
        b'{"predictions": [{"label": "yes", "probabilities": {}}]}',
    ):
        assert predictions_of(broken) is None, broken


def test_a_classifier_agrees_on_the_same_label_and_optionally_close_probabilities() -> None:
    live = Predictions((0.8, 0.3, 0.55), ("yes", "no", "yes"))
    body = classified(("yes", 0.6), ("no", 0.31), ("no", 0.45))
    labels_only = judge(live=live, status=200, body=body, tolerance=TOL)
    assert labels_only.outcome == DISAGREED
    assert labels_only.comparison is not None
    assert [r.agree for r in labels_only.comparison.records] == [True, True, False]
    assert labels_only.candidate_labels == ("yes", "no", "no")
    close = judge(live=live, status=200, body=body, tolerance=Tolerance(relative=0, absolute=0.05))
    assert close.comparison is not None
    assert [r.agree for r in close.comparison.records] == [False, True, False]  # 0.8 vs 0.6
    mixed = judge(live=live, status=200, body=answer([0.6, 0.3, 0.5]), tolerance=TOL)
    assert mixed.outcome == CANDIDATE_ERROR and "different tasks" in str(mixed.reason)


def test_windows_are_bounded_and_ks_matches_the_shared_function() -> None:
    rng = np.random.default_rng(7)
    windows = ComparisonWindows(size=500)
    windows.reset(live_version="1", candidate_version="2")
    live_all = rng.normal(200_000, 50_000, 2_000)
    cand_all = rng.normal(210_000, 50_000, 2_000)
    for i in range(0, 2_000, 4):
        assert windows.add(
            live_version="1",
            candidate_version="2",
            live=tuple(live_all[i : i + 4]),
            candidate=tuple(cand_all[i : i + 4]),
        )
    snap = windows.snapshot()
    assert snap.live_count == snap.candidate_count == 500
    assert snap.ks == pytest.approx(ks_statistic(list(live_all[-500:]), list(cand_all[-500:])))
    assert (snap.live_version, snap.candidate_version) == ("1", "2")


def test_ks_absent_until_both_windows_have_data_and_reset_per_candidate() -> None:
    windows = ComparisonWindows(size=10)
    windows.reset(live_version="1", candidate_version="2")
    assert windows.snapshot().ks is None
    windows.add(live_version="1", candidate_version="2", live=(1.0, 2.0), candidate=(1.0, 2.0))
    assert windows.snapshot().ks == 0.0
    windows.reset(live_version="1", candidate_version="3")
    snap = windows.snapshot()
    assert snap.ks is None and snap.live_count == 0 and snap.candidate_version == "3"
    # A late result for the previous candidate is ignored.
    assert not windows.add(live_version="1", candidate_version="2", live=(5.0,), candidate=(9.0,))
    assert windows.snapshot().live_count == 0


def test_ks_follows_new_data() -> None:
    windows = ComparisonWindows(size=10)
    windows.reset(live_version="1", candidate_version="2")
    windows.add(live_version="1", candidate_version="2", live=(1.0,), candidate=(5.0,))
    assert windows.snapshot().ks == 1.0
    windows.add(live_version="1", candidate_version="2", live=(5.0,), candidate=(1.0,))
    assert windows.snapshot().ks == 0.0
