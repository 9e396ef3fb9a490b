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
    fields: list[FieldSpec] = []
    for name in frame.columns:
        if name == TARGET:
            continue
        column = frame[name]
        nullable = bool(column.isna().any())
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            lo, hi = float(column.min()), float(column.max())
            span = max(hi - lo, 1.0)
            allowed_min = max(0.0, lo - span) if lo >= 0 else lo - span
            fields.append(
                FieldSpec(
                    name=name,
                    kind="numeric",
                    type="integer" if pd.api.types.is_integer_dtype(column) else "float",
                    nullable=nullable,
                    observed_min=lo,
                    observed_max=hi,
                    allowed_min=allowed_min,
                    allowed_max=hi + span,
                )
            )
        else:
            categories = tuple(sorted(str(v) for v in column.dropna().unique()))
            fields.append(
                FieldSpec(
                    name=name,
                    kind="categorical",
                    type="string",
                    nullable=nullable,
                    categories=categories,
                )
            )
    return FeatureSchema(fields=tuple(fields))
