"""The Understudy Grafana dashboard: one rollout's phase, its checks and the shadow evidence.

Two exporters feed it (docs/operator.md and docs/contracts.md list their metrics):

* the operator, ``understudy_operator_*{rollout_namespace, rollout}``: the phase state set,
  each check's last verdict and value, and analysis runs by verdict;
* the shadow router, ``understudy_router_*{namespace, model}``: agreement, KS, latency,
  mirror outcomes. The router of a rollout runs in the rollout's namespace (it follows the
  ``<rollout>-router`` ConfigMap there), Prometheus puts ``namespace`` on its series, and
  ``$model`` is the rollout's ``spec.model.name``, read from the operator's phase series.

Grafana itself is AGPL and is neither vendored nor run: this module only writes JSON.
tests/install/test_dashboard*.py hold the committed file equal to :func:`render` and run
every query against a real Prometheus.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from grafana_foundation_sdk.builders import (
    dashboard as dash,
)
from grafana_foundation_sdk.builders import (
    prometheus,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders.common import VizLegendOptions
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from understudy_operator.core.checks import Verdict
from understudy_operator.core.status import Phase

CHART_FILE = Path(__file__).resolve().parents[2] / "helm/understudy/files/grafana-dashboard.json"
UID = "understudy-rollouts"

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
ROLLOUT = 'rollout_namespace="$namespace", rollout="$rollout"'
ROUTER = 'namespace="$namespace", model="$model"'
RATE = "$__rate_interval"

# Verdict codes for the runs x checks timeline: PromQL cannot turn a label into a value, so
# the state set becomes sum(code x 1-or-0); the panel maps each code back to its name.
VERDICT_COLORS = {
    Verdict.PASS: "green",
    Verdict.NOT_YET: "blue",
    Verdict.INCONCLUSIVE: "yellow",
    Verdict.FAIL: "red",
}
VERDICT_CODES = {verdict: code for code, verdict in enumerate(VERDICT_COLORS, start=1)}
PHASE_COLORS = {
    Phase.PENDING: "text",
    Phase.DEPLOYING: "blue",
    Phase.SHADOWING: "purple",
    Phase.AWAITING_APPROVAL: "orange",
    Phase.PROMOTING: "light-green",
    Phase.PROMOTED: "green",
    Phase.ROLLED_BACK: "red",
    Phase.PAUSED: "yellow",
    Phase.FAILED: "dark-red",
}


def verdict_code_query() -> str:
    """Each check's last verdict as its code (VERDICT_CODES)."""
    terms = [
        f'{code} * sum by (check) (understudy_operator_check_verdict{{{ROLLOUT}, verdict="{v}"}})'
        for v, code in VERDICT_CODES.items()
    ]
    return "\n  + ".join(terms)


def latency_p90(role: str) -> str:
    return (
        "histogram_quantile(0.9, sum by (le) (rate(understudy_router_upstream_duration_seconds"
        f'_bucket{{{ROUTER}, role="{role}"}}[{RATE}])))'
    )


def _target(expr: str, legend: str, ref: str, *, instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref)
    if instant:
        query = query.instant().format(PromQueryFormat.TABLE)
    return query


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


Panel = TypeVar("Panel", statetimeline.Panel, table.Panel, timeseries.Panel)
AnyPanel = statetimeline.Panel | table.Panel | timeseries.Panel


def _with_targets(panel: Panel, queries: Sequence[Query], *, instant: bool = False) -> Panel:
    for ref, q in zip("ABCDEFGH", queries, strict=False):
        panel = panel.with_target(_target(q.expr, q.legend, ref, instant=instant))
    return panel


def _mapping(codes: dict[str, tuple[str, str]]) -> list[model.ValueMapping]:
    """value -> (text, color)."""
    return [
        model.ValueMap(
            options={
                value: model.ValueMappingResult(text=text, color=color or None, index=i)
                for i, (value, (text, color)) in enumerate(codes.items())
            }
        )
    ]


