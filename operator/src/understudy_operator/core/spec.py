"""The ModelRollout spec as typed, frozen objects: ``parse_spec(dict) -> RolloutSpec``.

``parse_spec`` takes the ``spec`` mapping of the custom resource (camelCase keys, as in
k8s/crd/modelrollouts.yaml) and either returns a :class:`RolloutSpec` with every default
filled in or raises :class:`SpecError` whose message names the field and what is wrong.
The CRD validates the same rules at the API server; this is the second line (and the only
one for the local demo).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

# The one agreement tolerance (router, difftest, spec): same fields as router.json's.
from understudy_common.compare import Tolerance
from understudy_operator.core.checks import (
    AGREEMENT_RATE,
    BUILTIN_CHECKS,
    CANDIDATE_ERROR_RATE,
    LATENCY_P99_RATIO,
    PREDICTION_KS,
    TEMPLATE_VARIABLES,
    Check,
    template_variables,
)
from understudy_operator.core.durations import parse_duration


class SpecError(ValueError):
    """The spec is invalid; the message says which field and why."""


class Promotion(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


# Versions and names end up in label values, object names and PromQL strings.
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    # Container image serving this version; None outside Kubernetes (local mode).
    image: str | None = None


@dataclass(frozen=True)
class ShadowSpec:
    mirror_percent: float = 100.0
    tolerance: Tolerance = field(default_factory=Tolerance)
    live_timeout_seconds: float = 2.0
    candidate_timeout_seconds: float = 2.0


DEFAULT_CHECKS: tuple[Check, ...] = (
    Check(name=CANDIDATE_ERROR_RATE, max=0.01),
    Check(name=LATENCY_P99_RATIO, max=1.5),
    Check(name=AGREEMENT_RATE, min=0.90),
    Check(name=PREDICTION_KS, max=0.10),
)


@dataclass(frozen=True)
class AnalysisSpec:
    interval_seconds: float = 30.0
    warmup_seconds: float = 60.0
    min_samples: int = 500
    successful_runs: int = 5
    failure_limit: int = 2
    inconclusive_limit: int = 10
    checks: tuple[Check, ...] = DEFAULT_CHECKS


@dataclass(frozen=True)
class RouterSpec:
    """Where the routing for this model goes (Kubernetes only)."""

    # The ConfigMap (key router.json) the operator writes; None: the operator's default.
    config_map_name: str | None = None


@dataclass(frozen=True)
class RolloutSpec:
    model: ModelRef
    replicas: int = 1
    shadow: ShadowSpec = field(default_factory=ShadowSpec)
    analysis: AnalysisSpec = field(default_factory=AnalysisSpec)
    promotion: Promotion = Promotion.AUTOMATIC
    # Declarative manual approval: promotes exactly this candidate version.
    approved_version: str | None = None
    router: RouterSpec = field(default_factory=RouterSpec)

    def analysis_fingerprint(self) -> str:
        """Hash of what a running analysis depends on; a change restarts the analysis."""
        relevant = {
            "model": asdict(self.model),
            "shadow": asdict(self.shadow),
            "analysis": asdict(self.analysis),
        }
        blob = json.dumps(relevant, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


# ---------------------------------------------------------------------------------------
# parsing


def parse_spec(data: Mapping[str, Any]) -> RolloutSpec:
    """The typed spec of a ModelRollout ``spec`` mapping; SpecError when invalid."""
    root = _Obj(data, "spec")
    model = root.obj("model", required=True)
    spec = RolloutSpec(
        model=ModelRef(
            name=model.name("name"),
            version=model.version("version"),
            image=model.text("image", default=None),
        ),
        replicas=root.integer("replicas", default=1, low=1, high=100),
        shadow=_parse_shadow(root.obj("shadow")),
        analysis=_parse_analysis(root.obj("analysis")),
        promotion=Promotion(
            root.enum("promotion", [p.value for p in Promotion], default=Promotion.AUTOMATIC)
        ),
        approved_version=root.version("approvedVersion", default=None),
        router=_parse_router(root.obj("router")),
    )
    for part in (model, root):
        part.reject_unknown()
    return spec


def _parse_shadow(obj: _Obj) -> ShadowSpec:
    tol = obj.obj("tolerance")
    timeouts = obj.obj("timeouts")
    shadow = ShadowSpec(
        mirror_percent=obj.number("mirrorPercent", default=100.0, low=0.0, high=100.0),
        tolerance=Tolerance(
            relative=tol.number("relative", default=0.10, low=0.0),
            absolute=tol.number("absolute", default=10_000.0, low=0.0),
        ),
        live_timeout_seconds=timeouts.duration("live", default=2.0),
        candidate_timeout_seconds=timeouts.duration("candidate", default=2.0),
    )
    for part in (tol, timeouts, obj):
        part.reject_unknown()
    return shadow


def _parse_router(obj: _Obj) -> RouterSpec:
    name = obj.text("configMapName", default=None)
    if name is not None and not _DNS_SUBDOMAIN.match(name):
        raise SpecError(f"{obj.path}.configMapName: {name!r} is not a valid ConfigMap name")
    router = RouterSpec(config_map_name=name)
    obj.reject_unknown()
    return router


def _parse_analysis(obj: _Obj) -> AnalysisSpec:
    raw_checks = obj.items("checks")
    checks = (
        DEFAULT_CHECKS if raw_checks is None else tuple(_parse_check(item) for item in raw_checks)
    )
    if raw_checks is not None and not checks:
        raise SpecError(f"{obj.path}.checks: give at least one check (or leave it out)")
    names = [c.name for c in checks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(f"{obj.path}.checks: duplicate check names {', '.join(duplicates)}")
    analysis = AnalysisSpec(
        interval_seconds=obj.duration("interval", default=30.0),
        warmup_seconds=obj.duration("warmup", default=60.0, allow_zero=True),
        min_samples=obj.integer("minSamples", default=500, low=0),
        successful_runs=obj.integer("successfulRuns", default=5, low=1),
        failure_limit=obj.integer("failureLimit", default=2, low=1),
        inconclusive_limit=obj.integer("inconclusiveLimit", default=10, low=1),
        checks=checks,
    )
    obj.reject_unknown()
    return analysis


def _parse_check(item: _Obj) -> Check:
    name = item.text("name", required=True)
    query = item.text("query", default=None)
    where = f"{item.path} ({name})"
    if query is None and name not in BUILTIN_CHECKS:
        raise SpecError(
            f"{where}: unknown built-in check {name!r}; built-ins are "
            f"{', '.join(sorted(BUILTIN_CHECKS))}, or give a custom 'query'"
        )
    if query is not None:
        if not query.strip():
            raise SpecError(f"{where}.query: must not be empty")
        unknown = template_variables(query) - set(TEMPLATE_VARIABLES)
        if unknown:
            raise SpecError(
                f"{where}.query: unknown template variable(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(TEMPLATE_VARIABLES)}"
            )
    low = item.number("min", default=None)
    high = item.number("max", default=None)
    if low is None and high is None:
        raise SpecError(f"{where}: give 'min', 'max' or both")
    if low is not None and high is not None and low > high:
        raise SpecError(f"{where}: min {low} is greater than max {high}")
    check = Check(
        name=name,
        min=low,
        max=high,
        query=query,
        interval_seconds=item.duration("interval", default=None),
    )
    item.reject_unknown()
    return check


class _Obj:
    """A mapping being parsed, with its path for messages and the keys already read."""

    def __init__(self, data: Any, path: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise SpecError(f"{path}: must be an object, got {type(data).__name__}")
        self.data = data
        self.path = path
        self.seen: set[str] = set()

    def _get(self, key: str, required: bool) -> Any:
        self.seen.add(key)
        value = self.data.get(key)
        if value is None and required:
            raise SpecError(f"{self.path}.{key}: is required")
        return value

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise SpecError(f"{self.path}: unknown field(s) {', '.join(unknown)}")

    def obj(self, key: str, required: bool = False) -> _Obj:
        return _Obj(self._get(key, required), f"{self.path}.{key}")

    def items(self, key: str) -> list[_Obj] | None:
        value = self._get(key, False)
        if value is None:
            return None
        if not isinstance(value, list):
            raise SpecError(f"{self.path}.{key}: must be a list")
        return [_Obj(v, f"{self.path}.{key}[{i}]") for i, v in enumerate(value)]

    def text(self, key: str, *, required: bool = False, default: Any = None) -> Any:
        value = self._get(key, required)
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

    def enum(self, key: str, allowed: list[str], *, default: str) -> str:
        value = self.text(key, default=default)
        if value not in allowed:
            raise SpecError(f"{self.path}.{key}: {value!r} must be one of {', '.join(allowed)}")
        return str(value)

    def number(
        self, key: str, *, default: Any, low: float | None = None, high: float | None = None
    ) -> Any:
        value = self._get(key, False)
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
        value = self._get(key, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"{self.path}.{key}: must be an integer, got {value!r}")
        self._range(key, value, low, high)
        return value

    def duration(self, key: str, *, default: Any, allow_zero: bool = False) -> Any:
        value = self._get(key, False)
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
