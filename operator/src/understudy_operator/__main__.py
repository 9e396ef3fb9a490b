"""``python -m understudy_operator``: run the kopf operator for ModelRollouts.

Connects with the in-cluster service account, or with ``KUBECONFIG`` / ``~/.kube/config``
outside a cluster. Settings: ``UNDERSTUDY_OPERATOR_*`` (see settings.py).
"""

from __future__ import annotations

import logging

import kopf
from kubernetes import client, config
from prometheus_client import start_http_server

from understudy_common.logging import configure_logging
from understudy_common.metrics import new_registry
from understudy_operator.handlers import register
from understudy_operator.metrics import OperatorMetrics
from understudy_operator.notifier import Notifier
from understudy_operator.providers.prometheus import PrometheusProvider
from understudy_operator.providers.promql import PromQLSource
from understudy_operator.reconcile import Reconciler
from understudy_operator.settings import OperatorSettings

log = logging.getLogger("understudy_operator")


class _KopfExtras(logging.Filter):
    """kopf attaches its settings object (not JSON) and internal flags to object logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key in ("settings", "k8s_skip"):
            record.__dict__.pop(key, None)
        return True


def api_client() -> client.ApiClient:
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()


def kopf_settings() -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    # The CRD's status schema is strict: keep kopf's bookkeeping in annotations.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage()
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage()
    # Our own Events say what happened; kopf's would repeat "handler succeeded".
    settings.posting.level = logging.WARNING
    # Serve the resources present at start-up; needs no RBAC on CRDs or namespaces.
    settings.scanning.disabled = True
    return settings


def main() -> None:
    settings = OperatorSettings()
    configure_logging(service="operator", level=settings.log_level).addFilter(_KopfExtras())
    registry = new_registry()
    metrics = OperatorMetrics(registry)
    provider = PrometheusProvider(
        url=settings.prometheus_url, timeout_seconds=settings.prometheus_timeout_seconds
    )
    api = api_client()
    notifier = Notifier(
        api=api,
        metrics=metrics,
        attempts=settings.notification_attempts,
        backoff_seconds=settings.notification_backoff_seconds,
        max_pending=settings.notification_max_pending,
    ).start()
    reconciler = Reconciler(
        api=api,
        settings=settings,
        source=PromQLSource(provider),
        metrics=metrics,
        notifier=notifier,
    )
    kopf_registry = kopf.OperatorRegistry()
    register(kopf_registry, reconciler=reconciler, settings=settings)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry)
    liveness = (
        f"http://{settings.metrics_host}:{settings.health_port}/healthz"
        if settings.health_port
        else None
    )
    log.info(
        "understudy operator starting",
        extra={"prometheus.url": settings.prometheus_url, "namespaces": settings.namespaces},
    )
    kopf.run(
        registry=kopf_registry,
        settings=kopf_settings(),
        standalone=True,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        liveness_endpoint=liveness,
    )
    notifier.stop()
    provider.close()


if __name__ == "__main__":
    main()