def phase_timeline() -> statetimeline.Panel:
    panel = (
        statetimeline.Panel()
        .title("Phase")
        .description(
            "The rollout's phase over time (understudy_operator_rollout_phase, a state set):"
            " one row per phase it was in."
        )
        .mappings(_mapping({"1": ("in phase", "")}))
        .show_value(common.VisibilityMode.NEVER)
        .legend(VizLegendOptions().show_legend(False))
    )
    for phase, color in PHASE_COLORS.items():
        panel = panel.override_by_name(
            str(phase), [model.DynamicConfigValue(id_val="color", value=_fixed(color))]
        )
    return _with_targets(
        panel,
        [
            Query(
                f"max by (phase) (understudy_operator_rollout_phase{{{ROLLOUT}}}) == 1", "{{phase}}"
            )
        ],
    )


def _fixed(color: str) -> dict[str, str]:
    return {"mode": "fixed", "fixedColor": color}


def _verdict_mappings() -> list[model.ValueMapping]:
    return _mapping({str(code): (str(v), VERDICT_COLORS[v]) for v, code in VERDICT_CODES.items()})


def check_timeline() -> statetimeline.Panel:
    panel = (
        statetimeline.Panel()
        .title("Runs × checks: verdicts")
        .description(
            "Each check's verdict in the analysis runs over time (understudy_operator_check"
            "_verdict): Pass, NotYet (the interval still holds the bound), Inconclusive"
            " (no evidence), Fail. `kubectl get mr -o yaml` has the same in status.analysis."
        )
        .mappings(_verdict_mappings())
        .show_value(common.VisibilityMode.NEVER)
    )
    return _with_targets(panel, [Query(verdict_code_query(), "{{check}}")])


def check_table() -> table.Panel:
    panel = (
        table.Panel()
        .title("Checks of the last run")
        .description("Each check's value and verdict in the rollout's last analysis run.")
        .with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True},
                    "renameByName": {"Value #A": "value", "Value #B": "verdict"},
                },
            )
        )
        .override_by_name(
            "verdict", [model.DynamicConfigValue(id_val="mappings", value=_verdict_mappings())]
        )
    )
    return _with_targets(
        panel,
        [
            Query(f"understudy_operator_check_value{{{ROLLOUT}}}"),
            Query(verdict_code_query()),
        ],
        instant=True,
    )


def _timeseries(
    title: str, description: str, queries: Sequence[Query], *, unit: str = "short"
) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).description(description).unit(unit)
    return _with_targets(panel, queries)


def check_values() -> timeseries.Panel:
    return _timeseries(
        "Check values",
        "Each check's value in every analysis run (understudy_operator_check_value).",
        [Query(f"understudy_operator_check_value{{{ROLLOUT}}}", "{{check}}")],
    )


def analysis_runs() -> timeseries.Panel:
    return _timeseries(
        "Analysis runs by verdict",
        "Runs that reached a verdict, per minute (understudy_operator_analysis_runs_total).",
        [
            Query(
                "sum by (verdict) (rate(understudy_operator_analysis_runs_total"
                f'{{model="$model"}}[{RATE}])) * 60',
                "{{verdict}}",
            )
        ],
        unit="short",
    )


def agreement() -> timeseries.Panel:
    compared = f"understudy_router_compared_records_total{{{ROUTER}}}"
    agreed = f'understudy_router_compared_records_total{{{ROUTER}, agree="true"}}'
    return _timeseries(
        "Agreement rate",
        "Share of compared records where the candidate agrees with live within the tolerance"
        " (understudy_router_compared_records_total); the agreement-rate check judges the same"
        " counters with a confidence interval.",
        [
            Query(
                f"sum by (candidate_version) (rate({agreed}[{RATE}]))\n"
                f"  / sum by (candidate_version) (rate({compared}[{RATE}]))",
                "{{candidate_version}}",
            )
        ],
        unit="percentunit",
    )


