"""Distances between two distributions from histograms on shared bucket edges, and a
chi-square test for categories.

Histogram layout (``Histogram``): K finite, strictly increasing upper edges e_0 < … < e_{K−1}
and K + 1 **per-bucket** counts for (−inf, e_0], (e_0, e_1], …, (e_{K−2}, e_{K−1}],
(e_{K−1}, +inf) — a value v falls in the first bucket whose edge is ≥ v, Prometheus' ``le``
rule. Per-bucket counts (not cumulative) because they add across router replicas and
windows bucket by bucket and read plainly; ``Histogram.from_cumulative`` converts the
cumulative ``le`` series Prometheus exports (the ``+Inf`` one last), ``Histogram.of``
buckets raw values. Counts may be floats (PromQL ``increase`` extrapolates).

``ks_distance`` — max over the edges of |F_a(e_k) − F_b(e_k)|
    The exact two-sample KS statistic of the raw values evaluated at the edges only, so a
    **lower bound** of the raw KS; the gap is at most the largest single-bucket mass
    max_k max(p_k, q_k) (between two edges each CDF moves by at most its bucket's mass).
    Buckets that each hold ≤ 1% of the mass keep it within 0.01.
``psi`` — population stability index Σ_k (p_k − q_k) ln(p_k / q_k)
    p = a's shares (the reference, live), q = b's (candidate). Empty buckets would make it
    infinite: shares below ``floor`` (default 1e-4) are raised to it, without renormalising
    (the usual practice; it caps each empty bucket's term near (p_k) ln(p_k / 1e-4)). Reading
    (Siddiqi, "Credit Risk Scorecards", 2006): < 0.1 stable, 0.1–0.25 moderate shift,
    > 0.25 large shift. Depends on the bucketing: more buckets give a larger PSI for the same
    two distributions, so thresholds are only comparable on the same edges.
``wasserstein_distance`` — Σ_k |F_a(e_k) − F_b(e_k)| (e_{k+1} − e_k), in the value's unit
    The area between the two CDFs with every value moved to its bucket's upper edge; the
    open buckets are collapsed onto the range's ends (all of (−inf, e_0] at e_0, all of
    (e_{K−1}, +inf) at e_{K−1}), so mass outside [e_0, e_{K−1}] contributes nothing beyond
    the ends: choose edges that cover the data. Error against the raw W1: at most the mean
    bucket width under a plus that under b (each distribution moves by at most its mean
    shift to the upper edges), plus how far mass outside the range lies beyond it. Divide
    by a scale (e.g. the live mean) for a relative figure.
``chi_square_categories`` — Pearson's chi-square test of homogeneity on the 2 × C table
    of category counts. Categories whose expected count is < 5 in either row are pooled
    into one "other" cell (smallest first, until every expected count is ≥ 5: the
    classical validity rule of thumb, Cochran 1954); degrees of freedom C' − 1 after
    pooling; p-value from the chi-square distribution (asymptotic). No test (p = 1, df = 0)
    when fewer than two cells survive.
Edges are not made here: every process that counts a quantity uses the one rule,
``understudy_common.histogram.log_spaced_edges`` (rounded to 6 significant digits so that
the ``le`` labels of every replica match); these functions only require both histograms to
carry the same edges. core/statistics/README.md has the bucket count that keeps the
bucketed KS within 0.01 of the raw KS on the Ames holdout.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from understudy_operator.core.statistics.special import chi_square_sf

PSI_FLOOR = 1e-4
MIN_EXPECTED = 5.0
OTHER = "__other__"


@dataclass(frozen=True)
class Histogram:
    """Per-bucket counts on finite upper edges; ``len(counts) == len(edges) + 1``."""

    edges: tuple[float, ...]
    counts: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.edges) + 1:
            raise ValueError(
                f"need one count per bucket: {len(self.edges)} edges make "
                f"{len(self.edges) + 1} buckets, got {len(self.counts)} counts"
            )
        if any(not math.isfinite(e) for e in self.edges):
            raise ValueError("edges must be finite (the +inf bucket is implied)")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("edges must be strictly increasing")
        if any(c < 0 or not math.isfinite(c) for c in self.counts):
            raise ValueError("counts must be finite and ≥ 0")

    @classmethod
    def of(cls, edges: Sequence[float], values: Iterable[float]) -> Histogram:
        """Raw values bucketed by the ``le`` rule (v goes to the first edge ≥ v)."""
        counts = [0.0] * (len(edges) + 1)
        for value in values:
            counts[bisect.bisect_left(edges, value)] += 1
        return cls(tuple(edges), tuple(counts))

    @classmethod
    def from_cumulative(cls, edges: Sequence[float], cumulative: Sequence[float]) -> Histogram:
        """Prometheus ``_bucket{le=...}`` values: one per finite edge, then ``+Inf`` (the
        total). Small negative differences (counter resets seen by ``increase``) are
        clipped to 0."""
        if len(cumulative) != len(edges) + 1:
            raise ValueError("need one cumulative count per edge plus the +Inf bucket")
        counts, previous = [], 0.0
        for value in cumulative:
            counts.append(max(0.0, value - previous))
            previous = max(previous, value)
        return cls(tuple(edges), tuple(counts))

    def cumulative(self) -> tuple[float, ...]:
        """The ``le`` form: counts at or below each edge, then the total (``+Inf``)."""
        out, running = [], 0.0
        for count in self.counts:
            running += count
            out.append(running)
        return tuple(out)

    @property
    def total(self) -> float:
        return math.fsum(self.counts)

    def __add__(self, other: Histogram) -> Histogram:
        _same_edges(self, other)
        return Histogram(
            self.edges, tuple(a + b for a, b in zip(self.counts, other.counts, strict=True))
        )

    def cdf(self) -> tuple[float, ...]:
        """F(e_k) for every finite edge (all 0 for an empty histogram)."""
        total = self.total
        if total <= 0:
            return tuple(0.0 for _ in self.edges)
        return tuple(c / total for c in self.cumulative()[:-1])

    def shares(self) -> tuple[float, ...]:
        total = self.total
        return tuple(c / total if total > 0 else 0.0 for c in self.counts)


def _same_edges(a: Histogram, b: Histogram) -> None:
    if a.edges != b.edges:
        raise ValueError("the two histograms must share the same bucket edges")


def _both_non_empty(a: Histogram, b: Histogram) -> None:
    _same_edges(a, b)
    if a.total <= 0 or b.total <= 0:
        raise ValueError("both histograms need at least one count")


def ks_distance(a: Histogram, b: Histogram) -> float:
    """max_k |F_a(e_k) − F_b(e_k)|: a lower bound of the raw two-sample KS statistic
    (gap ≤ the largest single-bucket mass). 0 with no finite edge (one bucket)."""
    _both_non_empty(a, b)
    return max((abs(x - y) for x, y in zip(a.cdf(), b.cdf(), strict=True)), default=0.0)


def psi(reference: Histogram, current: Histogram, *, floor: float = PSI_FLOOR) -> float:
    """Σ (p_k − q_k) ln(p_k / q_k) with shares below ``floor`` raised to it."""
    _both_non_empty(reference, current)
    return psi_of_shares(reference.shares(), current.shares(), floor=floor)


def shares_of(counts: Sequence[float]) -> list[float]:
    total = math.fsum(counts)
    if total <= 0:
        raise ValueError("need at least one count")
    if any(c < 0 for c in counts):
        raise ValueError("counts must be ≥ 0")
    return [c / total for c in counts]


def psi_of_shares(
    reference: Sequence[float], current: Sequence[float], *, floor: float = PSI_FLOOR
) -> float:
    """Σ (q − p) ln(q / p) over aligned buckets; both are normalised here."""
    if len(reference) != len(current):
        raise ValueError("the two distributions must have the same buckets")
    if not 0 < floor < 1:
        raise ValueError(f"floor must be inside (0, 1) (got {floor})")
    total = 0.0
    for q, p in zip(shares_of(reference), shares_of(current), strict=True):
        q, p = max(q, floor), max(p, floor)
        total += (q - p) * math.log(q / p)
    return total


def wasserstein_distance(a: Histogram, b: Histogram) -> float:
    """The area between the bucketed CDFs over [e_0, e_{K−1}] (value's unit)."""
    _both_non_empty(a, b)
    fa, fb, edges = a.cdf(), b.cdf(), a.edges
    return math.fsum(abs(fa[k] - fb[k]) * (edges[k + 1] - edges[k]) for k in range(len(edges) - 1))


@dataclass(frozen=True)
class ChiSquareResult:
    statistic: float
    df: int
    p_value: float
    # Categories pooled into one cell because an expected count was below 5.
    pooled: tuple[str, ...]


def chi_square_categories(
    a: Mapping[str, float], b: Mapping[str, float], *, min_expected: float = MIN_EXPECTED
) -> ChiSquareResult:
    """Pearson's test that two samples of categories come from one distribution."""
    names = sorted(set(a) | set(b))
    rows = (
        {n: float(a.get(n, 0.0)) for n in names},
        {n: float(b.get(n, 0.0)) for n in names},
    )
    totals = [math.fsum(r.values()) for r in rows]
    grand = math.fsum(totals)
    if min(totals) <= 0:
        raise ValueError("both samples need at least one count")
    if any(v < 0 for r in rows for v in r.values()):
        raise ValueError("counts must be ≥ 0")
    smaller = min(totals) / grand

    def expected(column: float) -> float:
        return column * smaller  # the smaller row's expected count in this column

    columns = {n: rows[0][n] + rows[1][n] for n in names}
    keep = sorted((n for n in names if columns[n] > 0), key=lambda n: (columns[n], n))
    pooled: list[str] = []
    other = 0.0

    # Pool the rarest categories until the pooled cell and every kept one expect ≥ 5.
    def too_rare() -> bool:
        pooled_too_rare = other > 0 and expected(other) < min_expected
        return expected(columns[keep[0]]) < min_expected or pooled_too_rare

    while keep and too_rare():
        name = keep.pop(0)
        pooled.append(name)
        other += columns[name]
    cells = [(rows[0][n], rows[1][n]) for n in keep]
    if pooled:
        cells.append((math.fsum(rows[0][n] for n in pooled), math.fsum(rows[1][n] for n in pooled)))
    if len(cells) < 2:
        return ChiSquareResult(statistic=0.0, df=0, p_value=1.0, pooled=tuple(pooled))
    statistic = 0.0
    for cell in cells:
        column = cell[0] + cell[1]
        for observed, row_total in zip(cell, totals, strict=True):
            e = row_total * column / grand
            statistic += (observed - e) ** 2 / e
    df = len(cells) - 1
    return ChiSquareResult(
        statistic=statistic, df=df, p_value=chi_square_sf(statistic, df), pooled=tuple(pooled)
    )
