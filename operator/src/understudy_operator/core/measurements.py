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


@dataclass(frozen=True)
class Vector:
    """A built-in check's evidence: the summed increase per value of the query's ``by``
    labels (core/evidence.py). Empty: no series matched (no traffic of that kind yet),
    which the check decides how to read."""

    values: Mapping[tuple[str, ...], float] = field(default_factory=dict)

    def total(self) -> float:
        return sum(self.values.values())

    def get(self, *key: str) -> float:
        return self.values.get(tuple(key), 0.0)


Measurement = Value | NoData | QueryFailed
Evidence = Vector | NoData | QueryFailed
# What one check measured: a custom check's number, or a built-in's evidence by part.
CheckMeasurement = Measurement | Mapping[str, Evidence]


@dataclass(frozen=True)
class Measurements:
    """Everything one analysis run measured: the sample count and each check by name —
    a custom check's number (a ``Measurement``) or a built-in's evidence, one answer per
    part (core/evidence.py; ``Vector | NoData | QueryFailed``)."""

    samples: Measurement
    checks: Mapping[str, CheckMeasurement] = field(default_factory=dict)
