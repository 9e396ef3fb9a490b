"""Measurements and where they come from.

A measurement is one of three distinct outcomes: a :class:`Value`, :class:`NoData` (the
query ran but found nothing, e.g. no traffic yet) or :class:`QueryFailed` (the metrics
backend could not answer, e.g. Prometheus is down). Only a ``Value`` can pass a check.

A :class:`MetricsSource` measures one check in one context. The operator's is
``understudy_operator.providers.promql.PromQLSource`` (renders the check's PromQL and asks
Prometheus); the local demo brings its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from understudy_operator.core.checks import Check, QueryContext


@dataclass(frozen=True)
class Value:
    value: float


@dataclass(frozen=True)
class NoData:
    reason: str = "the query returned no samples"


@dataclass(frozen=True)
class QueryFailed:
    reason: str


Measurement = Value | NoData | QueryFailed


class MetricsSource(Protocol):
    def begin_run(self) -> None:
        """An analysis run starts: a source that works from snapshots (the local demo's
        scrape of the router) takes this run's snapshot here; a query API does nothing."""
        ...

    def measure(self, check: Check, context: QueryContext) -> Measurement:
        """Measure ``check`` for ``context``; never raises for backend trouble (QueryFailed)."""
        ...


@dataclass(frozen=True)
class Measurements:
    """Everything one analysis run measured: the sample count and each check by name."""

    samples: Measurement
    checks: Mapping[str, Measurement] = field(default_factory=dict)
