"""Input drift: the live inputs a model-api served, per feature, against the training
reference of its artifact — the checks ``input-drift`` (the candidate's reference) and
``stable-input-drift`` (the stable's), and the ranking ``understudy drift`` prints.

Evidence (understudy_model_api.drift, docs/contracts.md "Drift"): the increase of
``understudy_model_api_drift_values_total`` and the current
``understudy_model_api_drift_reference_share``, both summed by (feature, kind, bucket) over
the version's pods. Counts add up exactly across pods and windows; shares summed over P pods
are P × the share, so they are normalised per feature here.

Per feature (statistics/reference.py): PSI over every bucket (nulls and unseen categories
included: a category training never saw has reference share 0, floored, so 5% of unseen
values alone give PSI ≈ 0.3); KS at the bucket edges for numbers (nulls excluded);
Pearson's chi-square goodness of fit for categories. The check's value is the **worst
feature's PSI**, named in the message; it passes at or under ``max`` and fails above it.

Minimum sample size: under no drift PSI over K buckets is about χ²_{K−1}/n, so a fixed
bound means the same thing only from some n on. Below ``MIN_SAMPLES`` records the check says
"not yet". At 500 records and ``max: 0.2`` the false-alarm rate (any of the Ames model's 73
features over the bound, inputs drawn from the reference itself) is measured by
tests/operator/statistics/test_drift_null.py and stated in docs/operator.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from understudy_operator.core.checks import Check, CheckResult, Verdict
from understudy_operator.core.evidence import EvidenceQuery, Vector, Window, eq
from understudy_operator.core.formatting import format_number
from understudy_operator.core.judging import Judging, point_result, undecided
from understudy_operator.core.paired import MODEL, Parts
from understudy_operator.core.statistics import (
    FitResult,
    chi_square_fit,
    ks_of_shares,
    psi_of_shares,
)

VALUES = "understudy_model_api_drift_values_total"
SHARES = "understudy_model_api_drift_reference_share"
BY = ("feature", "kind", "bucket")
PREDICTION = "_prediction"
NULL, OTHER, UNSEEN = "_null", "_other", "_unseen"
NUMERIC = "numeric"
# Records a feature needs before its PSI is judged (module docstring).
MIN_SAMPLES = 500

Key = tuple[str, ...]


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str  # "numeric" or "categorical"
    samples: int  # live records counted (nulls included)
    psi: float
    ks: float | None  # numbers only
    fit: FitResult  # chi-square goodness of fit (categories; numbers too, for reference)
    # The buckets in order (numbers: upper edges then _null) and both distributions on them.
    buckets: tuple[str, ...]
    reference: tuple[float, ...]
    live: tuple[float, ...]


def _order(kind: str, buckets: list[str]) -> list[str]:
    if kind != NUMERIC:
        special = (OTHER, UNSEEN, NULL)  # after the named categories, in this order
        named = sorted(b for b in buckets if b not in special)
        return [*named, *(b for b in special if b in buckets)]
    edges = sorted((float(b), b) for b in buckets if b != NULL)
    return [b for _, b in edges] + ([NULL] if NULL in buckets else [])


def feature_drifts(
    values: Mapping[Key, float], shares: Mapping[Key, float]
) -> tuple[list[FeatureDrift], list[str]]:
    """Drift per feature with live records, most drifting first (by PSI), and the features
    the reference has but the window saw no record of. ``values`` and ``shares``: by
    (feature, kind, bucket)."""
    features: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
    for (feature, kind, bucket), share in shares.items():
        features.setdefault((feature, kind), {})[bucket] = (share, 0.0)
    for (feature, kind, bucket), count in values.items():
        cells = features.get((feature, kind))
        if cells is not None and bucket in cells:
            cells[bucket] = (cells[bucket][0], count)
    out: list[FeatureDrift] = []
    silent: list[str] = []
    for (feature, kind), cells in features.items():
        order = _order(kind, list(cells))
        ref = [cells[b][0] for b in order]
        live = [cells[b][1] for b in order]
        n = math.fsum(live)
        if n <= 0 or math.fsum(ref) <= 0:
            silent.append(feature)
            continue
        ks = None
        if kind == NUMERIC:
            present = [i for i, b in enumerate(order) if b != NULL]
            ref_present = [ref[i] for i in present]
            live_present = [live[i] for i in present]
            if math.fsum(ref_present) > 0 and math.fsum(live_present) > 0:
                ks = ks_of_shares(ref_present, live_present)
        total_ref = math.fsum(ref)
        out.append(
            FeatureDrift(
                feature=feature,
                kind=kind,
                samples=round(n),
                psi=psi_of_shares(ref, live),
                ks=ks,
                fit=chi_square_fit(live, ref),
                buckets=tuple(order),
                reference=tuple(r / total_ref for r in ref),
                live=tuple(c / n for c in live),
            )
        )
    out.sort(key=lambda d: (-d.psi, d.feature))
    return out, sorted(silent)


def describe_drift(drift: FeatureDrift) -> str:
    """``Gr_Liv_Area PSI 0.31 (KS 0.18)`` / ``Neighborhood PSI 0.12 (χ² p 0.003)``."""
    extra = (
        f"KS {format_number(drift.ks)}"
        if drift.ks is not None
        else f"χ² p {format_number(drift.fit.p_value)}"
    )
    return f"{drift.feature} PSI {format_number(drift.psi)} ({extra})"


def _parts(version: str) -> Callable[[Check, Judging], Parts]:
    def parts(check: Check, judging: Judging) -> Parts:
        window = Window.INTERVAL if check.interval_seconds else Window.ANALYSIS
        matchers = (MODEL, eq("version", version))
        return {
            "values": EvidenceQuery(VALUES, matchers, BY, window),
            "reference": EvidenceQuery(SHARES, matchers, BY, Window.TOTAL),
        }

    return parts


candidate_parts = _parts("{{ candidate }}")
stable_parts = _parts("{{ stable }}")


def judge(check: Check, ev: Mapping[str, Vector], judging: Judging) -> CheckResult:
    if not ev["reference"].values:
        return undecided(
            check,
            Verdict.INCONCLUSIVE,
            "no reference: the model-api exports no drift series (an artifact trained "
            "before references, or UNDERSTUDY_MODEL_API_DRIFT_FEATURES=none)",
        )
    drifts, _ = feature_drifts(ev["values"].values, ev["reference"].values)
    inputs = [d for d in drifts if d.feature != PREDICTION]
    if not inputs:
        return undecided(check, Verdict.NOT_YET, "not yet: no input counted in the window")
    n = min(d.samples for d in inputs)
    if n < MIN_SAMPLES:
        return undecided(
            check,
            Verdict.NOT_YET,
            f"not yet: {n} records counted, input drift is judged from {MIN_SAMPLES}",
            samples=n,
        )
    worst = inputs[0]
    result = point_result(check, worst.psi, samples=n, what=f"worst feature {worst.feature}")
    over = [d for d in inputs if check.max is not None and d.psi > check.max]
    names = ", ".join(describe_drift(d) for d in (over or inputs)[:3])
    summary = f"{len(over)} of {len(inputs)} features over the bound" if over else "top"
    return replace(result, message=f"{result.message}; {summary}: {names}")
