"""Judging one mirrored answer, and the rolling windows the KS statistic is computed over.

Pure code: no HTTP, no metrics. The agreement rule itself is
``understudy_common.compare.compare_predictions`` - the one comparison of the project.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from understudy_common import jsonio
from understudy_common.compare import Comparison, Tolerance, compare_predictions, ks_statistic

# Outcomes of one mirror decision (label values of understudy_router_mirror_total).
AGREED = "agreed"  # every record agreed within tolerance
DISAGREED = "disagreed"  # at least one record did not
CANDIDATE_ERROR = "candidate_error"  # non-2xx, not JSON, wrong count, connection error
CANDIDATE_TIMEOUT = "candidate_timeout"  # no full answer within timeouts.candidate_seconds
DROPPED = "dropped"  # queue full: never sent
MIRROR_OUTCOMES = (AGREED, DISAGREED, CANDIDATE_ERROR, CANDIDATE_TIMEOUT, DROPPED)


@dataclass(frozen=True)
class Predictions:
    """The ``predictions`` of a prediction API answer (docs/contracts.md): a regressor's
    numbers, or a classifier's labels with its positive-class probabilities as the numbers
    (the answer's ``positive_class``; without one, the last class in sorted order, which
    is scikit-learn's positive class of a binary problem)."""

    values: tuple[float, ...]
    labels: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Verdict:
    """What one candidate answer amounted to."""

    outcome: str
    comparison: Comparison | None = None
    candidate_predictions: tuple[float, ...] | None = None
    # Why the answer could not be compared (outcome candidate_error), for the log.
    reason: str | None = None
    candidate_labels: tuple[str, ...] | None = None


def _number(value: object) -> float | None:
    # bool is an int subclass; a prediction of `true` is as wrong as a string.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _classified(values: list[object], positive: object) -> Predictions | None:
    """Labels and positive-class probabilities of a classifier's predictions, or None."""
    labels: list[str] = []
    out: list[float] = []
    for value in values:
        if not isinstance(value, dict):
            return None
        label, probabilities = value.get("label"), value.get("probabilities")
        if not isinstance(label, str) or not isinstance(probabilities, dict) or not probabilities:
            return None
        key = positive if isinstance(positive, str) else max(probabilities)
        p = _number(probabilities.get(key))
        if p is None:
            return None
        labels.append(label)
        out.append(p)
    return Predictions(tuple(out), tuple(labels))


def predictions_of(body: bytes) -> Predictions | None:
    """The ``predictions`` of a prediction API answer, or None if the body is not one."""
    try:
        data = jsonio.loads(body)  # json's answer, orjson's speed (a mirror's live answer)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    values = data.get("predictions")
    if not isinstance(values, list):
        return None
    if values and isinstance(values[0], dict):
        return _classified(values, data.get("positive_class"))
    out: list[float] = []
    for value in values:
        number = _number(value)
        if number is None:
            return None
        out.append(number)
    return Predictions(tuple(out))


def signed_rel_diff(live: float, candidate: float) -> float | None:
    """(candidate - live) / live, the per-record quantity of the bias evidence; None when
    live is 0 or the quotient is not finite (no relative difference to count)."""
    if not live:
        return None
    d = (candidate - live) / live
    return d if math.isfinite(d) else None


def judge(*, live: Predictions, status: int, body: bytes, tolerance: Tolerance) -> Verdict:
    """Compare a candidate's HTTP answer with the live predictions for the same request."""
    if not 200 <= status < 300:
        return Verdict(CANDIDATE_ERROR, reason=f"candidate answered HTTP {status}")
    candidate = predictions_of(body)
    if candidate is None:
        return Verdict(CANDIDATE_ERROR, reason="candidate answer has no list of finite predictions")
    if len(candidate) != len(live):
        return Verdict(
            CANDIDATE_ERROR,
            candidate_predictions=candidate.values,
            reason=f"candidate returned {len(candidate)} predictions for {len(live)} records",
        )
    if (candidate.labels is None) != (live.labels is None):
        return Verdict(
            CANDIDATE_ERROR,
            candidate_predictions=candidate.values,
            reason="candidate and live answer different tasks (labels on one side only)",
        )
    comparison = compare_predictions(
        live=live.values,
        candidate=candidate.values,
        tolerance=tolerance,
        live_labels=live.labels,
        candidate_labels=candidate.labels,
    )
    outcome = AGREED if comparison.agreed == comparison.count else DISAGREED
    return Verdict(
        outcome,
        comparison=comparison,
        candidate_predictions=candidate.values,
        candidate_labels=candidate.labels,
    )


@dataclass(frozen=True)
class WindowSnapshot:
    live_version: str
    candidate_version: str
    live_count: int
    candidate_count: int
    # None until both windows have data.
    ks: float | None


class ComparisonWindows:
    """Bounded windows of the latest live and candidate predictions of compared requests.

    The windows belong to one (live version, candidate version) pair: :meth:`reset`
    starts a new pair, and late results for the old pair are ignored by :meth:`add`.
    The KS statistic is recomputed lazily, only when asked and only if data changed.
    """

    def __init__(self, *, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._live: deque[float] = deque(maxlen=size)
        self._candidate: deque[float] = deque(maxlen=size)
        self._versions = ("", "")
        self._ks: float | None = None
        self._dirty = False

    @property
    def versions(self) -> tuple[str, str]:
        """(live version, candidate version) the windows are collecting for."""
        return self._versions

    def reset(self, *, live_version: str, candidate_version: str) -> None:
        with self._lock:
            self._live.clear()
            self._candidate.clear()
            self._versions = (live_version, candidate_version)
            self._ks = None
            self._dirty = False

    def add(
        self,
        *,
        live_version: str,
        candidate_version: str,
        live: tuple[float, ...],
        candidate: tuple[float, ...],
    ) -> bool:
        """Append one compared request's predictions; False if it belongs to an old pair."""
        with self._lock:
            if (live_version, candidate_version) != self._versions:
                return False
            self._live.extend(live)
            self._candidate.extend(candidate)
            self._dirty = True
            return True

    def snapshot(self) -> WindowSnapshot:
        with self._lock:
            if self._dirty:
                self._ks = ks_statistic(list(self._live), list(self._candidate))
                self._dirty = False
            return WindowSnapshot(
                live_version=self._versions[0],
                candidate_version=self._versions[1],
                live_count=len(self._live),
                candidate_count=len(self._candidate),
                ks=self._ks,
            )
