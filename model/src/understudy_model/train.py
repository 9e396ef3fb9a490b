"""Training: data -> seeded split -> schema -> pipeline -> holdout metrics -> artifact."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from understudy_model import MODEL_NAME
from understudy_model.artifact import save_artifact
from understudy_model.data import (
    DEFAULT_SEED,
    TARGET,
    data_version,
    fingerprint,
    load_ames,
    split_holdout,
)
from understudy_model.pipeline import Algorithm, build_pipeline, prepare_training_frame
from understudy_model.reference import build_reference
from understudy_model.schema import derive_schema


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    metadata: dict[str, Any]
    seconds: float


class Progress:
    """Numbered step lines with timings on stderr: training takes seconds, so
    a line per step tells a person what is happening without a progress bar."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total, self.done, self.stream = total, 0, stream or sys.stderr

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        self.done += 1
        started = time.perf_counter()
        print(f"[{self.done}/{self.total}] {what} ...", end="", file=self.stream, flush=True)
        yield
        print(f" done ({time.perf_counter() - started:.2f}s)", file=self.stream, flush=True)


def holdout_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    errors = y_pred - y_true
    ss_res = float(np.sum(errors**2))
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    return {
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mae": float(np.mean(np.abs(errors))),
        "r2": 1.0 - ss_res / ss_tot,
    }


def train(
    *,
    algorithm: Algorithm,
    version: str,
    out_dir: Path,
    seed: int = DEFAULT_SEED,
    shuffle_target: bool = False,
    progress: Progress | None = None,
) -> TrainResult:
    """Train one model version and write its artifact to ``out_dir``.

    ``shuffle_target`` permutes the training prices: a deliberately bad model,
    used to show and test a rollback. It is recorded in the metadata.
    """
    progress = progress or Progress(total=5)
    started = time.perf_counter()
    with progress.step("loading the Ames data"):
        frame = load_ames()
    with progress.step(f"splitting (seed {seed})"):
        split = split_holdout(frame, seed=seed)
        schema = derive_schema(split.train)
        x_train = prepare_training_frame(split.train, schema)
        y_train = split.train[TARGET].to_numpy(dtype=float)
        if shuffle_target:
            y_train = np.random.default_rng(seed).permutation(y_train)
    with progress.step(f"fitting {algorithm} on {len(x_train)} sales"):
        pipeline = build_pipeline(algorithm=algorithm, schema=schema, seed=seed)
        pipeline.fit(x_train, y_train)
    with progress.step(f"scoring {len(split.holdout)} holdout sales"):
        predictions = pipeline.predict(prepare_training_frame(split.holdout, schema))
        metrics = holdout_metrics(split.holdout[TARGET].to_numpy(dtype=float), predictions)
        # The training reference (inputs and the model's own predictions) for drift checks.
        reference = build_reference(split.train, schema, pipeline.predict(x_train))
    with progress.step(f"writing the artifact to {out_dir}"):
        metadata = {
            "name": MODEL_NAME,
            "version": version,
            "algorithm": algorithm,
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seed": seed,
            "shuffled_target": shuffle_target,
            "data": {
                "source": data_version(),
                "fingerprint": fingerprint(split.train),
                "rows_train": len(split.train),
                "rows_holdout": len(split.holdout),
                "holdout_fraction": len(split.holdout) / len(frame),
            },
            "feature_schema": schema.to_dict(),
            "metrics": {"holdout": metrics},
            "reference": reference.to_dict(),
        }
        save_artifact(out_dir, pipeline=pipeline, metadata=metadata)
    return TrainResult(out_dir=out_dir, metadata=metadata, seconds=time.perf_counter() - started)
