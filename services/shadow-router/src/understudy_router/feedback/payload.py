"""Reading a ``POST /v1/feedback`` body: pure validation, all or nothing.

Any problem with the batch as a whole (not JSON, wrong shape, a bad field in any label)
refuses the whole batch with one 4xx before anything is applied; problems that depend on
what is stored (unknown request, conflict) are per-label outcomes (results.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from understudy_common.request_id import why_invalid

from .store import Label

LABEL_FIELDS = ("request_id", "record", "actual")
# The largest realized value accepted (the OpenAPI schema's maximum): a label beyond it is
# a unit or encoding mistake, and squared errors of such values overflow the sums.
MAX_ACTUAL = 1e300
# Nesting deeper than this is refused before parsing (json recursion), as model-api does.
MAX_DEPTH = 32


@dataclass
class FeedbackError(Exception):
    """The batch is refused; ``status`` and ``code`` are the HTTP answer's."""

    status: int
    code: str
    message: str
    errors: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.errors:
            out["errors"] = self.errors
        return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_labels(body: bytes, *, max_labels: int) -> list[Label]:
    """The labels of a feedback body, or :class:`FeedbackError`."""
    if not body.strip():
        raise FeedbackError(400, "malformed_json", "request body is empty; expected a JSON object")
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except RecursionError:
        raise FeedbackError(400, "malformed_json", "request body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedbackError(
            400, "malformed_json", f"request body is not valid JSON: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise FeedbackError(422, "invalid_request", 'expected a JSON object {"labels": [...]}')
    extra = sorted(set(data) - {"labels"})
    if extra:
        raise FeedbackError(
            422, "invalid_request", f"unknown top-level field(s): {', '.join(extra)[:200]}"
        )
    labels = data.get("labels")
    if not isinstance(labels, list):
        raise FeedbackError(
            422, "invalid_request", '"labels" must be a list of {"request_id", "record", "actual"}'
        )
    if not labels:
        raise FeedbackError(422, "invalid_request", '"labels" is empty; send at least one label')
    if len(labels) > max_labels:
        raise FeedbackError(
            413,
            "too_many_labels",
            f"{len(labels)} labels in one request; at most {max_labels} (send several batches)",
        )
    errors: list[dict[str, Any]] = []
    out: list[Label] = []
    for i, item in enumerate(labels):
        problems = _problems(item)
        if problems:
            errors.extend({"label": i, **p} for p in problems)
            continue
        out.append(
            Label(
                request_id=item["request_id"], record=item["record"], actual=float(item["actual"])
            )
        )
    if errors:
        first = errors[0]
        raise FeedbackError(
            422,
            "invalid_labels",
            f"{len(errors)} problem(s) in the labels, none applied; first: label "
            f"{first['label']} {first['field']}: {first['message']}",
            errors=errors[:100],
        )
    return out


def _finite(value: float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond float range
        return False


def _problem(name: str, code: str, message: str) -> dict[str, Any]:
    return {"field": name, "code": code, "message": message}


def _problems(item: Any) -> list[dict[str, Any]]:
    if not isinstance(item, dict):
        return [_problem("", "wrong_type", "a label must be an object")]
    problems = []
    for name in sorted(set(item) - set(LABEL_FIELDS)):
        problems.append(_problem(name[:256], "unknown_field", "unknown field"))
    for name in LABEL_FIELDS:
        if name not in item:
            problems.append(_problem(name, "missing", "required"))
    request_id = item.get("request_id")
    if "request_id" in item:
        if not isinstance(request_id, str):
            problems.append(_problem("request_id", "wrong_type", "must be a string"))
        else:
            why = why_invalid(request_id.encode("utf-8"))
            if why is not None:
                problems.append(_problem("request_id", "invalid", f"not a request id: {why}"))
    record = item.get("record")
    if "record" in item:
        if isinstance(record, bool) or not isinstance(record, int):
            problems.append(_problem("record", "wrong_type", "must be an integer"))
        elif not 0 <= record < 2**31:
            problems.append(_problem("record", "out_of_range", "must be 0 or more"))
    actual = item.get("actual")
    if "actual" in item:
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            problems.append(_problem("actual", "wrong_type", "must be a number"))
        elif not _finite(actual):
            problems.append(_problem("actual", "not_finite", "must be finite"))
        elif actual < 0:
            problems.append(_problem("actual", "negative", "must be 0 or more"))
        elif actual > MAX_ACTUAL:
            problems.append(_problem("actual", "too_large", f"must be at most {MAX_ACTUAL:g}"))
    return problems
