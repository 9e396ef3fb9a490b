"""The ModelRollout spec as typed, frozen objects: ``parse_spec(dict) -> RolloutSpec``.

``parse_spec`` takes the ``spec`` mapping of the custom resource (camelCase keys, as in
k8s/crd/modelrollouts.yaml) and either returns a :class:`RolloutSpec` with every default
filled in or raises :class:`SpecError` whose message names the field and what is wrong.
The CRD validates the same rules at the API server; this is the second line (and the only
one for the local demo).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

# The one agreement tolerance (router, difftest, spec): same fields as router.json's.
from understudy_common.compare import Tolerance
from understudy_common.slicing import slice_field_problem
from understudy_operator.core.builtins import BUILTINS, RATE_CHECKS
from understudy_operator.core.checks import (
    AGREEMENT_RATE,
    BIAS,
    BUILTIN_CHECKS,
    CANDIDATE_ERROR_RATE,
    LABEL_COVERAGE,
    LATENCY_P90_RATIO,
    PREDICTION_KS,
    SAMPLE_COUNT,
    SLICE_BIAS,
    TEMPLATE_VARIABLES,
    Check,
    Method,
    template_variables,
)
from understudy_operator.core.durations import parse_duration
from understudy_operator.core.judging import (
    DEFAULT_ALPHA,
    DEFAULT_MIN_SAMPLES_PER_SLICE,
    Judging,
    SliceSettings,
)
from understudy_operator.core.notifications import Format, Notification, NotifyOn
from understudy_operator.core.statistics import (
    Direction,
    prior_for_threshold,
    rate_samples_needed,
)
from understudy_operator.core.workload import (
    CONTAINER_FIELDS,
    DEFAULT_PRE_STOP_SECONDS,
    POD_FIELDS,
    RESERVED_ANNOTATIONS,
    RESERVED_ENV,
    Autoscaling,
    DisruptionBudget,
    PodTemplate,
    reserved_label,
)


class SpecError(ValueError):
    """The spec is invalid; the message says which field and why."""


class Promotion(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


# Versions and names end up in label values, object names and PromQL strings.
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
# An HTTP header name (an RFC 9110 token), as the router's sticky_header accepts it.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    # Container image serving this version; None outside Kubernetes (local mode).
    image: str | None = None
    # What the model predicts (model.json's task): "regression" or "classification". It
    # picks the default checks and rules out the checks of relative price differences.
    task: str = "regression"


@dataclass(frozen=True)
class ShadowSpec:
    # False: no shadow phase; the candidate goes straight to the canary steps.
    enabled: bool = True
    mirror_percent: float = 100.0
    tolerance: Tolerance = field(default_factory=Tolerance)
    live_timeout_seconds: float = 2.0
    candidate_timeout_seconds: float = 2.0


# The defaults (docs/operator.md explains each). The latency default is p90, not p99: a
# p99 with confidence bounds needs 368 requests per role in every interval, and on a shared
# CPU it rests on a handful of scheduler stalls; latency-p99-ratio stays available.
DEFAULT_CHECKS: tuple[Check, ...] = (
    Check(name=CANDIDATE_ERROR_RATE, max=0.01),
    Check(name=LATENCY_P90_RATIO, max=1.5),
    Check(name=AGREEMENT_RATE, min=0.90),
    Check(name=BIAS, min=-0.05, max=0.05),
    Check(name=SLICE_BIAS, min=-0.10, max=0.10),
    Check(name=PREDICTION_KS, max=0.10),
)
TASKS = ("regression", "classification")
# Checks of the signed relative difference (candidate - live) / live: a price ratio. For a
# classifier the numbers are positive-class probabilities, whose ratio means nothing.
REGRESSION_ONLY = (BIAS, SLICE_BIAS)
# A classifier's defaults: the same checks without the price-ratio ones; agreement is the
# share of records with the same label, the KS is on the positive-class probability.
CLASSIFIER_DEFAULT_CHECKS: tuple[Check, ...] = tuple(
    c for c in DEFAULT_CHECKS if c.name not in REGRESSION_ONLY
)
DEFAULT_GIVE_UP_SECONDS = 1800.0


@dataclass(frozen=True)
class AnalysisSpec:
    interval_seconds: float = 30.0
    warmup_seconds: float = 60.0
    min_samples: int = 500
    successful_runs: int = 5
    failure_limit: int = 2
    inconclusive_limit: int = 10
    checks: tuple[Check, ...] = DEFAULT_CHECKS
    # Error rate of each confidence decision (a wrong pass or fail has probability <= alpha).
    alpha: float = DEFAULT_ALPHA
    # Runs that are "not yet" decided count toward this time since the analysis started;
    # past it with the verdict still open, the rollout pauses.
    give_up_after_seconds: float = DEFAULT_GIVE_UP_SECONDS
    slices: SliceSettings = field(default_factory=SliceSettings)
    # Minimum detectable effect per rate check (``detect``), for the derived minSamples.
    detect: tuple[tuple[str, float], ...] = ()

    @property
    def judging(self) -> Judging:
        return Judging(alpha=self.alpha, slices=self.slices)


@dataclass(frozen=True)
class CanaryStep:
    """One step after the shadow: a weight with its analysis, or a pause."""

    # Percentage of client requests the candidate answers from this step on (setWeight);
    # None: a pause step (the weight of the step before stays).
    weight: float | None = None
    # A pause step's duration; None: until the resume annotation (or signal).
    pause_seconds: float | None = None
    # A weight step's analysis: spec.analysis with the step's overrides, its checks judging
    # the candidate's answers (core/canary.py). None on a pause step.
    analysis: AnalysisSpec | None = None

    @property
    def pause(self) -> bool:
        return self.weight is None


DEFAULT_STICKY_HEADER = "X-Understudy-Key"


@dataclass(frozen=True)
class CanarySpec:
    """Weighted steps after the shadow analysis passed (none: promote after the shadow)."""

    steps: tuple[CanaryStep, ...] = ()
    # The request header whose value keeps one client on one model (router sticky_header).
    sticky_header: str = DEFAULT_STICKY_HEADER


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
    # How the model-api pods run (core/workload.py); none of it restarts an analysis.
    template: PodTemplate = field(default_factory=PodTemplate)
    disruption_budget: DisruptionBudget = field(default_factory=DisruptionBudget)
    autoscaling: Autoscaling | None = None
    canary: CanarySpec = field(default_factory=CanarySpec)
    # Webhooks told about phase changes and failed runs (not part of the fingerprint:
    # changing who is told never restarts an analysis).
    notifications: tuple[Notification, ...] = ()

    def analysis_fingerprint(self) -> str:
        """Hash of what a running analysis depends on; a change restarts the analysis."""
        model = asdict(self.model)
        if model["task"] == "regression":  # as before tasks existed: running analyses go on
            del model["task"]
        relevant: dict[str, Any] = {
            "model": model,
            "shadow": asdict(self.shadow),
            "analysis": asdict(self.analysis),
        }
        # Fields added with canary steps count only when set, so that every spec written
        # before them keeps its hash (a new hash restarts the analyses in flight).
        if self.shadow.enabled:
            del relevant["shadow"]["enabled"]
        for check in relevant["analysis"]["checks"]:
            del check["answered"]  # set by the core at canary steps, never by a spec
        if self.canary.steps:
            relevant["canary"] = asdict(self.canary)
        blob = json.dumps(relevant, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


# ---------------------------------------------------------------------------------------
# parsing


def parse_spec(data: Mapping[str, Any]) -> RolloutSpec:
    """The typed spec of a ModelRollout ``spec`` mapping; SpecError when invalid."""
    root = _Obj(data, "spec")
    model = root.obj("model", required=True)
    task = model.enum("task", list(TASKS), default="regression")
    analysis = _parse_analysis(root.obj("analysis"), task=task)
    spec = RolloutSpec(
        model=ModelRef(
            name=model.name("name"),
            version=model.version("version"),
            image=model.text("image", default=None),
            task=task,
        ),
        replicas=root.integer("replicas", default=1, low=1, high=100),
        shadow=_parse_shadow(root.obj("shadow")),
        analysis=analysis,
        promotion=Promotion(
            root.enum("promotion", [p.value for p in Promotion], default=Promotion.AUTOMATIC)
        ),
        approved_version=root.version("approvedVersion", default=None),
        router=_parse_router(root.obj("router")),
        template=_parse_template(root.obj("template")),
        disruption_budget=_parse_disruption_budget(root.obj("disruptionBudget")),
        autoscaling=_parse_autoscaling(root),
        canary=_parse_canary(root.obj("canary"), analysis, task),
        notifications=_parse_notifications(root.items("notifications")),
    )
    for part in (model, root):
        part.reject_unknown()
    if not spec.shadow.enabled and not spec.canary.steps:
        raise SpecError(
            "spec.shadow.enabled: false needs spec.canary.steps (else nothing would judge "
            "the candidate)"
        )
    return spec


def _parse_shadow(obj: _Obj) -> ShadowSpec:
    tol = obj.obj("tolerance")
    timeouts = obj.obj("timeouts")
    shadow = ShadowSpec(
        enabled=obj.boolean("enabled", default=True),
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


def _parse_slices(obj: _Obj) -> SliceSettings:
    edges = obj.numbers("predictionEdges")
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise SpecError(f"{obj.path}.predictionEdges: must be strictly increasing, got {edges}")
    field_name = obj.text("field", default=None)
    problem = slice_field_problem(field_name) if field_name is not None else None
    if problem is not None:
        raise SpecError(f"{obj.path}.field: {problem}")
    if field_name is not None and edges:
        raise SpecError(f"{obj.path}: give predictionEdges or field, not both")
    settings = SliceSettings(
        prediction_edges=tuple(edges),
        field=field_name,
        min_samples=obj.integer("minSamplesPerSlice", default=DEFAULT_MIN_SAMPLES_PER_SLICE, low=1),
    )
    obj.reject_unknown()
    return settings


def _derived_min_samples(
    detect: Mapping[str, float], checks: tuple[Check, ...], alpha: float, path: str
) -> int:
    """The largest sample size any rate check needs to detect its effect (median case)."""
    by_name = {c.name: c for c in checks}
    needed = 0
    for name, effect in detect.items():
        check = by_name.get(name)
        if check is None or name not in RATE_CHECKS:
            raise SpecError(
                f"{path}.{name}: detect names a rate check of this analysis "
                f"({', '.join(sorted(RATE_CHECKS))})"
            )
        if (check.min is None) == (check.max is None):
            raise SpecError(f"{path}.{name}: detect needs a check with exactly one of min, max")
        direction = Direction.MAX if check.max is not None else Direction.MIN
        threshold = check.max if check.max is not None else check.min
        assert threshold is not None
        try:
            needed = max(
                needed,
                # the same prior the check decides with (paired.rate_result)
                rate_samples_needed(
                    threshold=threshold,
                    effect=effect,
                    direction=direction,
                    alpha=alpha,
                    prior=prior_for_threshold(threshold),
                ),
            )
        except ValueError as exc:
            raise SpecError(f"{path}.{name}: {exc}") from None
    return needed


def _parse_router(obj: _Obj) -> RouterSpec:
    name = obj.text("configMapName", default=None)
    if name is not None and not _DNS_SUBDOMAIN.match(name):
        raise SpecError(f"{obj.path}.configMapName: {name!r} is not a valid ConfigMap name")
    router = RouterSpec(config_map_name=name)
    obj.reject_unknown()
    return router


def _string_map(obj: _Obj, key: str) -> dict[str, str]:
    value = obj.data.get(key)
    obj.seen.add(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise SpecError(f"{obj.path}.{key}: must be a map of strings to strings")
    return dict(value)


def _parse_template(obj: _Obj) -> PodTemplate:
    """spec.template: the operator's own labels, annotations and env stay its own."""
    labels = _string_map(obj, "labels")
    taken = sorted(k for k in labels if reserved_label(k))
    if taken:
        raise SpecError(
            f"{obj.path}.labels: {', '.join(taken)} belong to the operator (its selector and "
            "Services use them); choose other keys"
        )
    annotations = _string_map(obj, "annotations")
    taken = sorted(RESERVED_ANNOTATIONS & set(annotations))
    if taken:
        raise SpecError(
            f"{obj.path}.annotations: {', '.join(taken)} are set by the operator "
            "(Prometheus scrapes model pods by them)"
        )
    fields: dict[str, Any] = {}
    for key in (*POD_FIELDS, *CONTAINER_FIELDS):
        value = obj.data.get(key)
        obj.seen.add(key)
        if value is not None:
            fields[key] = value
    for key in ("securityContext", "containerSecurityContext", "resources", "affinity"):
        if key in fields and not isinstance(fields[key], Mapping):
            raise SpecError(f"{obj.path}.{key}: must be an object")
    for key in ("imagePullSecrets", "tolerations", "topologySpreadConstraints", "env"):
        if key in fields and not isinstance(fields[key], list):
            raise SpecError(f"{obj.path}.{key}: must be a list")
    for i, var in enumerate(fields.get("env", [])):
        name = var.get("name") if isinstance(var, Mapping) else None
        if not isinstance(name, str) or not name:
            raise SpecError(f"{obj.path}.env[{i}]: needs a name")
        if name in RESERVED_ENV:
            raise SpecError(
                f"{obj.path}.env[{i}].name: {name} is set by the operator (the port the "
                "Service and the probes use)"
            )
    if "nodeSelector" in fields:
        fields["nodeSelector"] = _string_map(obj, "nodeSelector")
    template = PodTemplate(
        labels=labels,
        annotations=annotations,
        fields=fields,
        pre_stop_seconds=obj.integer(
            "preStopSeconds", default=DEFAULT_PRE_STOP_SECONDS, low=0, high=300
        ),
    )
    obj.reject_unknown()
    return template


