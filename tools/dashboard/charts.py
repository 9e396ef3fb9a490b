"""The dashboard's time-series panels as data: title, description, queries, unit.

Selectors scope every query to the chosen rollout: the operator's series by
``rollout_namespace``/``rollout``, the router's by the ``namespace`` Prometheus puts on its
target and ``model`` (the rollout's spec.model.name).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLLOUT = 'rollout_namespace="$namespace", rollout="$rollout"'
ROUTER = 'namespace="$namespace", model="$model"'
RATE = "$__rate_interval"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Chart:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"


def router(metric: str, labels: str = "") -> str:
    """A router series of the chosen rollout, with more label matchers if given."""
    return f"understudy_router_{metric}{{{ROUTER}{', ' + labels if labels else ''}}}"


def rate_by(by: str, series: str) -> str:
    return f"sum by ({by}) (rate({series}[{RATE}]))"


def latency_p90(role: str) -> str:
    bucket = router("upstream_duration_seconds_bucket", f'role="{role}"')
    return f"histogram_quantile(0.9, {rate_by('le', bucket)})"


CHECK_VALUES = Chart(
    "Check values",
    "Each check's value in every analysis run (understudy_operator_check_value).",
    (Query(f"understudy_operator_check_value{{{ROLLOUT}}}", "{{check}}"),),
)
ANALYSIS_RUNS = Chart(
    "Analysis runs by verdict",
    "Runs that reached a verdict, per minute (understudy_operator_analysis_runs_total).",
    (
        Query(
            rate_by("verdict", f"understudy_operator_analysis_runs_total{{{ROLLOUT}}}") + " * 60",
            "{{verdict}}",
        ),
    ),
)
AGREEMENT = Chart(
    "Agreement rate",
    "Share of compared records where the candidate agrees with live within the tolerance"
    " (understudy_router_compared_records_total); the agreement-rate check judges the same"
    " counters with a confidence interval.",
    (
        Query(
            rate_by("candidate_version", router("compared_records_total", 'agree="true"'))
            + "\n  / "
            + rate_by("candidate_version", router("compared_records_total")),
            "{{candidate_version}}",
        ),
    ),
    unit="percentunit",
)
DISTRIBUTIONS = Chart(
    "Prediction distributions: KS, PSI",
    "Live vs candidate prediction distributions: the router's rolling-window KS statistic"
    " (per replica, display only) and the analysis' prediction-ks / prediction-psi"
    " values, when the rollout has those checks.",
    (
        Query(
            f"max by (pod, candidate_version) ({router('prediction_ks_statistic')})",
            "KS window {{pod}} {{candidate_version}}",
        ),
        Query(
            f'understudy_operator_check_value{{{ROLLOUT}, check=~"prediction-ks|prediction-psi"}}',
            "{{check}} (analysis)",
        ),
    ),
)
LATENCY_RATIO = Chart(
    "Latency p90: candidate / live",
    "The candidate's p90 upstream latency over live's, from the router's fine-bucket"
    " histograms (understudy_router_upstream_duration_seconds); 1 = as fast as live.",
    (Query(f"{latency_p90('candidate')}\n  / {latency_p90('live')}", "p90 ratio"),),
)
LATENCY = Chart(
    "Upstream latency p90 by role",
    "As the router saw each model's answers (understudy_router_upstream_duration_seconds).",
    (
        Query(
            "histogram_quantile(0.9, "
            f"{rate_by('le, role, version', router('upstream_duration_seconds_bucket'))})",
            "{{role}} {{version}}",
        ),
    ),
    unit="s",
)
MIRROR_OUTCOMES = Chart(
    "Mirror outcomes",
    "Mirror decisions per second by outcome (understudy_router_mirror_total): agreed /"
    " disagreed were compared; candidate_error / candidate_timeout failed; dropped never"
    " left the router (workers and queue full).",
    (Query(rate_by("outcome", router("mirror_total")), "{{outcome}}"),),
    unit="reqps",
)
_FAILED_MIRRORS = router("mirror_total", 'outcome=~"candidate_error|candidate_timeout"')
_SENT_MIRRORS = router("mirror_total", 'outcome!="dropped"')
CANDIDATE_ERRORS = Chart(
    "Candidate errors",
    "Share of sent mirrors the candidate failed or timed out on. The router counts an"
    " outcome once it happens, so no error series means none: `or vector(0)`.",
    (
        Query(
            f"(sum(rate({_FAILED_MIRRORS}[{RATE}])) or vector(0))\n"
            f"  / sum(rate({_SENT_MIRRORS}[{RATE}]))",
            "candidate errors",
        ),
    ),
    unit="percentunit",
)
CLIENT_REQUESTS = Chart(
    "Client requests (live)",
    "Prediction requests through the router by the live result (understudy_router_requests_total).",
    (
        Query(
            rate_by("live_version, outcome", router("requests_total")),
            "{{live_version}} {{outcome}}",
        ),
    ),
    unit="reqps",
)
LABELS_RECEIVED = Chart(
    "Ground truth: labels received",
    "Labels posted to the router's /v1/feedback per second, by outcome"
    " (understudy_router_feedback_labels_total).",
    (Query(rate_by("outcome", router("feedback_labels_total")), "{{outcome}}"),),
    unit="reqps",
)
LABEL_COVERAGE = Chart(
    "Ground truth: label coverage",
    "Records joined to a label per compared record, by role, since each router started"
    " (understudy_router_labelled_records_total / compared_records_total). The"
    " label-coverage check gates the realized-error checks on it.",
    (
        Query(
            f"sum by (role) ({router('labelled_records_total')})\n"
            f"  / ignoring (role) group_left sum({router('compared_records_total')})",
            "{{role}}",
        ),
    ),
    unit="percentunit",
)
REALIZED_ERROR = Chart(
    "Ground truth: realized MAE by role",
    "Mean |prediction - actual| of the labelled records, by role and version, since each"
    " router started (understudy_router_realized_abs_error_dollars). The"
    " realized-error-ratio check judges the paired records.",
    (
        Query(
            f"sum by (role, version) ({router('realized_abs_error_dollars_sum')})\n"
            f"  / sum by (role, version) ({router('realized_abs_error_dollars_count')})",
            "{{role}} {{version}}",
        ),
    ),
    unit="currencyUSD",
)
