"""Evidence: what a built-in check asks a metrics source for, and what it gets back.

A built-in check no longer asks for one finished number (a KS gauge one router replica
computed over its own window cannot be merged with another's). It asks for **counter
increases summed over every series that matches, grouped by a few labels** — one
:class:`EvidenceQuery` per ingredient — and the core computes the statistic from them
(core/builtins.py). Increases of counters and of histogram buckets add up exactly across
router replicas and time ranges, so the statistic is exact for any number of replicas.

Both sources answer the same query: Prometheus through the PromQL that :meth:`promql`
renders (``sum by (<by>) (increase(<metric>{<matchers>}[<window>]))``), the local demo by
filtering its scrape of ``/metrics`` with :func:`matches` and subtracting an earlier scrape.
One description, two evaluations; a test holds them equal on the same traffic
(tests/cli/test_check_parity.py).

Windows:

``interval``
    The check's ``interval`` (default the analysis interval): today's per-run look.
``analysis``
    Everything since the analysis started (the candidate began shadowing; the warmup
    included): what a confidence sequence needs, since it is valid for the cumulative
    evidence at every look. The candidate's series are new label values, so in Prometheus
    this is the increase over the analysis' age (Prometheus' ``increase`` extrapolates to
    the range's ends: counts may be off by a fraction of one scrape interval's traffic).
``total``
    The counters' current values (no range): the sample count of the ``minSamples`` gate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from understudy_operator.core.checks import QueryContext, render
from understudy_operator.core.measurements import Evidence, Vector

__all__ = ["Evidence", "EvidenceQuery", "Matcher", "Op", "Vector", "Window", "eq"]


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
        ``total``)."""
        grouping = f"sum by ({', '.join(self.by)})" if self.by else "sum"
        series = self.selector(context)
        if self.window is Window.TOTAL:
            return f"{grouping} ({series})"
        return f"{grouping} (increase({series}[{range_}]))"

    def matches(self, name: str, labels: Mapping[str, str], context: QueryContext) -> bool:
        return name == self.metric and all(
            m.accepts(labels, context) for m in (NAMESPACE, *self.matchers)
        )

    def key(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(labels.get(label, "") for label in self.by)
