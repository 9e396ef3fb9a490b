"""``understudy drift``: rank a model-api's input features by drift against its training
reference, from its ``/metrics`` (one or more pods, summed) or from Prometheus, with a plot
of reference vs live for the top ones. The statistics are the decision core's
(understudy_operator.core.drift: PSI per feature, KS for numbers, chi-square for
categories); the demo report's drift section uses the same functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from understudy_cli.demo.scrape import Snapshot
from understudy_operator.core import (
    BUILTINS,
    INPUT_DRIFT,
    Check,
    FeatureDrift,
    Judging,
    QueryContext,
    describe_drift,
    feature_drifts,
)
from understudy_operator.core import DRIFT_BY as BY
from understudy_operator.core import DRIFT_MIN_SAMPLES as MIN_SAMPLES
from understudy_operator.core import DRIFT_PREDICTION as PREDICTION
from understudy_operator.core import DRIFT_SHARES as SHARES
from understudy_operator.core import DRIFT_VALUES as VALUES

Counts = dict[tuple[str, ...], float]


class DriftSourceError(RuntimeError):
    """The metrics could not be read, or they hold no drift series."""


@dataclass(frozen=True)
class DriftEvidence:
    model: str
    version: str
    values: Counts
    shares: Counts


def from_snapshots(snapshots: Iterable[Snapshot], *, version: str | None = None) -> DriftEvidence:
    """Sum the drift series of several scrapes (pods of one version); ``version`` picks one
    when the scrapes hold several (DriftSourceError if they do and none is named)."""
    values: Counts = {}
    shares: Counts = {}
    seen: set[tuple[str, str]] = set()
    for snapshot in snapshots:
        for sample in snapshot.samples:
            target = values if sample.name == VALUES else shares if sample.name == SHARES else None
            labels = sample.labels
            if target is None or (version is not None and labels.get("version") != version):
                continue
            seen.add((labels.get("model", ""), labels.get("version", "")))
            key = tuple(labels.get(label, "") for label in BY)
            target[key] = target.get(key, 0.0) + sample.value
    if not seen:
        raise DriftSourceError(
            "no drift series (understudy_model_api_drift_*): an artifact without a training "
            "reference, UNDERSTUDY_MODEL_API_DRIFT_FEATURES=none, or not a model-api"
        )
    if len(seen) > 1:
        names = ", ".join(f"{m} {v}" for m, v in sorted(seen))
        raise DriftSourceError(f"the metrics hold several models or versions ({names}): pick one")
    ((model, found),) = seen
    return DriftEvidence(model=model, version=found, values=values, shares=shares)


def from_metrics(urls: Sequence[str], *, version: str | None = None) -> DriftEvidence:
    snapshots = []
    for url in urls:
        try:
            snapshots.append(Snapshot.scrape(url, taken_at=0.0, timeout=10.0))
        except (httpx.HTTPError, ValueError) as exc:
            raise DriftSourceError(f"cannot read {url}/metrics: {exc}") from exc
    return from_snapshots(snapshots, version=version)


def from_prometheus(
    url: str, *, model: str, version: str, window: str, namespace: str = ""
) -> DriftEvidence:
    """The counts of the last ``window`` (the operator's PromQL: core/evidence.py)."""
    from understudy_operator.providers.base import QueryError
    from understudy_operator.providers.prometheus import PrometheusProvider

    context = QueryContext(
        model=model, namespace=namespace, stable=version, candidate=version, interval=window
    )
    # The input-drift check's own queries over its interval, here ``window``.
    check = Check(INPUT_DRIFT, max=1.0, interval_seconds=1.0)
    parts = BUILTINS[INPUT_DRIFT].parts(check, Judging())
    provider = PrometheusProvider(url=url)
    try:
        found = []
        for part in ("values", "reference"):
            query = parts[part]
            found.append(provider.vector(query.promql(context, range_=window), query.by))
    except (QueryError, ValueError) as exc:
        raise DriftSourceError(f"Prometheus at {url}: {exc}") from exc
    finally:
        provider.close()
    if not found[1]:
        raise DriftSourceError(
            f"Prometheus at {url} has no drift reference for {model} {version}"
            + (f" in namespace {namespace}" if namespace else " without a namespace label")
        )
    return DriftEvidence(model=model, version=version, values=found[0], shares=found[1])


def rank(evidence: DriftEvidence) -> tuple[list[FeatureDrift], FeatureDrift | None, list[str]]:
    """Input features most drifting first, the predictions' drift, features without data."""
    drifts, silent = feature_drifts(evidence.values, evidence.shares)
    inputs = [d for d in drifts if d.feature != PREDICTION]
    prediction = next((d for d in drifts if d.feature == PREDICTION), None)
    return inputs, prediction, [s for s in silent if s != PREDICTION]


def table(drifts: Sequence[FeatureDrift], *, top: int, bound: float) -> list[str]:
    """Markdown rows: feature, kind, records, PSI, KS / chi-square p, over the bound."""
    lines = [
        "| feature | kind | records | PSI | KS | χ² p | over |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in drifts[:top]:
        ks = f"{d.ks:.3f}" if d.ks is not None else ""
        p = f"{d.fit.p_value:.2g}" if d.ks is None else ""
        over = "yes" if d.psi > bound else ""
        lines.append(
            f"| {d.feature} | {d.kind} | {d.samples} | {d.psi:.3f} | {ks} | {p} | {over} |"
        )
    return lines


def summary(drifts: Sequence[FeatureDrift], *, bound: float) -> str:
    """One line: how many features are over the bound, the top three named."""
    if not drifts:
        return "no input counted yet"
    over = [d for d in drifts if d.psi > bound]
    n = min(d.samples for d in drifts)
    head = ", ".join(describe_drift(d) for d in drifts[:3])
    caution = f" (fewer than {MIN_SAMPLES} records: PSI is noisy)" if n < MIN_SAMPLES else ""
    return f"{len(over)} of {len(drifts)} features over PSI {bound:g}; top: {head}{caution}"


def plot(
    drifts: Sequence[FeatureDrift], *, path: Path, top: int = 4, title: str = ""
) -> Path | None:
    """Bars of the reference and live shares per bucket for the ``top`` features."""
    chosen = list(drifts[:top])
    if not chosen:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(chosen), 1, figsize=(9, 2.6 * len(chosen)), squeeze=False)
    for ax, d in zip(axes[:, 0], chosen, strict=True):
        positions = range(len(d.buckets))
        width = 0.4
        ax.bar([x - width / 2 for x in positions], d.reference, width, label="training reference")
        ax.bar([x + width / 2 for x in positions], d.live, width, label="live")
        labels = [_short(b, d.kind) for b in d.buckets]
        ax.set_xticks(list(positions), labels, rotation=30, ha="right", fontsize=7)
        ax.set_title(f"{describe_drift(d)}, {d.samples} records", fontsize=9)
        ax.set_ylabel("share")
    axes[0, 0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _short(bucket: str, kind: str) -> str:
    """``≤ 1504`` for an edge (the bucket's upper bound), the category name otherwise."""
    if kind != "numeric" or bucket.startswith("_"):
        return bucket[:18]
    edge = float(bucket)
    return f"≤ {edge:.4g}" if edge != float("inf") else "above"


def report_section(snapshots: Sequence[Snapshot], *, folder: Path, bound: float = 0.2) -> list[str]:
    """The demo report's "Input drift" section: per model-api version still running at the
    end, the summary line, the top features and a plot of the top four."""
    lines = ["## Input drift", ""]
    versions = sorted(
        {
            s.labels.get("version", "")
            for snap in snapshots
            for s in snap.samples
            if s.name == SHARES
        }
    )
    if not versions:
        return [*lines, "No model-api exported drift series (no training reference).", ""]
    lines += [
        "Live inputs counted by each model-api against its training reference (PSI per "
        f"feature, bound {bound:g}; `understudy drift` prints the same).",
        "",
    ]
    for version in versions:
        inputs, prediction, _ = rank(from_snapshots(snapshots, version=version))
        lines += [f"### {version}", "", summary(inputs, bound=bound), ""]
        lines += [*table(inputs, top=8, bound=bound), ""]
        if prediction is not None:
            lines += [f"Predictions: {describe_drift(prediction)}.", ""]
        image = plot(inputs, path=folder / f"drift-{version}.png", title=f"model-api {version}")
        if image is not None:
            lines += [f"![drift of {version}]({image.name})", ""]
    return lines
