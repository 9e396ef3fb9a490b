"""Measurements and where they come from.

A measurement is one of three distinct outcomes: a :class:`Value`, :class:`NoData` (the
query ran but found nothing, e.g. no traffic yet) or :class:`QueryFailed` (the metrics
backend could not answer, e.g. Prometheus is down). Only a ``Value`` can pass a check.

Where measurements come from is a port of the core: ``MetricsSource`` in core/ports.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class Measurements:
    """Everything one analysis run measured: the sample count and each check by name."""

    samples: Measurement
    checks: Mapping[str, Measurement] = field(default_factory=dict)
