"""Deliberately wrong models for demos and tests: a good model made systematically off on
one segment of houses, or made slower.

A candidate can agree with live on most houses and still be badly off on one kind of
house; the slice checks exist to catch that (operator core/slices.py). To show and test it
we need such candidates, built from a real model: :class:`SegmentShift` wraps a fitted
pipeline and multiplies its predictions by ``1 + shift`` where the segment holds — where
the model's own prediction is above ``above`` dollars, or where the input field ``column``
equals ``value``. Its artifact records the fault in ``model.json`` (``fault``), so nobody
mistakes it for a trained model. model-api's fast path compiles the inner model and shifts
its answers (``ShiftedPredictor``), checked against the wrapped pipeline like any other.

:class:`Slowdown` is the latency check's counterpart: the same predictions, but the inner
model is evaluated ``repeats`` times per call, as a model with that many times the trees
would be. It is real CPU work (no sleep), so a loaded machine slows it the way it slows any
model, and its fast path (``SlowedPredictor``) repeats the compiled predictor.

:class:`Flaky` is the canary steps' counterpart: the same predictions, but it raises on
the houses whose ``Lot_Area`` is a multiple of ``every`` (about 20% of the holdout for 7),
a bug only some inputs reach; model-api answers those requests 500. A shadow that judges
similarity only (the mirrored failures have no answer to compare) lets it through; a
canary step that judges the error rate of the candidate's own answers does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from understudy_model.artifact import load_artifact, save_artifact


class SegmentShift:
    """``inner``'s predictions, times ``1 + shift`` on the segment."""

    def __init__(
        self,
        inner: Any,
        *,
        shift: float,
        above: float | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        if (above is None) == (column is None):
            raise ValueError("give exactly one segment: above (dollars) or column (+ value)")
        self.inner, self.shift, self.above, self.column, self.value = (
            inner,
            shift,
            above,
            column,
            value,
        )

    def segment(self, frame: pd.DataFrame, predictions: np.ndarray) -> np.ndarray:
        if self.above is not None:
            return np.asarray(predictions > self.above)
        assert self.column is not None
        return np.asarray(frame[self.column] == self.value)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        predictions = np.asarray(self.inner.predict(frame), dtype=float)
        mask = self.segment(frame, predictions)
        return np.where(mask, predictions * (1.0 + self.shift), predictions)

    def apply_to_rows(self, rows: Sequence[dict[str, Any]], predictions: np.ndarray) -> np.ndarray:
        """The same shift on the inner model's predictions of raw rows (the fast path)."""
        if self.above is not None:
            mask = predictions > self.above
        else:
            mask = np.array([row.get(str(self.column)) == self.value for row in rows], dtype=bool)
        return np.where(mask, predictions * (1.0 + self.shift), predictions)

    def describe(self) -> str:
        where = (
            f"prediction > ${self.above:,.0f}"
            if self.above is not None
            else f"{self.column} == {self.value!r}"
        )
        return f"{self.shift:+.0%} where {where}"


@dataclass(frozen=True)
class ShiftedPredictor:
    """The fast path of a SegmentShift: the inner model's compiled predictor, shifted, so a
    faulty candidate is as fast as the model it was made from (else the latency check,
    not the slice check, would catch it)."""

    inner: Any  # understudy_model.fast.FastPredictor
    shift: SegmentShift

    @property
    def regressor_kind(self) -> str:
        return f"{self.inner.regressor_kind}, shifted {self.shift.describe()}"

    def predict_rows(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        return self.shift.apply_to_rows(rows, self.inner.predict_rows(rows))


class Slowdown:
    """``inner``'s predictions, computed ``repeats`` times per call (the last one is kept)."""

    def __init__(self, inner: Any, *, repeats: int) -> None:
        if repeats < 1:
            raise ValueError(f"repeats must be >= 1 (got {repeats})")
        self.inner, self.repeats = inner, repeats

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        for _ in range(self.repeats):
            predictions = np.asarray(self.inner.predict(frame), dtype=float)
        return predictions

    def describe(self) -> str:
        return f"the model evaluated {self.repeats}x per call"


@dataclass(frozen=True)
class SlowedPredictor:
    """The fast path of a Slowdown: the inner model's compiled predictor, run ``repeats``
    times per call, so the slowdown is the same work model-api really serves with."""

    inner: Any  # understudy_model.fast.FastPredictor
    slowdown: Slowdown

    @property
    def regressor_kind(self) -> str:
        return f"{self.inner.regressor_kind}, slowed: {self.slowdown.describe()}"

    def predict_rows(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        for _ in range(self.slowdown.repeats):
            predictions = self.inner.predict_rows(rows)
        return np.asarray(predictions)


class FlakyModelError(RuntimeError):
    """The deliberate failure of a Flaky model."""


class Flaky:
    """``inner``'s predictions; raises when any record's Lot_Area is a multiple of ``every``."""

    def __init__(self, inner: Any, *, every: int) -> None:
        if every < 2:
            raise ValueError(f"every must be >= 2 (got {every})")
        self.inner, self.every = inner, every

    def check(self, lot_areas: Sequence[Any]) -> None:
        hit = [a for a in lot_areas if isinstance(a, int | float) and int(a) % self.every == 0]
        if hit:
            raise FlakyModelError(
                f"injected fault: Lot_Area {hit[0]} is a multiple of {self.every}"
            )

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        self.check(list(frame["Lot_Area"]))
        return np.asarray(self.inner.predict(frame), dtype=float)

    def describe(self) -> str:
        return f"raises where Lot_Area is a multiple of {self.every}"


@dataclass(frozen=True)
class FlakyPredictor:
    """The fast path of a Flaky model: the inner compiled predictor, failing the same way."""

    inner: Any  # understudy_model.fast.FastPredictor
    flaky: Flaky

    @property
    def regressor_kind(self) -> str:
        return f"{self.inner.regressor_kind}, flaky: {self.flaky.describe()}"

    def predict_rows(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        self.flaky.check([row.get("Lot_Area") for row in rows])
        return np.asarray(self.inner.predict_rows(rows))


def _fault_metadata(base: Any, *, version: str, kind: str, description: str) -> dict[str, Any]:
    keep = {
        k: v
        for k, v in base.metadata.items()
        if k not in ("format_version", "libraries", "artifact")
    }
    return {
        **keep,
        "version": version,
        "fault": {"kind": kind, "base_version": base.version, "description": description},
    }


def write_segment_shift(
    base_dir: Path,
    out_dir: Path,
    *,
    version: str,
    shift: float,
    above: float | None = None,
    column: str | None = None,
    value: object = None,
) -> Path:
    """An artifact at ``out_dir``: the model of ``base_dir`` shifted on one segment."""
    base = load_artifact(base_dir)
    if column is not None and column not in base.schema.names:
        raise ValueError(f"{column!r} is not an input field of {base_dir}")
    model = SegmentShift(base.pipeline, shift=shift, above=above, column=column, value=value)
    metadata = _fault_metadata(
        base, version=version, kind="segment_shift", description=model.describe()
    )
    return save_artifact(out_dir, pipeline=model, metadata=metadata)


def write_slowdown(base_dir: Path, out_dir: Path, *, version: str, repeats: int) -> Path:
    """An artifact at ``out_dir``: the model of ``base_dir``, evaluated ``repeats`` times per
    call (same predictions, about ``repeats`` times the model's own compute)."""
    base = load_artifact(base_dir)
    model = Slowdown(base.pipeline, repeats=repeats)
    metadata = _fault_metadata(base, version=version, kind="slowdown", description=model.describe())
    return save_artifact(out_dir, pipeline=model, metadata=metadata)


def write_flaky(base_dir: Path, out_dir: Path, *, version: str, every: int) -> Path:
    """An artifact at ``out_dir``: the model of ``base_dir``, raising on the houses whose
    Lot_Area is a multiple of ``every``."""
    base = load_artifact(base_dir)
    model = Flaky(base.pipeline, every=every)
    metadata = _fault_metadata(base, version=version, kind="flaky", description=model.describe())
    return save_artifact(out_dir, pipeline=model, metadata=metadata)
