"""Kubernetes Events on the ModelRollout (``kubectl describe mr`` shows them)."""

from __future__ import annotations

from datetime import datetime

from kubernetes import client

from understudy_operator.kube import GROUP, KIND, VERSION
from understudy_operator.kube.resources import RolloutRef

COMPONENT = "understudy-operator"


class EventRecorder:
    def __init__(self, api: client.ApiClient) -> None:
        self._core = client.CoreV1Api(api)

    def record(
        self, *, ref: RolloutRef, type_: str, reason: str, message: str, now: datetime
    ) -> None:
        body = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{ref.name}.", namespace=ref.namespace),
            involved_object=client.V1ObjectReference(
                api_version=f"{GROUP}/{VERSION}",
                kind=KIND,
                name=ref.name,
                namespace=ref.namespace,
                uid=ref.uid,
            ),
            type=type_,
            reason=reason,
            message=message[:1024],
            source=client.V1EventSource(component=COMPONENT),
            reporting_component=COMPONENT,
            reporting_instance=COMPONENT,
            first_timestamp=now,
            last_timestamp=now,
            count=1,
        )
        self._core.create_namespaced_event(ref.namespace, body)
