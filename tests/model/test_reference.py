"""The training reference in the artifact (understudy_model.reference)."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from understudy_model.artifact import ArtifactError, load_artifact
from understudy_model.reference import (
    REFERENCE_FORMAT,
    Reference,
    build_reference,
    categorical_reference,
    numeric_reference,
)
from understudy_model.schema import derive_schema


@pytest.fixture
def copy_of_v1(artifacts, tmp_path):
    target = tmp_path / "v1"
    shutil.copytree(artifacts.v1, target)
    return target


def test_numeric_edges_are_the_deciles_and_shares_count_le_buckets() -> None:
    ref = numeric_reference(np.arange(1, 101, dtype=float), quantiles=10)
    assert ref.edges == (10, 20, 30, 40, 50, 60, 70, 80, 90)
    assert ref.shares == pytest.approx([0.1] * 10)
    assert ref.null_share == 0.0
    assert ref.bucket(10.0) == 0 and ref.bucket(10.5) == 1 and ref.bucket(1e9) == 9


def test_few_distinct_values_give_fewer_buckets_and_nulls_are_counted_apart() -> None:
    values = [0.0] * 70 + [1.0] * 20 + [2.0] * 5 + [math.nan] * 5
    ref = numeric_reference(values, quantiles=10)
    assert ref.edges == (0.0, 1.0)
    assert ref.shares == pytest.approx([70 / 95, 20 / 95, 5 / 95])
    assert ref.null_share == pytest.approx(0.05)


def test_an_always_null_field_has_no_buckets() -> None:
    ref = numeric_reference([math.nan] * 3, quantiles=10)
    assert (ref.edges, ref.shares, ref.null_share) == ((), (0.0,), 1.0)


def test_rare_categories_are_pooled() -> None:
    values = pd.Series(["a"] * 60 + ["b"] * 39 + ["c"] + [None] * 10)
    ref = categorical_reference(values, rare_share=0.02)
    assert dict(ref.shares) == pytest.approx({"a": 0.6, "b": 0.39})
    assert ref.other_share == pytest.approx(0.01)
    assert ref.null_share == pytest.approx(10 / 110)


def test_the_reference_round_trips_through_json() -> None:
    frame = pd.DataFrame(
        {"Rooms": [2, 3, 8, 4], "Zone": ["A", "B", None, "B"], "Sale_Price": [1, 2, 3, 4]}
    )
    ref = build_reference(frame, derive_schema(frame), [100.0, 200.0, 300.0, 400.0])
    again = Reference.from_dict(json.loads(json.dumps(ref.to_dict())))
    assert again == ref
    assert set(ref.numeric) == {"Rooms"} and set(ref.categorical) == {"Zone"}
    assert ref.to_dict()["format"] == REFERENCE_FORMAT


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format=99), "format 99"),
        (lambda d: d["numeric"]["x"].update(edges=[2.0, 1.0]), "strictly increasing"),
        (lambda d: d["numeric"]["x"].update(shares=[1.0]), "1 shares for 2 edges"),
        (lambda d: d["numeric"]["x"].update(shares=[0.5, 0.5, 0.5]), "add up to 1.5"),
        (lambda d: d["categorical"]["z"].update(other_share=-0.1), "outside [0, 1]"),
        (lambda d: d.pop("prediction"), "lacks or mistypes"),
    ],
)
def test_a_broken_reference_is_a_clear_error(change, message) -> None:
    data = {
        "format": REFERENCE_FORMAT,
        "rows": 10,
        "numeric": {"x": {"edges": [1.0, 2.0], "shares": [0.2, 0.3, 0.5], "null_share": 0.0}},
        "categorical": {"z": {"shares": {"a": 0.9}, "other_share": 0.1, "null_share": 0.0}},
        "prediction": {"edges": [5.0], "shares": [0.5, 0.5], "null_share": 0.0},
    }
    change(data)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Reference.from_dict(data)


def test_training_writes_a_reference_that_describes_the_training_data(artifacts, ames_split):
    model = load_artifact(artifacts.v2)
    ref = model.reference
    assert ref is not None and ref.rows == len(ames_split.train)
    assert set(ref.numeric) == set(model.schema.numeric)
    assert set(ref.categorical) == set(model.schema.categorical)
    area = ref.numeric["Gr_Liv_Area"]
    assert len(area.edges) == 9 and sum(area.shares) == pytest.approx(1.0)
    assert max(area.shares) < 0.15  # deciles: about a tenth of the houses each
    # the predictions' reference is of the model's own predictions on its training set
    assert ref.prediction.edges[0] > 50_000 and ref.prediction.edges[-1] < 500_000


def test_an_artifact_without_a_reference_still_loads(copy_of_v1):
    meta_path = copy_of_v1 / "model.json"
    meta = json.loads(meta_path.read_text())
    del meta["reference"]
    meta_path.write_text(json.dumps(meta))
    assert load_artifact(copy_of_v1).reference is None


def test_an_artifact_with_a_broken_reference_is_refused(copy_of_v1):
    meta_path = copy_of_v1 / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["reference"]["format"] = 2
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="reference format 2"):
        load_artifact(copy_of_v1)
