"""Deliberately wrong candidates (understudy_model.faults): v2 shifted on one segment, or
v2 made slower with the same predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.artifacts import Artifacts
from understudy_model.artifact import load_artifact
from understudy_model.cli import main
from understudy_model.data import Split, holdout_records
from understudy_model.faults import (
    SegmentShift,
    Slowdown,
    SlowedPredictor,
    write_segment_shift,
    write_slowdown,
)


def test_a_price_segment_is_shifted_and_nothing_else(
    artifacts: Artifacts, ames_split: Split, tmp_path: Path
) -> None:
    out = write_segment_shift(
        artifacts.v2, tmp_path / "top", version="2.0.1-top", shift=0.2, above=300_000
    )
    rows = holdout_records(ames_split)
    base = load_artifact(artifacts.v2).predict_rows(rows)
    shifted = load_artifact(out)
    got = shifted.predict_rows(rows)
    top = base > 300_000
    assert 0.05 < top.mean() < 0.2  # about a tenth of the houses
    np.testing.assert_allclose(got[top], base[top] * 1.2)
    np.testing.assert_array_equal(got[~top], base[~top])
    assert shifted.version == "2.0.1-top"
    assert shifted.metadata["fault"] == {
        "kind": "segment_shift",
        "base_version": "2.0.0",
        "description": "+20% where prediction > $300,000",
    }


def test_a_field_segment_is_shifted(
    artifacts: Artifacts, ames_split: Split, tmp_path: Path
) -> None:
    code = main(
        [
            "shift",
            "--base",
            str(artifacts.v2),
            "--version",
            "2.0.1-oldtown",
            "--out",
            str(tmp_path / "oldtown"),
            "--shift",
            "-0.25",
            "--where",
            "Neighborhood=Old_Town",
        ]
    )
    assert code == 0
    rows = holdout_records(ames_split)
    base = load_artifact(artifacts.v2).predict_rows(rows)
    got = load_artifact(tmp_path / "oldtown").predict_rows(rows)
    old_town = np.array([r["Neighborhood"] == "Old_Town" for r in rows])
    assert old_town.sum() > 20
    np.testing.assert_allclose(got[old_town], base[old_town] * 0.75)
    np.testing.assert_array_equal(got[~old_town], base[~old_town])


def test_bad_segments_are_refused(artifacts: Artifacts, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one segment"):
        SegmentShift(object(), shift=0.1)
    with pytest.raises(ValueError, match="'Colour' is not an input field"):
        write_segment_shift(
            artifacts.v2, tmp_path / "x", version="x", shift=0.1, column="Colour", value="red"
        )
    assert (
        main(
            [
                "shift",
                "--base",
                str(artifacts.v2),
                "--version",
                "x",
                "--out",
                str(tmp_path / "y"),
                "--shift",
                "0.1",
                "--where",
                "Neighborhood",
            ]
        )
        == 2
    )


def test_the_fast_path_shifts_like_the_pipeline(artifacts: Artifacts, tmp_path: Path) -> None:
    from understudy_model.fast import compile_fast_predictor, probe_rows, verify_against_reference

    for name, kwargs in (
        ("top", {"above": 200_000}),
        ("field", {"column": "Neighborhood", "value": "Old_Town"}),
    ):
        out = write_segment_shift(artifacts.v2, tmp_path / name, version="x", shift=0.3, **kwargs)
        model = load_artifact(out)
        fast = compile_fast_predictor(model)
        assert "shifted +30%" in fast.regressor_kind
        probes = probe_rows(model.schema)
        rows = [*probes, {**probes[0], "Neighborhood": "Old_Town"}]
        assert verify_against_reference(fast, model, rows) < 1e-9


def test_a_slowdown_predicts_exactly_what_its_base_does(
    artifacts: Artifacts, ames_split: Split, tmp_path: Path
) -> None:
    out = write_slowdown(artifacts.v2, tmp_path / "slow", version="2.0.1-slow", repeats=3)
    rows = holdout_records(ames_split)[:50]
    slow = load_artifact(out)
    np.testing.assert_array_equal(
        slow.predict_rows(rows), load_artifact(artifacts.v2).predict_rows(rows)
    )
    assert slow.version == "2.0.1-slow"
    assert slow.metadata["fault"] == {
        "kind": "slowdown",
        "base_version": "2.0.0",
        "description": "the model evaluated 3x per call",
    }


class _Counting:
    """An inner model (or compiled predictor) that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, frame: object) -> np.ndarray:
        self.calls += 1
        return np.array([1.0, 2.0])

    def predict_rows(self, rows: object) -> np.ndarray:
        return self.predict(rows)


