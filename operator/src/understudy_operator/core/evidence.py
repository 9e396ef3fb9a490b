"""Evidence: what a built-in check asks a metrics source for, and what it gets back.

A built-in check no longer asks for one finished number (a KS gauge one router replica
computed over its own window cannot be merged with another's). It asks for **counter
increases summed over every series that matches, grouped by a few labels** — one
:class:`EvidenceQuery` per ingredient — and the core computes the statistic from them
(core/builtins.py). Increases of counters and of histogram buckets add up exactly across
router replicas and time ranges, so the statistic is exact for any number of replicas.

Both sources answer the same query: Prometheus through the PromQL that :meth:`promql`
renders (``sum by (<by>) (((S - S offset <window>) >= 0) or S)`` for the series S; see
:meth:`EvidenceQuery.promql` for why not ``increase``), the local demo by
filtering its scrape of ``/metrics`` with :func:`matches` and subtracting an earlier scrape.
One description, two evaluations; a test holds them equal on the same traffic
(tests/cli/test_check_parity.py).

Windows:

``interval``
    The check's ``interval`` (default the analysis interval): today's per-run look.
``analysis``
    Everything since the analysis started (the candidate began shadowing; the warmup
    included): what a confidence sequence needs, since it is valid for the cumulative
    evidence at every look. In Prometheus: the change over the analysis' age (counts
    between the newest scrape before the start and the newest scrape now).
``total``
    The counters' current values (no range): the sample count of the ``minSamples`` gate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from understudy_operator.core.checks import Method, QueryContext, render
from understudy_operator.core.measurements import Evidence, Vector

__all__ = ["Evidence", "EvidenceQuery", "Matcher", "Op", "Vector", "Window", "eq", "window_of"]


class Window(StrEnum):
    INTERVAL = "interval"
    ANALYSIS = "analysis"
    TOTAL = "total"


class Op(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class Matcher:
    """A PromQL label matcher; ``value`` may hold ``{{ variables }}`` (core/checks.py)."""

    label: str
    op: Op
    value: str

    def promql(self, context: QueryContext) -> str:
        value = render(self.value, context).replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.label}{self.op}"{value}"'

    def accepts(self, labels: Mapping[str, str], context: QueryContext) -> bool:
        """PromQL's rule: an absent label is the empty string; regexes are anchored."""
        actual = labels.get(self.label, "")
        value = render(self.value, context)
        if self.op is Op.EQ:
            return actual == value
        if self.op is Op.NE:
            return actual != value
        found = re.fullmatch(value, actual) is not None
        return found if self.op is Op.RE else not found


def eq(label: str, value: str) -> Matcher:
    return Matcher(label, Op.EQ, value)


# Every selector names the rollout's namespace, or no namespace at all: in a cluster the
# scrape config adds a `namespace` label (so two rollouts of one model in two namespaces
# never share evidence); a local Prometheus scraping static targets, or the demo's own
# scrape, has none.
NAMESPACE = Matcher("namespace", Op.RE, "{{ namespace }}|")


def window_of(method: Method | None) -> Window:
    """The window a check's method reads: ``threshold`` its interval; ``confidence`` (the
    default where a check has it) everything since the analysis started."""
    return Window.INTERVAL if method is Method.THRESHOLD else Window.ANALYSIS


@dataclass(frozen=True)
class EvidenceQuery:
    """Increase of ``metric`` over ``window``, summed over matching series, grouped ``by``."""

    metric: str
    matchers: tuple[Matcher, ...]
    by: tuple[str, ...] = ()
    window: Window = Window.INTERVAL

    def selector(self, context: QueryContext) -> str:
        inner = ",".join(m.promql(context) for m in (NAMESPACE, *self.matchers))
        return f"{self.metric}{{{inner}}}"

    def promql(self, context: QueryContext, *, range_: str) -> str:
        """The PromQL; ``range_`` is the Prometheus duration of the window (ignored for
        ``total``).

        Not ``increase()``: it extrapolates each series to the window's ends by its own
        factor (a series born inside the window is extrapolated toward its own zero), so
        counts of different series — the buckets of one histogram, the two sides of a
        ratio — would not be in proportion. The change is taken as it happened instead:
        now minus the value ``range_`` ago; a series born since counts from zero
        (``or``), and one that went down (a restarted router) counts from zero too
        (``>= 0`` drops the negative difference, ``or`` puts the new value in). The same
        rule as the demo's scrape (understudy_cli.demo.scrape_source.increases)."""
        grouping = f"sum by ({', '.join(self.by)})" if self.by else "sum"
        series = self.selector(context)
        if self.window is Window.TOTAL:
            return f"{grouping} ({series})"
        return f"{grouping} ((({series} - {series} offset {range_}) >= 0) or {series})"

    def matches(self, name: str, labels: Mapping[str, str], context: QueryContext) -> bool:
        return name == self.metric and all(
            m.accepts(labels, context) for m in (NAMESPACE, *self.matchers)
        )

    def key(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(labels.get(label, "") for label in self.by)
