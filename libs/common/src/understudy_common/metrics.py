"""Prometheus helpers: explicit registries, naming and shared bucket layouts.

Every process builds its metrics on a registry it is given (never the global
default one), so tests can create as many apps as they like without clashes.
Names follow ``understudy_<subsystem>_<name>_<unit>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Info, ProcessCollector, generate_latest
from prometheus_client.core import Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from understudy_common.histogram import log_spaced_edges

__all__ = [
    "ABS_DIFF_BUCKETS_DOLLARS",
    "CONTENT_TYPE_LATEST",
    "FINE_LATENCY_EDGES_SECONDS",
    "LATENCY_BUCKETS_SECONDS",
    "PRICE_BUCKETS_DOLLARS",
    "RELATIVE_DIFF_BUCKETS",
    "metric_name",
    "new_registry",
    "process_registry",
    "render",
    "set_info",
]

# Request latencies from sub-millisecond (in-process predict) to a timed-out upstream: coarse
# (2-2.5x apart), for dashboards of the model-api and the operator.
LATENCY_BUCKETS_SECONDS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
# Latencies the rollout decision reads (understudy_router_upstream_duration_seconds):
# 100 us .. 10 s, 121 log-spaced edges 1.1x apart. With buckets 2-2.5x apart a bounded
# quantile-ratio rule cannot pass, since one bucket is wider than the ratio it must resolve
# (measured: operator/src/understudy_operator/core/statistics/README.md, bench/latency.py).
FINE_LATENCY_EDGES_SECONDS = log_spaced_edges(0.0001, 10.0, 121)
# Ames sale prices run from about $13k to $755k; finer steps where most houses sell.
PRICE_BUCKETS_DOLLARS = (
    25_000,
    50_000,
    75_000,
    100_000,
    125_000,
    150_000,
    175_000,
    200_000,
    250_000,
    300_000,
    400_000,
    500_000,
    750_000,
    1_000_000,
)
# Absolute live-vs-candidate differences in dollars.
ABS_DIFF_BUCKETS_DOLLARS = (100, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000)
# Relative differences |candidate - live| / |live|.
RELATIVE_DIFF_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)

_NAME_PART = re.compile(r"^[a-z][a-z0-9_]*$")


def metric_name(subsystem: str, name: str, unit: str | None = None) -> str:
    """Build ``understudy_<subsystem>_<name>[_<unit>]`` and check its parts."""
    parts = [subsystem, name] + ([unit] if unit else [])
    for part in parts:
        if not _NAME_PART.match(part):
            raise ValueError(f"metric name part {part!r} must match {_NAME_PART.pattern}")
    return "_".join(["understudy", *parts])


def new_registry() -> CollectorRegistry:
    """A fresh registry; pass it to the app factories."""
    return CollectorRegistry(auto_describe=True)


def process_registry(*, namespace: str = "") -> CollectorRegistry:
    """A fresh registry for a whole process: it also exports the process's own CPU seconds,
    memory, open files and start time (prometheus_client's ``process_*`` families, read from
    /proc on each scrape). ``namespace`` prefixes them: a second process whose families join
    another's scrape (the router's mirror process) must not reuse ``process_*``."""
    registry = new_registry()
    ProcessCollector(namespace=namespace, registry=registry)
    return registry


def set_info(
    *, registry: CollectorRegistry, subsystem: str, name: str, doc: str, labels: dict[str, str]
) -> Info:
    """Publish constant facts (versions, config) as an Info metric."""
    info = Info(metric_name(subsystem, name), doc, registry=registry)
    info.info(labels)
    return info


def render(registry: CollectorRegistry, extra: Sequence[Metric] = ()) -> bytes:
    """The text exposition format of everything in ``registry``, and of ``extra``'s families
    merged in by name (another process's, e.g. the router's mirror process): one family
    may appear only once in a scrape, so samples are joined, not the texts. A sample that
    both have (same name and labels) is ``registry``'s."""
    if not extra:
        return generate_latest(registry)
    return generate_latest(_Merged(registry, extra))


class _Merged:
    """A collector of ``registry``'s families with ``extra``'s samples joined in."""

    def __init__(self, registry: CollectorRegistry, extra: Sequence[Metric]) -> None:
        self._registry = registry
        self._extra = extra

    def collect(self) -> Iterator[Metric]:
        by_name = {family.name: family for family in self._extra}
        for family in self._registry.collect():
            other = by_name.pop(family.name, None)
            if other is None:
                yield family
                continue
            seen = {(s.name, tuple(sorted(s.labels.items()))) for s in family.samples}
            joined = Metric(family.name, family.documentation, family.type, family.unit)
            joined.samples = family.samples + [
                s for s in other.samples if (s.name, tuple(sorted(s.labels.items()))) not in seen
            ]
            yield joined
        yield from by_name.values()
