"""Read the router's own /metrics: the evidence source when Prometheus is absent.

A :class:`Snapshot` is one scrape. The checks' evidence is the change between two scrapes
(understudy_cli.demo.scrape_source, the rule of core/evidence.py); the demo's display reads
totals of one scrape (``select``, ``total``).
"""

from __future__ import annotations

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
