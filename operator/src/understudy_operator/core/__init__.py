"""The pure decision core of Understudy rollouts (no kopf, Kubernetes or HTTP imports).

See README.md beside this file for how to drive it.
"""

from understudy_operator.core.assess import RunAssessment, assess_run, run_verdict
from understudy_operator.core.builtins import BUILTINS, judge
from understudy_operator.core.checks import (
    AGREEMENT_RATE,
    BIAS,
    BUILTIN_CHECKS,
    CANDIDATE_ERROR_RATE,
    INPUT_DRIFT,
    LABEL_COVERAGE,
    LATENCY_P50_RATIO,
    LATENCY_P90_RATIO,
    LATENCY_P99_RATIO,
    PREDICTION_KS,
    PREDICTION_PSI,
    PREDICTION_WASSERSTEIN,
    REALIZED_ERROR_RATIO,
    REALIZED_RMSE_RATIO,
    SAMPLE_COUNT,
    SLICE_AGREEMENT,
    SLICE_BIAS,
    STABLE_INPUT_DRIFT,
    Check,
    CheckResult,
    Method,
    QueryContext,
    Verdict,
    evaluate,
    render,
)
from understudy_operator.core.decide import decide
from understudy_operator.core.drift import BY as DRIFT_BY
from understudy_operator.core.drift import MIN_SAMPLES as DRIFT_MIN_SAMPLES
from understudy_operator.core.drift import PREDICTION as DRIFT_PREDICTION
from understudy_operator.core.drift import SHARES as DRIFT_SHARES
from understudy_operator.core.drift import VALUES as DRIFT_VALUES
from understudy_operator.core.drift import FeatureDrift, describe_drift, feature_drifts
from understudy_operator.core.durations import format_duration, parse_duration
from understudy_operator.core.evidence import EvidenceQuery, Matcher, Op, Window
from understudy_operator.core.formatting import format_estimate, format_number
from understudy_operator.core.ground_truth import ON_LABELS
from understudy_operator.core.judging import Judging, SliceSettings
from understudy_operator.core.measurements import (
    CheckMeasurement,
    Evidence,
    Measurement,
    Measurements,
    NoData,
    QueryFailed,
    Value,
    Vector,
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
    "BIAS",
    "BUILTINS",
    "BUILTIN_CHECKS",
    "CANDIDATE_ERROR_RATE",
    "DRIFT_BY",
    "DRIFT_MIN_SAMPLES",
    "DRIFT_PREDICTION",
    "DRIFT_SHARES",
    "DRIFT_VALUES",
    "INPUT_DRIFT",
    "IN_FLIGHT",
    "LABEL_COVERAGE",
    "LATENCY_P50_RATIO",
    "LATENCY_P90_RATIO",
    "LATENCY_P99_RATIO",
    "ON_LABELS",
    "PREDICTION_KS",
    "PREDICTION_PSI",
    "PREDICTION_WASSERSTEIN",
    "REALIZED_ERROR_RATIO",
    "REALIZED_RMSE_RATIO",
    "SAMPLES_CHECK",
    "SAMPLE_COUNT",
    "SLICE_AGREEMENT",
    "SLICE_BIAS",
    "STABLE_INPUT_DRIFT",
    "Action",
    "ActionKind",
    "Actuator",
    "AnalysisSpec",
    "AnalysisStatus",
    "Check",
    "CheckMeasurement",
    "CheckResult",
    "Condition",
    "Decision",
    "Evidence",
    "EvidenceQuery",
    "FeatureDrift",
    "Judging",
    "Matcher",
    "Measurement",
    "Measurements",
    "Method",
    "MetricsSource",
    "ModelRef",
    "NoData",
    "Observed",
    "Op",
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
    "SliceSettings",
    "SpecError",
    "Step",
    "Tolerance",
    "Value",
    "Vector",
    "Verdict",
    "Window",
    "advance",
    "analysis_due",
    "assess_run",
    "decide",
    "describe_drift",
    "evaluate",
    "feature_drifts",
    "format_duration",
    "format_estimate",
    "format_number",
    "judge",
    "measure_all",
    "parse_duration",
    "parse_spec",
    "query_context",
    "render",
    "router_document",
    "run_step",
    "run_verdict",
]
