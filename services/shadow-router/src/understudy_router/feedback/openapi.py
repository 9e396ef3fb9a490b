"""The OpenAPI description of ``POST /v1/feedback`` (the router serves no OpenAPI itself:
it is a proxy whose prediction schema is the model-api's). The schema-driven tests
(schemathesis) generate valid and invalid feedback from it."""

from __future__ import annotations

from typing import Any

from understudy_common.request_id import MAX_REQUEST_ID_LENGTH
from understudy_router.feedback.payload import MAX_ACTUAL


def feedback_openapi(*, max_labels: int) -> dict[str, Any]:
    error = {
        "description": "refused whole: nothing applied",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Understudy shadow router: ground truth", "version": "1"},
        "paths": {
            "/v1/feedback": {
                "post": {
                    "summary": "Labels (true values) for records of earlier prediction requests",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/FeedbackRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "every label's outcome, in order",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/FeedbackResponse"}
                                }
                            },
                        },
                        **{code: error for code in ("400", "404", "413", "415", "422", "503")},
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Label": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["request_id", "record", "actual"],
                    "properties": {
                        "request_id": {
                            "type": "string",
                            "pattern": f"^[!-~]{{1,{MAX_REQUEST_ID_LENGTH}}}$",
                        },
                        "record": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                        "actual": {"type": "number", "minimum": 0, "maximum": MAX_ACTUAL},
                    },
                },
                "FeedbackRequest": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["labels"],
                    "properties": {
                        "labels": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": max_labels,
                            "items": {"$ref": "#/components/schemas/Label"},
                        }
                    },
                },
                "LabelResult": {
                    "type": "object",
                    "required": ["request_id", "record", "status", "outcome", "message"],
                    "properties": {
                        "request_id": {"type": "string"},
                        "record": {"type": "integer"},
                        "status": {"type": "integer", "enum": [200, 404, 409, 422]},
                        "outcome": {
                            "type": "string",
                            "enum": [
                                "applied",
                                "duplicate",
                                "conflict",
                                "unknown_request",
                                "record_out_of_range",
                            ],
                        },
                        "message": {"type": "string"},
                    },
                },
                "FeedbackResponse": {
                    "type": "object",
                    "required": ["results", "summary"],
                    "properties": {
                        "results": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/LabelResult"},
                        },
                        "summary": {
                            "type": "object",
                            "additionalProperties": {"type": "integer"},
                        },
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "errors": {"type": "array", "items": {"type": "object"}},
                    },
                },
            }
        },
    }