def distribution_distance() -> timeseries.Panel:
    return _timeseries(
        "Prediction distributions: KS, PSI",
        "Live vs candidate prediction distributions: the router's rolling-window KS statistic"
        " (per replica, display only) and the analysis' prediction-ks / prediction-psi"
        " values, when the rollout has those checks.",
        [
            Query(
                "max by (pod, candidate_version)"
                f" (understudy_router_prediction_ks_statistic{{{ROUTER}}})",
                "KS window {{pod}} {{candidate_version}}",
            ),
            Query(
                "understudy_operator_check_value"
                f'{{{ROLLOUT}, check=~"prediction-ks|prediction-psi"}}',
                "{{check}} (analysis)",
            ),
        ],
    )


def latency_ratio() -> timeseries.Panel:
    return _timeseries(
        "Latency p90: candidate / live",
        "The candidate's p90 upstream latency over live's, from the router's fine-bucket"
        " histograms (understudy_router_upstream_duration_seconds); 1 = as fast as live.",
        [Query(f"{latency_p90('candidate')}\n  / {latency_p90('live')}", "p90 ratio")],
    )


def latency() -> timeseries.Panel:
    return _timeseries(
        "Upstream latency p90 by role",
        "As the router saw each model's answers (understudy_router_upstream_duration_seconds).",
        [
            Query(
                "histogram_quantile(0.9, sum by (le, role, version) (rate("
                f"understudy_router_upstream_duration_seconds_bucket{{{ROUTER}}}[{RATE}])))",
                "{{role}} {{version}}",
            )
        ],
        unit="s",
    )


def mirror_outcomes() -> timeseries.Panel:
    return _timeseries(
        "Mirror outcomes",
        "Mirror decisions per second by outcome (understudy_router_mirror_total): agreed /"
        " disagreed were compared; candidate_error / candidate_timeout failed; dropped never"
        " left the router (workers and queue full).",
        [
            Query(
                f"sum by (outcome) (rate(understudy_router_mirror_total{{{ROUTER}}}[{RATE}]))",
                "{{outcome}}",
            )
        ],
        unit="reqps",
    )


def candidate_errors() -> timeseries.Panel:
    sent = f'understudy_router_mirror_total{{{ROUTER}, outcome!="dropped"}}'
    failed = (
        f'understudy_router_mirror_total{{{ROUTER}, outcome=~"candidate_error|candidate_timeout"}}'
    )
    return _timeseries(
        "Candidate errors",
        "Share of sent mirrors the candidate failed or timed out on. The router counts an"
        " outcome once it happens, so no error series means none: `or vector(0)`.",
        [
            Query(
                f"(sum(rate({failed}[{RATE}])) or vector(0))\n  / sum(rate({sent}[{RATE}]))",
                "candidate errors",
            )
        ],
        unit="percentunit",
    )


def client_requests() -> timeseries.Panel:
    return _timeseries(
        "Client requests (live)",
        "Prediction requests through the router by the live result"
        " (understudy_router_requests_total).",
        [
            Query(
                "sum by (live_version, outcome) (rate(understudy_router_requests_total"
                f"{{{ROUTER}}}[{RATE}]))",
                "{{live_version}} {{outcome}}",
            )
        ],
        unit="reqps",
    )


def labels_received() -> timeseries.Panel:
    return _timeseries(
        "Ground truth: labels received",
        "Labels posted to the router's /v1/feedback per second, by outcome"
        " (understudy_router_feedback_labels_total).",
        [
            Query(
                "sum by (outcome) (rate(understudy_router_feedback_labels_total"
                f"{{{ROUTER}}}[{RATE}]))",
                "{{outcome}}",
            )
        ],
        unit="reqps",
    )


