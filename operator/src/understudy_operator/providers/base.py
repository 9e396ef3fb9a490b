"""The tiny provider interface: one query in, one number out, or a named error."""

from __future__ import annotations

from typing import Protocol


class ProviderError(Exception):
    """Base class: the provider could not produce a value."""


class NoDataError(ProviderError):
    """The query ran but matched nothing (or yielded NaN): no evidence, inconclusive."""


class QueryError(ProviderError):
    """The query could not be answered: bad PromQL, backend down, timeout, odd result."""


class MetricProvider(Protocol):
    def query(self, promql: str) -> float:
        """The single value of ``promql`` now; NoDataError / QueryError otherwise."""
        ...
