"""understudy_model.pack: a user's pipeline and sample -> an artifact, or a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from tests.support.packed import messy_frame, write_classifier, write_messy_regressor
from understudy_model.artifact import ArtifactError, load_artifact
from understudy_model.pack import MAX_CATEGORIES, PackError, pack
from understudy_model.records import frame_records
from understudy_model.schema import infer_schema
from understudy_model.validation import validate_records


def test_schema_inference_on_a_messy_sample() -> None:
    frame = messy_frame()
    schema = infer_schema(frame, target="price", missing_as="null", max_categories=MAX_CATEGORIES)
    area, rooms, city, code, customer = (schema.field(n) for n in schema.names)
    assert schema.names == ["area", "rooms", "city", "code", "customer_id"]  # target left out
    assert (area.kind, area.type, area.nullable, area.missing_as) == (
        "numeric",
        "float",
        True,
        "null",
    )
    assert area.observed_min == pytest.approx(frame["area"].min())
    assert (rooms.type, rooms.nullable, rooms.observed_min, rooms.observed_max) == (
        "integer",
        False,
        1,
        7,
    )
    assert (city.kind, city.nullable, city.categories) == (
        "categorical",
        True,
        ("Ames", "Boone", "Nevada", "Story City"),
    )
    # Numbers and strings in one column: a categorical of strings.
    assert (code.kind, code.categories, code.high_cardinality) == (
        "categorical",
        ("1", "2", "A", "B"),
        False,
    )
    # A distinct value per row: the most frequent MAX_CATEGORIES kept, marked.
    assert customer.high_cardinality and len(customer.categories) == MAX_CATEGORIES
    # Nulls are accepted where the sample had them, as missing values; not elsewhere.
    rows = frame_records(frame.head(3), schema)
    ok = validate_records([{**rows[0], "area": None, "city": None, "customer_id": "new"}], schema)
    assert ok.ok and ok.rows[0]["area"] is None and ok.rows[0]["city"] is None
    assert ok.warnings == []  # an unlisted id is normal for a high-cardinality field
    bad = validate_records([{**rows[0], "rooms": None, "code": 1}], schema)
    assert {(e.field, e.code) for e in bad.errors} == {("rooms", "null"), ("code", "wrong_type")}


def test_an_entirely_empty_numeric_column_has_no_range() -> None:
    schema = infer_schema(
        pd.DataFrame({"x": [np.nan, np.nan], "y": [1, 2]}),
        target=None,
        missing_as="null",
        max_categories=None,
    )
    x = schema.field("x")
    assert (x.kind, x.nullable, x.observed_min, x.allowed_max) == ("numeric", True, None, None)
    assert validate_records([{"x": None, "y": 1}, {"x": 5.0, "y": 2}], schema).ok


def test_pack_a_regressor_with_metrics_reference_and_editable_schema(tmp_path: Path) -> None:
    user = write_messy_regressor(tmp_path / "user")
    result = pack(
        pipeline_path=user.pipeline,
        sample_path=user.sample,
        name="prices",
        version="1.0.0",
        task_kind="regression",
        target=user.target,
        out_dir=tmp_path / "art",
    )
    model = load_artifact(tmp_path / "art")
    assert (model.name, model.version, model.algorithm) == (
        "prices",
        "1.0.0",
        "RandomForestRegressor",
    )
    assert model.task.kind == "regression" and model.metadata["format_version"] == 2
    metrics = result.metadata["metrics"]["holdout"]
    assert set(metrics) == {"rmse", "mae", "r2"} and metrics["r2"] > 0.5
    assert model.reference is not None and set(model.reference.numeric) == {"area", "rooms"}
    # Served predictions are the pipeline's own.
    frame = pd.read_csv(user.sample)
    expected = joblib.load(user.pipeline).predict(frame.drop(columns=["price"]))
    served = model.predict_rows(
        validate_records(frame_records(frame, model.schema), model.schema).rows
    )
    np.testing.assert_allclose(served, expected, rtol=1e-12)
    # The schema is a documented JSON a user may tighten: an edit is what loads.
    meta_path = tmp_path / "art" / "model.json"
    meta = json.loads(meta_path.read_text())
    [rooms] = [f for f in meta["feature_schema"]["fields"] if f["name"] == "rooms"]
    rooms["allowed_max"] = 10
    meta_path.write_text(json.dumps(meta))
    edited = load_artifact(tmp_path / "art")
    issue = validate_records(
        [{**frame_records(frame.head(1), edited.schema)[0], "rooms": 11}], edited.schema
    )
    assert [e.code for e in issue.errors] == ["out_of_range"]


def test_pack_a_classifier(tmp_path: Path) -> None:
    files = write_classifier(tmp_path / "user")
    result = pack(
        pipeline_path=files.v2,
        sample_path=files.holdout,
        name="breast-cancer",
        version="2.0.0",
        task_kind="classification",
        target="diagnosis",
        positive_class="malignant",
        out_dir=tmp_path / "art",
    )
    model = load_artifact(tmp_path / "art")
    assert model.task.to_dict() == {
        "kind": "classification",
        "classes": ["benign", "malignant"],
        "positive_class": "malignant",
    }
    assert set(result.metadata["metrics"]["holdout"]) == {"accuracy", "log_loss", "roc_auc"}
    frame = pd.read_csv(files.holdout)
    pipeline = joblib.load(files.v2)
    rows = validate_records(frame_records(frame, model.schema), model.schema).rows
    labels, probabilities = model.task.split_classes(model.predict_classes(rows))
    features = frame.drop(columns=["diagnosis"])
    assert labels == list(pipeline.predict(features))
    np.testing.assert_allclose(probabilities, pipeline.predict_proba(features), rtol=1e-12)


def _pack(tmp_path: Path, **overrides: object) -> None:
    user = write_messy_regressor(tmp_path / "user")
    arguments: dict[str, object] = {
        "pipeline_path": user.pipeline,
        "sample_path": user.sample,
        "name": "prices",
        "version": "1.0.0",
        "task_kind": "regression",
        "out_dir": tmp_path / "art",
        **overrides,
    }
    pack(**arguments)  # type: ignore[arg-type]


def test_a_sample_missing_columns_is_named(tmp_path: Path) -> None:
    user = write_messy_regressor(tmp_path / "user")
    pd.read_csv(user.sample).drop(columns=["rooms", "city"]).to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(
        PackError, match=r"lacks 2 column\(s\) the pipeline was fitted on: rooms, city"
    ):
        _pack(tmp_path, sample_path=tmp_path / "s.csv")


def test_a_pipeline_that_cannot_predict_on_the_sample(tmp_path: Path) -> None:
    user = write_messy_regressor(tmp_path / "user")
    frame = pd.read_csv(user.sample)
    frame["area"] = "large"  # strings where the imputer was fitted on numbers
    frame.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(PackError, match="the pipeline cannot predict on the sample"):
        _pack(tmp_path, sample_path=tmp_path / "s.csv")


def test_classification_of_a_regressor_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="needs predict_proba"):
        _pack(tmp_path, task_kind="classification")
    with pytest.raises(PackError, match="no target column 'cost'"):
        _pack(tmp_path, target="cost")
    with pytest.raises(PackError, match=r"expected a \.csv or \.parquet file"):
        _pack(tmp_path, sample_path=tmp_path / "user" / "model.joblib")
    files = write_classifier(tmp_path / "clf")
    with pytest.raises(PackError, match="positive_class 'yes' is not one of the classes"):
        _pack(
            tmp_path,
            pipeline_path=files.v1,
            sample_path=files.holdout,
            task_kind="classification",
            positive_class="yes",
        )


def test_a_pipeline_pickled_by_another_scikit_learn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sklearn.base

    user = write_messy_regressor(tmp_path / "user")
    pipeline = joblib.load(user.pipeline)
    # scikit-learn stamps its version into every estimator's pickled state.
    monkeypatch.setattr(sklearn.base, "__version__", "1.0.2")
    joblib.dump(pipeline, tmp_path / "old.joblib")
    monkeypatch.undo()
    with pytest.raises(PackError, match=r"pickled with scikit-learn 1\.0\.2, but .* is installed"):
        _pack(tmp_path, pipeline_path=tmp_path / "old.joblib")


def test_loading_a_packed_artifact_under_another_scikit_learn(tmp_path: Path) -> None:
    _pack(tmp_path)
    meta_path = tmp_path / "art" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["libraries"]["scikit-learn"] = "1.0.2"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(
        ArtifactError, match=r"scikit-learn 1\.0\.2.*re-pack it \(understudy model pack\)"
    ):
        load_artifact(tmp_path / "art")


def test_a_classifier_whose_classes_do_not_match_model_json(tmp_path: Path) -> None:
    files = write_classifier(tmp_path / "user")
    pack(
        pipeline_path=files.v1,
        sample_path=files.holdout,
        name="bc",
        version="1",
        task_kind="classification",
        out_dir=tmp_path / "art",
    )
    meta_path = tmp_path / "art" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["task"]["classes"] = ["benign", "cancer"]
    meta["task"]["positive_class"] = "cancer"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"model.json lists classes \['benign', 'cancer'\]"):
        load_artifact(tmp_path / "art")


def test_pack_from_a_parquet_sample(tmp_path: Path) -> None:
    user = write_messy_regressor(tmp_path / "user")
    pd.read_csv(user.sample).to_parquet(tmp_path / "sample.parquet")
    _pack(tmp_path, sample_path=tmp_path / "sample.parquet", target="price")
    model = load_artifact(tmp_path / "art")
    assert model.metadata["data"]["source"] == "sample.parquet"
    assert model.schema.field("rooms").type == "integer"
