"""The ModelRollout ``house-prices`` of one test namespace on a real API server, read and
written the way the operator's cluster tests need (apply, status, waits, owned
Deployments, Events, annotations)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client

from tests.support.cluster import K8sCluster
from tests.support.dataplane import MODEL
from tests.support.operator import OperatorProcess
from understudy_operator.kube import GROUP, PLURAL, VERSION

NAME = "house-prices"
POLL_S = 0.25
T = TypeVar("T")


class Rollout:
    """The ModelRollout ``house-prices`` in one test namespace, and what it owns."""

    def __init__(self, cluster: K8sCluster, namespace: str, *, analysis: dict[str, Any]) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.analysis = analysis  # spec.analysis unless apply() is given another
        api = cluster.api_client()
        self.custom = client.CustomObjectsApi(api)
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.api = api
        self.operator: OperatorProcess | None = None

    def apply(self, version: str, **spec: Any) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ModelRollout",
            "metadata": {"name": NAME, "namespace": self.namespace},
            "spec": {
                "model": {"name": MODEL, "version": version, "image": f"model-api:{version}"},
                "analysis": self.analysis,
                **spec,
            },
        }
        result = self.cluster.kubectl("apply", "-f", "-", input=json.dumps(body))
        assert result.returncode == 0, result.stderr

    def get(self) -> dict[str, Any]:
        obj: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, NAME
        )
        return obj

    def status(self) -> dict[str, Any]:
        return self.get().get("status") or {}

    def wait(self, what: str, predicate: Callable[[dict[str, Any]], T], timeout: float = 90) -> T:
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.status()
            value = predicate(status)
            if value:
                return value
            time.sleep(POLL_S)  # polling interval
        logs = self.operator.logs()[-6000:] if self.operator else ""
        raise AssertionError(
            f"timed out waiting for {what}; status: {json.dumps(status, indent=1)}\n"
            f"operator logs:\n{logs}"
        )

    def wait_phase(self, *phases: str, timeout: float = 90) -> dict[str, Any]:
        return self.wait(
            f"phase in {phases}", lambda s: s if s.get("phase") in phases else None, timeout
        )

    def wait_decision(self, version: str, timeout: float = 90) -> dict[str, Any]:
        """Wait until the rollout of ``version`` ended: Promoted, RolledBack or Paused."""

        def decided(s: dict[str, Any]) -> dict[str, Any] | None:
            phase = s.get("phase")
            if phase == "Promoted" and s.get("stableVersion") == version:
                return s
            if phase in ("RolledBack", "Paused") and s.get("candidateVersion") == version:
                return s
            return None

        return self.wait(f"a decision on {version}", decided, timeout)

    def deployment(self, role: str) -> dict[str, Any] | None:
        try:
            dep = self.apps.read_namespaced_deployment(f"{NAME}-{role}", self.namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        out: dict[str, Any] = self.api.sanitize_for_serialization(dep)
        return out

    def deployed_version(self, role: str) -> str | None:
        dep = self.deployment(role)
        if dep is None:
            return None
        labels = dep["spec"]["template"]["metadata"]["labels"]
        return str(labels[f"{GROUP}/version"])

    def wait_event(self, reason: str, type_: str | None = None) -> list[str]:
        """The Events of ``reason`` once there is one: the operator posts them right after
        the status write a test has just seen."""
        return self.wait(f"a {reason} event", lambda _: self.events(reason, type_))

    def events(self, reason: str, type_: str | None = None) -> list[str]:
        """The messages of the rollout's Events of ``reason`` (and ``type_``: Warning, Normal)."""
        events = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={NAME},reason={reason}"
        )
        return [e.message for e in events.items if type_ is None or e.type == type_]

    def annotations(self) -> dict[str, str]:
        return self.get()["metadata"].get("annotations") or {}

    def annotate(self, key: str, value: str) -> None:
        result = self.cluster.kubectl(
            "annotate", "-n", self.namespace, f"mr/{NAME}", f"{key}={value}", "--overwrite"
        )
        assert result.returncode == 0, result.stderr
