"""bench/model_api.py's floor: validate + predict in process, without HTTP (the lower
bound of a request), and drift counting of the same records alone."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np


def floor(artifact: Path, records: list[dict[str, Any]], seconds: float = 2.0) -> dict[str, Any]:
    """In-process: validate + fast predict, no HTTP (the lower bound of a request), and the
    drift counting of the same records alone (its peer: validate + fast predict)."""
    from understudy_model.artifact import load_artifact
    from understudy_model.fast import compile_fast_predictor
    from understudy_model.validation import validate_records
    from understudy_model_api.drift import DriftCounter, select_features

    model = load_artifact(artifact)
    fast = compile_fast_predictor(model)
    assert model.reference is not None, "an artifact without a reference counts nothing"
    counter = DriftCounter(model, model.reference, select_features("all", model.reference))

    def count_drift(rows: list[dict[str, Any]]) -> None:
        counter.count_rows(rows)
        counter.count_predictions([0.0] * len(rows))

    out: dict[str, Any] = {"drift_series_per_pod": len(counter.series)}
    for n in (1, 100):
        batch = records[:n]
        clean = validate_records(batch, model.schema).rows
        calls: dict[str, Any] = {
            "fast_predict": lambda b=batch: fast.predict_rows(
                validate_records(b, model.schema).rows
            ),
            "reference_predict": lambda b=batch: model.predict_rows(
                validate_records(b, model.schema).rows
            ),
            "drift_count": lambda rows=clean: count_drift(rows),  # counting alone
        }
        for name, call in calls.items():
            times = []
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                call()
                times.append(time.perf_counter() - t0)
            arr = np.array(times)
            out[f"{name}_{n}"] = {
                "p50_ms": float(np.percentile(arr, 50) * 1e3),
                "p99_ms": float(np.percentile(arr, 99) * 1e3),
                "calls_per_s": float(len(arr) / arr.sum()),
            }
    return out
