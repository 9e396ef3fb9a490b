"""The kopf handlers: thin glue around :class:`Reconciler` (all decorators live here).

Every ModelRollout is reconciled on create/update/resume (spec or annotation changes,
e.g. the approval annotation) and on a timer every ``tick_seconds``; the analysis runs
themselves are gated to ``spec.analysis.interval`` by the core. Transient trouble raises
``kopf.TemporaryError`` (kopf retries), a bad spec ``kopf.PermanentError``. No sleeping.
"""

from __future__ import annotations

from typing import Any

import kopf
import urllib3
from kubernetes import client

from understudy_operator.kube import GROUP, PLURAL, VERSION
from understudy_operator.reconcile import InvalidSpec, Reconciler
from understudy_operator.settings import OperatorSettings


def register(
    registry: kopf.OperatorRegistry, *, reconciler: Reconciler, settings: OperatorSettings
) -> None:
    """Register the handlers of the ModelRollout resource on ``registry``."""
    retry = settings.retry_delay_seconds

    def run(namespace: str | None, name: str, *, bad_spec_is_permanent: bool) -> None:
        if namespace is None:  # ModelRollouts are namespaced
            return
        try:
            reconciler.reconcile(namespace, name)
        except InvalidSpec as exc:
            if bad_spec_is_permanent:
                raise kopf.PermanentError(f"invalid spec: {exc}") from exc
        except client.ApiException as exc:
            # 409: someone wrote the object since we read it; retry at once with fresh data.
            delay = 0.2 if exc.status == 409 else retry
            raise kopf.TemporaryError(f"API {exc.status}: {exc.reason}", delay=delay) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise kopf.TemporaryError(f"API unreachable: {exc}", delay=retry) from exc

    # The same credentials as the actuator: in-cluster service account or KUBECONFIG.
    kopf.on.login(registry=registry)(kopf.login_via_client)

    @kopf.on.resume(GROUP, VERSION, PLURAL, registry=registry)
    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
    @kopf.on.update(GROUP, VERSION, PLURAL, registry=registry)
    def changed(*, namespace: str | None, name: str, **_: Any) -> None:
        run(namespace, name, bad_spec_is_permanent=True)

    @kopf.timer(GROUP, VERSION, PLURAL, interval=settings.tick_seconds, registry=registry)
    def tick(*, namespace: str | None, name: str, **_: Any) -> None:
        run(namespace, name, bad_spec_is_permanent=False)

    @kopf.on.delete(GROUP, VERSION, PLURAL, optional=True, registry=registry)
    def deleted(*, namespace: str | None, name: str, **_: Any) -> None:
        # Owner references delete the workloads; only in-memory bookkeeping is left.
        reconciler.forget(namespace or "", name)
