"""Parsing the model pods' part of a ModelRollout spec: template, disruption budget, autoscaling.

The operator's own labels, annotations and env stay its own (core/workload.py names them);
what a user may set is merged by kube/podtemplate.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from understudy_operator.core.spec_reader import SpecError, SpecObject
from understudy_operator.core.workload import (
    CONTAINER_FIELDS,
    DEFAULT_PRE_STOP_SECONDS,
    POD_FIELDS,
    RESERVED_ANNOTATIONS,
    RESERVED_ENV,
    Autoscaling,
    DisruptionBudget,
    PodTemplate,
    reserved_label,
)


def string_map(obj: SpecObject, key: str) -> dict[str, str]:
    value = obj.data.get(key)
    obj.seen.add(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise SpecError(f"{obj.path}.{key}: must be a map of strings to strings")
    return dict(value)


def parse_template(obj: SpecObject) -> PodTemplate:
    """spec.template: the operator's own labels, annotations and env stay its own."""
    labels = string_map(obj, "labels")
    taken = sorted(k for k in labels if reserved_label(k))
    if taken:
        raise SpecError(
            f"{obj.path}.labels: {', '.join(taken)} belong to the operator (its selector and "
            "Services use them); choose other keys"
        )
    annotations = string_map(obj, "annotations")
    taken = sorted(RESERVED_ANNOTATIONS & set(annotations))
    if taken:
        raise SpecError(
            f"{obj.path}.annotations: {', '.join(taken)} are set by the operator "
            "(Prometheus scrapes model pods by them)"
        )
    fields: dict[str, Any] = {}
    for key in (*POD_FIELDS, *CONTAINER_FIELDS):
        value = obj.data.get(key)
        obj.seen.add(key)
        if value is not None:
            fields[key] = value
    for key in ("securityContext", "containerSecurityContext", "resources", "affinity"):
        if key in fields and not isinstance(fields[key], Mapping):
            raise SpecError(f"{obj.path}.{key}: must be an object")
    for key in ("imagePullSecrets", "tolerations", "topologySpreadConstraints", "env"):
        if key in fields and not isinstance(fields[key], list):
            raise SpecError(f"{obj.path}.{key}: must be a list")
    for i, var in enumerate(fields.get("env", [])):
        name = var.get("name") if isinstance(var, Mapping) else None
        if not isinstance(name, str) or not name:
            raise SpecError(f"{obj.path}.env[{i}]: needs a name")
        if name in RESERVED_ENV:
            raise SpecError(
                f"{obj.path}.env[{i}].name: {name} is set by the operator (the port the "
                "Service and the probes use)"
            )
    if "nodeSelector" in fields:
        fields["nodeSelector"] = string_map(obj, "nodeSelector")
    template = PodTemplate(
        labels=labels,
        annotations=annotations,
        fields=fields,
        pre_stop_seconds=obj.integer(
            "preStopSeconds", default=DEFAULT_PRE_STOP_SECONDS, low=0, high=300
        ),
    )
    obj.reject_unknown()
    return template


def _int_or_percent(obj: SpecObject, key: str) -> int | str | None:
    value = obj.data.get(key)
    obj.seen.add(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and re.fullmatch(r"(100|[1-9]?[0-9])%", value):
        return value
    raise SpecError(f"{obj.path}.{key}: must be an integer >= 0 or a percentage, got {value!r}")


def parse_disruption_budget(obj: SpecObject) -> DisruptionBudget:
    max_unavailable = _int_or_percent(obj, "maxUnavailable")
    min_available = _int_or_percent(obj, "minAvailable")
    obj.reject_unknown()
    if max_unavailable is not None and min_available is not None:
        raise SpecError(f"{obj.path}: give maxUnavailable or minAvailable, not both")
    if min_available is not None:
        return DisruptionBudget(max_unavailable=None, min_available=min_available)
    return DisruptionBudget(max_unavailable=1 if max_unavailable is None else max_unavailable)


def parse_autoscaling(root: SpecObject) -> Autoscaling | None:
    if root.data.get("autoscaling") is None:
        root.seen.add("autoscaling")
        return None
    obj = root.obj("autoscaling")
    low = obj.integer("minReplicas", default=1, low=1, high=100)
    high = obj.integer("maxReplicas", default=-1, low=1, high=100)
    if high < 0:
        raise SpecError(f"{obj.path}.maxReplicas: is required")
    if low > high:
        raise SpecError(f"{obj.path}: minReplicas {low} is greater than maxReplicas {high}")
    metrics = obj.items("metrics") or []
    cpu = obj.integer("targetCPUUtilizationPercentage", default=-1, low=1, high=1000)
    if metrics and cpu > 0:
        raise SpecError(f"{obj.path}: give targetCPUUtilizationPercentage or metrics, not both")
    scaling = Autoscaling(
        min_replicas=low,
        max_replicas=high,
        target_cpu_percent=None if metrics else (cpu if cpu > 0 else 80),
        metrics=tuple(dict(m.data) for m in metrics),
    )
    obj.reject_unknown()
    return scaling
