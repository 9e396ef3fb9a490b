"""Differential tests: do two prediction sources give the same answers on the same houses?

A source is an artifact directory (predicted in process, by the reference
pipeline or the fast path) or the URL of a running model-api / shadow router.
The comparison is ``understudy_common.compare.compare_predictions`` — the same
one the shadow router uses — so "agree" means the same thing everywhere.

Pure core: :func:`evaluate` turns two prediction lists into a :class:`DiffReport`
and :func:`render_table` into text. Thin I/O around it: payload loading, the
sources, and :func:`run` for the command line
(``python -m understudy_model difftest``), which exits non-zero when the
mismatch fraction is over the limit or any source failed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from understudy_common.compare import Tolerance, compare_predictions

PredictorPath = Literal["reference", "fast"]
# Records per HTTP request to a running service (well under its max_records).
HTTP_CHUNK = 100
DEFAULT_SAMPLE = 200
DEFAULT_SEED = 7


# ---------------------------------------------------------------- pure core


@dataclass(frozen=True)
class Case:
    """One record's two predictions and how far apart they are."""

    index: int
    reference: float
    candidate: float
    abs_diff: float
    rel_diff: float
    agree: bool


@dataclass(frozen=True)
class DiffReport:
    reference: str
    candidate: str
    records: int
    tolerance: dict[str, float]
    max_mismatch_fraction: float
    mismatches: int
    mismatch_fraction: float | None
    max_abs_diff: float | None
    max_rel_diff: float | None
    mean_abs_diff: float | None
    worst: list[Case]
    errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        if self.errors or self.mismatch_fraction is None:
            return False
        return self.mismatch_fraction <= self.max_mismatch_fraction

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def evaluate(
    *,
    reference: Sequence[float],
    candidate: Sequence[float],
    tolerance: Tolerance,
    max_mismatch_fraction: float,
    reference_name: str = "reference",
    candidate_name: str = "candidate",
    errors: Sequence[str] = (),
    worst: int = 10,
) -> DiffReport:
    """Compare two prediction lists record by record; no I/O.

    Failing sources (``errors``) or lists of different lengths make a failed report
    rather than an exception, so the caller can still print and save it.
    """
    problems = list(errors)
    if len(reference) != len(candidate):
        problems.append(
            f"{reference_name} gave {len(reference)} predictions, {candidate_name} {len(candidate)}"
        )
    for name, values in ((reference_name, reference), (candidate_name, candidate)):
        if not all(math.isfinite(v) for v in values):
            problems.append(f"{name} gave NaN or infinite predictions")
    comparable = not problems and len(reference) > 0
    if len(reference) == 0 and not problems:
        problems.append("no records to compare")
    comparison = (
        compare_predictions(live=reference, candidate=candidate, tolerance=tolerance)
        if comparable
        else None
    )
    cases = [
        Case(i, r.live, r.candidate, r.abs_diff, r.rel_diff, r.agree)
        for i, r in enumerate(comparison.records if comparison else ())
    ]
    ranked = sorted(cases, key=lambda c: (c.agree, -c.rel_diff, -c.abs_diff))
    mismatches = sum(not c.agree for c in cases)
    return DiffReport(
        reference=reference_name,
        candidate=candidate_name,
        records=len(cases),
        tolerance={"relative": tolerance.relative, "absolute": tolerance.absolute},
        max_mismatch_fraction=max_mismatch_fraction,
        mismatches=mismatches,
        mismatch_fraction=mismatches / len(cases) if cases else None,
        max_abs_diff=comparison.max_abs_diff if comparison else None,
        max_rel_diff=comparison.max_rel_diff if comparison else None,
        mean_abs_diff=float(np.mean([c.abs_diff for c in cases])) if cases else None,
        worst=ranked[:worst],
        errors=problems,
    )


def render_table(report: DiffReport) -> str:
    """The worst cases and a summary, for a terminal."""
    lines = [
        f"reference: {report.reference}",
        f"candidate: {report.candidate}",
        "",
        f"{'record':>6}  {'reference $':>14}  {'candidate $':>14}  {'abs diff $':>12}  "
        f"{'rel diff':>10}  agree",
    ]
    for c in report.worst:
        lines.append(
            f"{c.index:>6}  {c.reference:>14,.2f}  {c.candidate:>14,.2f}  {c.abs_diff:>12,.2f}  "
            f"{c.rel_diff:>10.3g}  {'yes' if c.agree else 'NO'}"
        )
    lines.append("")
    tol = report.tolerance
    if report.mismatch_fraction is not None:
        lines.append(
            f"{report.records} records, {report.mismatches} outside tolerance "
            f"(relative {tol['relative']:g} or absolute ${tol['absolute']:,.2f}): "
            f"{report.mismatch_fraction:.2%} (allowed {report.max_mismatch_fraction:.2%}); "
            f"max abs ${report.max_abs_diff:,.2f}, max rel {report.max_rel_diff:.3g}, "
            f"mean abs ${report.mean_abs_diff:,.2f}"
        )
    for error in report.errors:
        lines.append(f"error: {error}")
    lines.append("PASS" if report.passed else "FAIL")
    return "\n".join(lines)


