"""The operator's one settings class, from ``UNDERSTUDY_OPERATOR_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UNDERSTUDY_OPERATOR_", extra="ignore")

    # Prometheus HTTP API the analysis queries.
    prometheus_url: str = "http://prometheus.understudy.svc:9090"
    # Seconds one Prometheus query may take before the run counts it as a query error.
    prometheus_timeout_seconds: float = Field(default=5.0, gt=0)
    # How often each ModelRollout is looked at (readiness, signals, due analysis runs);
    # runs themselves happen every spec.analysis.interval.
    tick_seconds: float = Field(default=2.0, gt=0)
    # Namespaces to watch; empty: all namespaces (needs the ClusterRole).
    namespaces: list[str] = Field(default_factory=list)
    # Default name of the router ConfigMap ({name} = the ModelRollout's name), used when
    # spec.router.configMapName is not set.
    router_configmap: str = "{name}-router"
    # Port the model-api containers listen on (and their Services expose).
    model_port: int = Field(default=8000, ge=1, le=65535)
    # URL template of a model Service in router.json ({service}, {namespace}, {port}).
    service_url: str = "http://{service}.{namespace}.svc:{port}"
    # Port of the operator's own /metrics (0: off).
    metrics_port: int = Field(default=8081, ge=0, le=65535)
    # Address the metrics server binds to.
    metrics_host: str = "0.0.0.0"
    # Root log level.
    log_level: str = "INFO"
    # Delay before kopf retries a reconcile that hit transient API trouble.
    retry_delay_seconds: float = Field(default=5.0, gt=0)
    # Image of a model version when spec.model.image is not set ({version}).
    model_image: str = "understudy/model-api:{version}"
    # Port of kopf's liveness endpoint /healthz (0: off).
    health_port: int = Field(default=8082, ge=0, le=65535)
    # Attempts of one webhook notification (spec.notifications) before it counts as failed.
    notification_attempts: int = Field(default=5, ge=1, le=20)
    # Wait before the first retry of a notification; doubles each retry (at most 60s).
    notification_backoff_seconds: float = Field(default=1.0, gt=0)
    # Notifications waiting or being sent at once; more are dropped (a metric and a log).
    notification_max_pending: int = Field(default=256, ge=1)
