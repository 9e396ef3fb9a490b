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
from understudy_operator.core.judging import (
    DEFAULT_ALPHA,
    DEFAULT_MIN_SAMPLES_PER_SLICE,
    Judging,
    SliceSettings,
)
from understudy_operator.core.notifications import Notification
from understudy_operator.core.spec_notifications import parse_notifications
from understudy_operator.core.spec_reader import SpecError, SpecObject
from understudy_operator.core.spec_workload import (
    parse_autoscaling,
    parse_disruption_budget,
    parse_template,
)
from understudy_operator.core.statistics import (
    Direction,
    prior_for_threshold,
    rate_samples_needed,
)
from understudy_operator.core.workload import Autoscaling, DisruptionBudget, PodTemplate


class Promotion(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


# Versions and names end up in label values, object names and PromQL strings.
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
    root = SpecObject(data, "spec")
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
        template=parse_template(root.obj("template")),
        disruption_budget=parse_disruption_budget(root.obj("disruptionBudget")),
        autoscaling=parse_autoscaling(root),
        canary=_parse_canary(root.obj("canary"), analysis, task),
        notifications=parse_notifications(root.items("notifications")),
    )
    for part in (model, root):
        part.reject_unknown()
    if not spec.shadow.enabled and not spec.canary.steps:
        raise SpecError(
            "spec.shadow.enabled: false needs spec.canary.steps (else nothing would judge "
            "the candidate)"
        )
    return spec


def _parse_shadow(obj: SpecObject) -> ShadowSpec:
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


def _parse_slices(obj: SpecObject) -> SliceSettings:
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


def _parse_router(obj: SpecObject) -> RouterSpec:
    name = obj.text("configMapName", default=None)
    if name is not None and not _DNS_SUBDOMAIN.match(name):
        raise SpecError(f"{obj.path}.configMapName: {name!r} is not a valid ConfigMap name")
    router = RouterSpec(config_map_name=name)
    obj.reject_unknown()
    return router


def _parse_canary(obj: SpecObject, analysis: AnalysisSpec, task: str) -> CanarySpec:
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


def _parse_step(item: SpecObject, analysis: AnalysisSpec, task: str) -> CanaryStep:
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
    obj: SpecObject, *, base: AnalysisSpec | None = None, task: str = "regression"
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
    for key in detect_obj.keys():  # noqa: SIM118 (an SpecObject, not a dict)
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


def _parse_check(item: SpecObject) -> Check:
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
