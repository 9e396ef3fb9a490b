"""Packed models (understudy model pack) served by real model-api processes: what they
answer equals the user's own pipeline, for a regressor the fast path cannot compile and
for a classifier; the start-up says which predictor serves, and bad requests get 422."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest

from tests.support.packed import write_classifier, write_messy_regressor
from tests.support.processes import ServiceProcess, start_service
from understudy_model.pack import pack
from understudy_model.records import frame_records
from understudy_model.schema import FeatureSchema

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("packed")
    user = write_messy_regressor(root / "regressor")
    pack(
        pipeline_path=user.pipeline,
        sample_path=user.sample,
        name="prices",
        version="1.0.0",
        task_kind="regression",
        target="price",
        out_dir=root / "regressor-art",
    )
    files = write_classifier(root / "classifier")
    pack(
        pipeline_path=files.v2,
        sample_path=files.holdout,
        name="breast-cancer",
        version="2.0.0",
        task_kind="classification",
        target="diagnosis",
        positive_class="malignant",
        out_dir=root / "classifier-art",
    )
    return {
        "regressor": root / "regressor-art",
        "regressor_pipeline": user.pipeline,
        "regressor_sample": user.sample,
        "classifier": root / "classifier-art",
        "classifier_pipeline": files.v2,
        "classifier_sample": files.holdout,
    }


def _serve(artifact: Path) -> Iterator[ServiceProcess]:
    with start_service(
        "understudy_model_api", env={"UNDERSTUDY_MODEL_API_ARTIFACT_DIR": str(artifact)}
    ) as service:
        yield service


@pytest.fixture(scope="module")
def regressor(packed: dict[str, Path]) -> Iterator[ServiceProcess]:
    yield from _serve(packed["regressor"])


@pytest.fixture(scope="module")
def classifier(packed: dict[str, Path]) -> Iterator[ServiceProcess]:
    yield from _serve(packed["classifier"])


def _records(service: ServiceProcess, sample: Path, target: str) -> tuple[list[dict], pd.DataFrame]:
    schema = FeatureSchema.from_dict(httpx.get(f"{service.url}/v1/model").json()["feature_schema"])
    frame = pd.read_csv(sample)
    return frame_records(frame, schema), frame.drop(columns=[target])


def test_a_regressor_with_unsupported_steps_is_served_by_its_own_pipeline(
    regressor: ServiceProcess, packed: dict[str, Path]
) -> None:
    records, features = _records(regressor, packed["regressor_sample"], "price")
    answer = httpx.post(f"{regressor.url}/v1/predictions", json={"records": records})
    assert answer.status_code == 200, answer.text
    expected = joblib.load(packed["regressor_pipeline"]).predict(features)
    np.testing.assert_allclose(answer.json()["predictions"], expected, rtol=1e-12)
    serving = httpx.get(f"{regressor.url}/v1/model").json()["serving"]
    assert serving["predictor"] == "reference"
    assert "expected Pipeline([('preprocess', ...), ('model', ...)])" in serving["predictor_reason"]
    metrics = httpx.get(f"{regressor.url}/metrics").text
    assert 'understudy_model_api_predictor_info{predictor="reference"' in metrics
    assert any("predictor=reference" in line for line in regressor.logs().splitlines())


def test_a_classifier_answers_labels_and_probabilities(
    classifier: ServiceProcess, packed: dict[str, Path]
) -> None:
    records, features = _records(classifier, packed["classifier_sample"], "diagnosis")
    answer = httpx.post(f"{classifier.url}/v1/predictions", json={"records": records})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    pipeline = joblib.load(packed["classifier_pipeline"])
    assert [p["label"] for p in body["predictions"]] == list(pipeline.predict(features))
    served = np.array(
        [[p["probabilities"][c] for c in ("benign", "malignant")] for p in body["predictions"]]
    )
    np.testing.assert_allclose(served, pipeline.predict_proba(features), rtol=1e-12)
    assert body["positive_class"] == "malignant"
    model = httpx.get(f"{classifier.url}/v1/model").json()
    assert (
        model["task"]["kind"] == "classification" and model["serving"]["predictor"] == "reference"
    )
    metrics = httpx.get(f"{classifier.url}/metrics").text
    count = (
        'understudy_model_api_prediction_probability_count{model="breast-cancer",version="2.0.0"}'
    )
    assert f"{count} {len(records)}.0" in metrics


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"typo field": 1.0}, "unknown_field"),
        ({"mean radius": "large"}, "wrong_type"),
        ({"mean radius": True}, "wrong_type"),
        ({"mean radius": None}, "null"),
    ],
)
def test_bad_records_get_precise_422(
    classifier: ServiceProcess, packed: dict[str, Path], change: dict, code: str
) -> None:
    records, _ = _records(classifier, packed["classifier_sample"], "diagnosis")
    answer = httpx.post(
        f"{classifier.url}/v1/predictions", json={"records": [{**records[0], **change}]}
    )
    assert answer.status_code == 422
    assert code in [e["code"] for e in answer.json()["errors"]]


def test_missing_and_non_finite_values_get_precise_422(
    classifier: ServiceProcess, packed: dict[str, Path]
) -> None:
    records, _ = _records(classifier, packed["classifier_sample"], "diagnosis")
    missing = {k: v for k, v in records[0].items() if k != "mean area"}
    answer = httpx.post(f"{classifier.url}/v1/predictions", json={"records": [missing]})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["code"] == "missing"
    # NaN is not JSON; clients' encoders (Python's json) send it as a bare literal anyway.
    body = json.dumps({"records": [{**records[0], "mean area": "NAN"}]}).replace('"NAN"', "NaN")
    answer = httpx.post(
        f"{classifier.url}/v1/predictions",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 422
    assert [(e["field"], e["code"]) for e in answer.json()["errors"]] == [
        ("mean area", "not_finite")
    ]
