"""The OpenAPI description of the prediction route.

The route reads its body itself (size limit, content type, JSON; see payload.py),
so FastAPI cannot infer the request schema: it is written here. Once the model
has loaded, each record's schema lists the model's own fields (types, ranges,
categories), so schema-driven tests (schemathesis) can send valid records too.
"""

from __future__ import annotations

from typing import Any

from understudy_model.schema import FeatureSchema, FieldSpec


def _field_schema(spec: FieldSpec) -> dict[str, Any]:
    if spec.kind == "numeric":
        schema: dict[str, Any] = {"type": "integer" if spec.type == "integer" else "number"}
        if spec.allowed_min is not None:
            schema["minimum"] = spec.allowed_min
        if spec.allowed_max is not None:
            schema["maximum"] = spec.allowed_max
        nullable = spec.nullable and spec.missing_as == "null"  # validation.py's rule
        return {"anyOf": [schema, {"type": "null"}]} if nullable else schema
    categories: list[Any] = list(spec.categories)
    schema = {"type": "string", "description": "unseen categories are accepted with a warning"}
    if categories:
        schema["examples"] = categories[:3]
    return {"anyOf": [schema, {"type": "null"}]} if spec.nullable else schema


def record_schema(schema: FeatureSchema | None) -> dict[str, Any]:
    if schema is None:
        return {"type": "object", "description": "one house; the fields are the model's"}
    return {
        "type": "object",
        "properties": {spec.name: _field_schema(spec) for spec in schema.fields},
        "required": schema.names,
        "additionalProperties": False,
    }


def request_body(schema: FeatureSchema | None, *, max_records: int) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "records": {
                            "type": "array",
                            "items": record_schema(schema),
                            "minItems": 1,
                            "maxItems": max_records,
                        }
                    },
                    "required": ["records"],
                    "additionalProperties": False,
                }
            }
        },
    }


_ISSUE = {
    "type": "object",
    "properties": {
        "record": {"type": "integer"},
        "field": {"type": ["string", "null"]},
        "code": {"type": "string"},
        "message": {"type": "string"},
    },
    "required": ["record", "field", "code", "message"],
}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "errors": {"type": "array", "items": _ISSUE},
    },
    "required": ["error", "message"],
}
PREDICTION_SCHEMA = {
    "type": "object",
    "properties": {
        # A regressor: one number per record; a classifier: a label and every class's
        # probability per record (docs/contracts.md).
        "predictions": {
            "type": "array",
            "items": {
                "anyOf": [
                    {"type": "number"},
                    {
                        "type": "object",
                        "properties": {
                            "label": {"type": "string"},
                            "probabilities": {
                                "type": "object",
                                "additionalProperties": {"type": "number"},
                            },
                        },
                        "required": ["label", "probabilities"],
                    },
                ]
            },
        },
        "model": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
            "required": ["name", "version"],
        },
        "request_id": {"type": "string"},
        "warnings": {"type": "array", "items": _ISSUE},
        # Classifiers only: the class whose probability the metrics and the router follow.
        "positive_class": {"type": "string"},
    },
    "required": ["predictions", "model", "request_id", "warnings"],
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


PREDICTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _json(
        PREDICTION_SCHEMA, "one prediction per record (a number, or a label and probabilities)"
    ),
    400: _json(ERROR_SCHEMA, "malformed_json"),
    413: _json(ERROR_SCHEMA, "body_too_large"),
    415: _json(ERROR_SCHEMA, "unsupported_media_type"),
    422: _json(ERROR_SCHEMA, "validation_failed or invalid_request"),
    503: _json(ERROR_SCHEMA, "not_ready: the model is still loading"),
}
