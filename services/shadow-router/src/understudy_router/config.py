"""The routing config: which upstream is live, which is the candidate, how much to mirror.

Shape (docs/contracts.md)::

    {"live": {"url": "http://127.0.0.1:8001", "version": "1.0.0"},
     "candidate": {"url": "http://127.0.0.1:8002", "version": "2.0.0"},
     "mirror_percent": 100, "tolerance": {"relative": 0.10, "absolute": 10000},
     "timeouts": {"live_seconds": 2.0, "candidate_seconds": 2.0},
     "slice_field": "Neighborhood", "weight": 10, "sticky_header": "X-Understudy-Key"}

``weight`` (optional, 0 by default) is the percentage of client requests the candidate
*answers* (a canary step; understudy_router.canary), sticky per ``sticky_header``'s value
or else the request id; the rest is answered by live and mirrored as ``mirror_percent``
says. ``slice_field`` (optional, null by default) names an input field whose value slices the
paired evidence (understudy_router.slices).

Parsing is strict (unknown keys, strings for numbers and booleans for numbers are
errors) because the operator writes this document and a typo must be loud, not
silently mean "no mirroring".
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from understudy_common.compare import Tolerance
from understudy_common.slicing import slice_field_problem


class ConfigError(ValueError):
    """A routing config that cannot be used; the message says what is wrong."""


_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)

NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(gt=0, le=300, allow_inf_nan=False)]
# An HTTP header name (RFC 9110 token), at most 64 characters.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
DEFAULT_STICKY_HEADER = "x-understudy-key"


class UpstreamConfig(BaseModel):
    """One model-api deployment: its base URL and the model version it serves."""

    model_config = _STRICT

    url: str
    version: Annotated[str, Field(min_length=1, max_length=128)]

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http(s) URL with a host, got {value!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"must not have a query or fragment, got {value!r}")
        try:
            parts.port  # noqa: B018 - raises on a port outside 0..65535 or not a number
        except ValueError as exc:
            raise ValueError(f"bad port in {value!r}") from exc
        return value.rstrip("/")


class ToleranceConfig(BaseModel):
    """When a candidate prediction agrees with the live one (see understudy_common.compare)."""

    model_config = _STRICT

    relative: NonNegative = 0.10
    absolute: NonNegative = 10_000.0

    def to_tolerance(self) -> Tolerance:
        return Tolerance(relative=self.relative, absolute=self.absolute)


class TimeoutsConfig(BaseModel):
    """Total time allowed for one upstream request, per role."""

    model_config = _STRICT

    live_seconds: Seconds = 2.0
    candidate_seconds: Seconds = 2.0


class RoutingConfig(BaseModel):
    """The whole routing document. ``live`` is required (null: answer 503 to every request)."""

    model_config = _STRICT

    live: UpstreamConfig | None
    candidate: UpstreamConfig | None = None
    mirror_percent: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] = 100.0
    tolerance: ToleranceConfig = ToleranceConfig()
    timeouts: TimeoutsConfig = TimeoutsConfig()
    # The input field whose value slices the paired evidence; None: slices by prediction only.
    slice_field: str | None = None
    # Percentage of client requests the candidate answers (a canary step); 0: live answers all.
    weight: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] = 0.0
    # The request header whose value keeps a client on one model; without it, the request id.
    sticky_header: str = DEFAULT_STICKY_HEADER

    @field_validator("sticky_header")
    @classmethod
    def _header_name(cls, value: str) -> str:
        if not _HEADER_NAME.match(value):
            raise ValueError(f"must be an HTTP header name (1-64 token characters), got {value!r}")
        return value.lower()  # ASGI header names are lower-case

    @model_validator(mode="after")
    def _weight_needs_candidate(self) -> RoutingConfig:
        if self.weight > 0 and self.candidate is None:
            raise ValueError(
                f"weight {self.weight:g} needs a candidate to answer (candidate is null)"
            )
        return self

    @field_validator("slice_field")
    @classmethod
    def _slice_field_name(cls, value: str | None) -> str | None:
        problem = None if value is None else slice_field_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @property
    def mirroring(self) -> bool:
        """Whether any request can be mirrored at all."""
        return self.candidate is not None and self.mirror_percent > 0

    def info_labels(self) -> dict[str, str]:
        """The labels of ``understudy_router_config_info``."""
        return {
            "live_url": self.live.url if self.live else "",
            "live_version": self.live.version if self.live else "",
            "candidate_url": self.candidate.url if self.candidate else "",
            "candidate_version": self.candidate.version if self.candidate else "",
            "mirror_percent": _percent(self.mirror_percent),
            "weight": _percent(self.weight),
        }


def _percent(value: float) -> str:
    return str(int(value)) if math.isclose(value, round(value)) else str(value)


def parse_config(raw: str | bytes) -> RoutingConfig:
    """Parse and validate a routing config document; raise ConfigError saying what is wrong."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"routing config is not valid JSON: {exc}") from None
    return config_from_dict(data)


def config_from_dict(data: Any) -> RoutingConfig:
    """Validate an already decoded routing config."""
    if not isinstance(data, dict):
        raise ConfigError(f"routing config must be a JSON object, got {type(data).__name__}")
    try:
        return RoutingConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"routing config is invalid: {problems}") from None