def _int_or_percent(obj: _Obj, key: str) -> int | str | None:
    value = obj.data.get(key)
    obj.seen.add(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and re.fullmatch(r"(100|[1-9]?[0-9])%", value):
        return value
    raise SpecError(f"{obj.path}.{key}: must be an integer >= 0 or a percentage, got {value!r}")


def _parse_disruption_budget(obj: _Obj) -> DisruptionBudget:
    max_unavailable = _int_or_percent(obj, "maxUnavailable")
    min_available = _int_or_percent(obj, "minAvailable")
    obj.reject_unknown()
    if max_unavailable is not None and min_available is not None:
        raise SpecError(f"{obj.path}: give maxUnavailable or minAvailable, not both")
    if min_available is not None:
        return DisruptionBudget(max_unavailable=None, min_available=min_available)
    return DisruptionBudget(max_unavailable=1 if max_unavailable is None else max_unavailable)


def _parse_autoscaling(root: _Obj) -> Autoscaling | None:
    if root.data.get("autoscaling") is None:
        root.seen.add("autoscaling")
        return None
    obj = root.obj("autoscaling")
    low = obj.integer("minReplicas", default=1, low=1, high=100)
    high = obj.integer("maxReplicas", default=-1, low=1, high=100)
    if high < 0:
        raise SpecError(f"{obj.path}.maxReplicas: is required")
    if low > high:
        raise SpecError(f"{obj.path}: minReplicas {low} is greater than maxReplicas {high}")
    metrics = obj.items("metrics") or []
    cpu = obj.integer("targetCPUUtilizationPercentage", default=-1, low=1, high=1000)
    if metrics and cpu > 0:
        raise SpecError(f"{obj.path}: give targetCPUUtilizationPercentage or metrics, not both")
    scaling = Autoscaling(
        min_replicas=low,
        max_replicas=high,
        target_cpu_percent=None if metrics else (cpu if cpu > 0 else 80),
        metrics=tuple(dict(m.data) for m in metrics),
    )
    obj.reject_unknown()
    return scaling


def _parse_canary(obj: _Obj, analysis: AnalysisSpec, task: str) -> CanarySpec:
    header = obj.text("stickyHeader", default=DEFAULT_STICKY_HEADER)
    if not _HEADER_NAME.match(header):
        raise SpecError(
            f"{obj.path}.stickyHeader: {header!r} must be an HTTP header name (1-64 letters, "
            "digits and !#$%&'*+.^_`|~-)"
        )
    raw = obj.items("steps") or []
    steps = tuple(_parse_step(item, analysis, task) for item in raw)
    if obj.data.get("steps") is not None and not steps:
        raise SpecError(f"{obj.path}.steps: give at least one step (or leave canary out)")
    if steps and all(step.pause for step in steps):
        raise SpecError(f"{obj.path}.steps: give at least one setWeight step")
    if steps and steps[0].pause:
        raise SpecError(f"{obj.path}.steps[0]: the first step must be a setWeight step")
    canary = CanarySpec(steps=steps, sticky_header=header)
    obj.reject_unknown()
    return canary


def _parse_step(item: _Obj, analysis: AnalysisSpec, task: str) -> CanaryStep:
    has_weight = item.data.get("setWeight") is not None
    has_pause = item.data.get("pause") is not None
    if has_weight == has_pause:
        raise SpecError(f"{item.path}: give exactly one of setWeight, pause")
    if has_pause:
        pause = item.obj("pause")
        seconds = pause.duration("duration", default=None)
        pause.reject_unknown()
        item.reject_unknown()
        return CanaryStep(pause_seconds=seconds)
    weight = item.number("setWeight", default=None, low=0.0, high=100.0)
    if weight == 0:
        raise SpecError(f"{item.path}.setWeight: must be > 0 (0 is the shadow)")
    overrides = item.obj("analysis")
    step = CanaryStep(weight=weight, analysis=_parse_analysis(overrides, base=analysis, task=task))
    item.reject_unknown()
    return step


def _parse_analysis(
    obj: _Obj, *, base: AnalysisSpec | None = None, task: str = "regression"
) -> AnalysisSpec:
    """``obj`` parsed; a field it leaves out is ``base``'s (a canary step's overrides of
    spec.analysis), or the default (the task's default checks)."""
    b = base or AnalysisSpec()
    raw_checks = obj.items("checks")
    if base is not None:
        defaults = base.checks
    else:
        defaults = CLASSIFIER_DEFAULT_CHECKS if task == "classification" else DEFAULT_CHECKS
    checks = defaults if raw_checks is None else tuple(_parse_check(item) for item in raw_checks)
    if raw_checks is not None and not checks:
        raise SpecError(f"{obj.path}.checks: give at least one check (or leave it out)")
    ratio_checks = [c.name for c in checks if c.name in REGRESSION_ONLY]
    if task == "classification" and ratio_checks:
        raise SpecError(
            f"{obj.path}.checks: {', '.join(ratio_checks)} judge the relative difference of "
            "two predicted numbers, which a classifier's probabilities are not; leave them "
            "out for model.task classification (agreement-rate compares labels)"
        )
    names = [c.name for c in checks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(f"{obj.path}.checks: duplicate check names {', '.join(duplicates)}")
    alpha = obj.number("alpha", default=b.alpha, low=0.0001, high=0.5)
    detect_obj = obj.obj("detect")
    detect: dict[str, float] = {}
    for key in detect_obj.keys():  # noqa: SIM118 (an _Obj, not a dict)
        effect = detect_obj.number(key, default=None)
        if effect is None or not 0.0 < effect < 1.0:
            raise SpecError(f"{detect_obj.path}.{key}: the effect must be inside (0, 1)")
        detect[key] = effect
    explicit_min = obj.integer("minSamples", default=-1, low=0)
    if detect and explicit_min >= 0:
        raise SpecError(f"{obj.path}: give minSamples or detect (which derives it), not both")
    min_samples = (
        _derived_min_samples(detect, checks, alpha, detect_obj.path)
        if detect
        else (explicit_min if explicit_min >= 0 else b.min_samples)
    )
    slices_obj = obj.obj("slices")
    analysis = AnalysisSpec(
        interval_seconds=obj.duration("interval", default=b.interval_seconds),
        warmup_seconds=obj.duration("warmup", default=b.warmup_seconds, allow_zero=True),
        min_samples=min_samples,
        successful_runs=obj.integer("successfulRuns", default=b.successful_runs, low=1),
        failure_limit=obj.integer("failureLimit", default=b.failure_limit, low=1),
        inconclusive_limit=obj.integer("inconclusiveLimit", default=b.inconclusive_limit, low=1),
        checks=checks,
        alpha=alpha,
        give_up_after_seconds=obj.duration("giveUpAfter", default=b.give_up_after_seconds),
        slices=_parse_slices(slices_obj) if slices_obj.data else b.slices,
        detect=tuple(sorted(detect.items())) if detect else (() if base is None else b.detect),
    )
    obj.reject_unknown()
    return analysis


def _parse_check(item: _Obj) -> Check:
    name = item.text("name", required=True)
    query = item.text("query", default=None)
    where = f"{item.path} ({name})"
    if query is None and (name not in BUILTIN_CHECKS or name == SAMPLE_COUNT):
        raise SpecError(
            f"{where}: unknown built-in check {name!r}; built-ins are "
            f"{', '.join(sorted(BUILTIN_CHECKS - {SAMPLE_COUNT}))}, or give a custom 'query'"
        )
    allowed = BUILTINS[name].methods if query is None else (Method.THRESHOLD,)
    given = item.text("method", default=None)
    if given is not None and given not in [m.value for m in Method]:
        raise SpecError(
            f"{where}.method: {given!r} must be one of {', '.join(m.value for m in Method)}"
        )
    # None: the built-in's default (its first method); kept unresolved so that a spec
    # built in code and a parsed one are equal.
    method = Method(given) if given is not None else None
    if method is not None and method not in allowed:
        kind = "a custom query" if query is not None else f"built-in {name}"
        raise SpecError(
            f"{where}.method: {kind} supports {', '.join(m.value for m in allowed)}, "
            f"not {method.value}"
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
    if name == LABEL_COVERAGE and query is None and (low is None or high is not None):
        raise SpecError(
            f"{where}: label-coverage is a gate: give 'min' (labelled records), no 'max'"
        )
    check = Check(
        name=name,
        min=low,
        max=high,
        query=query,
        interval_seconds=item.duration("interval", default=None),
        method=method,
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

    def keys(self) -> list[str]:
        return [str(k) for k in self.data]

    def numbers(self, key: str) -> list[float]:
        value = self._get(key, False)
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

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self._get(key, False)
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


MAX_NOTIFICATIONS = 10


def _parse_notifications(items: list[_Obj] | None) -> tuple[Notification, ...]:
    out: list[Notification] = []
    for item in items or []:
        url_from = item.obj("urlFrom", required=True)
        ref = url_from.obj("secretKeyRef", required=True)
        on = item._get("events", False)
        if on is not None and (not isinstance(on, list) or not on):
            raise SpecError(f"{item.path}.events: must be a non-empty list")
        for i, event in enumerate(on or []):
            if event not in set(NotifyOn):
                allowed = ", ".join(NotifyOn)
                raise SpecError(f"{item.path}.events[{i}]: {event!r} must be one of {allowed}")
        notification = Notification(
            name=item.name("name"),
            secret_name=ref.text("name", required=True),
            secret_key=ref.text("key", required=True),
            format=Format(item.enum("format", list(Format), default=Format.JSON)),
            on=frozenset(NotifyOn(e) for e in on) if on else frozenset(NotifyOn),
            timeout_seconds=item.duration("timeout", default=5.0),
        )
        for part in (ref, url_from, item):
            part.reject_unknown()
        out.append(notification)
    names = [n.name for n in out]
    if len(set(names)) != len(names):
        raise SpecError("spec.notifications: names must be unique")
    if len(out) > MAX_NOTIFICATIONS:
        raise SpecError(f"spec.notifications: at most {MAX_NOTIFICATIONS} webhooks")
    return tuple(out)
