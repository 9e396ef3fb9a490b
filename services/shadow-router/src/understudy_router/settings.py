"""The shadow router's one settings class, read from ``UNDERSTUDY_ROUTER_*`` variables."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from understudy_common.histogram import log_spaced_edges


class RouterSettings(BaseSettings):
    """Process settings; the routing itself (upstreams, mirror share) is the routing config."""

    model_config = SettingsConfigDict(env_prefix="UNDERSTUDY_ROUTER_", extra="ignore")

    # Address uvicorn binds to.
    host: str = "0.0.0.0"
    # Port uvicorn listens on.
    port: int = Field(default=8080, ge=0, le=65535)
    # Seconds uvicorn lets in-flight client requests finish after SIGTERM (mirrors are dropped).
    graceful_shutdown_seconds: float = Field(default=10.0, gt=0)
    # Log level of the root logger (DEBUG, INFO, WARNING, ...).
    log_level: str = "INFO"
    # Value of the ``model`` label on every metric series (the ModelRollout's model name).
    model_name: str = "house-prices"

    # Routing config as JSON (shape in docs/contracts.md), in force from start-up.
    config_json: str | None = None
    # Local mode: a routing config file, re-read whenever it changes.
    config_file: Path | None = None
    # Kubernetes mode: the operator's ConfigMap as ``namespace/name``, watched through the API.
    configmap: str | None = None
    # The ConfigMap key that holds the routing config.
    configmap_key: str = "router.json"
    # A kubeconfig file for the ConfigMap watch; empty = in-cluster service account.
    kubeconfig: Path | None = None
    # How often the config file is checked for changes.
    config_poll_seconds: float = Field(default=0.5, gt=0)

    # Mirror requests being sent to the candidate at once (workers); more wait in the queue.
    mirror_workers: int = Field(default=8, ge=1, le=1024)
    # Mirror requests that may wait for a worker; beyond this they are dropped and counted.
    mirror_queue_size: int = Field(default=256, ge=0, le=100_000)
    # Run the mirror work (the candidate exchange, judging, counting, the comparison line)
    # in a child process instead of on the router's event loop: the loop only hands each
    # job over, so live requests never wait behind it (mirror_process.py; measured in
    # bench/README.md). Same bound, metrics, log lines and feedback rows either way
    # (tests/shadow_router/test_mirror_process.py). Off: ~90 µs less CPU per mirror in
    # all, for a router that saturates its CPU limit.
    mirror_process: bool = True
    # The mirror process's niceness (0-19; higher: the kernel runs the router's loop first
    # when both want a CPU). 0 by default: on a busy machine a niced child also yields to
    # every other process there and falls behind (bench/README.md: at nice 10, 428 mirrors
    # dropped at one connection, none at 0). In a pod, where the CPU weight is the pod's,
    # a higher value only ranks the child below the router.
    mirror_process_nice: int = Field(default=0, ge=0, le=19)
    # Seconds the mirror process may stay silent (it sends a heartbeat every second) before
    # the router takes it for hung, kills it, counts its jobs dropped and starts another. A
    # dead child is seen at once (its socket closes); a stuck one only by its silence.
    mirror_process_stall_seconds: float = Field(default=10.0, ge=2.0, le=3_600.0)
    # Predictions kept per role in the rolling windows the KS statistic is computed over.
    window_size: int = Field(default=2_000, ge=1, le=1_000_000)
    # Request bodies larger than this are refused with 413 before anything is forwarded
    # (the same limit as model-api's, so the router never holds more than the model would).
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1)
    # Connections kept open to the live upstream (the client pool's size).
    live_max_connections: int = Field(default=256, ge=1)
    # Answer POST /v1/predictions before FastAPI's middleware stack and routing (the fast
    # route, app.py); both paths call the same handler and answer the same bytes
    # (tests/shadow_router/test_fast_route.py). Off: for comparison in bench/.
    fast_route: bool = True
    # Shared bucket edges of the prediction histograms (understudy_router_prediction_value):
    # `prediction_buckets` edges log-spaced from low to high, i.e. each bucket is the same
    # relative width (200 over $10k..$2M: 2.7% each; on the Ames holdout that keeps the KS
    # from buckets within 0.0068 of the raw KS at any grid offset, bench/bucket_edges.py).
    # Every router replica and every model
    # version must use the same edges, or their counts cannot be summed: keep the defaults
    # unless your predictions live on another scale, and then change them everywhere at once.
    prediction_buckets_low: float = Field(default=10_000.0, gt=0)
    prediction_buckets_high: float = Field(default=2_000_000.0, gt=0)
    prediction_buckets: int = Field(default=200, ge=2, le=2_000)
    # Prediction bands of the paired evidence (understudy_router_paired_*, slice_by=
    # "prediction"): a record's band is the one its live prediction falls in, `slice_bands`
    # edges log-spaced over the same low..high. 80 bands (6.9% wide) are fine enough for the
    # decision core to merge adjacent ones into decile-like slices (~15 bands fall inside the
    # Ames 10th-90th percentile range of sale prices) and coarse enough that per-band
    # counters stay few (80 x 2 agree values per version pair). Same-everywhere rule as above.
    slice_bands: int = Field(default=80, ge=2, le=2_000)
    # Distinct values of the routing config's slice_field that get their own series; later
    # new values are counted under "__other__" (bounded label cardinality; the core pools
    # rare values itself).
    slice_field_max_values: int = Field(default=50, ge=1, le=10_000)

    # Ground truth (POST /v1/feedback, docs/contracts.md): where predictions wait for their
    # labels. "sqlite:///relative.db" or "sqlite:////absolute/path.db" (one router, the local
    # demo), "postgresql://user:password@host:5432/db" (shared by router replicas), or
    # "none" (feature off: nothing stored, /v1/feedback answers 404). Empty: SQLite in
    # <system temp dir>/understudy-router/feedback-<model_name>.sqlite3 (kept across restarts
    # of a local router; set a path on a volume for anything that must outlive the machine).
    feedback_store: str = ""
    # Requests whose predictions may wait for the background writer; beyond this they are
    # not stored (counted, understudy_router_predictions_stored_total{outcome="queue_full"}).
    feedback_queue_size: int = Field(default=10_000, ge=1, le=1_000_000)
    # Most requests whose predictions are written in one transaction (one row per record
    # and role).
    feedback_batch_size: int = Field(default=500, ge=1, le=100_000)
    # Longest a prediction waits for its batch to fill before it is written anyway (a label
    # sent earlier than this after its request may find it not stored yet: 404, resend).
    feedback_batch_interval_seconds: float = Field(default=0.2, gt=0, le=60)
    # Most labels in one POST /v1/feedback; more is a 413.
    feedback_max_labels: int = Field(default=1_000, ge=1, le=100_000)
    # Predictions older than this are deleted (their requests then get 404 for labels).
    feedback_retention_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    # At most this many prediction rows are kept; the oldest beyond it are deleted.
    feedback_retention_rows: int = Field(default=5_000_000, ge=1)
    # How often retention runs (and the stored row count is measured).
    feedback_retention_interval_seconds: float = Field(default=60.0, gt=0)

    @property
    def feedback_store_url(self) -> str | None:
        """The store's URL, the default filled in; None when the feature is off."""
        if self.feedback_store.strip().lower() == "none":
            return None
        if self.feedback_store:
            return self.feedback_store
        path = Path(
            tempfile.gettempdir(), "understudy-router", f"feedback-{self.model_name}.sqlite3"
        )
        return f"sqlite:///{path}"

    @model_validator(mode="after")
    def _feedback_store(self) -> RouterSettings:
        url = self.feedback_store
        off = url.strip().lower() == "none"
        if url and not off and not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError(
                "UNDERSTUDY_ROUTER_FEEDBACK_STORE must be sqlite:///path, postgresql://... or none"
            )
        return self

    @property
    def prediction_edges(self) -> tuple[float, ...]:
        """The prediction histograms' upper bucket edges (the one edge rule)."""
        return log_spaced_edges(
            self.prediction_buckets_low, self.prediction_buckets_high, self.prediction_buckets
        )

    @property
    def slice_edges(self) -> tuple[float, ...]:
        """The upper edges of the prediction bands of the paired evidence (the one edge rule)."""
        return log_spaced_edges(
            self.prediction_buckets_low, self.prediction_buckets_high, self.slice_bands
        )

    @model_validator(mode="after")
    def _prediction_edges(self) -> RouterSettings:
        if self.prediction_buckets_low >= self.prediction_buckets_high:
            raise ValueError(
                "UNDERSTUDY_ROUTER_PREDICTION_BUCKETS_LOW must be below _HIGH, got "
                f"{self.prediction_buckets_low:g} >= {self.prediction_buckets_high:g}"
            )
        return self

    @model_validator(mode="after")
    def _one_reload_source(self) -> RouterSettings:
        if self.config_file is not None and self.configmap is not None:
            raise ValueError("set at most one of UNDERSTUDY_ROUTER_CONFIG_FILE and _CONFIGMAP")
        if self.configmap is not None:
            namespace, sep, name = self.configmap.partition("/")
            if not sep or not namespace or not name or "/" in name:
                raise ValueError(
                    f"UNDERSTUDY_ROUTER_CONFIGMAP must be namespace/name, got {self.configmap!r}"
                )
        return self

    @property
    def configmap_ref(self) -> tuple[str, str] | None:
        """The ConfigMap as (namespace, name), or None in local mode."""
        if self.configmap is None:
            return None
        namespace, _, name = self.configmap.partition("/")
        return namespace, name
