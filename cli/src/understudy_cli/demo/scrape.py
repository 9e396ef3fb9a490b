"""Read the router's own /metrics: the evidence source when Prometheus is absent.

A :class:`Snapshot` is one scrape. Rates need two scrapes: the analysis keeps the
snapshot of its previous run and computes increases between them, as PromQL's
``increase(...[interval])`` would. Counter resets (a restarted router) make an
increase meaningless, so they give no data instead of a wrong number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

# A label filter: the exact value, or a predicate on it.
Filter = str | Callable[[str], bool]


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


class Snapshot:
    def __init__(self, samples: Iterable[Sample], taken_at: float) -> None:
        self.samples = list(samples)
        self.taken_at = taken_at

    @classmethod
    def parse(cls, text: str, *, taken_at: float) -> Snapshot:
        samples = [
            Sample(name=s.name, labels=dict(s.labels), value=float(s.value))
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]
        return cls(samples, taken_at)

    @classmethod
    def scrape(cls, url: str, *, taken_at: float, timeout: float = 2.0) -> Snapshot:
        response = httpx.get(url.rstrip("/") + "/metrics", timeout=timeout)
        response.raise_for_status()
        return cls.parse(response.text, taken_at=taken_at)

    def select(self, name: str, **match: Filter) -> list[Sample]:
        found = []
        for sample in self.samples:
            if sample.name != name:
                continue
            if all(
                (
                    want(sample.labels.get(key, ""))
                    if callable(want)
                    else sample.labels.get(key) == want
                )
                for key, want in match.items()
            ):
                found.append(sample)
        return found

    def total(self, name: str, **match: Filter) -> float | None:
        """Sum of the matching series; None when no series matches (no data, not 0)."""
        chosen = self.select(name, **match)
        return sum(s.value for s in chosen) if chosen else None

    def buckets(self, name: str, **match: Filter) -> dict[float, float]:
        """Cumulative bucket counts of a histogram, summed over matching series, by ``le``."""
        result: dict[float, float] = {}
        for sample in self.select(name + "_bucket", **match):
            upper = float(sample.labels["le"])
            result[upper] = result.get(upper, 0.0) + sample.value
        return result


def increase(before: float | None, after: float | None) -> float | None:
    """A counter's increase between two scrapes; None on a reset or a missing series."""
    if after is None:
        return None
    if before is None:
        return after
    if after < before:
        return None
    return after - before


def quantile_from_buckets(
    q: float, before: Mapping[float, float], after: Mapping[float, float]
) -> float | None:
    """``histogram_quantile(q, increase(buckets))`` with Prometheus' linear interpolation."""
    bounds = sorted(after)
    if not bounds:
        return None
    counts = []
    for upper in bounds:
        delta = increase(before.get(upper), after[upper])
        if delta is None:
            return None
        counts.append(delta)
    total = counts[-1]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for upper, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if math.isinf(upper):
                return lower_bound  # Prometheus returns the highest finite bound
            if count == lower_count:
                return upper
            return lower_bound + (upper - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = upper, count
    return lower_bound
