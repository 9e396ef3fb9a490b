"""Manifests of the objects the operator owns, as plain dicts (pure, no API calls).

Per ModelRollout ``<name>``: Deployments, Services and PodDisruptionBudgets (and, under
``spec.autoscaling``, HorizontalPodAutoscalers) ``<name>-live`` and ``<name>-candidate``
running model-api, and the router ConfigMap (key ``router.json``,
shape in docs/contracts.md). Every object carries an owner reference to the ModelRollout,
so deleting the rollout deletes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from understudy_operator.core.routing import router_document
from understudy_operator.core.spec import RolloutSpec
from understudy_operator.core.workload import DEFAULT_PRE_STOP_SECONDS
from understudy_operator.kube import GROUP, KIND, VERSION
from understudy_operator.kube.podtemplate import (
    DEFAULT_CONTAINER_SECURITY,
    DEFAULT_POD_SECURITY,
    DEFAULT_RESOURCES,
    apply_template,
)
from understudy_operator.settings import OperatorSettings

Role = Literal["live", "candidate"]
ROLLOUT_LABEL = f"{GROUP}/rollout"
ROLE_LABEL = f"{GROUP}/role"
VERSION_LABEL = f"{GROUP}/version"
MANAGED_BY = {"app.kubernetes.io/managed-by": "understudy-operator"}
# The chart's Prometheus scrapes pods with this label on their port named "http".
SCRAPE_LABEL = "understudy.dev/scrape"
# The default preStop pause of model pods (spec.template.preStopSeconds changes it).
PRE_STOP_SECONDS = DEFAULT_PRE_STOP_SECONDS


@dataclass(frozen=True)
class RolloutRef:
    """The ModelRollout being acted for."""

    namespace: str
    name: str
    uid: str

    def workload(self, role: Role) -> str:
        return f"{self.name}-{role}"

    def owner_reference(self) -> dict[str, Any]:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
        }

    def metadata(self, name: str, labels: dict[str, str]) -> dict[str, Any]:
        return {
            "name": name,
            "namespace": self.namespace,
            "labels": labels,
            "ownerReferences": [self.owner_reference()],
        }


def selector(ref: RolloutRef, role: Role) -> dict[str, str]:
    return {ROLLOUT_LABEL: ref.name, ROLE_LABEL: role}


def labels(ref: RolloutRef, role: Role, model: str, version: str | None = None) -> dict[str, str]:
    out = {
        "app.kubernetes.io/name": "model-api",
        "app.kubernetes.io/instance": ref.name,
        "app.kubernetes.io/component": role,
        **MANAGED_BY,
        **selector(ref, role),
        "understudy.dev/model": model,
    }
    if version is not None:
        out[VERSION_LABEL] = version
    return out


def deployment(
    *,
    ref: RolloutRef,
    role: Role,
    spec: RolloutSpec,
    version: str,
    image: str,
    settings: OperatorSettings,
) -> dict[str, Any]:
    """A model-api Deployment: rolling updates never take a replica away (maxUnavailable 0);
    the pods are the restricted defaults with ``spec.template`` merged over them. Under
    ``spec.autoscaling`` there is no ``replicas``: the HPA owns that field."""
    pod_labels = {**labels(ref, role, spec.model.name, version), SCRAPE_LABEL: "true"}
    port = settings.model_port
    pre_stop = spec.template.pre_stop_seconds
    pod = {
        "metadata": {
            "labels": pod_labels,
            "annotations": {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(port),
                "prometheus.io/path": "/metrics",
            },
        },
        "spec": {
            "securityContext": DEFAULT_POD_SECURITY,
            # preStop + uvicorn's graceful shutdown (25 s) + margin.
            "terminationGracePeriodSeconds": pre_stop + 30,
            "containers": [
                {
                    "name": "model-api",
                    "image": image,
                    "securityContext": DEFAULT_CONTAINER_SECURITY,
                    "resources": DEFAULT_RESOURCES,
                    "env": [
                        {"name": "UNDERSTUDY_MODEL_API_HOST", "value": "0.0.0.0"},
                        {"name": "UNDERSTUDY_MODEL_API_PORT", "value": str(port)},
                    ],
                    "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
                    "readinessProbe": {
                        "httpGet": {"path": "/readyz", "port": "http"},
                        "periodSeconds": 5,
                    },
                    "livenessProbe": {
                        "httpGet": {"path": "/healthz", "port": "http"},
                        "periodSeconds": 10,
                    },
                    # Keep serving while the pod leaves the Service's endpoints: a
                    # promotion on a real node without it answered one request in
                    # ~14,000 with a 502 (a new connection to a pod already stopping).
                    # The sleep action refuses 0 seconds: then there is no preStop.
                    **(
                        {"lifecycle": {"preStop": {"sleep": {"seconds": pre_stop}}}}
                        if pre_stop > 0
                        else {}
                    ),
                }
            ],
        },
    }
    workload: dict[str, Any] = {
        "selector": {"matchLabels": selector(ref, role)},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "template": apply_template(pod, spec.template),
    }
    if spec.autoscaling is None:
        workload = {"replicas": spec.replicas, **workload}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": ref.metadata(ref.workload(role), labels(ref, role, spec.model.name, version)),
        "spec": workload,
    }


def disruption_budget(*, ref: RolloutRef, role: Role, spec: RolloutSpec) -> dict[str, Any]:
    """At most one model pod of a role evicted at a time (or spec.disruptionBudget's)."""
    budget = spec.disruption_budget
    limit = (
        {"minAvailable": budget.min_available}
        if budget.min_available is not None
        else {"maxUnavailable": budget.max_unavailable}
    )
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": ref.metadata(ref.workload(role), labels(ref, role, spec.model.name)),
        "spec": {"selector": {"matchLabels": selector(ref, role)}, **limit},
    }


