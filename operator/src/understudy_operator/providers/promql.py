"""A MetricsSource for any PromQL provider: a custom check's template rendered and asked
for one number; a built-in check's evidence as the PromQL its query renders."""

from __future__ import annotations

from understudy_operator.core.checks import Check, QueryContext, render
from understudy_operator.core.evidence import EvidenceQuery, Window
from understudy_operator.core.measurements import (
    Evidence,
    Measurement,
    NoData,
    QueryFailed,
    Value,
    Vector,
)
from understudy_operator.providers.base import MetricProvider, NoDataError, QueryError


class PromQLSource:
    def __init__(self, provider: MetricProvider) -> None:
        self._provider = provider

    def begin_run(self) -> None:
        """Every query asks Prometheus afresh: nothing to take per run."""

    def measure(self, check: Check, context: QueryContext) -> Measurement:
        if check.query is None:
            return QueryFailed(f"built-in check {check.name!r} is measured by its evidence")
        try:
            return Value(self._provider.query(render(check.query, context)))
        except NoDataError as exc:
            return NoData(str(exc))
        except (QueryError, ValueError) as exc:
            return QueryFailed(str(exc))

    def fetch(self, query: EvidenceQuery, context: QueryContext) -> Evidence:
        range_ = context.analysis_window if query.window is Window.ANALYSIS else context.interval
        promql = query.promql(context, range_=range_)
        try:
            return Vector(self._provider.vector(promql, query.by))
        except (QueryError, ValueError) as exc:
            return QueryFailed(str(exc))
