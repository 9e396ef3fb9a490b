"""How the model-api pods of a rollout run: ``spec.template``, ``spec.disruptionBudget``
and ``spec.autoscaling`` as typed values (parsed in spec.py, turned into manifests in
kube/podtemplate.py).

The template holds the user's overrides as the Kubernetes field shapes (camelCase dicts):
the API server validates their insides when the operator applies the Deployment. What the
operator owns itself — its labels, its scrape annotations, the env it sets, the container's
name, image, ports and probes — cannot be overridden; the names are here, in one place, for
the spec parser (a readable SpecError) and for the test that holds them equal to the
manifests the operator builds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Label keys the operator sets on its Deployments and pods: the selector, the Services and
# the router depend on them. Any key with one of these prefixes is the operator's.
RESERVED_LABEL_PREFIXES = ("rollouts.understudy.dev/", "understudy.dev/")
RESERVED_LABELS = frozenset(
    {
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/component",
        "app.kubernetes.io/managed-by",
    }
)
# The annotations the chart's Prometheus scrapes model pods by.
RESERVED_ANNOTATIONS = frozenset(
    {"prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path"}
)
# The operator tells model-api where to listen; the Service and the probes rely on it.
RESERVED_ENV = frozenset({"UNDERSTUDY_MODEL_API_HOST", "UNDERSTUDY_MODEL_API_PORT"})

# Pod-level fields of spec.template (PodSpec names) and the model-api container's.
POD_FIELDS = (
    "securityContext",
    "imagePullSecrets",
    "nodeSelector",
    "tolerations",
    "affinity",
    "topologySpreadConstraints",
    "serviceAccountName",
    "priorityClassName",
)
CONTAINER_FIELDS = ("containerSecurityContext", "resources", "env")

# A stopping model pod keeps serving this long by default, until kube-proxy and the
# endpoints have let it go (the lifecycle sleep action: Kubernetes >= 1.30).
DEFAULT_PRE_STOP_SECONDS = 5


def reserved_label(key: str) -> bool:
    return key in RESERVED_LABELS or key.startswith(RESERVED_LABEL_PREFIXES)


@dataclass(frozen=True)
class PodTemplate:
    """The user's overrides of the model-api pods (``spec.template``); empty: the defaults."""

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    # POD_FIELDS and CONTAINER_FIELDS that were given, by their spec.template name.
    fields: Mapping[str, Any] = field(default_factory=dict)
    pre_stop_seconds: int = DEFAULT_PRE_STOP_SECONDS


@dataclass(frozen=True)
class DisruptionBudget:
    """``spec.disruptionBudget``: exactly one of the two (an int or a percentage string);
    neither given: maxUnavailable 1."""

    max_unavailable: int | str | None = 1
    min_available: int | str | None = None


@dataclass(frozen=True)
class Autoscaling:
    """``spec.autoscaling``: an HPA per model Deployment, which then owns ``replicas``."""

    min_replicas: int
    max_replicas: int
    # Average CPU utilisation (% of the request) to hold; used when no metrics are given.
    target_cpu_percent: int | None = 80
    # autoscaling/v2 MetricSpec objects, as given (validated by the API server on the HPA).
    metrics: tuple[Mapping[str, Any], ...] = ()