def autoscaler(*, ref: RolloutRef, role: Role, spec: RolloutSpec) -> dict[str, Any] | None:
    """The HPA of a role's Deployment under spec.autoscaling (None without it)."""
    scaling = spec.autoscaling
    if scaling is None:
        return None
    metrics = [dict(m) for m in scaling.metrics] or [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {
                    "type": "Utilization",
                    "averageUtilization": scaling.target_cpu_percent,
                },
            },
        }
    ]
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": ref.metadata(ref.workload(role), labels(ref, role, spec.model.name)),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": ref.workload(role),
            },
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": metrics,
        },
    }


def service(*, ref: RolloutRef, role: Role, spec: RolloutSpec, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": ref.metadata(ref.workload(role), labels(ref, role, spec.model.name)),
        "spec": {
            "selector": selector(ref, role),
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def router_config(
    *,
    ref: RolloutRef,
    spec: RolloutSpec,
    settings: OperatorSettings,
    live_version: str,
    candidate_version: str | None,
) -> dict[str, Any]:
    """router.json: live always; the candidate only while it is being shadowed."""

    def url(role: Role) -> str:
        return settings.service_url.format(
            service=ref.workload(role), namespace=ref.namespace, port=settings.model_port
        )

    return router_document(
        spec,
        live=(url("live"), live_version),
        candidate=(url("candidate"), candidate_version) if candidate_version else None,
    )


def router_configmap_name(*, ref: RolloutRef, spec: RolloutSpec, settings: OperatorSettings) -> str:
    return spec.router.config_map_name or settings.router_configmap.format(name=ref.name)


def router_configmap(
    *, ref: RolloutRef, name: str, spec: RolloutSpec, config: dict[str, Any]
) -> dict[str, Any]:
    meta_labels = {
        "app.kubernetes.io/name": "shadow-router",
        "app.kubernetes.io/instance": ref.name,
        **MANAGED_BY,
        ROLLOUT_LABEL: ref.name,
        "understudy.dev/model": spec.model.name,
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": ref.metadata(name, meta_labels),
        "data": {"router.json": json.dumps(config, indent=2, sort_keys=True)},
    }


def deployment_version(obj: dict[str, Any] | None) -> str | None:
    """The model version a Deployment's pod template runs (our label)."""
    if not obj:
        return None
    tpl = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
    return (tpl.get("labels") or {}).get(VERSION_LABEL)


def deployment_image(obj: dict[str, Any] | None) -> str | None:
    if not obj:
        return None
    containers = obj["spec"]["template"]["spec"].get("containers") or []
    return containers[0].get("image") if containers else None


def replicas_managers(obj: dict[str, Any]) -> set[str]:
    """The field managers that own a Deployment's spec.replicas (server-side apply)."""
    return {
        entry["manager"]
        for entry in obj.get("metadata", {}).get("managedFields") or []
        if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})
    }


def rolled_out(obj: dict[str, Any] | None) -> bool:
    """Like ``kubectl rollout status``: the latest template is on every replica and available."""
    if not obj:
        return False
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    want = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return False
    return (
        status.get("updatedReplicas", 0) >= want
        and status.get("replicas", 0) == status.get("updatedReplicas", 0)
        and status.get("availableReplicas", 0) >= want
        and not status.get("unavailableReplicas")
    )
