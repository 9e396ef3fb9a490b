"""The fast path equals the reference pipeline, and refuses pipelines it does not know."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import Lasso
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder

from understudy_model.artifact import LoadedModel, load_artifact
from understudy_model.data import MISSING_CATEGORY, Split, holdout_records
from understudy_model.fast import (
    FastPathMismatchError,
    UnsupportedPipelineError,
    compile_fast_predictor,
    probe_rows,
    verify_against_reference,
)
from understudy_model.validation import validate_records


@pytest.fixture(scope="module", params=["v1", "v2"])
def model(request: pytest.FixtureRequest, artifacts: Any) -> LoadedModel:
    return load_artifact(getattr(artifacts, request.param))


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


def test_every_holdout_row_within_1e_9_relative(model: LoadedModel, ames_split: Split) -> None:
    rows = validate_records(holdout_records(ames_split), model.schema).rows
    assert len(rows) == len(ames_split.holdout)
    fast = compile_fast_predictor(model).predict_rows(rows)
    assert _rel(fast, model.predict_rows(rows)) <= 1e-9


def test_holdout_rows_with_unseen_categories_and_nulls(
    model: LoadedModel, ames_split: Split
) -> None:
    records = holdout_records(ames_split, limit=60)
    categorical = model.schema.categorical
    for i, record in enumerate(records):  # a different unseen category in each row
        record[categorical[i % len(categorical)]] = f"never-seen-{i}"
    nullable = [f.name for f in model.schema.fields if f.nullable]
    for record in records[::3]:
        for name in nullable:
            record[name] = None
    result = validate_records(records, model.schema)
    assert result.ok and len(result.warnings) == 60
    assert any(row[name] == MISSING_CATEGORY for row in result.rows for name in nullable)
    fast = compile_fast_predictor(model).predict_rows(result.rows)
    assert _rel(fast, model.predict_rows(result.rows)) <= 1e-9


def test_probe_rows_from_the_schema_alone(model: LoadedModel) -> None:
    rows = probe_rows(model.schema)
    assert len(rows) > 300
    assert verify_against_reference(compile_fast_predictor(model), model, rows) <= 1e-9


def test_a_batch_predicts_exactly_what_single_rows_do(
    model: LoadedModel, ames_split: Split
) -> None:
    rows = validate_records(holdout_records(ames_split, limit=50), model.schema).rows
    fast = compile_fast_predictor(model)
    one_by_one = np.concatenate([fast.predict_rows([row]) for row in rows])
    assert np.array_equal(fast.predict_rows(rows), one_by_one)
    assert fast.predict_rows([]).shape == (0,)


def _tampered(model: LoadedModel, change: Any) -> LoadedModel:
    pipeline = copy.deepcopy(model.pipeline)
    change(pipeline)
    return LoadedModel(
        pipeline=pipeline, metadata=model.metadata, schema=model.schema, path=model.path
    )


def _set_transformer(index: int, estimator: Any) -> Any:
    def change(pipeline: Any) -> None:
        ct = pipeline.named_steps["preprocess"]
        name, _, columns = ct.transformers_[index]
        ct.transformers_[index] = (name, estimator, columns)

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set_transformer(0, MinMaxScaler()), "column transformers"),
        (
            _set_transformer(1, OneHotEncoder(handle_unknown="error")),
            "column transformers|handle_unknown",
        ),
        (lambda p: setattr(p.named_steps["model"], "regressor_", Lasso()), "final regressor Lasso"),
        (lambda p: setattr(p.named_steps["model"], "inverse_func", np.expm1), "inverse"),
        (lambda p: p.steps.append(("extra", None)), "expected Pipeline"),
    ],
    ids=["scaler", "encoder", "regressor", "inverse", "extra step"],
)
def test_unknown_structure_fails_loudly(artifacts: Any, change: Any, message: str) -> None:
    model = _tampered(load_artifact(artifacts.v1), change)
    with pytest.raises(UnsupportedPipelineError, match=message):
        compile_fast_predictor(model)


def test_encoder_settings_it_cannot_mirror_fail_loudly(artifacts: Any) -> None:
    def drop_first(pipeline: Any) -> None:
        pipeline.named_steps["preprocess"].transformers_[1][1].drop = "first"

    with pytest.raises(UnsupportedPipelineError, match="drop"):
        compile_fast_predictor(_tampered(load_artifact(artifacts.v1), drop_first))


def test_verification_catches_a_predictor_that_differs(artifacts: Any) -> None:
    model = load_artifact(artifacts.v1)
    fast = compile_fast_predictor(model)
    fast._mean = fast._mean + 1e-3  # a slip in the compiled parameters
    with pytest.raises(FastPathMismatchError, match="differs from the reference"):
        verify_against_reference(fast, model, probe_rows(model.schema))
