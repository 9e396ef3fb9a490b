"""Validation of raw house records (parsed JSON) against the feature schema.

What is an error (the record is rejected, with its index, field and a message):
  ``not_an_object``  the record is not a JSON object
  ``unknown_field``  a field the model does not know (typos must not pass silently)
  ``missing``        a field is absent (every field is required; send null where allowed)
  ``null``           null for a field that was never empty in training
  ``wrong_type``     e.g. a string for a number, a bool, a float for an integer field
  ``not_finite``     NaN or +/-inf
  ``out_of_range``   a number outside the schema's allowed range

What is accepted and handled (reported as a warning, the record is kept):
  ``unseen_category``  a category not seen in training: the one-hot encoder
                       gives it all zeros, i.e. the model's baseline for that field.
                       Rejecting it would fail a whole batch on, say, a new
                       neighbourhood; the warning is counted in metrics instead.
  null where the training data had empty values: encoded as the explicit
  ``__missing__`` category, as in training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from understudy_model.data import MISSING_CATEGORY
from understudy_model.schema import FeatureSchema, FieldSpec


@dataclass(frozen=True)
class FieldIssue:
    record: int
    field: str | None
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "field": self.field,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class ValidationResult:
    # Clean rows (one per valid record, in order), ready for the pipeline.
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[FieldIssue] = field(default_factory=list)
    warnings: list[FieldIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _check_numeric(index: int, spec: FieldSpec, value: object) -> tuple[Any, FieldIssue | None]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, FieldIssue(
            index, spec.name, "wrong_type", f"expected a number, got {_type_name(value)}"
        )
    number = float(value)
    if not math.isfinite(number):
        return None, FieldIssue(
            index, spec.name, "not_finite", f"expected a finite number, got {value!r}"
        )
    if spec.type == "integer" and not number.is_integer():
        return None, FieldIssue(
            index, spec.name, "wrong_type", f"expected an integer, got {value!r}"
        )
    lo, hi = spec.allowed_min, spec.allowed_max
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        return None, FieldIssue(
            index,
            spec.name,
            "out_of_range",
            f"{value!r} is outside the allowed range [{lo:g}, {hi:g}]",
        )
    return (int(number) if spec.type == "integer" else number), None


def _check_field(
    index: int, spec: FieldSpec, value: object, warnings: list[FieldIssue]
) -> tuple[Any, FieldIssue | None]:
    if value is None:
        if spec.nullable and spec.kind == "categorical":
            return MISSING_CATEGORY, None
        return None, FieldIssue(index, spec.name, "null", "null is not allowed for this field")
    if spec.kind == "numeric":
        return _check_numeric(index, spec, value)
    if not isinstance(value, str):
        return None, FieldIssue(
            index, spec.name, "wrong_type", f"expected a string, got {_type_name(value)}"
        )
    if value not in spec.categories:
        warnings.append(
            FieldIssue(
                index,
                spec.name,
                "unseen_category",
                f"category {value!r} was not seen in training; it is encoded as unseen",
            )
        )
    return value, None


def validate_records(records: Sequence[object], schema: FeatureSchema) -> ValidationResult:
    """Check every record; collect every problem rather than stopping at the first."""
    result = ValidationResult()
    known = set(schema.names)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            result.errors.append(
                FieldIssue(
                    index, None, "not_an_object", f"expected an object, got {_type_name(record)}"
                )
            )
            continue
        record_errors: list[FieldIssue] = []
        for name in record:
            if name not in known:
                record_errors.append(FieldIssue(index, str(name), "unknown_field", "unknown field"))
        clean: dict[str, Any] = {}
        for spec in schema.fields:
            if spec.name not in record:
                record_errors.append(FieldIssue(index, spec.name, "missing", "field required"))
                continue
            value, issue = _check_field(index, spec, record[spec.name], result.warnings)
            if issue is not None:
                record_errors.append(issue)
            else:
                clean[spec.name] = value
        if record_errors:
            result.errors.extend(record_errors)
        else:
            result.rows.append(clean)
    return result
