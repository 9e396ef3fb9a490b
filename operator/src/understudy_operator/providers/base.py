"""The tiny provider interface: a query in, one number (or a vector keyed by labels) out,
or a named error."""

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

    def vector(self, promql: str, by: tuple[str, ...]) -> dict[tuple[str, ...], float]:
        """Every series of ``promql`` now, keyed by the values of its ``by`` labels; empty
        when nothing matched; QueryError when it cannot be answered."""
        ...
