"""The one settings class of the model-api process (env prefix ``UNDERSTUDY_MODEL_API_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UNDERSTUDY_MODEL_API_", extra="forbid")

    # The model artifact directory (model.joblib + model.json) this process serves.
    artifact_dir: Path = Path("/models")
    # Most records accepted in one request; more is a 422 invalid_request.
    max_records: int = Field(default=1000, ge=1)
    # Largest request body in bytes, enforced while reading (413 past it).
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Log every request's input records in its model-api.request event (for replay
    # and audits). Off by default: inputs can be personal data; turn it on only where
    # the log store may hold them.
    log_inputs: bool = False
    # "fast": the numpy predictor compiled from the pipeline (checked against the
    # pipeline at start-up; start-up fails for a pipeline it cannot compile);
    # "reference": the scikit-learn pipeline on a pandas frame; "auto": fast where the
    # pipeline's steps are supported, else reference (a packed model of any shape, any
    # classifier), said in the start-up log, /v1/model and understudy_model_api_predictor_info.
    predictor: Literal["auto", "fast", "reference"] = "auto"
    # Queue concurrent requests and predict them in one call (micro-batching).
    batching: bool = True
    # Most records predicted in one batched call.
    max_batch_records: int = Field(default=1024, ge=1)
    # How long the first request of a batch may wait for others to join, in
    # milliseconds. 0: take what is queued when the predictor is free (no wait
    # at low load; batches form by themselves under load). See bench/README.md.
    max_batch_wait_ms: float = Field(default=0.0, ge=0.0, le=100.0)
    # Where predictions run: "inline" on the event loop or in one worker "thread".
    executor: Literal["inline", "thread"] = "inline"
    # Count served inputs and predictions into the training reference's buckets for drift
    # (understudy_model_api.drift): "all" features, "none", or comma-separated names.
    drift_features: str = "all"
    # Serve POST /v1/predictions straight from the request middleware (the fast route)
    # rather than through FastAPI's routing; both call the same handler and answer the
    # same bytes (tests/model_api/test_fast_route.py). Off: for comparison in bench/.
    fast_route: bool = True
    # Interface and port uvicorn listens on.
    host: str = "0.0.0.0"
    port: int = Field(default=8000, ge=0, le=65535)
    # Root log level.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # uvicorn's own per-request access log lines (the service already writes one
    # model-api.request event per prediction request).
    access_log: bool = False
    # Seconds to let in-flight requests finish after SIGTERM before closing them.
    graceful_shutdown_seconds: float = Field(default=25.0, gt=0)
