"""The training reference: what the inputs and predictions looked like in training.

Training writes it into ``model.json`` under ``"reference"``, so that serving can count
live inputs into the *same* buckets and any number of pods can be compared with training
exactly (a drift check sums bucket counts; it never needs the raw training data).

Format 1 (``"reference": {"format": 1, ...}``), readable by people:

- ``rows``: training rows the reference was computed from.
- ``numeric[name]``: ``edges`` — upper bucket edges at the training deciles (duplicates
  removed, so a field with few distinct values has fewer buckets); ``shares`` — the share
  of non-null training values per bucket, one more than ``edges`` (the last is "above the
  top edge"), a value equal to an edge belongs to that edge's bucket (Prometheus' ``le``);
  ``null_share`` — the share of training rows that were null.
- ``categorical[name]``: ``shares`` — category → share of non-null training rows, for the
  categories holding at least ``rare_share`` of them; ``other_share`` — the rest pooled
  (rare categories, so no bucket is too thin to compare); ``null_share``.
- ``prediction``: ``edges`` and ``shares`` of the model's predictions on its own training
  set, like a numeric field.

An artifact without a reference still loads and serves; drift then says "no reference".
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from understudy_model.schema import FeatureSchema

REFERENCE_FORMAT = 1
DEFAULT_QUANTILES = 10  # decile edges: 9 inner edges, at most 10 buckets per numeric field
DEFAULT_RARE_SHARE = 0.01  # categories under 1% of training rows are pooled as "other"


@dataclass(frozen=True)
class NumericReference:
    edges: tuple[float, ...]
    shares: tuple[float, ...]  # len(edges) + 1
    null_share: float

    def bucket(self, value: float) -> int:
        """The index of ``value``'s bucket (``le`` semantics; the last is above the top)."""
        return bisect_left(self.edges, value)


@dataclass(frozen=True)
class CategoricalReference:
    shares: Mapping[str, float]
    other_share: float
    null_share: float


@dataclass(frozen=True)
class Reference:
    rows: int
    numeric: Mapping[str, NumericReference]
    categorical: Mapping[str, CategoricalReference]
    prediction: NumericReference

    def to_dict(self) -> dict[str, Any]:
        def numeric(r: NumericReference) -> dict[str, Any]:
            return {"edges": list(r.edges), "shares": list(r.shares), "null_share": r.null_share}

        return {
            "format": REFERENCE_FORMAT,
            "rows": self.rows,
            "numeric": {name: numeric(r) for name, r in self.numeric.items()},
            "categorical": {
                name: {
                    "shares": dict(r.shares),
                    "other_share": r.other_share,
                    "null_share": r.null_share,
                }
                for name, r in self.categorical.items()
            },
            "prediction": numeric(self.prediction),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Reference:
        """Parse and check a reference; ``ValueError`` says what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("reference must be an object")
        if data.get("format") != REFERENCE_FORMAT:
            raise ValueError(
                f"reference format {data.get('format')!r} is not {REFERENCE_FORMAT}, the one "
                "this code reads"
            )
        try:
            return cls(
                rows=int(data["rows"]),
                numeric={k: _numeric(k, v) for k, v in data["numeric"].items()},
                categorical={k: _categorical(k, v) for k, v in data["categorical"].items()},
                prediction=_numeric("prediction", data["prediction"]),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"reference lacks or mistypes a field: {exc}") from exc


def _share(name: str, value: Any) -> float:
    share = float(value)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"{name}: share {value!r} is outside [0, 1]")
    return share


def _total_is_one(name: str, shares: Iterable[float]) -> None:
    total = math.fsum(shares)
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise ValueError(f"{name}: shares add up to {total:.6g}, not 1")


def _numeric(name: str, data: Mapping[str, Any]) -> NumericReference:
    edges = tuple(float(e) for e in data["edges"])
    shares = tuple(_share(name, s) for s in data["shares"])
    if list(edges) != sorted(set(edges)) or not all(math.isfinite(e) for e in edges):
        raise ValueError(f"{name}: edges must be finite and strictly increasing")
    if len(shares) != len(edges) + 1:
        raise ValueError(f"{name}: {len(shares)} shares for {len(edges)} edges (want one more)")
    if sum(shares) > 0:  # a field that is always null has no value shares
        _total_is_one(name, shares)
    return NumericReference(edges=edges, shares=shares, null_share=_share(name, data["null_share"]))


def _categorical(name: str, data: Mapping[str, Any]) -> CategoricalReference:
    shares = {str(k): _share(name, v) for k, v in data["shares"].items()}
    other = _share(name, data["other_share"])
    if shares or other:
        _total_is_one(name, [*shares.values(), other])
    return CategoricalReference(
        shares=shares, other_share=other, null_share=_share(name, data["null_share"])
    )


def numeric_reference(values: Sequence[float] | np.ndarray, *, quantiles: int) -> NumericReference:
    """Decile (or ``quantiles``-ile) edges of the non-null ``values`` and each bucket's share."""
    array = np.asarray(values, dtype=float)
    present = array[~np.isnan(array)]
    null_share = 1.0 - len(present) / len(array) if len(array) else 0.0
    if len(present) == 0:
        return NumericReference(edges=(), shares=(0.0,), null_share=null_share)
    inner = np.quantile(present, np.arange(1, quantiles) / quantiles, method="lower")
    edges = tuple(sorted({float(e) for e in inner}))
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
    shares = tuple(float(c) / len(present) for c in counts)
    return NumericReference(edges=edges, shares=shares, null_share=null_share)


def categorical_reference(values: pd.Series, *, rare_share: float) -> CategoricalReference:
    present = values.dropna().astype(str)
    null_share = 1.0 - len(present) / len(values) if len(values) else 0.0
    if len(present) == 0:
        return CategoricalReference(shares={}, other_share=0.0, null_share=null_share)
    frequencies = present.value_counts(normalize=True)
    kept = {str(k): float(v) for k, v in frequencies.items() if v >= rare_share}
    other = max(0.0, 1.0 - math.fsum(kept.values()))
    return CategoricalReference(
        shares=dict(sorted(kept.items())), other_share=other, null_share=null_share
    )


def build_reference(
    frame: pd.DataFrame,
    schema: FeatureSchema,
    predictions: Sequence[float] | np.ndarray,
    *,
    quantiles: int = DEFAULT_QUANTILES,
    rare_share: float = DEFAULT_RARE_SHARE,
) -> Reference:
    """The reference of a training frame (raw columns, before encoding) and its predictions."""
    numeric = {
        name: numeric_reference(frame[name].to_numpy(dtype=float), quantiles=quantiles)
        for name in schema.numeric
    }
    categorical = {
        name: categorical_reference(frame[name], rare_share=rare_share)
        for name in schema.categorical
    }
    return Reference(
        rows=len(frame),
        numeric=numeric,
        categorical=categorical,
        prediction=numeric_reference(predictions, quantiles=quantiles),
    )
