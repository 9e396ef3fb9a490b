"""bench/mlserver_peer.py's pure parts: the V2 pandas-codec request, reading the answer,
the model repository it writes and the prediction check's arithmetic (no MLServer here:
bench/model_api.py checks the real server's predictions before measuring it)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx
import pytest

from bench.mlserver_peer import (
    BATCH_SETTINGS,
    MODEL_NAME,
    Ports,
    check_predictions,
    infer_path,
    relative_mismatch,
    v2_datatype,
    v2_predictions,
    v2_request,
    write_repository,
)


def test_a_v2_request_has_one_pandas_input_per_column_with_decodable_strings() -> None:
    request = v2_request(
        [
            ("Lot_Area", "int64", [11622, 8400]),
            ("Longitude", "float64", [-93.6, -93.7]),
            ("Neighborhood", "object", ["North_Ames", "Old_Town"]),
        ]
    )
    assert request["parameters"] == {"content_type": "pd"}
    assert request["inputs"] == [
        {"name": "Lot_Area", "shape": [2, 1], "datatype": "INT64", "data": [11622, 8400]},
        {"name": "Longitude", "shape": [2, 1], "datatype": "FP64", "data": [-93.6, -93.7]},
        {
            "name": "Neighborhood",
            "shape": [2, 1],
            "datatype": "BYTES",
            "data": ["North_Ames", "Old_Town"],
            "parameters": {"content_type": "str"},
        },
    ]
    json.dumps(request)  # a JSON body as it is


@pytest.mark.parametrize(
    ("dtype", "datatype"),
    [("int64", "INT64"), ("int32", "INT64"), ("float64", "FP64"), ("object", "BYTES")],
)
def test_pandas_dtypes_map_to_v2_datatypes(dtype: str, datatype: str) -> None:
    assert v2_datatype(dtype) == datatype


def test_requests_it_cannot_build_faithfully_are_refused() -> None:
    with pytest.raises(ValueError, match="no V2 datatype"):
        v2_datatype("datetime64[ns]")
    with pytest.raises(ValueError, match="different lengths"):
        v2_request([("a", "int64", [1, 2]), ("b", "int64", [1])])
    with pytest.raises(ValueError, match="non-string"):
        v2_request([("Alley", "object", ["Gravel", None])])  # a missing category not filled
    with pytest.raises(ValueError, match="at least one column"):
        v2_request([])


def test_the_predict_output_is_read_from_a_v2_answer() -> None:
    answer = {
        "model_name": MODEL_NAME,
        "outputs": [{"name": "predict", "shape": [2, 1], "datatype": "FP64", "data": [1.5, 2]}],
    }
    assert v2_predictions(answer) == [1.5, 2.0]
    with pytest.raises(ValueError, match="no 'predict' output"):
        v2_predictions({"outputs": [{"name": "predict_proba", "data": [0.1]}]})


def test_relative_mismatch_is_never_an_equality_by_accident() -> None:
    assert relative_mismatch([100.0, 200.0], [100.0, 200.0]) == 0.0
    assert relative_mismatch([101.0, 200.0], [100.0, 200.0]) == pytest.approx(0.01)
    assert relative_mismatch([100.0], [100.0, 200.0]) == math.inf
    assert relative_mismatch([], []) == math.inf
    assert relative_mismatch([math.nan], [1.0]) == math.inf
    assert relative_mismatch([0.0], [0.0]) == 0.0
    assert relative_mismatch([1e-9], [0.0]) == math.inf


def test_the_repository_serves_the_artifact_file_with_or_without_batching(
    tmp_path: Path,
) -> None:
    model_file = tmp_path / "model.joblib"
    model_file.write_bytes(b"pickled pipeline")
    ports = Ports(http=18080, grpc=18081, metrics=18082)
    for batching in (False, True):
        root = write_repository(
            tmp_path / f"repo-{batching}",
            model_file=model_file,
            model_version="2.0.0",
            ports=ports,
            batching=batching,
        )
        settings = json.loads((root / "settings.json").read_text())
        assert (settings["http_port"], settings["grpc_port"], settings["metrics_port"]) == (
            18080,
            18081,
            18082,
        )
        assert settings["debug"] is False
        # Its own metrics folder: two MLServers started in one directory would share one.
        assert settings["metrics_dir"] == str(root / "metrics")
        model = json.loads((root / MODEL_NAME / "model-settings.json").read_text())
        assert model["implementation"] == "mlserver_sklearn.SKLearnModel"
        assert model["parameters"] == {"uri": "./model.joblib", "version": "2.0.0"}
        assert (root / MODEL_NAME / "model.joblib").read_bytes() == b"pickled pipeline"
        for key, value in BATCH_SETTINGS.items():
            assert model.get(key) == (value if batching else None)


def test_the_prediction_check_stops_the_benchmark_when_mlserver_predicts_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = tmp_path / "body.json"
    body.write_text("{}")
    served: list[float] = []

    def post(url: str, **kwargs: object) -> httpx.Response:
        assert url == "http://mlserver" + infer_path()
        answer = {"outputs": [{"name": "predict", "data": served}]}
        return httpx.Response(200, json=answer)

    monkeypatch.setattr(httpx, "post", post)
    served[:] = [181000.0 * (1 + 1e-12)]  # within the fast path's bound: the same numbers
    check_predictions("http://mlserver", {1: body}, {1: [181000.0]})
    served[:] = [181000.0 * (1 + 1e-6)]
    with pytest.raises(SystemExit, match="predicts differently"):
        check_predictions("http://mlserver", {1: body}, {1: [181000.0]})
    served[:] = []
    with pytest.raises(SystemExit, match="predicts differently"):
        check_predictions("http://mlserver", {1: body}, {1: [181000.0]})
