"""Traffic that drifts: the ``drift`` scenario's houses get newer and larger after a point.

The first ``after`` requests are the holdout houses as they come (the training
distribution); every later one is drawn, with replacement, with weights that favour the
upper part of two fields: ``WEIGHT`` times as likely when Year_Built is in its top 40%,
and again when Gr_Liv_Area is (so a new, large house is 16 times as likely as an old,
small one). Measured on the v1 reference with 1,000 such houses: Year_Built PSI 0.98,
Gr_Liv_Area 0.78, Neighborhood 0.86 — far over the 0.2 bound — while the holdout itself
stays under 0.07 on every feature (tests/operator/statistics/test_drift_null.py).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

WEIGHT = 4.0
UPPER = 0.6  # the top 40% of each field
FIELDS = ("Year_Built", "Gr_Liv_Area")
SHIFTED = 20_000  # drawn records after the point: more than a demo run sends


def _threshold(records: Sequence[dict[str, Any]], name: str) -> float:
    values = sorted(float(r[name]) for r in records)
    return values[int(UPPER * (len(values) - 1))]


def drifting(
    records: Sequence[dict[str, Any]], actuals: Sequence[float], *, after: int, seed: int = 11
) -> tuple[list[dict[str, Any]], list[float]]:
    """``records`` (and their true prices) for the whole run: ``after`` as they are, then
    houses drawn with the weights of the module docstring."""
    cut = {name: _threshold(records, name) for name in FIELDS}
    weights = [WEIGHT ** sum(float(r[name]) >= cut[name] for name in FIELDS) for r in records]
    rng = random.Random(seed)
    picks = rng.choices(range(len(records)), weights=weights, k=SHIFTED)
    head = [i % len(records) for i in range(after)]
    order = head + picks
    return [records[i] for i in order], [actuals[i] for i in order]
