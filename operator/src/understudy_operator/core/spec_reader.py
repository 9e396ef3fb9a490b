"""Reading one mapping of a ModelRollout spec: typed getters whose errors name the field.

``SpecObject`` wraps a mapping with its path (``spec.analysis.checks[2]``) and the keys
already read, so every parser ends with ``reject_unknown()`` and an unknown or misspelt
field is an error rather than a silent default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from understudy_operator.core.durations import parse_duration

_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class SpecError(ValueError):
    """The spec is invalid; the message says which field and why."""


class SpecObject:
    """A mapping being parsed, with its path for messages and the keys already read."""

    def __init__(self, data: Any, path: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise SpecError(f"{path}: must be an object, got {type(data).__name__}")
        self.data = data
        self.path = path
        self.seen: set[str] = set()

    def get(self, key: str, required: bool) -> Any:
        self.seen.add(key)
        value = self.data.get(key)
        if value is None and required:
            raise SpecError(f"{self.path}.{key}: is required")
        return value

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise SpecError(f"{self.path}: unknown field(s) {', '.join(unknown)}")

    def keys(self) -> list[str]:
        return [str(k) for k in self.data]

    def numbers(self, key: str) -> list[float]:
        value = self.get(key, False)
        if value is None:
            return []
        if not isinstance(value, list) or not value:
            raise SpecError(f"{self.path}.{key}: must be a non-empty list of numbers")
        out = []
        for i, v in enumerate(value):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise SpecError(f"{self.path}.{key}[{i}]: must be a finite number, got {v!r}")
            out.append(float(v))
        return out

    def obj(self, key: str, required: bool = False) -> SpecObject:
        return SpecObject(self.get(key, required), f"{self.path}.{key}")

    def items(self, key: str) -> list[SpecObject] | None:
        value = self.get(key, False)
        if value is None:
            return None
        if not isinstance(value, list):
            raise SpecError(f"{self.path}.{key}: must be a list")
        return [SpecObject(v, f"{self.path}.{key}[{i}]") for i, v in enumerate(value)]

    def text(self, key: str, *, required: bool = False, default: Any = None) -> Any:
        value = self.get(key, required)
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            raise SpecError(f"{self.path}.{key}: must be a non-empty string, got {value!r}")
        return value

    def name(self, key: str) -> str:
        value: str = self.text(key, required=True)
        if not _NAME.match(value):
            raise SpecError(
                f"{self.path}.{key}: {value!r} must be a DNS label (lower-case letters, "
                "digits and '-', at most 63 characters)"
            )
        return value

    def version(self, key: str, *, default: Any = ...) -> Any:
        value = self.text(key, required=default is ..., default=default)
        if value is not None and value is not default and not _VERSION.match(value):
            raise SpecError(
                f"{self.path}.{key}: {value!r} is not a version (letters, digits, '.', '_', "
                "'+', '-'; at most 63 characters)"
            )
        return value

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self.get(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise SpecError(f"{self.path}.{key}: must be true or false, got {value!r}")
        return value

    def enum(self, key: str, allowed: list[str], *, default: str) -> str:
        value = self.text(key, default=default)
        if value not in allowed:
            raise SpecError(f"{self.path}.{key}: {value!r} must be one of {', '.join(allowed)}")
        return str(value)

    def number(
        self, key: str, *, default: Any, low: float | None = None, high: float | None = None
    ) -> Any:
        value = self.get(key, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(f"{self.path}.{key}: must be a number, got {value!r}")
        if not math.isfinite(value):
            raise SpecError(f"{self.path}.{key}: must be finite, got {value!r}")
        self._range(key, value, low, high)
        return float(value)

    def integer(
        self, key: str, *, default: int, low: int | None = None, high: int | None = None
    ) -> int:
        value = self.get(key, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"{self.path}.{key}: must be an integer, got {value!r}")
        self._range(key, value, low, high)
        return value

    def duration(self, key: str, *, default: Any, allow_zero: bool = False) -> Any:
        value = self.get(key, False)
        if value is None:
            return default
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise SpecError(f"{self.path}.{key}: {exc}") from None
        if seconds == 0 and not allow_zero:
            raise SpecError(f"{self.path}.{key}: must be longer than 0, got {value!r}")
        return seconds

    def _range(self, key: str, value: float, low: float | None, high: float | None) -> None:
        if low is not None and value < low:
            raise SpecError(f"{self.path}.{key}: must be >= {low}, got {value!r}")
        if high is not None and value > high:
            raise SpecError(f"{self.path}.{key}: must be <= {high}, got {value!r}")
