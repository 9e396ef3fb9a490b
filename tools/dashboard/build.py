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

from . import charts
from .charts import ROLLOUT, Chart, Query

CHART_FILE = Path(__file__).resolve().parents[2] / "helm/understudy/files/grafana-dashboard.json"
UID = "understudy-rollouts"

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")

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


def _target(expr: str, legend: str, ref: str, *, instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref)
    if instant:
        query = query.instant().format(PromQueryFormat.TABLE)
    return query


Panel = TypeVar("Panel", statetimeline.Panel, table.Panel, timeseries.Panel)
AnyPanel = statetimeline.Panel | table.Panel | timeseries.Panel


def _with_targets(panel: Panel, queries: Sequence[Query], *, instant: bool = False) -> Panel:
    for i, q in enumerate(queries):  # refIds A, B, ... as Grafana names them
        panel = panel.with_target(_target(q.expr, q.legend, chr(ord("A") + i), instant=instant))
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
            # by check alone, like the verdict codes, so the merge joins them row by row
            Query(f"max by (check) (understudy_operator_check_value{{{ROLLOUT}}})"),
            Query(verdict_code_query()),
        ],
        instant=True,
    )


def _timeseries(chart: Chart) -> timeseries.Panel:
    panel = timeseries.Panel().title(chart.title).description(chart.description).unit(chart.unit)
    return _with_targets(panel, chart.queries)


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
                (_timeseries(charts.CHECK_VALUES), 12, 8),
                (_timeseries(charts.ANALYSIS_RUNS), 12, 8),
            ],
        ),
        (
            "Shadow evidence (router)",
            [
                (_timeseries(charts.AGREEMENT), 12, 8),
                (_timeseries(charts.DISTRIBUTIONS), 12, 8),
                (_timeseries(charts.LATENCY_RATIO), 12, 8),
                (_timeseries(charts.LATENCY), 12, 8),
            ],
        ),
        (
            "Traffic",
            [
                (_timeseries(charts.MIRROR_OUTCOMES), 8, 8),
                (_timeseries(charts.CANDIDATE_ERRORS), 8, 8),
                (_timeseries(charts.CLIENT_REQUESTS), 8, 8),
            ],
        ),
        (
            "Ground truth (with labels posted to /v1/feedback)",
            [
                (_timeseries(charts.LABELS_RECEIVED), 8, 8),
                (_timeseries(charts.LABEL_COVERAGE), 8, 8),
                (_timeseries(charts.REALIZED_ERROR), 8, 8),
            ],
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
