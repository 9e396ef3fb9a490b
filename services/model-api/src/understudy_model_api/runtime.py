"""What the lifespan hook builds: the loaded model, its predictor and its runner."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from understudy_model.artifact import LoadedModel, load_artifact
from understudy_model.fast import compile_fast_predictor, probe_rows, verify_against_reference
from understudy_model_api.batching import DirectRunner, MicroBatcher, PredictFn, Runner
from understudy_model_api.metrics import ApiMetrics
from understudy_model_api.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    model: LoadedModel
    predictor: str  # "fast" or "reference"
    runner: Runner

    async def predict(self, rows: Sequence[dict[str, Any]]) -> Any:
        return await self.runner.predict(rows)


def build_predict(model: LoadedModel, kind: str) -> PredictFn:
    """The predict function for ``kind``; the fast one is verified against the
    reference pipeline on probe rows first (raises if they differ)."""
    if kind == "reference":
        return lambda rows: model.predict_rows(list(rows))
    fast = compile_fast_predictor(model)
    worst = verify_against_reference(fast, model, probe_rows(model.schema))
    logger.info(
        "fast path compiled (%s) and verified against the reference pipeline: "
        "largest relative difference %.3g",
        fast.regressor_kind,
        worst,
    )
    return fast.predict_rows


def load_runtime(settings: Settings, metrics: ApiMetrics) -> Runtime:
    """Load and check the artifact (raises ArtifactError / UnsupportedPipelineError)."""
    model = load_artifact(settings.artifact_dir)
    predict = build_predict(model, settings.predictor)
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
    return Runtime(model=model, predictor=settings.predictor, runner=runner)
