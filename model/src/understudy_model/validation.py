"""Validation of raw house records (parsed JSON) against the feature schema.

What is an error (the record is rejected, with its index, field and a message):
  ``not_an_object``  the record is not a JSON object
  ``unknown_field``  a field the model does not know (typos must not pass silently)
  ``missing``        a field is absent (every field is required; send null where allowed)
  ``null``           null for a field that was never empty in training
  ``wrong_type``     e.g. a string for a number, a bool, a float for an integer field
  ``not_finite``     NaN or +/-inf
  ``out_of_range``   a number outside the schema's allowed range
  ``too_long``       a string (a categorical value, or an unknown field's name) longer than
                     ``MAX_STRING_LENGTH`` characters: no category is that long, and a
                     megabyte value would otherwise be echoed whole into warnings and logs

What is accepted and handled (reported as a warning, the record is kept):
  ``unseen_category``  a category not seen in training: the one-hot encoder
                       gives it all zeros, i.e. the model's baseline for that field.
                       Rejecting it would fail a whole batch on, say, a new
                       neighbourhood; the warning is counted in metrics instead.
  null where the training data had empty values: encoded as the explicit
  ``__missing__`` category, as in training; for a field with ``missing_as: "null"`` (packed
  models) passed on as a missing value, for the pipeline's own imputer.
  Any value of a ``high_cardinality`` field (its categories are only the most frequent).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from understudy_model.data import MISSING_CATEGORY
from understudy_model.schema import FeatureSchema, FieldSpec

# Longer than any category a model could have learnt; an unknown field's name is cut to it
# in the error (with its length said), so no error or log line carries an unbounded string.
MAX_STRING_LENGTH = 256


def _bounded(name: str) -> str:
    if len(name) <= MAX_STRING_LENGTH:
        return name
    return f"{name[:MAX_STRING_LENGTH]}… ({len(name)} characters)"


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
        if spec.nullable and spec.kind == "categorical" and spec.missing_as == "category":
            return MISSING_CATEGORY, None
        if spec.nullable and spec.missing_as == "null":  # the pipeline's imputer decides
            return None, None
        return None, FieldIssue(index, spec.name, "null", "null is not allowed for this field")
    if spec.kind == "numeric":
        return _check_numeric(index, spec, value)
    if not isinstance(value, str):
        return None, FieldIssue(
            index, spec.name, "wrong_type", f"expected a string, got {_type_name(value)}"
        )
    if len(value) > MAX_STRING_LENGTH and value not in spec.categories:
        return None, FieldIssue(
            index,
            spec.name,
            "too_long",
            f"a string of {len(value)} characters; at most {MAX_STRING_LENGTH} are allowed",
        )
    if value not in spec.categories and not spec.high_cardinality:
        warnings.append(
            FieldIssue(
                index,
                spec.name,
                "unseen_category",
                f"category {value!r} was not seen in training; it is encoded as unseen",
            )
        )
    return value, None


@dataclass(frozen=True, slots=True)
class _FastCheck:
    """What a valid value of one field looks like, for the quick accept in the loop.

    Anything the quick accept does not recognise goes through ``_check_field``, which
    returns the precise error or warning; so the quick path only ever says "valid".
    """

    spec: FieldSpec
    numeric: bool
    integer: bool
    # Finite bounds even when the schema has none: NaN and +/-inf always fail
    # ``lo <= value <= hi`` and so reach the slow path's not_finite error.
    lo: float
    hi: float
    categories: frozenset[str]


def _fast_checks(schema: FeatureSchema) -> tuple[_FastCheck, ...]:
    return tuple(
        _FastCheck(
            spec=spec,
            numeric=spec.kind == "numeric",
            integer=spec.type == "integer",
            lo=-sys.float_info.max if spec.allowed_min is None else spec.allowed_min,
            hi=sys.float_info.max if spec.allowed_max is None else spec.allowed_max,
            categories=frozenset(spec.categories),
        )
        for spec in schema.fields
    )


# One plan per schema object, kept with the schema it was built from (an id can be reused
# once its object is gone). A process serves one model, tests a handful.
_PLANS: dict[int, tuple[FeatureSchema, tuple[_FastCheck, ...], frozenset[str]]] = {}
_MAX_PLANS = 32


def _plan(schema: FeatureSchema) -> tuple[tuple[_FastCheck, ...], frozenset[str]]:
    entry = _PLANS.get(id(schema))
    if entry is None or entry[0] is not schema:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        entry = (schema, _fast_checks(schema), frozenset(schema.names))
        _PLANS[id(schema)] = entry
    return entry[1], entry[2]


def validate_records(records: Sequence[object], schema: FeatureSchema) -> ValidationResult:
    """Check every record; collect every problem rather than stopping at the first.

    Valid values are accepted by a few type and range tests inline (this is the hot path
    of every prediction request); everything else takes ``_check_field``.
    """
    result = ValidationResult()
    checks, known = _plan(schema)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            result.errors.append(
                FieldIssue(
                    index, None, "not_an_object", f"expected an object, got {_type_name(record)}"
                )
            )
            continue
        record_errors: list[FieldIssue] = []
        if not known.issuperset(record):
            for name in record:
                if name not in known:
                    record_errors.append(
                        FieldIssue(index, _bounded(str(name)), "unknown_field", "unknown field")
                    )
        clean: dict[str, Any] = {}
        for check in checks:
            name = check.spec.name
            try:
                value = record[name]
            except KeyError:
                record_errors.append(FieldIssue(index, name, "missing", "field required"))
                continue
            kind = type(value)  # exact types: bool (an int subclass) is not a number here
            if check.numeric:
                if (kind is float or kind is int) and check.lo <= value <= check.hi:
                    if kind is int:
                        clean[name] = value if check.integer else float(value)
                        continue
                    if not check.integer:
                        clean[name] = value
                        continue
            elif kind is str and value in check.categories:
                clean[name] = value
                continue
            checked, issue = _check_field(index, check.spec, value, result.warnings)
            if issue is not None:
                record_errors.append(issue)
            else:
                clean[name] = checked
        if record_errors:
            result.errors.extend(record_errors)
        else:
            result.rows.append(clean)
    return result
