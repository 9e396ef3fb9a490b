"""Slice checks: agreement and bias per segment of the records, so a candidate that agrees
overall but is systematically off on one kind of house is caught and named.

Slices
    ``slice_by="prediction"``: the router counts each record under the fine band (log-spaced
    edges, a router setting) its *live* prediction falls in; here adjacent bands are grouped
    into slices — at ``spec.analysis.slices.predictionEdges`` (a band joins the first slice
    whose upper edge is ≥ the band's upper edge, so an edge acts at the router band edge
    just above it) or, by default, into deciles of the live predictions seen so far (each
    band joins the decile its middle record falls in). With a field
    (``spec.analysis.slices.field``) the router also counts by that input's value (at most
    a bounded number of distinct values; beyond them ``__other__``); values with fewer than
    ``minSamplesPerSlice`` records are pooled here into one "other values" slice.

Decision (method ``confidence``)
    Every slice with at least ``minSamplesPerSlice`` records gets its own confidence
    sequence at α / k, k the number of slices judged in that run (Bonferroni: the chance
    that any of them misses its true value stays ≤ α). The check FAILS when any judged
    slice's interval lies wholly outside the bounds, PASSES when every judged slice's lies
    wholly inside, and is NOT_YET otherwise (also while no slice has enough records yet).
    The result names the worst slice: the one whose interval reaches furthest past a bound.
    Method ``threshold``: each judged slice's point value against the bounds.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from understudy_operator.core.checks import Check, CheckResult, Verdict
from understudy_operator.core.evidence import Vector, window_of
from understudy_operator.core.judging import DECILES, Judging, excess, money, undecided
from understudy_operator.core.paired import (
    Parts,
    bias_result,
    count,
    moment_parts,
    moments_of,
    rate_result,
    records_parts,
)
from understudy_operator.core.statistics import Histogram, Interval, Moments

PREDICTION = "prediction"
OTHER_VALUES = "other values"


def decile_groups(counts: Sequence[float], groups: int = DECILES) -> list[int]:
    """For per-bucket ``counts`` in order: the group (0 .. groups−1) of each bucket, so each
    group holds about 1/groups of the mass (a bucket goes where its middle record falls)."""
    total = math.fsum(counts)
    out, running = [], 0.0
    for c in counts:
        middle = running + c / 2
        out.append(min(groups - 1, int(groups * middle / total)) if total > 0 else 0)
        running += c
    return out


def regroup(histogram: Histogram, groups: Sequence[int]) -> Histogram:
    """Merge adjacent buckets with the same group number (edges: each group's last)."""
    counts: list[float] = []
    edges: list[float] = []
    uppers = (*histogram.edges, math.inf)
    for i, (c, g) in enumerate(zip(histogram.counts, groups, strict=True)):
        if i and g == groups[i - 1]:
            counts[-1] += c
            if math.isfinite(uppers[i]):
                edges[-1] = uppers[i]
        else:
            counts.append(c)
            if math.isfinite(uppers[i]):
                edges.append(uppers[i])
    return Histogram(tuple(edges[: len(counts) - 1]), tuple(counts))


@dataclass(frozen=True)
class Slice:
    name: str
    keys: tuple[str, ...]  # the router's slice label values it merges


def _slice_by(judging: Judging) -> str:
    return judging.slices.field or PREDICTION


def prediction_slices(mass: Mapping[str, float], edges: Sequence[float]) -> list[Slice]:
    """Group the router's bands (label = upper edge, ``+Inf`` last) into named slices."""
    bands = sorted(mass, key=float)
    if edges:
        index = [bisect.bisect_left(edges, float(b)) for b in bands]
        bounds = [*edges, math.inf]
    else:
        index = decile_groups([mass[b] for b in bands])
        bounds = []
    grouped: dict[int, list[str]] = {}
    for band, g in zip(bands, index, strict=True):
        grouped.setdefault(g, []).append(band)
    out, low = [], 0.0
    for g in sorted(grouped):
        high = bounds[g] if bounds else float(grouped[g][-1])
        name = f"live {money(low)}–{money(high)}" if low else f"live ≤ {money(high)}"
        if math.isinf(high):
            name = f"live > {money(low)}"
        out.append(Slice(name, tuple(grouped[g])))
        low = high
    return out


def field_slices(mass: Mapping[str, float], field: str, min_samples: int) -> list[Slice]:
    """One slice per value with enough records; the rest pooled into one."""
    big = sorted(v for v, n in mass.items() if n >= min_samples)
    rare = tuple(sorted(v for v, n in mass.items() if n < min_samples))
    out = [Slice(f"{field}={v}", (v,)) for v in big]
    if rare:
        out.append(Slice(f"{field}: {OTHER_VALUES} ({len(rare)})", rare))
    return out


def _slices(mass: Mapping[str, float], judging: Judging) -> list[Slice]:
    settings = judging.slices
    if settings.field:
        return field_slices(mass, settings.field, settings.min_samples)
    return prediction_slices(mass, settings.prediction_edges)


def agreement_parts(check: Check, judging: Judging) -> Parts:
    return records_parts(
        window_of(check.method), slice_by=_slice_by(judging), by=("slice", "agree")
    )


def bias_parts(check: Check, judging: Judging) -> Parts:
    return moment_parts(window_of(check.method), slice_by=_slice_by(judging), by=("slice",))


def agreement(check: Check, ev: Mapping[str, Vector], judging: Judging) -> CheckResult:
    records = ev["records"].values
    mass: dict[str, float] = {}
    agreed: dict[str, float] = {}
    for (name, agree), n in records.items():
        mass[name] = mass.get(name, 0.0) + n
        if agree == "true":
            agreed[name] = agreed.get(name, 0.0) + n

    def judge(s: Slice, alpha: float) -> CheckResult:
        k = sum(agreed.get(key, 0.0) for key in s.keys)
        n = sum(mass.get(key, 0.0) for key in s.keys)
        level = Judging(alpha=alpha, slices=judging.slices)
        return rate_result(check, k, n, level, unit="records", what=f"[{s.name}]")

    return _decide(check, mass, judge, judging)


def bias(check: Check, ev: Mapping[str, Vector], judging: Judging) -> CheckResult:
    mass = {key: v for (key,), v in ev["count"].values.items()}

    def judge(s: Slice, alpha: float) -> CheckResult:
        moments = sum((moments_of(ev, (key,)) for key in s.keys), Moments())
        exact = sum(mass.get(key, 0.0) for key in s.keys)
        return bias_result(
            check, moments, judging, what=f"[{s.name}]", alpha=alpha, exact_count=exact
        )

    return _decide(check, mass, judge, judging)


def _decide(
    check: Check,
    mass: Mapping[str, float],
    judge: Callable[[Slice, float], CheckResult],
    judging: Judging,
) -> CheckResult:
    if not mass:
        return undecided(check, Verdict.INCONCLUSIVE, "no data: no paired records yet")
    minimum = judging.slices.min_samples
    judged = [s for s in _slices(mass, judging) if sum(mass[k] for k in s.keys) >= minimum]
    total = count(sum(mass.values()))
    if not judged:
        return undecided(
            check,
            Verdict.NOT_YET,
            f"not yet: no slice has {minimum} records (minSamplesPerSlice) among {total}",
            samples=total,
        )
    alpha = judging.alpha / len(judged)
    results = [judge(s, alpha) for s in judged]
    verdicts = {r.verdict for r in results}
    if Verdict.FAIL in verdicts:
        verdict = Verdict.FAIL
    elif verdicts == {Verdict.PASS}:
        verdict = Verdict.PASS
    elif Verdict.NOT_YET in verdicts or Verdict.PASS in verdicts:
        verdict = Verdict.NOT_YET
    else:
        verdict = Verdict.INCONCLUSIVE
    worst = max(results, key=lambda r: _badness(r, check))
    summary = f"{len(judged)} slices judged (α/{len(judged)} each)"
    if verdict is Verdict.FAIL:
        failing = sum(r.verdict is Verdict.FAIL for r in results)
        summary += f", {failing} outside"
    return CheckResult(
        name=check.name,
        value=worst.value,
        threshold=check.threshold,
        verdict=verdict,
        message=f"worst slice: {worst.message}; {summary}",
        lower=worst.lower,
        upper=worst.upper,
        samples=total,
    )


_RANK = {Verdict.FAIL: 2, Verdict.NOT_YET: 1, Verdict.PASS: 0}


def _badness(result: CheckResult, check: Check) -> tuple[int, float]:
    """Failing first, then by how far the interval (or point value) reaches past a bound."""
    rank = _RANK.get(result.verdict, -1)
    if result.value is None:
        return (rank, -math.inf)
    lower = result.lower if result.lower is not None else result.value
    upper = result.upper if result.upper is not None else result.value
    return (rank, excess(Interval(result.value, lower, upper), check))
