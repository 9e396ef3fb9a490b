"""The pure decision core of Understudy rollouts (no kopf, Kubernetes or HTTP imports).

See README.md beside this file for how to drive it.
"""

from understudy_operator.core.checks import (
    BUILTIN_CHECKS,
    BUILTIN_QUERIES,
    Check,
    CheckResult,
    QueryContext,
    Verdict,
    evaluate,
    render,
)
from understudy_operator.core.decide import (
    SAMPLES_CHECK,
    Action,
    ActionKind,
    Decision,
    Observed,
    Signal,
    Signals,
    analysis_due,
    decide,
    query_context,
)
from understudy_operator.core.durations import format_duration, parse_duration
from understudy_operator.core.measurements import (
    Measurement,
    Measurements,
    MetricsSource,
    NoData,
    QueryFailed,
    Value,
)
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
from understudy_operator.core.status import AnalysisStatus, Condition, Phase, RolloutStatus
from understudy_operator.core.step import Step, advance, measure_all

__all__ = [
    "BUILTIN_CHECKS",
    "BUILTIN_QUERIES",
    "SAMPLES_CHECK",
    "Action",
    "ActionKind",
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
    "decide",
    "evaluate",
    "format_duration",
    "measure_all",
    "parse_duration",
    "parse_spec",
    "query_context",
    "render",
]
