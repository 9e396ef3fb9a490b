"""The pure decision core of Understudy rollouts (no kopf, Kubernetes or HTTP imports).

See README.md beside this file for how to drive it.
"""

from understudy_operator.core.assess import RunAssessment, assess_run, run_verdict
from understudy_operator.core.checks import (
    AGREEMENT_RATE,
    BUILTIN_CHECKS,
    BUILTIN_QUERIES,
    CANDIDATE_ERROR_RATE,
    LATENCY_P99_RATIO,
    PREDICTION_KS,
    SAMPLE_COUNT,
    Check,
    CheckResult,
    QueryContext,
    Verdict,
    evaluate,
    render,
)
from understudy_operator.core.decide import decide
from understudy_operator.core.durations import format_duration, parse_duration
from understudy_operator.core.formatting import format_number
from understudy_operator.core.measurements import (
    Measurement,
    Measurements,
    NoData,
    QueryFailed,
    Value,
)
from understudy_operator.core.ports import Actuator, MetricsSource
from understudy_operator.core.routing import router_document
from understudy_operator.core.schedule import SAMPLES_CHECK, analysis_due, query_context
from understudy_operator.core.spec import (
    AnalysisSpec,
    ModelRef,
    Promotion,
    RolloutSpec,
    ShadowSpec,
    SpecError,
    Tolerance,
    parse_spec,
)
from understudy_operator.core.status import (
    IN_FLIGHT,
    AnalysisStatus,
    Condition,
    Phase,
    RolloutStatus,
)
from understudy_operator.core.step import Step, advance, measure_all, run_step
from understudy_operator.core.types import Action, ActionKind, Decision, Observed, Signal, Signals

__all__ = [
    "AGREEMENT_RATE",
    "BUILTIN_CHECKS",
    "BUILTIN_QUERIES",
    "CANDIDATE_ERROR_RATE",
    "IN_FLIGHT",
    "LATENCY_P99_RATIO",
    "PREDICTION_KS",
    "SAMPLES_CHECK",
    "SAMPLE_COUNT",
    "Action",
    "ActionKind",
    "Actuator",
    "AnalysisSpec",
    "AnalysisStatus",
    "Check",
    "CheckResult",
    "Condition",
    "Decision",
    "Measurement",
    "Measurements",
    "MetricsSource",
    "ModelRef",
    "NoData",
    "Observed",
    "Phase",
    "Promotion",
    "QueryContext",
    "QueryFailed",
    "RolloutSpec",
    "RolloutStatus",
    "RunAssessment",
    "ShadowSpec",
    "Signal",
    "Signals",
    "SpecError",
    "Step",
    "Tolerance",
    "Value",
    "Verdict",
    "advance",
    "analysis_due",
    "assess_run",
    "decide",
    "evaluate",
    "format_duration",
    "format_number",
    "measure_all",
    "parse_duration",
    "parse_spec",
    "query_context",
    "render",
    "router_document",
    "run_step",
    "run_verdict",
]
