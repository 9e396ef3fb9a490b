"""The core's ports: what a driver of the core must bring. Each driver (the operator's
kopf reconcile, the local demo's controller) implements both and imports only the core's
public names (``understudy_operator.core``); a test holds the local driver to that.

- ``MetricsSource``: the evidence. The operator's is
  ``understudy_operator.providers.promql.PromQLSource`` (each check's PromQL, asked of
  Prometheus); the demo's scrapes the router's ``/metrics`` when Prometheus is absent.
- ``Actuator``: the data plane. The operator's drives Deployments, Services and the
  router's ConfigMap (``kube/actuator.py``); the demo's, local processes and a router
  config file (``understudy_cli.demo.workloads``).
"""

from __future__ import annotations

from typing import Protocol

from understudy_operator.core.checks import Check, QueryContext
from understudy_operator.core.evidence import EvidenceQuery
from understudy_operator.core.measurements import Evidence, Measurement
from understudy_operator.core.status import RolloutStatus
from understudy_operator.core.types import Action, Observed


class MetricsSource(Protocol):
    def begin_run(self) -> None:
        """An analysis run starts: a source that works from snapshots (the local demo's
        scrape of the router) takes this run's snapshot here; a query API does nothing."""
        ...

    def measure(self, check: Check, context: QueryContext) -> Measurement:
        """A custom check's PromQL for ``context``: one number; never raises for backend
        trouble (QueryFailed)."""
        ...

    def fetch(self, query: EvidenceQuery, context: QueryContext) -> Evidence:
        """One part of a built-in check's evidence: the increase over the query's window,
        summed by its ``by`` labels (core/evidence.py); an empty ``Vector`` when no series
        matches; never raises for backend trouble (QueryFailed)."""
        ...


class Actuator(Protocol):
    def observe(self, status: RolloutStatus) -> Observed:
        """What the workloads of the rollout in ``status`` look like right now."""
        ...

    def apply(self, action: Action, status: RolloutStatus) -> None:
        """Carry out ``action`` idempotently ("make it so"); ``status`` is the status the
        decision leads to (e.g. its stable version is where live traffic goes)."""
        ...
