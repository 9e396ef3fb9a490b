"""The feature schema: derived from the training data, stored in ``model.json``.

For each field: its kind, its type, the categories seen in training, the
numeric range seen and the range accepted at serving time, and whether it may
be null. Validation (``validation.py``) enforces it on every request.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any, Literal

import pandas as pd

from understudy_model.data import TARGET

Kind = Literal["numeric", "categorical"]
NumericType = Literal["integer", "float"]
# How a null reaches the pipeline: "category" — as the explicit ``__missing__`` category
# (categorical fields of the project's own training, which encodes empties that way);
# "null" — as a missing value (NaN/None) for the pipeline's own imputer (packed models).
MissingAs = Literal["category", "null"]
MISSING_AS: tuple[MissingAs, ...] = ("category", "null")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: Kind
    # "integer" or "float" for numeric fields, "string" for categorical ones.
    type: str
    # Null is allowed only where the training data had empty values.
    nullable: bool
    # Categorical fields: the categories seen in training (others are accepted
    # at serving time and encoded as "unseen"; see validation.py).
    categories: tuple[str, ...] = ()
    # Numeric fields: the range seen in training ...
    observed_min: float | None = None
    observed_max: float | None = None
    # ... and the range accepted at serving time: the observed range widened by
    # its own span on each side (not below 0 for fields that never go negative).
    allowed_min: float | None = None
    allowed_max: float | None = None
    # How a null reaches the pipeline (MissingAs above).
    missing_as: MissingAs = "category"
    # Categorical fields with more distinct values than a pack keeps: ``categories`` holds
    # only the most frequent, and an unlisted value is normal, so it is not warned about.
    high_cardinality: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("numeric", "categorical"):
            raise ValueError(f"field {self.name}: kind {self.kind!r} is not numeric/categorical")
        if self.missing_as not in MISSING_AS:
            raise ValueError(
                f"field {self.name}: missing_as {self.missing_as!r} not in {MISSING_AS}"
            )


@dataclass(frozen=True)
class FeatureSchema:
    fields: tuple[FieldSpec, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def numeric(self) -> list[str]:
        return [f.name for f in self.fields if f.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.fields if f.kind == "categorical"]

    def field(self, name: str) -> FieldSpec:
        return self._by_name[name]

    @cached_property
    def _by_name(self) -> dict[str, FieldSpec]:
        return {f.name: f for f in self.fields}

    def to_dict(self) -> dict[str, Any]:
        return {"fields": [{**asdict(f), "categories": list(f.categories)} for f in self.fields]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSchema:
        try:
            return cls(
                fields=tuple(
                    FieldSpec(**{**f, "categories": tuple(f.get("categories", ()))})
                    for f in data["fields"]
                )
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"invalid feature schema: {exc}") from exc


def derive_schema(frame: pd.DataFrame) -> FeatureSchema:
    """Derive the schema from a training frame (the target column is skipped)."""
    return infer_schema(frame, target=TARGET, missing_as="category", max_categories=None)


def infer_schema(
    frame: pd.DataFrame,
    *,
    target: str | None,
    missing_as: MissingAs,
    max_categories: int | None,
) -> FeatureSchema:
    """The schema of a sample or training frame (``target`` is skipped).

    Numbers (not booleans) are numeric fields; everything else is categorical, its values
    as strings (a column mixing numbers and strings included). With ``max_categories``, a
    categorical field with more distinct values keeps only the most frequent ones and is
    marked ``high_cardinality``. A numeric field that is entirely null has no range.
    """
    fields: list[FieldSpec] = []
    for name in frame.columns:
        if name == target:
            continue
        column = frame[name]
        nullable = bool(column.isna().any())
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            if column.isna().all():
                fields.append(
                    FieldSpec(
                        name=str(name),
                        kind="numeric",
                        type="float",
                        nullable=True,
                        missing_as=missing_as,
                    )
                )
                continue
            lo, hi = float(column.min()), float(column.max())
            span = max(hi - lo, 1.0)
            allowed_min = max(0.0, lo - span) if lo >= 0 else lo - span
            fields.append(
                FieldSpec(
                    name=str(name),
                    kind="numeric",
                    type="integer" if pd.api.types.is_integer_dtype(column) else "float",
                    nullable=nullable,
                    observed_min=lo,
                    observed_max=hi,
                    allowed_min=allowed_min,
                    allowed_max=hi + span,
                    missing_as=missing_as,
                )
            )
        else:
            counts = column.dropna().astype(str).value_counts(sort=True)
            high = max_categories is not None and len(counts) > max_categories
            kept = counts.index[:max_categories] if high else counts.index
            fields.append(
                FieldSpec(
                    name=str(name),
                    kind="categorical",
                    type="string",
                    nullable=nullable,
                    categories=tuple(sorted(str(v) for v in kept)),
                    missing_as=missing_as,
                    high_cardinality=bool(high),
                )
            )
    return FeatureSchema(fields=tuple(fields))
