"""Reproducibility and model quality on the real holdout set."""

import io

import numpy as np
import pytest

from understudy_model.artifact import load_artifact
from understudy_model.data import TARGET, holdout_records
from understudy_model.train import Progress, train
from understudy_model.validation import validate_records


def _holdout_predictions(path, split):
    model = load_artifact(path)
    rows = validate_records(holdout_records(split), model.schema).rows
    return model, model.predict_rows(rows)


@pytest.mark.slow
def test_training_twice_with_one_seed_is_identical(artifacts, ames_split, tmp_path):
    again = train(
        algorithm="gbr",
        version="2.0.0",
        out_dir=tmp_path / "v2",
        progress=Progress(total=5, stream=io.StringIO()),
    )
    first_model, first = _holdout_predictions(artifacts.v2, ames_split)
    _, second = _holdout_predictions(again.out_dir, ames_split)
    np.testing.assert_array_equal(first, second)
    assert again.metadata["data"]["fingerprint"] == first_model.metadata["data"]["fingerprint"]


def test_progress_lines_are_printed(tmp_path):
    stream = io.StringIO()
    train(
        algorithm="linear",
        version="0.0.1",
        out_dir=tmp_path / "m",
        progress=Progress(total=5, stream=stream),
    )
    lines = stream.getvalue().splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("[1/5] loading the Ames data ... done (")


def test_v2_beats_v1_and_is_good_enough(artifacts, ames_split):
    y = ames_split.holdout[TARGET].to_numpy(dtype=float)
    scores = {}
    for name in ("v1", "v2"):
        model, predictions = _holdout_predictions(getattr(artifacts, name), ames_split)
        assert np.all(np.isfinite(predictions)) and np.all(predictions > 0)
        rmse = float(np.sqrt(np.mean((predictions - y) ** 2)))
        # the recorded metric is the one measured here
        assert model.metadata["metrics"]["holdout"]["rmse"] == pytest.approx(rmse)
        scores[name] = rmse
    assert scores["v2"] < scores["v1"]
    assert scores["v2"] < 30_000


def test_the_bad_model_is_bad(artifacts, ames_split):
    good = load_artifact(artifacts.v2).metadata["metrics"]["holdout"]["rmse"]
    bad = load_artifact(artifacts.bad).metadata
    assert bad["shuffled_target"] is True
    assert bad["metrics"]["holdout"]["rmse"] > 2 * good
