"""The one comparison of live and candidate predictions.

Used by the shadow router per mirrored request, by the differential tests and
by the rollout reports, so "agree" means the same thing everywhere.

Agreement rule: a candidate prediction agrees with the live one when the
absolute difference is within ``tolerance.absolute`` **or** the relative
difference (to the live value) is within ``tolerance.relative``. Each limit is
an allowance; set one to 0 to rely on the other alone. A live value of 0 has an
undefined relative difference: it is 0 when the candidate is also 0, else inf.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """How far a candidate prediction may be from the live one and still agree."""

    relative: float = 0.10
    absolute: float = 10_000.0

    def __post_init__(self) -> None:
        for name in ("relative", "absolute"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"tolerance.{name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class RecordComparison:
    live: float
    candidate: float
    abs_diff: float
    rel_diff: float
    agree: bool
    # Classifiers: each side's label (the numbers are the positive-class probabilities).
    live_label: str | None = None
    candidate_label: str | None = None


@dataclass(frozen=True)
class Comparison:
    records: tuple[RecordComparison, ...]

    @property
    def count(self) -> int:
        return len(self.records)

    @property
    def agreed(self) -> int:
        return sum(r.agree for r in self.records)

    @property
    def agreement_rate(self) -> float | None:
        """Share of records that agree; None for an empty comparison (no evidence)."""
        return self.agreed / self.count if self.records else None

    @property
    def max_abs_diff(self) -> float | None:
        return max((r.abs_diff for r in self.records), default=None)

    @property
    def max_rel_diff(self) -> float | None:
        return max((r.rel_diff for r in self.records), default=None)


def _as_finite_floats(name: str, values: Sequence[float]) -> tuple[float, ...]:
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise ValueError(f"{name} must be a flat sequence of numbers")
    try:
        floats = tuple(float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a flat sequence of numbers") from exc
    if not all(math.isfinite(v) for v in floats):
        raise ValueError(f"{name} contains NaN or infinite values")
    return floats


def compare_predictions(
    *,
    live: Sequence[float],
    candidate: Sequence[float],
    tolerance: Tolerance,
    live_labels: Sequence[str] | None = None,
    candidate_labels: Sequence[str] | None = None,
) -> Comparison:
    """Compare two equally long prediction sequences record by record.

    Classifiers pass their labels too, and the numbers are each record's positive-class
    probability: a record then agrees when the labels are equal **and** the probabilities
    are within the tolerance (so the default tolerance, $10,000 absolute, compares labels
    only; ``absolute: 0.05, relative: 0`` also asks the probabilities to be within 0.05).

    Plain Python, not numpy: the router calls this once per mirrored request, mostly with
    one record, where numpy's per-call overhead was ~20 µs of a ~25 µs comparison. The
    arithmetic is the same IEEE double arithmetic either way.
    """
    live_f = _as_finite_floats("live", live)
    cand_f = _as_finite_floats("candidate", candidate)
    if len(live_f) != len(cand_f):
        raise ValueError(f"live has {len(live_f)} predictions but candidate has {len(cand_f)}")
    if (live_labels is None) != (candidate_labels is None):
        raise ValueError("labels are compared only when both sides have them")
    if live_labels is not None and not len(live_labels) == len(candidate_labels or ()) == len(
        live_f
    ):
        raise ValueError("one label per prediction on each side")
    records = []
    for i, (lv, cv) in enumerate(zip(live_f, cand_f, strict=True)):
        abs_diff = abs(cv - lv)
        denom = abs(lv)
        # Relative to |live|; a live 0 has none: 0 when the candidate is 0 too, else inf.
        no_denominator = 0.0 if abs_diff == 0 else math.inf
        rel_diff = abs_diff / denom if denom > 0 else no_denominator
        agree = abs_diff <= tolerance.absolute or rel_diff <= tolerance.relative
        if live_labels is None or candidate_labels is None:
            records.append(RecordComparison(lv, cv, abs_diff, rel_diff, agree))
            continue
        ll, cl = live_labels[i], candidate_labels[i]
        records.append(RecordComparison(lv, cv, abs_diff, rel_diff, agree and ll == cl, ll, cl))
    return Comparison(records=tuple(records))


def ks_statistic(sample_a: Sequence[float], sample_b: Sequence[float]) -> float | None:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the ECDFs.

    Returns None when either sample is empty (no evidence, never 0).
    Equal to ``scipy.stats.ks_2samp(a, b).statistic``.
    """
    a = np.sort(np.asarray(_as_finite_floats("sample_a", sample_a), dtype=float))
    b = np.sort(np.asarray(_as_finite_floats("sample_b", sample_b), dtype=float))
    if a.size == 0 or b.size == 0:
        return None
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))
