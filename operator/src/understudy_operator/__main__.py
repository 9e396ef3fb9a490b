"""``python -m understudy_operator``: run the kopf operator for ModelRollouts.

Connects with the in-cluster service account, or with ``KUBECONFIG`` / ``~/.kube/config``
outside a cluster. Settings: ``UNDERSTUDY_OPERATOR_*`` (see settings.py). With leader
election (the default) the process waits as a standby until it holds the Lease, only then
starts kopf, and exits at once if it loses the Lease (kube/lease.py says why).
"""

from __future__ import annotations

import logging
import os
import sys
import threading

import kopf
from kubernetes import client, config
from prometheus_client import start_http_server

from understudy_common.logging import configure_logging
from understudy_common.metrics import process_registry
from understudy_operator.handlers import register
from understudy_operator.health import Health, serve
from understudy_operator.kube.lease import LeaderElector
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


def _exit_at_once() -> None:
    """The Lease is lost: stop every reconcile now (no graceful shutdown that keeps acting);
    the kubelet restarts the container, which comes back as a standby."""
    logging.shutdown()
    sys.stdout.flush()
    os._exit(1)


def elector_for(
    settings: OperatorSettings, api: client.ApiClient, metrics: OperatorMetrics
) -> LeaderElector:
    return LeaderElector(
        api=api,
        namespace=settings.lease_namespace,
        name=settings.lease_name,
        identity=settings.identity,
        timing=settings.lease_timing(),
        on_lost=_exit_at_once,
        on_change=lambda leading: metrics.leader.set(1 if leading else 0),
    )


def main() -> None:
    settings = OperatorSettings()
    configure_logging(service="operator", level=settings.log_level).addFilter(_KopfExtras())
    registry = process_registry()
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
    elector = elector_for(settings, api, metrics) if settings.leader_election else None
    loop = (
        threading.Thread(target=elector.run, name="leader-election", daemon=True)
        if elector is not None
        else None
    )
    watching = threading.Event()
    if settings.health_port:
        health = Health(watching=watching, elector=elector, loop=loop)
        serve(health, host=settings.metrics_host, port=settings.health_port)
    log.info(
        "understudy operator starting",
        extra={
            "prometheus.url": settings.prometheus_url,
            "namespaces": settings.namespaces,
            "understudy.identity": settings.identity,
            "understudy.leader_election": settings.leader_election,
        },
    )
    if elector is not None and loop is not None:
        loop.start()
        log.info("standby: waiting for Lease %s/%s", settings.lease_namespace, settings.lease_name)
        elector.leading.wait()
    else:
        metrics.leader.set(1)
    kopf.run(
        registry=kopf_registry,
        settings=kopf_settings(),
        standalone=True,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        ready_flag=watching,
    )
    if elector is not None:
        elector.release()  # a clean stop hands over at once
    notifier.stop()
    provider.close()


if __name__ == "__main__":
    main()
