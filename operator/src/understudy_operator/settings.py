"""The operator's one settings class, from ``UNDERSTUDY_OPERATOR_*`` environment variables."""

from __future__ import annotations

import os
import socket
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from understudy_operator.kube.lease import LeaseTiming


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
    # Port of the probes /healthz and /readyz (0: off).
    health_port: int = Field(default=8082, ge=0, le=65535)
    # Attempts of one webhook notification (spec.notifications) before it counts as failed.
    notification_attempts: int = Field(default=5, ge=1, le=20)
    # Wait before the first retry of a notification; doubles each retry (at most 60s).
    notification_backoff_seconds: float = Field(default=1.0, gt=0)
    # Notifications waiting or being sent at once; more are dropped (a metric and a log).
    notification_max_pending: int = Field(default=256, ge=1)
    # Leader election on a coordination.k8s.io Lease (kube/lease.py): only the holder
    # reconciles, so several replicas are safe. Off: this process always acts (one replica).
    leader_election: bool = True
    # The Lease: name and namespace (the chart passes the pod's own namespace).
    lease_name: str = "understudy-operator"
    lease_namespace: str = "understudy"
    # A standby takes over a Lease not renewed for this long (client-go's default 15 s).
    lease_duration_seconds: int = Field(default=15, ge=1)
    # The holder stops (exits) when it could not renew for this long; < the duration.
    lease_renew_deadline_seconds: float = Field(default=10.0, gt=0)
    # Time between two attempts to acquire or renew.
    lease_retry_seconds: float = Field(default=2.0, gt=0)
    # This replica's name in the Lease (the chart passes the pod name); empty: host-pid.
    identity: str = ""

    @model_validator(mode="after")
    def _lease_timing_is_safe(self) -> Self:
        self.lease_timing()  # raises ValueError with the three values
        if not self.identity:
            self.identity = f"{socket.gethostname()}-{os.getpid()}"
        return self

    def lease_timing(self) -> LeaseTiming:
        return LeaseTiming(
            duration=self.lease_duration_seconds,
            renew_deadline=self.lease_renew_deadline_seconds,
            retry=self.lease_retry_seconds,
        )