def label_coverage() -> timeseries.Panel:
    return _timeseries(
        "Ground truth: label coverage",
        "Records joined to a label per compared record, by role, since each router started"
        " (understudy_router_labelled_records_total / compared_records_total). The"
        " label-coverage check gates the realized-error checks on it.",
        [
            Query(
                f"sum by (role) (understudy_router_labelled_records_total{{{ROUTER}}})\n"
                "  / ignoring (role) group_left"
                f" sum(understudy_router_compared_records_total{{{ROUTER}}})",
                "{{role}}",
            )
        ],
        unit="percentunit",
    )


def realized_error() -> timeseries.Panel:
    error = "understudy_router_realized_abs_error_dollars"
    return _timeseries(
        "Ground truth: realized MAE by role",
        "Mean |prediction - actual| of the labelled records, by role and version, since each"
        f" router started ({error}). The realized-error-ratio check judges the paired records.",
        [
            Query(
                f"sum by (role, version) ({error}_sum{{{ROUTER}}})\n"
                f"  / sum by (role, version) ({error}_count{{{ROUTER}}})",
                "{{role}} {{version}}",
            )
        ],
        unit="currencyUSD",
    )


# (row title, [(panel, width, height)]) top to bottom; the SDK places them on the 24-column
# grid, wrapping a row's panels when they pass 24.
def layout() -> list[tuple[str, list[tuple[AnyPanel, int, int]]]]:
    return [
        ("Rollout", [(phase_timeline(), 24, 7)]),
        (
            "Analysis",
            [
                (check_timeline(), 16, 9),
                (check_table(), 8, 9),
                (check_values(), 12, 8),
                (analysis_runs(), 12, 8),
            ],
        ),
        (
            "Shadow evidence (router)",
            [
                (agreement(), 12, 8),
                (distribution_distance(), 12, 8),
                (latency_ratio(), 12, 8),
                (latency(), 12, 8),
            ],
        ),
        (
            "Traffic",
            [(mirror_outcomes(), 8, 8), (candidate_errors(), 8, 8), (client_requests(), 8, 8)],
        ),
        (
            "Ground truth (with labels posted to /v1/feedback)",
            [(labels_received(), 8, 8), (label_coverage(), 8, 8), (realized_error(), 8, 8)],
        ),
    ]


def variables() -> list[dash.DatasourceVariable | dash.QueryVariable]:
    def label_values(name: str, query: str, label: str) -> dash.QueryVariable:
        return (
            dash.QueryVariable(name)
            .label(label)
            .datasource(DATASOURCE)
            .query(query)
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(model.VariableSort.ALPHABETICAL_ASC)
        )

    return [
        dash.DatasourceVariable("datasource").label("Prometheus").type("prometheus"),
        label_values(
            "namespace",
            "label_values(understudy_operator_rollout_phase, rollout_namespace)",
            "Namespace",
        ),
        label_values(
            "rollout",
            "label_values(understudy_operator_rollout_phase"
            '{rollout_namespace="$namespace"}, rollout)',
            "ModelRollout",
        ),
        # The rollout's model (spec.model.name), which names the router's series.
        label_values(
            "model", f"label_values(understudy_operator_rollout_phase{{{ROLLOUT}}}, model)", "Model"
        ).hide(model.VariableHide.HIDE_VARIABLE),
    ]


def build() -> model.Dashboard:
    board = (
        dash.Dashboard("Understudy: model rollouts")
        .uid(UID)
        .description(
            "One ModelRollout's phase, analysis checks and shadow evidence (Understudy chart)."
        )
        .tags(["understudy", "ml", "rollouts"])
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
    )
    for variable in variables():
        board = board.with_variable(variable)
    ids = iter(range(1, 100))  # stable ids: Grafana keys panel links and state by them
    for title, panels in layout():
        board = board.with_row(dash.Row(title).id(next(ids)))
        for panel, width, height in panels:
            placed = panel.id(next(ids)).datasource(DATASOURCE).span(width).height(height)
            board = board.with_panel(placed)
    return board.build()


def render() -> str:
    """The dashboard JSON as committed in the chart (sorted keys, stable ids)."""
    return json.dumps(build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
