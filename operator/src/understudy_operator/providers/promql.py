"""A MetricsSource for any PromQL provider: render the check's template and query it."""

from __future__ import annotations

from understudy_operator.core.checks import Check, QueryContext, render
from understudy_operator.core.measurements import Measurement, NoData, QueryFailed, Value
from understudy_operator.providers.base import MetricProvider, NoDataError, QueryError


class PromQLSource:
    def __init__(self, provider: MetricProvider) -> None:
        self._provider = provider

    def begin_run(self) -> None:
        """Every query asks Prometheus afresh: nothing to take per run."""

    def measure(self, check: Check, context: QueryContext) -> Measurement:
        try:
            return Value(self._provider.query(render(check.template, context)))
        except NoDataError as exc:
            return NoData(str(exc))
        except (QueryError, ValueError) as exc:
            return QueryFailed(str(exc))
