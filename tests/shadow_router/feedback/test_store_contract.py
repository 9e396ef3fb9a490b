"""The PredictionStore contract, the same tests for every backend (SQLite, PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from understudy_router.feedback.store import (
    APPLIED,
    CANDIDATE,
    CONFLICT,
    DUPLICATE,
    LIVE,
    RECORD_OUT_OF_RANGE,
    UNKNOWN_REQUEST,
    Label,
    Prediction,
    PredictionStore,
)

NOW = 1_800_000_000.0


def prediction(
    request_id: str,
    record: int = 0,
    *,
    role: str = LIVE,
    value: float = 200_000.0,
    at: float = NOW,
    version: str | None = None,
) -> Prediction:
    return Prediction(
        request_id=request_id,
        record=record,
        role=role,
        version=version or ("1.0.0" if role == LIVE else "2.0.0"),
        model="house-prices",
        prediction=value,
        created_at=at,
    )


def test_a_stored_batch_is_found_by_request_and_record(store: PredictionStore) -> None:
    batch = [prediction("a", 0, value=1.0), prediction("a", 1, value=2.0), prediction("b", 0)]
    batch.append(prediction("a", 1, role=CANDIDATE, value=3.0))
    assert store.store(batch) == []
    found = store.lookup("a", 1)
    assert [(p.role, p.version, p.prediction) for p in found] == [
        (LIVE, "1.0.0", 2.0),
        (CANDIDATE, "2.0.0", 3.0),
    ]
    assert found[0] == batch[1]
    assert store.lookup("a", 2) == []
    assert store.lookup("nobody", 0) == []
    assert store.count() == 4


def test_storing_the_same_row_again_keeps_the_first(store: PredictionStore) -> None:
    store.store([prediction("a", value=1.0)])
    store.store([prediction("a", value=9.0)])
    assert [p.prediction for p in store.lookup("a", 0)] == [1.0]
    assert store.count() == 1


@pytest.mark.parametrize(
    ("labels", "outcomes"),
    [
        ([Label("a", 0, 10.0)], [APPLIED]),
        ([Label("a", 0, 10.0), Label("a", 0, 10.0)], [APPLIED, DUPLICATE]),
        ([Label("a", 0, 10.0), Label("a", 0, 11.0)], [APPLIED, CONFLICT]),
        ([Label("a", 5, 10.0)], [RECORD_OUT_OF_RANGE]),
        ([Label("zzz", 0, 10.0)], [UNKNOWN_REQUEST]),
        ([Label("zzz", 0, 1.0), Label("a", 1, 2.0)], [UNKNOWN_REQUEST, APPLIED]),
    ],
)
def test_label_outcomes(store: PredictionStore, labels: list[Label], outcomes: list[str]) -> None:
    store.store([prediction("a", 0), prediction("a", 1)])
    results = store.apply_labels(labels, now=NOW)
    assert [r.outcome for r in results] == outcomes
    assert [r.label for r in results] == labels


def test_an_applied_label_joins_both_roles(store: PredictionStore) -> None:
    store.store([prediction("a", value=100.0), prediction("a", role=CANDIDATE, value=120.0)])
    (result,) = store.apply_labels([Label("a", 0, 110.0)], now=NOW)
    assert result.joined is not None
    assert result.joined.actual == 110.0
    assert result.joined.live is not None and result.joined.live.prediction == 100.0
    assert result.joined.candidate is not None and result.joined.candidate.prediction == 120.0


def test_labels_are_idempotent_across_calls_and_stores(
    open_stores: Callable[[], PredictionStore],
) -> None:
    first, second = open_stores(), open_stores()
    first.store([prediction("a")])
    assert [r.outcome for r in first.apply_labels([Label("a", 0, 5.0)], now=NOW)] == [APPLIED]
    again = second.apply_labels([Label("a", 0, 5.0), Label("a", 0, 6.0)], now=NOW)
    assert [(r.outcome, r.existing) for r in again] == [(DUPLICATE, 5.0), (CONFLICT, 5.0)]


def test_concurrent_labels_for_one_record_apply_once(
    open_stores: Callable[[], PredictionStore],
) -> None:
    stores = [open_stores() for _ in range(4)]
    stores[0].store([prediction(f"r{i}") for i in range(50)])
    labels = [Label(f"r{i}", 0, float(i)) for i in range(50)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def apply(s: PredictionStore) -> None:
        results = s.apply_labels(labels, now=NOW)
        with lock:
            outcomes.extend(r.outcome for r in results)

    threads = [threading.Thread(target=apply, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(APPLIED) == 50
    assert outcomes.count(DUPLICATE) == 150


def test_a_candidate_stored_after_its_label_joins_late_exactly_once(
    store: PredictionStore,
) -> None:
    store.store([prediction("a", value=100.0)])
    (result,) = store.apply_labels([Label("a", 0, 110.0)], now=NOW)
    assert result.joined is not None and result.joined.candidate is None
    (late,) = store.store([prediction("a", role=CANDIDATE, value=130.0)])
    assert (late.request_id, late.record, late.actual) == ("a", 0, 110.0)
    assert late.live is not None and late.live.prediction == 100.0
    assert late.candidate is not None and late.candidate.prediction == 130.0
    # the same candidate row again (a retried batch) joins nothing more
    assert store.store([prediction("a", role=CANDIDATE, value=130.0)]) == []


def test_a_large_batch_joins_exactly_the_candidates_whose_labels_wait(
    store: PredictionStore,
) -> None:
    """The late joins of one batch are looked up together (SQLite in chunks of 5,000): a
    batch of 12,000 candidates, three of them awaited by labels in different chunks, one
    label (for "r7") that already joined."""
    waiting = ["r3", "r5004", "r11999", "r7"]
    store.store([prediction(r, value=100.0) for r in waiting])
    store.store([prediction("r7", role=CANDIDATE, value=90.0)])
    store.apply_labels([Label(r, 0, 120.0) for r in waiting], now=NOW)
    batch = [prediction(f"r{i}", role=CANDIDATE, value=float(i)) for i in range(12_000)]
    late = store.store(batch)
    assert sorted((j.request_id, j.actual) for j in late) == [
        ("r11999", 120.0),
        ("r3", 120.0),
        ("r5004", 120.0),
    ]
    for j in late:
        assert isinstance(j.actual, float)
        assert j.live is not None and j.live.prediction == 100.0
        assert j.candidate is not None and j.candidate.prediction == float(j.request_id[1:])


def test_a_candidate_present_at_label_time_never_joins_late(store: PredictionStore) -> None:
    store.store([prediction("a"), prediction("a", role=CANDIDATE)])
    store.apply_labels([Label("a", 0, 1.0)], now=NOW)
    assert store.store([prediction("a", role=CANDIDATE)]) == []


def test_racing_candidate_writes_and_labels_join_each_record_once(
    open_stores: Callable[[], PredictionStore],
) -> None:
    """Replica A stores candidates while replica B applies labels: each record's candidate
    is joined exactly once, at label time or late."""
    a, b = open_stores(), open_stores()
    n = 200
    a.store([prediction(f"r{i}") for i in range(n)])
    joined_at_label: list[str] = []
    joined_late: list[str] = []

    def label_all() -> None:
        for i in range(n):
            (r,) = b.apply_labels([Label(f"r{i}", 0, 1.0)], now=NOW)
            if r.joined is not None and r.joined.candidate is not None:
                joined_at_label.append(r.label.request_id)

    def store_candidates() -> None:
        for i in range(n):
            for j in a.store([prediction(f"r{i}", role=CANDIDATE)]):
                joined_late.append(j.request_id)

    threads = [threading.Thread(target=label_all), threading.Thread(target=store_candidates)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(joined_at_label + joined_late) == sorted(f"r{i}" for i in range(n))


def test_retention_by_age_removes_old_rows_and_their_labels_only(store: PredictionStore) -> None:
    store.store([prediction("old", at=NOW - 100), prediction("old", 1, at=NOW - 100)])
    store.store([prediction("new", at=NOW - 10), prediction("new", role=CANDIDATE, at=NOW - 10)])
    store.apply_labels([Label("old", 0, 1.0), Label("new", 0, 2.0)], now=NOW)
    result = store.enforce_retention(max_age_seconds=50, max_rows=1_000, now=NOW)
    assert (result.predictions_deleted, result.labels_deleted, result.predictions_left) == (
        2,
        1,
        2,
    )
    assert store.lookup("old", 0) == []
    assert len(store.lookup("new", 0)) == 2
    # the expired request is unknown now; the kept label still counts as a duplicate
    results = store.apply_labels([Label("old", 0, 1.0), Label("new", 0, 2.0)], now=NOW)
    assert [r.outcome for r in results] == [UNKNOWN_REQUEST, DUPLICATE]


def test_retention_by_rows_removes_the_oldest_beyond_the_limit(store: PredictionStore) -> None:
    for i in range(10):
        store.store([prediction(f"r{i}", at=NOW + i)])
    result = store.enforce_retention(max_age_seconds=1e9, max_rows=4, now=NOW)
    assert (result.predictions_deleted, result.predictions_left) == (6, 4)
    assert store.count() == 4
    kept = [i for i in range(10) if store.lookup(f"r{i}", 0)]
    assert kept == [6, 7, 8, 9]


def test_retention_within_limits_removes_nothing(store: PredictionStore) -> None:
    store.store([prediction(f"r{i}", at=NOW - i) for i in range(5)])
    store.apply_labels([Label("r1", 0, 1.0)], now=NOW)
    result = store.enforce_retention(max_age_seconds=60, max_rows=5, now=NOW)
    assert (result.predictions_deleted, result.labels_deleted, result.predictions_left) == (
        0,
        0,
        5,
    )
    assert [r.outcome for r in store.apply_labels([Label("r1", 0, 1.0)], now=NOW)] == [DUPLICATE]


def test_health_answers_and_data_survives_reopening(
    open_stores: Callable[[], PredictionStore],
) -> None:
    first = open_stores()
    first.health()
    first.store([prediction("a")])
    first.apply_labels([Label("a", 0, 3.0)], now=NOW)
    first.close()
    second = open_stores()
    assert second.count() == 1
    assert [r.outcome for r in second.apply_labels([Label("a", 0, 3.0)], now=NOW)] == [DUPLICATE]
