"""The chart rendered by the real helm of a test cluster, and readers of what it renders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from tests.support.layout import CHART

if TYPE_CHECKING:
    from tests.support.cluster import K8sCluster

# Objects that carry a pod spec
POD_KINDS = {"Deployment", "DaemonSet", "StatefulSet", "Job", "Pod"}


def ok(result: Any) -> str:
    """stdout of a finished helm/kubectl run; fails the test with its output otherwise."""
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return str(result.stdout)


def render(cluster: K8sCluster, *args: str) -> list[dict[str, Any]]:
    """`helm template` of the chart as release "it" in namespace "rel"."""
    out = ok(cluster.helm("template", "it", str(CHART), "-n", "rel", *args))
    return [d for d in yaml.safe_load_all(out) if d]


def one(docs: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    """The one object of that kind labelled with that app.kubernetes.io/component."""
    (doc,) = [
        d
        for d in docs
        if d["kind"] == kind
        and d["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    return doc


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Pod or of a workload's template."""
    if doc["kind"] == "Pod":
        return dict(doc["spec"])
    return dict(doc["spec"]["template"]["spec"])


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """A container's env as name -> value (or valueFrom)."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}
