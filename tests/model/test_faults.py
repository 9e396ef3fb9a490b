"""Deliberately wrong candidates (understudy_model.faults): v2 shifted on one segment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.artifacts import Artifacts
from understudy_model.artifact import load_artifact
from understudy_model.cli import main
from understudy_model.data import Split, holdout_records
from understudy_model.faults import SegmentShift, write_segment_shift


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