# ---------------------------------------------------------------- I/O


class SourceError(RuntimeError):
    """A source could not predict the payloads (bad records, HTTP failure, ...)."""


class Source(Protocol):
    name: str

    def predict(self, records: Sequence[dict[str, Any]]) -> list[float]: ...


class ArtifactSource:
    """Predict in process from an artifact directory."""

    def __init__(self, artifact_dir: Path, *, path: PredictorPath = "reference") -> None:
        from understudy_model.artifact import load_artifact

        self.model = load_artifact(artifact_dir)
        self.name = f"{artifact_dir} ({self.model.name} {self.model.version}, {path} path)"
        self._predict: Callable[[list[dict[str, Any]]], np.ndarray]
        if path == "fast":
            from understudy_model.fast import compile_fast_predictor

            self._predict = compile_fast_predictor(self.model).predict_rows
        else:
            self._predict = self.model.predict_rows

    def predict(self, records: Sequence[dict[str, Any]]) -> list[float]:
        from understudy_model.validation import validate_records

        result = validate_records(records, self.model.schema)
        if not result.ok:
            first = result.errors[0]
            raise SourceError(
                f"{len(result.errors)} validation error(s), first: record {first.record} "
                f"{first.field}: {first.code} ({first.message})"
            )
        return [float(v) for v in self._predict(result.rows)]


class HttpSource:
    """POST the payloads to a running service's /v1/predictions in chunks."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.name = self.url

    def predict(self, records: Sequence[dict[str, Any]]) -> list[float]:
        import httpx

        predictions: list[float] = []
        versions: set[str] = set()
        with httpx.Client(timeout=self.timeout) as client:
            for start in range(0, len(records), HTTP_CHUNK):
                chunk = list(records[start : start + HTTP_CHUNK])
                try:
                    response = client.post(f"{self.url}/v1/predictions", json={"records": chunk})
                except httpx.HTTPError as exc:
                    raise SourceError(f"{self.url}: {type(exc).__name__}: {exc}") from exc
                if response.status_code != 200:
                    raise SourceError(
                        f"{self.url} answered {response.status_code}: {response.text[:300]}"
                    )
                body = response.json()
                predictions.extend(float(v) for v in body["predictions"])
                versions.add(str(body.get("model", {}).get("version")))
        self.name = f"{self.url} (version {', '.join(sorted(versions))})"
        return predictions


def open_source(spec: str, *, path: PredictorPath) -> Source:
    if spec.startswith(("http://", "https://")):
        return HttpSource(spec)
    return ArtifactSource(Path(spec), path=path)


def load_payloads(path: Path) -> list[dict[str, Any]]:
    """Records from ``{"records": [...]}``, a JSON list, or JSON lines (one record each)."""
    text = path.read_text()
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = [json.loads(line) for line in text.splitlines() if line.strip()]
    records = document["records"] if isinstance(document, dict) else document
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError(f"{path}: expected {{'records': [...]}}, a list or JSON lines of objects")
    return records


def holdout_sample(*, sample: int | None, seed: int) -> list[dict[str, Any]]:
    """A fixed seeded sample of the Ames holdout set (all of it when ``sample`` is None)."""
    from understudy_model.data import holdout_records, load_ames, split_holdout

    records = holdout_records(split_holdout(load_ames()))
    if sample is None or sample >= len(records):
        return records
    chosen = np.sort(np.random.default_rng(seed).choice(len(records), size=sample, replace=False))
    return [records[i] for i in chosen]


def _predict(
    source_spec: str, *, path: PredictorPath, records: Sequence[dict[str, Any]]
) -> tuple[str, list[float], str | None]:
    try:
        source = open_source(source_spec, path=path)
        predictions = source.predict(records)
    except Exception as exc:  # any failure of a source is a failed difftest, reported
        return source_spec, [], f"{source_spec}: {type(exc).__name__}: {exc}"
    return source.name, predictions, None


def run(
    *,
    reference: str,
    candidate: str,
    records: Sequence[dict[str, Any]],
    tolerance: Tolerance,
    max_mismatch_fraction: float,
    path: PredictorPath = "reference",
    worst: int = 10,
) -> DiffReport:
    """Predict ``records`` with both sources and evaluate; never raises for a source."""
    ref_name, ref_pred, ref_error = _predict(reference, path=path, records=records)
    cand_name, cand_pred, cand_error = _predict(candidate, path=path, records=records)
    errors = [e for e in (ref_error, cand_error) if e]
    return evaluate(
        reference=ref_pred if not errors else [],
        candidate=cand_pred if not errors else [],
        tolerance=tolerance,
        max_mismatch_fraction=max_mismatch_fraction,
        reference_name=ref_name,
        candidate_name=cand_name,
        errors=errors,
        worst=worst,
    )


def write_report(report: DiffReport, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n")
