"""What the lifespan hook builds: the loaded model, its predictor and its runner."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from understudy_model.artifact import LoadedModel, load_artifact
from understudy_model.fast import (
    UnsupportedPipelineError,
    compile_fast_predictor,
    probe_rows,
    verify_against_reference,
)
from understudy_model_api.batching import DirectRunner, MicroBatcher, PredictFn, Runner
from understudy_model_api.metrics import ApiMetrics
from understudy_model_api.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    model: LoadedModel
    predictor: str  # "fast" or "reference": the one in use
    runner: Runner
    # Why the reference pipeline serves ("" when fast, or when asked for by settings).
    predictor_reason: str = ""

    async def predict(self, rows: Sequence[dict[str, Any]], *, alone: bool = False) -> Any:
        return await self.runner.predict(rows, alone=alone)


def _fast(model: LoadedModel) -> PredictFn:
    """The fast predictor, verified against the reference pipeline on probe rows first
    (raises UnsupportedPipelineError or FastPathMismatchError)."""
    if model.task.is_classification:
        raise UnsupportedPipelineError("the fast path predicts regressors only")
    fast = compile_fast_predictor(model)
    worst = verify_against_reference(fast, model, probe_rows(model.schema))
    logger.info(
        "fast path compiled (%s) and verified against the reference pipeline: "
        "largest relative difference %.3g",
        fast.regressor_kind,
        worst,
    )
    return fast.predict_rows


def _reference(model: LoadedModel) -> PredictFn:
    if model.task.is_classification:  # labels and probabilities in one matrix (artifact.py)
        return lambda rows: model.predict_classes(list(rows))
    return lambda rows: model.predict_rows(list(rows))


def build_predict(model: LoadedModel, kind: str) -> tuple[PredictFn, str, str]:
    """(predict function, the predictor in use, why reference) for the setting ``kind``.

    "auto" falls back to the reference pipeline only when the fast path does not know a
    part of the pipeline; a fast path that compiles but disagrees with the reference is a
    bug, and start-up fails on it whatever the setting.
    """
    if kind == "reference":
        return _reference(model), "reference", "predictor=reference in the settings"
    try:
        return _fast(model), "fast", ""
    except UnsupportedPipelineError as exc:
        if kind == "fast":
            raise
        reason = str(exc)
    logger.info("serving with the reference pipeline (scikit-learn): %s", reason)
    return _reference(model), "reference", reason


def load_runtime(settings: Settings, metrics: ApiMetrics) -> Runtime:
    """Load and check the artifact (raises ArtifactError / UnsupportedPipelineError)."""
    model = load_artifact(settings.artifact_dir)
    predict, predictor, reason = build_predict(model, settings.predictor)
    runner: Runner
    if settings.batching:
        runner = MicroBatcher(
            predict,
            max_batch_records=settings.max_batch_records,
            max_wait_s=settings.max_batch_wait_ms / 1000,
            executor=settings.executor,
            on_batch=metrics.observe_batch,
        )
    else:
        runner = DirectRunner(predict, executor=settings.executor, on_batch=metrics.observe_batch)
    metrics.bind(model)
    metrics.bind_predictor(predictor=predictor, reason=reason)
    return Runtime(model=model, predictor=predictor, runner=runner, predictor_reason=reason)