@pytest.mark.parametrize("repeats", [1, 2, 40])
def test_a_slowdown_does_the_inner_work_repeats_times_per_call(repeats: int) -> None:
    reference, fast = _Counting(), _Counting()
    slowdown = Slowdown(reference, repeats=repeats)
    np.testing.assert_array_equal(slowdown.predict(None), [1.0, 2.0])  # type: ignore[arg-type]
    np.testing.assert_array_equal(SlowedPredictor(fast, slowdown).predict_rows([]), [1.0, 2.0])
    assert reference.calls == fast.calls == repeats


def test_a_slowdown_needs_at_least_one_evaluation() -> None:
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        Slowdown(object(), repeats=0)


def test_the_fast_path_serves_a_slowdown_slower_with_the_same_answers(
    artifacts: Artifacts, ames_split: Split, tmp_path: Path
) -> None:
    import time

    from understudy_model.fast import compile_fast_predictor, probe_rows, verify_against_reference

    model = load_artifact(write_slowdown(artifacts.v2, tmp_path / "s", version="x", repeats=20))
    fast = compile_fast_predictor(model)
    base = compile_fast_predictor(load_artifact(artifacts.v2))
    assert isinstance(fast, SlowedPredictor)
    assert fast.regressor_kind.endswith("slowed: the model evaluated 20x per call")
    assert verify_against_reference(fast, model, probe_rows(model.schema)) < 1e-9
    row = holdout_records(ames_split)[:1]

    def best_of(predictor: object) -> float:
        times = []
        for _ in range(20):
            started = time.perf_counter()
            predictor.predict_rows(row)  # type: ignore[attr-defined]
            times.append(time.perf_counter() - started)
        return min(times)

    # 20 evaluations per call: far more than 5x the base's best time, even on a busy CPU
    assert best_of(fast) > 5 * best_of(base)


def test_a_flaky_model_fails_on_its_houses_only_and_its_fast_path_alike(
    artifacts: Artifacts, ames_split: Split, tmp_path: Path
) -> None:
    from understudy_model.fast import compile_fast_predictor, probe_rows
    from understudy_model.faults import FlakyModelError, write_flaky

    out = write_flaky(artifacts.v2, tmp_path / "flaky", version="2.0.1-flaky", every=7)
    flaky = load_artifact(out)
    base = load_artifact(artifacts.v2)
    fast = compile_fast_predictor(flaky)
    rows = holdout_records(ames_split)
    hit = [r for r in rows if r["Lot_Area"] % 7 == 0]
    clean = [r for r in rows if r["Lot_Area"] % 7 != 0]
    assert 0.1 < len(hit) / len(rows) < 0.3  # about a fifth of the houses
    np.testing.assert_array_equal(flaky.predict_rows(clean), base.predict_rows(clean))
    np.testing.assert_allclose(fast.predict_rows(clean), base.predict_rows(clean), rtol=1e-9)
    for predict in (flaky.predict_rows, fast.predict_rows):
        with pytest.raises(FlakyModelError, match="is a multiple of 7"):
            predict([clean[0], hit[0]])
    # model-api verifies its fast path on these rows at start-up: none may trip the fault.
    fast.predict_rows(probe_rows(flaky.schema))
    assert flaky.metadata["fault"]["kind"] == "flaky"
