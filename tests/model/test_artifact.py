import json
import shutil

import numpy as np
import pytest

from understudy_model.artifact import ArtifactError, load_artifact
from understudy_model.data import holdout_records
from understudy_model.validation import validate_records


@pytest.fixture
def copy_of_v1(artifacts, tmp_path):
    target = tmp_path / "v1"
    shutil.copytree(artifacts.v1, target)
    return target


def _edit_metadata(path, change):
    meta_path = path / "model.json"
    meta = json.loads(meta_path.read_text())
    change(meta)
    meta_path.write_text(json.dumps(meta))


def test_round_trip_keeps_metadata_and_predictions(artifacts, ames_split):
    model = load_artifact(artifacts.v1)
    assert (model.name, model.version, model.algorithm) == ("house-prices", "1.0.0", "linear")
    meta = model.metadata
    assert meta["data"]["fingerprint"].startswith("sha256:")
    assert set(meta["metrics"]["holdout"]) == {"rmse", "mae", "r2"}
    assert {"python", "scikit-learn", "numpy", "pandas"} <= set(meta["libraries"])
    rows = validate_records(holdout_records(ames_split, limit=20), model.schema).rows
    again = load_artifact(artifacts.v1)
    np.testing.assert_array_equal(model.predict_rows(rows), again.predict_rows(rows))


def test_missing_directory(tmp_path):
    with pytest.raises(ArtifactError, match="not a model artifact directory"):
        load_artifact(tmp_path / "nothing")


def test_corrupt_model_file(copy_of_v1):
    with (copy_of_v1 / "model.joblib").open("r+b") as handle:
        handle.seek(100)
        handle.write(b"garbage")
    with pytest.raises(ArtifactError, match="corrupt or was replaced"):
        load_artifact(copy_of_v1)


def test_unreadable_model_file_with_matching_hash(copy_of_v1):
    (copy_of_v1 / "model.joblib").write_bytes(b"not a pickle")
    import hashlib

    digest = "sha256:" + hashlib.sha256(b"not a pickle").hexdigest()
    _edit_metadata(copy_of_v1, lambda m: m["artifact"].update(sha256=digest))
    with pytest.raises(ArtifactError, match="could not be loaded"):
        load_artifact(copy_of_v1)


def test_metadata_not_json(copy_of_v1):
    (copy_of_v1 / "model.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_artifact(copy_of_v1)


def test_metadata_missing_keys(copy_of_v1):
    _edit_metadata(copy_of_v1, lambda m: m.pop("feature_schema"))
    with pytest.raises(ArtifactError, match="lacks required keys: feature_schema"):
        load_artifact(copy_of_v1)


def test_library_version_mismatch(copy_of_v1):
    _edit_metadata(copy_of_v1, lambda m: m["libraries"].update({"scikit-learn": "0.24.2"}))
    with pytest.raises(ArtifactError, match=r"trained with scikit-learn 0\.24\.2, but"):
        load_artifact(copy_of_v1)


def test_unknown_format_version(copy_of_v1):
    _edit_metadata(copy_of_v1, lambda m: m.update(format_version=99))
    with pytest.raises(ArtifactError, match="format_version 99"):
        load_artifact(copy_of_v1)
